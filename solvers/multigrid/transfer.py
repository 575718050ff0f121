r"""Cell-centred grid transfers: linear interpolation and its scaled adjoint (full weighting).

The unknowns of :mod:`operators.stencils` are the interior nodes ``x_i = (i + 1) h`` of a
uniform grid. Coarsening an axis of even length ``n`` pairs the fine nodes ``2I, 2I + 1``
into the coarse node ``I`` at their midpoint (cell-centred coarsening; vertex-centred
coarsening would need ``n`` odd, and the gallery's grids are powers of two). Along each
coarsened axis, prolongation is linear interpolation between coarse midpoints,

.. math:: f_{2I} = \tfrac34 c_I + \tfrac14 c_{I-1}, \qquad
          f_{2I+1} = \tfrac34 c_I + \tfrac14 c_{I+1}

(zero beyond the grid), and restriction is ``R = P^T / 2`` per axis, the weights
``(1, 3, 3, 1) / 8`` (cell-centred full weighting). ``R = 2^{-d} P^T`` keeps the V-cycle
symmetric, and the orders (2 + 2) exceed the PDE's (2), as multigrid theory asks.

References
----------
.. [1] P. Wesseling, *An Introduction to Multigrid Methods*, Wiley, 1992, sec. 5.3.
.. [2] U. Trottenberg, C. W. Oosterlee, A. Schueller, *Multigrid*, Academic Press, 2001,
   sec. 2.8.4.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from operators.stencils import shift


def prolong(coarse: jax.Array, axes: Sequence[int]) -> jax.Array:
    """Linear interpolation of a coarse grid array along each of ``axes`` (length x 2)."""
    for axis in axes:
        base = 0.75 * coarse
        even = base + 0.25 * shift(coarse, axis, -1)
        odd = base + 0.25 * shift(coarse, axis, +1)
        shape = list(coarse.shape)
        shape[axis] *= 2
        coarse = jnp.stack([even, odd], axis=axis + 1).reshape(shape)
    return coarse


def restrict(fine: jax.Array, axes: Sequence[int]) -> jax.Array:
    """Full weighting ``R = P^T / 2`` along each of ``axes`` (length / 2)."""
    for axis in axes:
        shape = list(fine.shape)
        shape[axis : axis + 1] = [shape[axis] // 2, 2]
        pairs = fine.reshape(shape)
        even = jnp.take(pairs, 0, axis=axis + 1)
        odd = jnp.take(pairs, 1, axis=axis + 1)
        fine = 0.375 * (even + odd) + 0.125 * (shift(odd, axis, -1) + shift(even, axis, +1))
    return fine
