r"""Flexible conjugate gradients FCG(m) as one ``lax.while_loop``.

For a preconditioner that may change from one application to the next (a neural network,
an inner iteration), each new direction is A-orthogonalised explicitly against the last
``m`` directions (Notay's FCG(m), the recurrence of the host method :mod:`solvers.krylov.fcg`,
with classical instead of modified Gram-Schmidt, which is one matrix-vector product)::

    z_k = M(r_k)
    d_k = z_k - sum_{j=k-m}^{k-1} ((A d_j, z_k) / (d_j, A d_j)) d_j
    alpha_k = (d_k, r_k) / (d_k, A d_k);  x += alpha_k d_k;  r -= alpha_k A d_k
    every `replace_every` iterations (if asked): r = b - A x
    stop if ||r|| <= max(rtol ||b||, atol)

The last ``m`` pairs ``(d_j, A d_j)`` live in a ring buffer of shape ``(m, n)``; unused
slots hold zeros and drop out of the sum. A scaled ``z_k`` (``c M(r_k)``, ``c > 0``) scales
``d_k`` by ``c`` and ``alpha_k`` by ``1/c``: the iterates do not change.

:func:`fcg` is the kernel of the JAX backend. Its pieces are public for a caller that drives
the same iteration itself (the DCDM method, :mod:`sciml.dcdm.method`, runs :func:`run`, or
:func:`initial` and :func:`step` from a Python loop with the network applied in between):
:func:`step` takes ``z_k`` as an argument, and its optional outputs, the A-cosine of
consecutive directions and the first directions themselves, cost nothing when not asked.

References
----------
.. [1] Y. Notay, "Flexible conjugate gradients", SIAM J. Sci. Comput. 22(4) (2000) 1444-1460.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from solvers.jaxkrylov.loop import (
    BREAKDOWN,
    DIVERGED_NAN,
    HISTORY,
    RUNNING,
    Operator,
    Progress,
    advance,
    first,
    materialised,
    outcome,
    precondition,
    running,
    start,
    threshold,
)


class State(NamedTuple):
    """FCG(m)'s loop state; ``conjugacy`` and ``directions`` are None unless asked for."""

    x: jax.Array
    r: jax.Array
    D: jax.Array                   # (m, n) ring buffer of the last m directions d_j
    AD: jax.Array                  # (m, n) their products A d_j
    energies: jax.Array            # (m,) (d_j, A d_j); 1 in unused slots (where d_j = 0)
    conjugacy: jax.Array | None    # (history,) |(d_k, A d_{k-1})| / (||d_k||_A ||d_{k-1}||_A)
    directions: jax.Array | None   # (record, n) d_0, d_1, ... (debugging)
    progress: Progress


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
    state = run(matvec, b, x0, M, threshold(b, rtol, atol), maxiter, truncation=truncation,
                history=history)
    return outcome(state.x, state.progress)


def run(matvec: Operator, b: jax.Array, x0: jax.Array, M: Operator | None, tol: jax.Array,
        maxiter: Any, *, truncation: int = 2, history: int = HISTORY, replace_every: int = 0,
        conjugacy: bool = False, record: int = 0) -> State:
    """FCG(m) until ``||r|| <= tol``, ``maxiter``, breakdown or NaN; the final :class:`State`.

    ``replace_every``, ``conjugacy`` and ``record`` as for :func:`initial` and :func:`step`.
    """
    state = initial(matvec, b, x0, tol, maxiter, truncation=truncation, history=history,
                    conjugacy=conjugacy, record=record)

    def body(state: State) -> State:
        return step(matvec, b, tol, maxiter, state, precondition(M, state.r),
                    replace_every=replace_every)

    return lax.while_loop(running, body, state)


def initial(matvec: Operator, b: jax.Array, x0: jax.Array, tol: jax.Array, maxiter: Any, *,
            truncation: int = 2, history: int = HISTORY, conjugacy: bool = False,
            record: int = 0) -> State:
    """The state before the first iteration (done already if ``x0`` passes).

    ``conjugacy=True`` keeps the A-cosine of each direction with the previous one (0 for
    the first); ``record > 0`` keeps the first ``record`` directions. Both static.
    """
    r = b - matvec(x0)
    D = jnp.zeros((truncation, b.shape[0]), b.dtype)
    real = jnp.abs(b).dtype
    return State(x0, r, D, D, jnp.ones(truncation, real),
                 jnp.zeros(history, real) if conjugacy else None,
                 jnp.zeros((record, b.shape[0]), b.dtype) if record else None,
                 start(jnp.linalg.norm(r), tol, maxiter, history))


def step(matvec: Operator, b: jax.Array, tol: jax.Array, maxiter: Any, state: State,
         z: jax.Array, *, replace_every: int = 0) -> State:
    """One FCG(m) iteration from the preconditioned residual ``z = M(r)``.

    ``replace_every > 0`` (static) replaces the recurrence residual by the true ``b - A x``
    after every ``replace_every``-th iteration (one more ``matvec`` each time).
    """
    x, r, D, AD, dAd, cosines, directions, progress = state
    k = progress.k
    d, Ad = materialised(matvec, z - sum((jnp.vdot(AD[j], z) / dAd[j]) * D[j]
                                         for j in range(D.shape[0])))
    dAd_k = jnp.vdot(d, Ad).real
    failed = first((~jnp.isfinite(dAd_k), DIVERGED_NAN), (dAd_k <= 0, BREAKDOWN))
    ok = failed == RUNNING
    alpha = jnp.where(ok, jnp.vdot(d, r) / dAd_k, 0)
    x = x + alpha * d
    if replace_every:
        r = lax.cond((k + 1) % replace_every == 0, lambda: b - matvec(x),
                     lambda: r - alpha * Ad)
    else:
        r = r - alpha * Ad
    if cosines is not None:
        last = (k - 1) % D.shape[0]
        cosine = jnp.abs(jnp.vdot(AD[last], d)) / jnp.sqrt(jnp.abs(dAd_k * dAd[last]))
        cosines = cosines.at[jnp.minimum(k, cosines.shape[0] - 1)].set(cosine)
    if directions is not None:
        directions = directions.at[k].set(d, mode="drop")
    slot = k % D.shape[0]
    return State(x, r, D.at[slot].set(d), AD.at[slot].set(Ad),
                 dAd.at[slot].set(jnp.where(ok, dAd_k, 1)), cosines, directions,
                 advance(progress, jnp.linalg.norm(r), tol, maxiter, failed))
