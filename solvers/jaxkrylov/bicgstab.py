r"""Right-preconditioned BiCGStab as one ``lax.while_loop``.

Algorithm (van der Vorst 1992; Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed.,
Alg. 7.7 with right preconditioning, as ``scipy.sparse.linalg.bicgstab``)::

    r = b - A x;  r_hat = r;  rho = alpha = omega = 1;  p = v = 0
    repeat:  rho_new = (r_hat, r);  beta = (rho_new / rho) (alpha / omega)
             p = r + beta (p - omega v);  p_hat = M p;  v = A p_hat
             alpha = rho_new / (r_hat, v);  s = r - alpha v
             if ||s|| <= tol:  x += alpha p_hat;  stop               (half step)
             s_hat = M s;  t = A s_hat;  omega = (t, s) / (t, t)
             x += alpha p_hat + omega s_hat;  r = s - omega t;  stop if ||r|| <= tol

with ``tol = max(rtol ||b||, atol)``. One iteration costs two matvecs and two applications
of ``M``. It breaks down when ``rho_new``, ``(r_hat, v)`` or ``omega`` vanishes.

References
----------
.. [1] H. A. van der Vorst, "Bi-CGSTAB: a fast and smoothly converging variant of Bi-CG for
   the solution of nonsymmetric linear systems", SIAM J. Sci. Stat. Comput. 13(2) (1992)
   631-644.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from solvers.jaxkrylov.loop import (
    BREAKDOWN,
    HISTORY,
    RUNNING,
    Operator,
    advance,
    first,
    materialised,
    outcome,
    precondition,
    running,
    start,
    threshold,
)


def bicgstab(matvec: Operator, b: jax.Array, x0: jax.Array, M: Operator | None = None,
             rtol: Any = 1e-5, atol: Any = 0.0, maxiter: Any = 1000, *,
             history: int = HISTORY) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    r"""Solve ``A x = b`` for a general square ``A`` by BiCGStab.

    Parameters
    ----------
    matvec, b, x0, rtol, atol, maxiter, history
        As for :func:`solvers.jaxkrylov.cg`.
    M
        Jittable, fixed ``r -> z ~ A^{-1} r`` applied on the right; None for none.

    Returns
    -------
    x, iterations, residuals, code
        ``residuals[k]`` is the recurrence residual norm (``||s||`` after a half step);
        ``code`` is ``BREAKDOWN`` when ``rho``, ``(r_hat, v)`` or ``omega`` is exactly zero
        (the loop then stops before that update).
    """
    tol = threshold(b, rtol, atol)
    r = b - matvec(x0)
    one = jnp.ones((), b.dtype)
    zero = jnp.zeros_like(b)
    init = (x0, r, r, zero, zero, one, one, one,
            start(jnp.linalg.norm(r), tol, maxiter, history))

    def body(state: tuple) -> tuple:
        x, r, r_hat, p, v, rho, alpha, omega, progress = state
        rho_new = jnp.vdot(r_hat, r)
        p = r + (rho_new / rho) * (alpha / omega) * (p - omega * v)
        p_hat, v = materialised(matvec, precondition(M, p))
        rv = jnp.vdot(r_hat, v)
        alpha = rho_new / rv
        s = r - alpha * v
        snorm = jnp.linalg.norm(s)
        half = snorm <= tol
        s_hat, t = materialised(matvec, precondition(M, s))
        omega = jnp.where(half, 0, jnp.vdot(t, s) / jnp.vdot(t, t))
        failed = first((rho_new == 0, BREAKDOWN), (rv == 0, BREAKDOWN),
                       (~half & (omega == 0), BREAKDOWN))
        ok = failed == RUNNING
        x = jnp.where(ok, x + alpha * p_hat + omega * s_hat, x)
        r = jnp.where(ok, s - omega * t, r)
        rnorm = jnp.where(half, snorm, jnp.linalg.norm(r))
        return (x, r, r_hat, p, v, rho_new, alpha, omega,
                advance(progress, rnorm, tol, maxiter, failed))

    x, *_, progress = lax.while_loop(running, body, init)
    return outcome(x, progress)
