r"""Flexible conjugate gradients FCG(m) as one ``lax.while_loop``.

For a preconditioner that may change from one application to the next (a neural network,
an inner iteration), each new direction is A-orthogonalised explicitly against the last
``m`` directions (Notay's FCG(m), the recurrence of the host method :mod:`solvers.krylov.fcg`,
with classical instead of modified Gram-Schmidt, which is one matrix-vector product)::

    z_k = M(r_k)
    d_k = z_k - sum_{j=k-m}^{k-1} ((A d_j, z_k) / (d_j, A d_j)) d_j
    alpha_k = (d_k, r_k) / (d_k, A d_k);  x += alpha_k d_k;  r -= alpha_k A d_k
    stop if ||r|| <= max(rtol ||b||, atol)

The last ``m`` pairs ``(d_j, A d_j)`` live in a ring buffer of shape ``(m, n)``; unused
slots hold zeros and drop out of the sum.

References
----------
.. [1] Y. Notay, "Flexible conjugate gradients", SIAM J. Sci. Comput. 22(4) (2000) 1444-1460.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from solvers.jaxkrylov.loop import (
    BREAKDOWN,
    DIVERGED_NAN,
    HISTORY,
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


def fcg(matvec: Operator, b: jax.Array, x0: jax.Array, M: Operator | None = None,
        rtol: Any = 1e-5, atol: Any = 0.0, maxiter: Any = 1000, *, truncation: int = 2,
        history: int = HISTORY) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    r"""Solve ``A x = b`` for Hermitian positive definite ``A`` by flexible CG, FCG(m).

    Parameters
    ----------
    matvec, b, x0, rtol, atol, maxiter, history
        As for :func:`solvers.jaxkrylov.cg`.
    M
        Jittable ``r -> z``, possibly nonlinear (e.g. a network); None for no preconditioner.
    truncation
        ``m``, the number of previous directions kept (static).

    Returns
    -------
    x, iterations, residuals, code
        ``code`` is ``BREAKDOWN`` when ``(d, A d) <= 0`` and ``DIVERGED_NAN`` when it is not
        finite (the loop then stops before that update).
    """
    tol = threshold(b, rtol, atol)
    r = b - matvec(x0)
    directions = jnp.zeros((truncation, b.shape[0]), b.dtype)
    dAd = jnp.ones(truncation, jnp.abs(b).dtype)
    init = (x0, r, directions, directions, dAd, start(jnp.linalg.norm(r), tol, maxiter, history))

    def body(state: tuple) -> tuple:
        x, r, D, AD, dAd, progress = state
        z = precondition(M, r)
        d = z - ((AD.conj() @ z) / dAd) @ D
        Ad = matvec(d)
        dAd_k = jnp.vdot(d, Ad).real
        failed = first((~jnp.isfinite(dAd_k), DIVERGED_NAN), (dAd_k <= 0, BREAKDOWN))
        ok = failed == RUNNING
        alpha = jnp.where(ok, jnp.vdot(d, r) / dAd_k, 0)
        x = x + alpha * d
        r = r - alpha * Ad
        slot = progress.k % truncation
        D, AD = D.at[slot].set(d), AD.at[slot].set(Ad)
        dAd = dAd.at[slot].set(jnp.where(ok, dAd_k, 1))
        return x, r, D, AD, dAd, advance(progress, jnp.linalg.norm(r), tol, maxiter, failed)

    x, *_, progress = lax.while_loop(running, body, init)
    return outcome(x, progress)
