"""What the jitted Krylov methods share: status codes, residual buffer and stopping test.

These are the status codes of every JAX loop in the library: the kernels of this package
and the DCDM method (:mod:`sciml.dcdm.method`, which runs the FCG kernel with its network as
the preconditioner); :func:`reason` maps a final code to its :class:`solvers.reasons.Reason`.

Each method's ``lax.while_loop`` carries a :class:`Progress` as the last element of its
state: ``k`` iterations done, a fixed-size buffer of residual norms (``residuals[i]`` after
``i`` iterations) and a status ``code``, :data:`RUNNING` until the stopping test

    ``||r_k|| <= max(rtol * ||b||, atol)``,

the iteration budget ``k >= maxiter``, a NaN/Inf or a breakdown ends the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from solvers.reasons import Reason

RUNNING, CONVERGED, MAXITER, BREAKDOWN, DIVERGED_NAN, INDEFINITE_MAT, INDEFINITE_PC = range(7)

#: Status code -> the reason it reports (the final true-residual check decides rtol vs atol).
REASONS = {
    CONVERGED: Reason.RTOL,
    MAXITER: Reason.MAXITER,
    BREAKDOWN: Reason.BREAKDOWN,
    DIVERGED_NAN: Reason.DIVERGED_NAN,
    INDEFINITE_MAT: Reason.INDEFINITE_MAT,
    INDEFINITE_PC: Reason.INDEFINITE_PC,
}

#: Length of the residual buffer: norms after 0 .. HISTORY - 2 iterations, and the latest
#: one in the last slot once the iterations outrun it (static, the same for every maxiter,
#: so that changing maxiter does not recompile).
HISTORY = 2**13

Operator = Callable[[jax.Array], jax.Array]


class Progress(NamedTuple):
    """Iterations done, residual-norm buffer, status code."""

    k: jax.Array
    residuals: jax.Array
    code: jax.Array


def reason(code: int) -> Reason:
    """The :class:`Reason` of a final status code."""
    return REASONS[int(code)]


def kept(residuals: Any, k: int) -> np.ndarray:
    """The norms a residual buffer holds after ``k`` iterations, as a NumPy array.

    ``residuals[:k + 1]`` while the buffer is long enough; beyond that the whole buffer, whose
    last entry is the latest norm.
    """
    residuals = np.asarray(residuals)
    return residuals[: min(int(k), residuals.shape[0] - 1) + 1]


def first(*cases: tuple[jax.Array, int]) -> jax.Array:
    """The code paired with the first true condition, else :data:`RUNNING`."""
    return jnp.select([c for c, _ in cases], [jnp.int32(code) for _, code in cases],
                      jnp.int32(RUNNING))


def status(rnorm: jax.Array, tol: jax.Array, k: Any, maxiter: Any) -> jax.Array:
    """The stopping test: NaN/Inf, converged, out of iterations, or running."""
    return first((~jnp.isfinite(rnorm), DIVERGED_NAN), (rnorm <= tol, CONVERGED),
                 (k >= maxiter, MAXITER))


def threshold(b: jax.Array, rtol: Any, atol: Any) -> jax.Array:
    """``max(rtol * ||b||, atol)``."""
    return jnp.maximum(rtol * jnp.linalg.norm(b), atol)


def precondition(M: Operator | None, r: jax.Array) -> jax.Array:
    """``z = M(r)`` (the identity when ``M`` is None), in the dtype of ``r``."""
    return r if M is None else M(r).astype(r.dtype)


def materialised(matvec: Operator, v: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(v, A v)`` computed once each.

    Inside a loop body XLA fuses a vector into each of its consumers and recomputes it
    there: ``A v`` used by an inner product and two updates was a matrix-free stencil
    applied three times (and ``v``, itself a combination of vectors, recomputed in each).
    ``lax.optimization_barrier`` makes both materialise once.
    """
    def both(v: jax.Array) -> tuple[jax.Array, jax.Array]:
        return v, matvec(v)

    return lax.cond(v[0] == v[0], both, both, v)


def start(rnorm: jax.Array, tol: jax.Array, maxiter: Any, history: int) -> Progress:
    """Progress before the first iteration."""
    residuals = jnp.zeros(history, rnorm.dtype).at[0].set(rnorm)
    return Progress(jnp.int32(0), residuals, status(rnorm, tol, 0, maxiter))


def advance(progress: Progress, rnorm: jax.Array, tol: jax.Array, maxiter: Any,
            failed: jax.Array | int = RUNNING) -> Progress:
    """Progress after one iteration ending with residual norm ``rnorm``.

    A ``failed`` code other than :data:`RUNNING` (a breakdown detected before the update,
    which the method then skipped) ends the loop without counting the iteration.
    """
    ok = jnp.asarray(failed) == RUNNING
    k = progress.k + ok.astype(jnp.int32)
    slot = jnp.minimum(k, progress.residuals.shape[0] - 1)
    value = jnp.where(ok, rnorm, progress.residuals[slot])
    code = jnp.where(ok, status(rnorm, tol, k, maxiter), failed)
    return Progress(k, progress.residuals.at[slot].set(value), code)


def running(state: tuple) -> jax.Array:
    """The ``while_loop`` condition: the :class:`Progress` last in ``state`` is running."""
    return state[-1].code == RUNNING


def outcome(x: jax.Array, progress: Progress) -> tuple[jax.Array, jax.Array, jax.Array,
                                                        jax.Array]:
    """What every method returns: ``(x, iterations, residuals, code)``."""
    return x, progress.k, progress.residuals, progress.code
