r"""Preconditioned conjugate gradients as one ``lax.while_loop``.

Algorithm (Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed., Alg. 9.1), the same
recurrence as the host method :mod:`solvers.krylov.cg`::

    r = b - A x;  z = M r;  p = z;  rho = (r, z)
    repeat:  q = A p;  alpha = rho / (p, q)
             x += alpha p;  r -= alpha q;  stop if ||r|| <= max(rtol ||b||, atol)
             z = M r;  rho_new = (r, z);  p = z + (rho_new / rho) p;  rho = rho_new

References
----------
.. [1] M. R. Hestenes, E. Stiefel, "Methods of conjugate gradients for solving linear
   systems", J. Res. Nat. Bur. Standards 49 (1952) 409-436.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from solvers.jaxkrylov.loop import (
    HISTORY,
    INDEFINITE_MAT,
    INDEFINITE_PC,
    RUNNING,
    Operator,
    advance,
    first,
    outcome,
    precondition,
    running,
    start,
    threshold,
)


def cg(matvec: Operator, b: jax.Array, x0: jax.Array, M: Operator | None = None,
       rtol: Any = 1e-5, atol: Any = 0.0, maxiter: Any = 1000, *,
       history: int = HISTORY) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    r"""Solve ``A x = b`` for Hermitian positive definite ``A`` (and ``M``) by CG.

    Parameters
    ----------
    matvec
        Jittable ``x -> A x``.
    b, x0
        Right-hand side and initial guess, 1-D of the same dtype.
    M
        Jittable ``r -> z ~ A^{-1} r``, Hermitian positive definite and fixed (use
        :func:`solvers.jaxkrylov.fcg` for a nonlinear one); None for no preconditioner.
    rtol, atol, maxiter
        Stop when the recurrence residual satisfies ``||r_k|| <= max(rtol ||b||, atol)`` or
        after ``maxiter`` iterations (traced: changing them does not recompile).
    history
        Length of the residual buffer (static).

    Returns
    -------
    x, iterations, residuals, code
        ``residuals[k] = ||r_k||`` (recurrence); ``code`` from :mod:`solvers.jaxkrylov.loop`:
        ``INDEFINITE_MAT`` when ``(p, A p) <= 0``, ``INDEFINITE_PC`` when ``(r, M r) <= 0``
        (the loop then stops before that update).

    Notes
    -----
    One iteration costs one ``matvec``, one ``M``, two inner products and three vector
    updates; without ``M`` the residual norm is ``sqrt((r, r))``, the inner product CG needs
    anyway. ``q = A p`` is computed at the end of an iteration and carried into the next
    (one extra ``matvec`` per solve): as a loop output XLA keeps it in one buffer, whereas a
    ``q`` used only inside the iteration is recomputed inside each of its two consumers,
    which made a matrix-free stencil CG twice as slow on a CPU.
    """
    tol = threshold(b, rtol, atol)
    r = b - matvec(x0)
    z = precondition(M, r)
    rho = jnp.vdot(r, z)
    init = (x0, r, z, matvec(z), rho, start(jnp.linalg.norm(r), tol, maxiter, history))

    def body(state: tuple) -> tuple:
        x, r, p, q, rho, progress = state
        pq = jnp.vdot(p, q).real
        failed = first((pq <= 0, INDEFINITE_MAT), (rho.real <= 0, INDEFINITE_PC))
        alpha = jnp.where(failed == RUNNING, rho / pq, 0)
        x = x + alpha * p
        r = r - alpha * q
        z = precondition(M, r)
        rho_new = jnp.vdot(r, z)
        rnorm = jnp.sqrt(rho_new.real) if M is None else jnp.linalg.norm(r)
        p = z + (rho_new / rho) * p
        return x, r, p, matvec(p), rho_new, advance(progress, rnorm, tol, maxiter, failed)

    x, *_, progress = lax.while_loop(running, body, init)
    return outcome(x, progress)
