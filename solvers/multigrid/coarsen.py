r"""Coarse-grid operators by rediscretisation: face conductances in series and in parallel.

A stencil of :mod:`operators.stencils` holds, per axis ``a``, face weights ``w = G / h_a``
where ``G = K_face / h_a`` is the conductance of the link between two nodes (or a node and
the Dirichlet boundary) per unit cross-section. Pairing the fine nodes ``2I, 2I + 1``
(:mod:`solvers.multigrid.transfer`), the link between coarse nodes ``I - 1`` and ``I``
along ``a`` runs from one midpoint to the next: half of fine link ``2I - 1``, link ``2I``,
half of link ``2I + 1``, resistances in series; across the coarse face the fine links it
merges conduct in parallel (their conductances average). With resistances ``1 / G`` this is

.. math:: w^c_I = \frac{1}{2} \operatorname{mean}_{\perp}
          \left(\frac{1}{2 w_{2I-1}} + \frac{1}{w_{2I}} + \frac{1}{2 w_{2I+1}}\right)^{-1},

with ``w_{-1} = w_{n+1} = infinity`` (a boundary link ends at the boundary, so its coarse link
is the fine boundary link plus half the first interior one). The spacing cancels. For a
constant coefficient it reproduces the Laplacian on the coarse grid, including the Dirichlet
boundary now ``3/4 H`` away (weight ``4 / (3 H^2)``); for a variable one it is the
harmonic (series) / arithmetic (parallel) averaging of [1]. Coarse stencils are built by
JAX operations, so a hierarchy can be built inside ``jax.jit`` from a traced coefficient.

References
----------
.. [1] R. E. Alcouffe, A. Brandt, J. E. Dendy, J. W. Painter, "The multi-grid method for
   the diffusion equation with strongly discontinuous coefficients", SIAM J. Sci. Stat.
   Comput. 2(4) (1981) 430-454.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

from operators.stencils import Stencil, from_weights


def coarsenable(shape: Sequence[int]) -> tuple[int, ...]:
    """The axes that can be halved: even length of at least 4."""
    return tuple(a for a, n in enumerate(shape) if n % 2 == 0 and n >= 4)


def coarsen(stencil: Stencil, axes: Sequence[int]) -> Stencil:
    """The rediscretised stencil on the grid halved along ``axes``."""
    shape = tuple(n // 2 if a in axes else n for a, n in enumerate(stencil.shape))
    weights = []
    for axis, w in enumerate(stencil.weights):
        w = _full_rank(w, axis, stencil.shape)
        if axis in axes:
            w = 0.5 / _series(1 / w, axis)
        for other in axes:
            if other != axis and w.shape[other] > 1:
                w = _pair_mean(w, other)
        weights.append(w)
    return from_weights(weights, shape)


def _full_rank(w: jax.Array, axis: int, shape: Sequence[int]) -> jax.Array:
    """``w`` with one dimension per axis, ``shape[axis] + 1`` long along ``axis``."""
    w = w.reshape(w.shape or (1,) * len(shape))
    target = list(w.shape)
    target[axis] = shape[axis] + 1
    return jnp.broadcast_to(w, target)


def _series(resistance: jax.Array, axis: int) -> jax.Array:
    """Coarse link resistances: ``rho_{2I} + (rho_{2I-1} + rho_{2I+1}) / 2``."""
    n = resistance.shape[axis] - 1
    full = lax.slice_in_dim(resistance, 0, n + 1, stride=2, axis=axis)
    half = 0.5 * lax.slice_in_dim(resistance, 1, n, stride=2, axis=axis)
    zero = jnp.zeros_like(lax.slice_in_dim(half, 0, 1, axis=axis))
    return (full + jnp.concatenate([zero, half], axis=axis)
            + jnp.concatenate([half, zero], axis=axis))


def _pair_mean(w: jax.Array, axis: int) -> jax.Array:
    """Mean of neighbouring pairs along a transverse ``axis`` (links in parallel)."""
    shape = list(w.shape)
    shape[axis : axis + 1] = [shape[axis] // 2, 2]
    return w.reshape(shape).mean(axis=axis + 1)
