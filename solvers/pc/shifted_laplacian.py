r"""Complex shifted-Laplacian preconditioner for Helmholtz, applied by one AMG cycle.

For a Helmholtz matrix ``A = L_B - diag(m)``, ``L_B`` the discrete ``-Laplace`` with its
boundary condition (Dirichlet or absorbing) and ``m = (k / c)^2`` the mass term at every node,
the preconditioner is the shifted operator of Erlangga, Vuik and Oosterlee [1]_

.. math:: M_\beta = L_B - (\beta_1 - i \beta_2)\, \mathrm{diag}(m)
                  = A + (1 - \beta_1 + i \beta_2)\, \mathrm{diag}(m),

default ``beta = (1, 0.5)``: the same operator with a damped (complex) wave number. ``M_beta``
is complex symmetric; its eigenvalues lie away from the origin, where multigrid works, and
those of ``A M_beta^{-1}`` lie in a disc that touches the origin only at the smallest
eigenvalues of ``L_B`` [2]_. ``M_beta^{-1}`` is approximated by one cycle of smoothed-
aggregation AMG (pyamg, complex, ``symmetry="symmetric"``) on ``M_beta``: a fixed linear
operator, so GMRES, GCRO-DR and FGMRES may all use it. The hierarchy is the setup cost, kept
by :class:`solvers.Solver` while the matrix is unchanged.

The mass term comes from the problem: pass an :class:`operators.Problem` whose
``params["mass"]`` holds ``m`` (a scalar or one value per unknown), as the Helmholtz family
(:func:`operators.family` ``("helmholtz", ...)``) and :func:`operators.helmholtz` do; for a
plain matrix wrap it, ``operators.Problem(A, b, params={"mass": (k / c)**2})``.

On a real system (``A`` and the residual real: Dirichlet Helmholtz with a real right-hand side)
the preconditioner returns the real part of the complex cycle, a real linear operator; it
works much better in complex arithmetic: pass ``b.astype(complex)``.

References
----------
.. [1] Y. A. Erlangga, C. Vuik, C. W. Oosterlee, "On a class of preconditioners for solving
   the Helmholtz equation", Appl. Numer. Math. 50 (2004) 409-425.
.. [2] M. B. van Gijzen, Y. A. Erlangga, C. Vuik, "Spectral analysis of the discrete Helmholtz
   operator preconditioned with a shifted Laplacian", SIAM J. Sci. Comput. 29(5), 2007.

Examples
--------
>>> import operators
>>> from solvers import solve
>>> p = operators.family("helmholtz", 48, boundary="absorbing", kh=0.4).sample(0)
>>> r = solve(p, p.b, method="gmres", pc="shifted-laplacian", restart=60, rtol=1e-8)
>>> r.converged, r.iterations < 150
(True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from solvers.errors import InvalidOptionError, InvalidSystemError
from solvers.pc.amg import AMG
from solvers.system import LinearSystem

__all__ = ["ShiftedLaplacian", "helmholtz_mass", "shifted_matrix"]


def helmholtz_mass(system: LinearSystem) -> np.ndarray:
    """The mass term ``m`` (``n`` values) of a Helmholtz system, from its problem's
    ``params["mass"]``; :class:`InvalidSystemError` saying what to pass when there is none."""
    params = getattr(system.problem, "params", None) or {}
    if "mass" not in params:
        raise InvalidSystemError(
            "pc='shifted-laplacian' needs the Helmholtz mass term (k/c)^2 of the system: pass "
            "the problem itself, e.g. solve(p, p.b) with p = operators.family('helmholtz', G)"
            ".sample(i), or wrap the matrix as operators.Problem(A, b, params={'mass': "
            "(k / c)**2})")
    mass = np.broadcast_to(np.asarray(params["mass"]), (system.n,))
    if mass.dtype.kind not in "biuf" or not np.all(np.isfinite(mass)):
        raise InvalidSystemError(
            f"params['mass'] must hold finite real values (a scalar or {system.n} values, "
            f"(k/c)^2 per unknown), not {params['mass']!r:.80}")
    return mass.astype(float)


def shifted_matrix(A: sp.csr_matrix, mass: np.ndarray, beta1: float,
                   beta2: float) -> sp.csr_matrix:
    """``M = A + (1 - beta1 + i beta2) diag(mass)`` (complex128 CSR): the shifted Laplacian
    ``L_B - (beta1 - i beta2) diag(mass)`` of ``A = L_B - diag(mass)``."""
    shift = complex(1.0 - beta1, beta2)
    M = sp.csr_matrix(A, dtype=complex, copy=True) + sp.diags(shift * mass, format="csr")
    M.sort_indices()
    return M


class ShiftedLaplacian:
    """``pc="shifted-laplacian"``: one pyamg cycle on ``M = A + (1 - beta1 + i beta2) m``.

    Parameters
    ----------
    beta1, beta2
        The shift ``(beta1 - i beta2)`` of the mass term (default ``(1, 0.5)``, [1]_). The
        shifted operator must be damped (``beta2 > 0``) or definite (``beta1 <= 0``).
    cycle, seed, **amg_options
        As for ``pc="amg"`` (:class:`solvers.pc.amg.AMG`; pyamg's ``symmetry`` is fixed to
        ``"symmetric"``: ``M`` is complex symmetric).
    """

    requires_symmetric = False

    def __init__(self, beta1: float = 1.0, beta2: float = 0.5, cycle: str = "V", seed: int = 0,
                 **amg_options: Any) -> None:
        if beta2 == 0 and beta1 > 0:
            raise InvalidOptionError(
                f"pc 'shifted-laplacian': beta1={beta1}, beta2={beta2} leaves the shifted "
                f"operator undamped and indefinite, which one AMG cycle cannot invert; use "
                f"beta2 > 0 (default 0.5) or beta1 <= 0")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.amg = AMG(cycle, seed, symmetry="symmetric", **amg_options)

    def setup(self, system: LinearSystem) -> spla.LinearOperator:
        A = system.require_matrix("pc='shifted-laplacian'")
        M = shifted_matrix(A, helmholtz_mass(system), self.beta1, self.beta2)
        cycle = self.amg.setup(LinearSystem(None, M, np.zeros(M.shape[0], complex)))
        real = not np.iscomplexobj(A)

        def apply(r: np.ndarray) -> np.ndarray:
            z = cycle.matvec(r)
            return z.real.copy() if real and not np.iscomplexobj(r) else z

        return spla.LinearOperator(A.shape, matvec=apply, dtype=A.dtype)
