r"""Chebyshev smoothing of ``A x = r`` with the diagonal ``D`` (weighted Jacobi at degree 1).

The polynomial in ``D^{-1} A`` of degree ``k`` that is smallest on ``[lower, upper]``, by the
three-term recurrence (Saad, Alg. 12.1; PETSc's ``KSPCHEBYSHEV``)::

    theta = (upper + lower) / 2;  delta = (upper - lower) / 2;  sigma = theta / delta
    d = D^{-1} (r - A x) / theta;  x += d;  rho = 1 / sigma
    repeat k - 1 times:  rho_new = 1 / (2 sigma - rho)
                         d = rho_new rho d + (2 rho_new / delta) D^{-1} (r - A x)
                         x += d;  rho = rho_new

``upper = 2`` bounds the spectrum of ``D^{-1} A`` for every stencil of
:mod:`operators.stencils` (Gershgorin: the centre is the sum of the face weights), so no
eigenvalue estimate is needed; ``lower = upper / (2 d)`` on a ``d``-dimensional grid is where
the modes that the coarse grid cannot represent begin (for the Laplacian ``D^{-1} A``'s
eigenvalues are ``(1/d) sum_a (1 - cos theta_a)``, at least ``1/d`` once some
``|theta_a| >= pi/2``). Degree 1 is weighted Jacobi with ``omega = 2 / (lower + upper)``:
``6/7`` in 3D and ``4/5`` in 2D, the classical optimal smoothing weights.

The smoother is a fixed polynomial in ``D^{-1} A``, self-adjoint in the ``A`` inner product:
the same smoother before and after the coarse correction makes the V-cycle symmetric.

References
----------
.. [1] Y. Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed., SIAM, 2003, Alg. 12.1.
.. [2] M. Adams, M. Brezina, J. Hu, R. Tuminaro, "Parallel multigrid smoothing: polynomial
   versus Gauss-Seidel", J. Comput. Phys. 188 (2003) 593-610.
"""

from __future__ import annotations

from collections.abc import Callable

import jax

#: Upper bound of the spectrum of ``D^{-1} A`` for a stencil whose centre sums its weights.
UPPER = 2.0


def chebyshev(matvec: Callable[[jax.Array], jax.Array], inverse_diagonal: jax.Array,
              r: jax.Array, x: jax.Array | None, degree: int, ndim: int) -> jax.Array:
    """``degree`` Chebyshev steps on ``A x = r`` from ``x`` (None: from zero, which saves
    the first residual); grid-shaped arrays."""
    lower = UPPER / (2 * ndim)
    theta, delta = (UPPER + lower) / 2, (UPPER - lower) / 2
    sigma = theta / delta
    residual = r if x is None else r - matvec(x)
    d = inverse_diagonal * residual / theta
    x = d if x is None else x + d
    rho = 1 / sigma
    for _ in range(degree - 1):
        rho_new = 1 / (2 * sigma - rho)
        d = rho_new * rho * d + (2 * rho_new / delta) * inverse_diagonal * (r - matvec(x))
        x = x + d
        rho = rho_new
    return x
