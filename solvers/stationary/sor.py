"""Successive over-relaxation (SOR) and its symmetric form (SSOR), as stationary iterations.

With the splitting ``A = L + D + U`` (strictly lower, diagonal, strictly upper) and relaxation
parameter ``0 < omega < 2``::

    SOR:   x_{k+1} = x_k + (D/omega + L)^{-1} (b - A x_k)
    SSOR:  x_{k+1} = x_k + M^{-1} (b - A x_k),
           M = 1/(omega (2 - omega)) (D + omega L) D^{-1} (D + omega U)
             = 1/(2 - omega) (D/omega + L) (D/omega)^{-1} (D/omega + U)

The triangular solves are compiled (:class:`solvers.triangular.TriangularSolver`), not Python
loops over rows. Each iteration computes the true residual, so the stopping test is exact,
and so are the divergence and stagnation stops (:class:`solvers.stopping.Guard`: a residual
above ``dtol * ||r_0||``, e.g. from an ``omega`` for which the iteration diverges, ends the run
with ``diverged_dtol``).
``M`` is also the SSOR preconditioner (symmetric positive definite when ``A`` is, for any
``0 < omega < 2``).

References
----------
Y. Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed., SIAM 2003, Sec. 4.1.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from solvers.errors import InvalidOptionError, InvalidSystemError
from solvers.method import Callback, Iterate, initial_state
from solvers.reasons import Reason
from solvers.stopping import Guard, StoppingRule
from solvers.system import LinearSystem
from solvers.triangular import TriangularSolver

#: The likely causes named in ``info["message"]`` when the guard stops a run.
HINTS = {
    Reason.DIVERGED_DTOL: "SOR/SSOR converge for SPD A with 0 < omega < 2 and for strictly "
    "diagonally dominant A with omega <= 1; for this A try omega=1, a smaller omega, or a "
    "Krylov method (method='gmres', or 'cg' with pc='ssor' for SPD A)",
    Reason.STAGNATION: "the iteration's spectral radius is close to 1; try another omega or a "
    "Krylov method (method='gmres', or 'cg' with pc='ssor' for SPD A)",
}


def check_omega(omega: float) -> float:
    """Validate the relaxation parameter: a real number in the open interval (0, 2)."""
    if isinstance(omega, bool) or not isinstance(omega, int | float | np.floating):
        raise InvalidOptionError(f"omega must be a real number in (0, 2), not {omega!r}")
    if not 0.0 < float(omega) < 2.0:
        raise InvalidOptionError(
            f"omega must lie in the open interval (0, 2) for SOR/SSOR to converge, got {omega}"
        )
    return float(omega)


class SORSplitting:
    """The triangular factors of SOR/SSOR for one matrix and one ``omega``."""

    def __init__(self, A: sp.csr_matrix, omega: float) -> None:
        self.omega = check_omega(omega)
        diag = A.diagonal()
        if np.any(diag == 0):
            raise InvalidSystemError(
                f"SOR/SSOR need a nonzero diagonal; A has {int(np.sum(diag == 0))} zero "
                f"diagonal entries. Use method='gmres' with pc='ilu' instead"
            )
        self.scaled_diagonal = diag / self.omega
        D = sp.diags(self.scaled_diagonal)
        self.lower = TriangularSolver(sp.tril(A, -1) + D)
        self.upper = TriangularSolver(sp.triu(A, 1) + D)

    def sor(self, r: np.ndarray) -> np.ndarray:
        """``(D/omega + L)^{-1} r``: one forward Gauss-Seidel-type sweep."""
        return self.lower.solve(r)

    def ssor(self, r: np.ndarray) -> np.ndarray:
        """``M_SSOR^{-1} r``: a forward and a backward sweep."""
        y = self.lower.solve(r) * self.scaled_diagonal
        return self.upper.solve(y) * (2.0 - self.omega)

    def as_operator(self) -> spla.LinearOperator:
        """The SSOR preconditioner ``M^{-1}`` as a SciPy ``LinearOperator``."""
        n = self.scaled_diagonal.size
        return spla.LinearOperator((n, n), matvec=self.ssor, dtype=self.scaled_diagonal.dtype)


class _Stationary:
    """A stationary iteration ``x += step(b - A x)``; subclasses choose the step."""

    requires_symmetric = False

    def __init__(self, omega: float = 1.0) -> None:
        self.omega = check_omega(omega)
        self.splitting: SORSplitting | None = None

    def setup(self, system: LinearSystem) -> None:
        """Build the triangular factors for ``system``'s matrix and the current ``omega``."""
        matrix = system.require_matrix(type(self).__name__, "its triangular parts")
        self.splitting = SORSplitting(matrix, self.omega)

    def step(self, splitting: SORSplitting, r: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def solve(self, system: LinearSystem, b: np.ndarray, x0: np.ndarray | None,
              M: spla.LinearOperator | None, stop: StoppingRule,
              callback: Callback | None = None) -> Iterate:
        if self.splitting is None or self.splitting.omega != self.omega:
            self.setup(system)
        splitting = self.splitting
        assert splitting is not None and system.matrix is not None  # setup() built them
        matvec = system.matvec
        x, r, tol, residuals = initial_state(matvec, b, x0, stop)
        guard = Guard(stop, residuals[0], HINTS)
        for k in range(1, stop.iterations(system.n) + 1):
            if residuals[-1] <= tol:
                return Iterate(x, k - 1, residuals, Reason.RTOL, {"omega": self.omega})
            x += self.step(splitting, r)
            r = b - matvec(x)
            residuals.append(float(np.linalg.norm(r)))
            if callback is not None:
                callback(x)
            if not np.isfinite(residuals[-1]):
                return Iterate(x, k, residuals, Reason.DIVERGED_NAN, {"omega": self.omega})
            stopped = None if residuals[-1] <= tol else guard.update(residuals[-1])
            if stopped is not None:
                return Iterate(x, k, residuals, stopped,
                               {"omega": self.omega, **guard.info(stopped)})
        iterations = len(residuals) - 1
        reason = Reason.RTOL if residuals[-1] <= tol else Reason.MAXITER
        return Iterate(x, iterations, residuals, reason, {"omega": self.omega})


class SOR(_Stationary):
    """SOR iteration with relaxation ``omega`` (``omega = 1``: Gauss-Seidel)."""

    def step(self, splitting: SORSplitting, r: np.ndarray) -> np.ndarray:
        return splitting.sor(r)


class SSOR(_Stationary):
    """Symmetric SOR iteration: a forward then a backward sweep per iteration."""

    def step(self, splitting: SORSplitting, r: np.ndarray) -> np.ndarray:
        return splitting.ssor(r)
