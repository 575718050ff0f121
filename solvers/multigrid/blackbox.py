r"""Operator-dependent interpolation of black-box multigrid (Alcouffe-Brandt-Dendy-Painter).

Vertex-centred coarsening: along each coarsened axis (even length ``n``) the coarse node
``I`` is the fine node ``2I + 1``; the fine node ``2I`` lies between coarse nodes ``I - 1``
and ``I`` (``I - 1 = -1`` is the Dirichlet boundary). A fine node is of class ``S``, the set
of coarsened axes along which its index is even (``S`` empty: a coarse node, copied). It
is interpolated from the ``2^|S|`` coarse nodes around it, classes in increasing ``|S|``, by
making its own row of ``A`` hold with the stencil collapsed onto the ``S`` directions:

.. math:: \tilde A_{o_S} = \sum_{o_T} A_{(o_S, o_T)}, \qquad
          u_f = -\frac{1}{\tilde A_0} \sum_{o_S \ne 0} \tilde A_{o_S}\, u_{f + o_S},

where ``T`` are the other axes (the row summed across them, as in [1]_, [2]_) and each
neighbour ``f + o_S`` has fewer even indices, so it is a coarse node or was interpolated
before. In 2D this is Dendy's black-box interpolation [2]_ (line points from the collapsed
3-point row, cell centres from the full 9-point row); in 3D, de Zeeuw's / Dendy's 3D
extension [3]_. Across a jump of the coefficient the weights follow the flux (``K grad u``
continuous) instead of ``u``'s gradient, which is what keeps a V-cycle robust when the
coefficient jumps by orders of magnitude. Restriction is ``R = P^T`` and the coarse operator
``P^T A P`` (:mod:`solvers.multigrid.galerkin`).

The weights are stored per class and per corner ``delta`` in ``{-1, 0}^S`` as coarse-grid
arrays (``3^d`` arrays in all); prolongation and restriction are shifted products of them,
JAX operations only.

References
----------
.. [1] R. E. Alcouffe, A. Brandt, J. E. Dendy, J. W. Painter, "The multi-grid method for
   the diffusion equation with strongly discontinuous coefficients", SIAM J. Sci. Stat.
   Comput. 2(4) (1981) 430-454.
.. [2] J. E. Dendy, "Black box multigrid", J. Comput. Phys. 48 (1982) 366-386.
.. [3] P. M. de Zeeuw, "Matrix-dependent prolongations and restrictions in a blackbox
   multigrid solver", J. Comput. Appl. Math. 33 (1990) 1-27.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
from jax import lax

from solvers.multigrid.galerkin import Offset, shifted

#: ``(S, delta)``: a class of fine nodes (coarsened axes with an even index) and a corner.
Key = tuple[tuple[int, ...], tuple[int, ...]]


def coarse_shape(shape: Sequence[int], axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(n // 2 if a in axes else n for a, n in enumerate(shape))


def classes(axes: Sequence[int]) -> list[tuple[int, ...]]:
    """The classes ``S`` (subsets of ``axes``), smallest first."""
    return [S for k in range(len(axes) + 1) for S in itertools.combinations(axes, k)]


def keys(axes: Sequence[int]) -> tuple[Key, ...]:
    return tuple((S, delta) for S in classes(axes)
                 for delta in itertools.product((-1, 0), repeat=len(S)))


def split(fine: jax.Array, axes: Sequence[int]) -> dict[tuple[int, ...], jax.Array]:
    """The fine grid array as one coarse-shaped array per class."""
    shape = []
    for a, n in enumerate(fine.shape):
        shape += [n // 2, 2] if a in axes else [n]
    pairs = fine.reshape(shape)
    out = {}
    for S in classes(axes):
        part = pairs
        for a in sorted(axes):  # the parity of axis a follows it once earlier ones are gone
            part = lax.index_in_dim(part, 0 if a in S else 1, a + 1, keepdims=False)
        out[S] = part
    return out


def merge(parts: Mapping[tuple[int, ...], jax.Array], axes: Sequence[int]) -> jax.Array:
    """Inverse of :func:`split`."""
    current: dict[tuple[bool | None, ...], jax.Array] = {
        tuple(a in S for a in axes): v for S, v in parts.items()}
    for j, a in enumerate(axes):
        merged = {}
        for flags, even in current.items():
            if flags[j]:
                odd = current[flags[:j] + (False,) + flags[j + 1:]]
                shape = list(even.shape)
                shape[a] *= 2
                merged[flags[:j] + (None,) + flags[j + 1:]] = jnp.stack(
                    [even, odd], axis=a + 1).reshape(shape)
        current = merged
    (out,) = current.values()
    return out


def _corner_shift(w: jax.Array, delta: Sequence[int], S: Sequence[int]) -> jax.Array:
    """``w`` read at coarse cell ``I + delta`` (``delta`` along the axes ``S``)."""
    ndim = w.ndim
    return shifted(w, [dict(zip(S, delta, strict=True)).get(a, 0) for a in range(ndim)])


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Interpolation:
    """Operator-dependent prolongation ``P`` (and ``R = P^T``) between two grids.

    Attributes
    ----------
    weights
        One coarse-grid array per :func:`keys` entry ``(S, delta)``: the weight of coarse
        node ``I + delta`` in the fine node of class ``S`` of cell ``I``.
    axes
        The coarsened axes (static).
    """

    weights: tuple[jax.Array, ...]
    axes: tuple[int, ...] = field(metadata={"static": True})

    def _table(self) -> dict[Key, jax.Array]:
        return dict(zip(keys(self.axes), self.weights, strict=True))

    def prolong(self, coarse: jax.Array) -> jax.Array:
        """``P c`` on the fine grid."""
        parts: dict[tuple[int, ...], jax.Array] = {}
        for (S, delta), w in self._table().items():
            term = w * _corner_shift(coarse, delta, S)
            parts[S] = parts[S] + term if S in parts else term
        return merge(parts, self.axes)

    def restrict(self, fine: jax.Array) -> jax.Array:
        """``P^T f`` on the coarse grid."""
        parts = split(fine, self.axes)
        out = jnp.zeros_like(parts[()])
        for (S, delta), w in self._table().items():
            out = out + _corner_shift(w * parts[S], tuple(-d for d in delta), S)
        return out


#: A hook that corrects the black-box weights: ``correct(entries, axes, weights)`` returns
#: new weights of the same shapes (one coarse-grid array per :func:`keys` entry), JAX
#: operations only (a learned correction, :mod:`sciml.dcdm.learned_prolongation`).
Correction = Callable[[Mapping[Offset, jax.Array], tuple[int, ...], tuple[jax.Array, ...]],
                      tuple[jax.Array, ...]]


def interpolation(entries: Mapping[Offset, jax.Array], axes: Sequence[int],
                  correct: Correction | None = None) -> Interpolation:
    """The black-box prolongation of the operator with these stencil ``entries``
    (:func:`solvers.multigrid.galerkin.entries_of`), coarsening ``axes`` (even lengths).

    ``correct``, if given, maps the black-box weights (in :func:`keys` order) to the ones
    used, from the same ``entries`` and ``axes``: the hook of a learned prolongation.
    ``R = P^T`` and the Galerkin coarse operator keep the V-cycle symmetric whatever it
    returns; whether the cycle still converges is the caller's (and CG's float64 check's).
    """
    axes = tuple(sorted(axes))
    ndim = len(next(iter(entries.values())).shape)
    stack = by_parity(offset_array(entries, ndim), ndim, axes)
    table: dict[Key, jax.Array] = {}
    for S in classes(axes):
        if not S:
            table[((), ())] = jnp.ones(stack.shape[ndim + len(axes):], stack.dtype)
            continue
        parity = tuple(0 if a in S else 1 for a in axes)
        rows = stack[(slice(None),) * ndim + parity]  # (3,)*ndim + coarse shape
        collapsed = rows.sum(axis=tuple(a for a in range(ndim) if a not in S))
        scale = -1 / collapsed[(1,) * len(S)]
        terms: dict[tuple[int, ...], list[jax.Array]] = {d: [] for d in _corners(S)}
        for digits in itertools.product((0, 1, 2), repeat=len(S)):
            if digits == (1,) * len(S):
                continue
            rest = tuple(a for a, g in zip(S, digits, strict=True) if g == 1)
            moved = [-1 if a in S and digits[S.index(a)] == 0 else 0 for a in range(ndim)]
            for rest_delta in _corners(rest):
                # the neighbour's weight of the coarse node at this corner of f's cell
                delta = tuple(rest_delta[rest.index(a)] if g == 1 else g // 2 - 1
                              for a, g in zip(S, digits, strict=True))
                terms[delta].append(collapsed[digits]
                                    * shifted(table[(rest, rest_delta)], moved))
        for delta, parts in terms.items():
            table[(S, delta)] = scale * sum(parts)
    weights = tuple(table[k] for k in keys(axes))
    if correct is not None:
        weights = tuple(correct(entries, axes, weights))
    return Interpolation(weights, axes)


def _corners(S: Sequence[int]) -> list[tuple[int, ...]]:
    return list(itertools.product((-1, 0), repeat=len(S)))


def offset_array(entries: Mapping[Offset, jax.Array], ndim: int) -> jax.Array:
    """The entries as one array of shape ``(3,) * ndim + grid`` (missing offsets: zero)."""
    zero = jnp.zeros_like(entries[(0,) * ndim])
    stack = jnp.stack([entries.get(o, zero)
                       for o in itertools.product((-1, 0, 1), repeat=ndim)])
    return stack.reshape((3,) * ndim + zero.shape)


def by_parity(stack: jax.Array, ndim: int, axes: Sequence[int]) -> jax.Array:
    """``(3,)*ndim + grid`` to ``(3,)*ndim + (2,)*len(axes) + coarse grid``: the parity of
    each coarsened axis (0: even, 1: odd) ahead of the coarse index."""
    shape, parity_dims, grid_dims = list(stack.shape[:ndim]), [], []
    for a, n in enumerate(stack.shape[ndim:]):
        if a in axes:
            grid_dims.append(len(shape))
            parity_dims.append(len(shape) + 1)
            shape += [n // 2, 2]
        else:
            grid_dims.append(len(shape))
            shape += [n]
    order = list(range(ndim)) + parity_dims + grid_dims
    return stack.reshape(shape).transpose(order)
