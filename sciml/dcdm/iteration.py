"""The DCDM iteration as a jitted JAX loop (Kaneda et al., 2023, Algorithm 1).

Given ``f ~ A^{-1}`` up to scale (the network), ``x_0`` and ``r_0 = b - A x_0``::

    for k = 0, 1, ...:
        z_k = f(r_k / rms(r_k))                                     # network direction
        d_k = z_k - sum_{j=k-m}^{k-1} (z_k^T A d_j) / (d_j^T A d_j) d_j   # A-orthogonalise (m = 2)
        alpha_k = d_k^T r_k / d_k^T A d_k
        x_{k+1} = x_k + alpha_k d_k;   r_{k+1} = r_k - alpha_k A d_k
        every `replace_every` steps: r_{k+1} = b - A x_{k+1}        # true residual
    stop when ||r_{k+1}|| <= max(rtol ||b||, atol)   or k + 1 = maxiter

The orthogonalisation is modified Gram-Schmidt over the last ``m`` directions (a ring buffer).
``alpha_k`` minimises the A-norm of the error along ``d_k``, so ``||e||_A`` never increases.
Vectors are float64 (the network runs in float32), so the true relative residual can reach
``1e-10`` and below.

``conjugacy[k]`` records ``|d_k^T A d_{k-1}| / (||d_k||_A ||d_{k-1}||_A)``, which should be at
rounding level: a cheap check that the orthogonalisation works.

References
----------
A. Kaneda et al., "A Deep Conjugate Direction Method for Iteratively Solving Linear Systems",
ICML 2023. Y. Notay, "Flexible conjugate gradients", SIAM J. Sci. Comput. 22(4), 2000.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

Operator = Callable[[jax.Array], jax.Array]

#: Status codes of the loop (mapped to :class:`solvers.reasons.Reason` by the method).
RUNNING, CONVERGED, MAXITER, BREAKDOWN, NONFINITE = 0, 1, 2, 3, 4


class State(NamedTuple):
    """Loop state; every field is a JAX array so the state can cross ``lax.while_loop``."""

    k: jax.Array
    x: jax.Array
    r: jax.Array
    rnorm: jax.Array
    directions: jax.Array      # (m, n) ring buffer of the last m directions
    a_directions: jax.Array    # (m, n) their products with A
    energies: jax.Array        # (m,) d_j^T A d_j; +inf marks an empty slot
    residuals: jax.Array       # (H,) ||r_k||, k = 0..H-1
    conjugacy: jax.Array       # (H,) cosine between consecutive directions in the A-product
    recorded: jax.Array        # (R, n) the first R directions (debug; R may be 0)
    status: jax.Array


def initial_state(apply_A: Operator, b: jax.Array, x0: jax.Array, truncation: int,
                  history: int, record: int) -> State:
    """State before the first iteration."""
    r = b - apply_A(x0)
    rnorm = jnp.linalg.norm(r)
    n, dtype = b.shape[0], b.dtype
    residuals = jnp.full((history,), jnp.nan, dtype).at[0].set(rnorm)
    return State(
        k=jnp.asarray(0), x=x0, r=r, rnorm=rnorm,
        directions=jnp.zeros((truncation, n), dtype),
        a_directions=jnp.zeros((truncation, n), dtype),
        energies=jnp.full((truncation,), jnp.inf, dtype),
        residuals=residuals, conjugacy=jnp.full((history,), jnp.nan, dtype),
        recorded=jnp.zeros((record, n), dtype), status=jnp.asarray(RUNNING),
    )


def start(apply_A: Operator, b: jax.Array, x0: jax.Array, tol: jax.Array, maxiter: jax.Array,
          truncation: int, history: int, record: int) -> State:
    """:func:`initial_state` with the status set: done if ``x0`` passes or ``maxiter <= 0``."""
    state = initial_state(apply_A, b, x0, truncation, history, record)
    return state._replace(status=jnp.where(state.rnorm <= tol, CONVERGED,
                                           jnp.where(maxiter <= 0, MAXITER, RUNNING)))


def step(apply_A: Operator, direction: Operator, b: jax.Array, tol: jax.Array,
         maxiter: jax.Array, replace_every: int, state: State) -> State:
    """One DCDM iteration (see the module docstring)."""
    k, m = state.k, state.directions.shape[0]
    d = direction(state.r).astype(state.r.dtype)
    for i in range(1, m + 1):  # modified Gram-Schmidt, most recent direction first
        j = (k - i) % m
        coeff = jnp.vdot(state.a_directions[j], d) / state.energies[j]
        d = d - jnp.where(jnp.isfinite(state.energies[j]), coeff, 0.0) * state.directions[j]
    Ad = apply_A(d)
    energy = jnp.vdot(d, Ad)
    alpha = jnp.vdot(d, state.r) / energy
    x = state.x + alpha * d
    r = lax.cond((k + 1) % replace_every == 0, lambda: b - apply_A(x),
                 lambda: state.r - alpha * Ad)
    rnorm = jnp.linalg.norm(r)
    last = (k - 1) % m
    cosine = jnp.abs(jnp.vdot(state.a_directions[last], d)) / jnp.sqrt(
        jnp.abs(energy * state.energies[last]))
    slot = k % m
    status = jnp.select(
        [~jnp.isfinite(rnorm) | ~jnp.isfinite(energy), energy <= 0, rnorm <= tol,
         k + 1 >= maxiter],
        [NONFINITE, BREAKDOWN, CONVERGED, MAXITER], RUNNING)
    ok = (status == RUNNING) | (status == CONVERGED) | (status == MAXITER)
    history = state.residuals.shape[0]
    return State(
        k=jnp.where(ok, k + 1, k),
        x=jnp.where(ok, x, state.x),
        r=jnp.where(ok, r, state.r),
        rnorm=jnp.where(ok, rnorm, state.rnorm),
        directions=state.directions.at[slot].set(d),
        a_directions=state.a_directions.at[slot].set(Ad),
        energies=state.energies.at[slot].set(energy),
        residuals=state.residuals.at[jnp.minimum(k + 1, history - 1)].set(
            jnp.where(k + 1 < history, rnorm, state.residuals[history - 1])),
        conjugacy=state.conjugacy.at[jnp.minimum(k, history - 1)].set(
            jnp.where(k > 0, cosine, 0.0)),
        recorded=(state.recorded.at[k].set(d, mode="drop") if state.recorded.shape[0]
                  else state.recorded),
        status=status,
    )


def run(apply_A: Operator, direction: Operator, b: jax.Array, x0: jax.Array,
        tol: jax.Array, maxiter: jax.Array, *, truncation: int = 2, replace_every: int = 10,
        history: int = 1001, record: int = 0) -> State:
    """Iterate until convergence, ``maxiter``, breakdown or a non-finite value.

    ``apply_A`` and ``direction`` act on flat float64 vectors; jit the whole call with
    ``truncation``, ``replace_every``, ``history`` and ``record`` static.
    """
    state = start(apply_A, b, x0, tol, maxiter, truncation, history, record)

    def body(s: State) -> State:
        return step(apply_A, direction, b, tol, maxiter, replace_every, s)

    return lax.while_loop(lambda s: s.status == RUNNING, body, state)
