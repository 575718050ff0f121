r"""Compact ``3^d``-point stencils and Galerkin coarse operators ``A_c = P^T A P`` by probing.

A :class:`BoxStencil` holds one array per offset ``o`` in ``{-1, 0, 1}^d`` (9 in 2D, 27 in
3D): ``(A u)_i = sum_o A_o[i] u_{i+o}``, zero outside the grid (Dirichlet). It is the
closed form of the coarse operators of black-box multigrid
(:mod:`solvers.multigrid.blackbox`): with vertex-centred coarsening (coarse node ``I`` is
fine node ``2I + 1``) and an interpolation that reads the coarse nodes within one fine
step, a coarse basis function ``P e_J`` lives on fine nodes ``2J .. 2J + 2`` per axis, so
``(P^T A P)_{IJ}`` vanishes unless ``|I - J| <= 1`` on every axis: the Galerkin operator of a
``3^d``-point stencil is again a ``3^d``-point stencil.

:func:`galerkin` computes it without forming a matrix, by probing with ``3^d`` colours:
``v_c = 1`` on the coarse nodes with ``I = c (mod 3)`` on every axis. Each coarse node has
exactly one node of colour ``c`` among its ``3^d`` neighbours, so

.. math:: (P^T A P v_c)_I = (A_c)_{I, I + o}, \qquad o \equiv c - I \pmod 3,\; o \in \{-1,0,1\}^d,

and the ``3^d`` products give every entry. The cost is ``3^d`` applications of ``P``, ``A``
and ``P^T`` on the fine level, JAX operations only (jittable, differentiable with respect to
the coefficient, vmappable).

References
----------
.. [1] A. R. Curtis, M. J. D. Powell, J. K. Reid, "On the estimation of sparse Jacobian
   matrices", IMA J. Appl. Math. 13 (1974) 117-119 (probing by colours).
.. [2] J. E. Dendy, "Black box multigrid", J. Comput. Phys. 48 (1982) 366-386 (the
   Galerkin coarse operators of black-box multigrid are 9-point in 2D).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from operators.stencils import Stencil, shift

Offset = tuple[int, ...]


def offsets(ndim: int) -> tuple[Offset, ...]:
    """The ``3^d`` offsets of a box stencil, in C order (``(-1, ..., -1)`` first)."""
    return tuple(itertools.product((-1, 0, 1), repeat=ndim))


def shifted(u: jax.Array, offset: Sequence[int]) -> jax.Array:
    """``out_i = u_{i + offset}``, zero outside the grid."""
    for axis, step in enumerate(offset):
        if step:
            u = shift(u, axis, step)
    return u


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class BoxStencil:
    """``(A u)_i = sum_o entries[o][i] u_{i+o}`` over ``o`` in :func:`offsets`.

    Attributes
    ----------
    entries
        One grid-shaped array per offset, in the order of :func:`offsets`.
    shape
        The grid shape (static).
    """

    entries: tuple[jax.Array, ...]
    shape: tuple[int, ...] = field(metadata={"static": True})

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))

    @property
    def dtype(self) -> np.dtype:
        return self.entries[0].dtype

    @property
    def center(self) -> jax.Array:
        return self.entries[len(self.entries) // 2]

    def __call__(self, u: jax.Array) -> jax.Array:
        grid = jnp.pad(u.reshape(self.shape), 1)
        out = sum(a * grid[tuple(slice(1 + s, 1 + s + n) for s, n in zip(o, self.shape,
                                                                           strict=True))]
                  for a, o in zip(self.entries, offsets(len(self.shape)), strict=True))
        return jnp.asarray(out).reshape(u.shape)

    def diagonal(self) -> jax.Array:
        return self.center.reshape(-1)

    def smoothing_diagonal(self) -> jax.Array:
        """Half the l1 norm of each row: ``D^{-1} A`` then has its spectrum in ``(0, 2]``
        (Gershgorin), the interval the Chebyshev smoother assumes; it equals the centre for
        a weakly diagonally dominant M-matrix row."""
        return jnp.asarray(0.5 * sum(jnp.abs(a) for a in self.entries))


def entries_of(A: Stencil | BoxStencil) -> dict[Offset, jax.Array]:
    """``A``'s nonzero offsets and their grid-shaped coefficient arrays.

    For a ``(2d+1)``-point :class:`operators.stencils.Stencil` the couplings to the
    Dirichlet boundary are kept (they multiply zero in ``A u``), so that a collapsed row of
    a node next to the boundary looks like an interior one.
    """
    if isinstance(A, BoxStencil):
        return dict(zip(offsets(len(A.shape)), A.entries, strict=True))
    ndim = len(A.shape)
    out = {(0,) * ndim: jnp.broadcast_to(A.center, A.shape)}
    for axis, w in enumerate(A.weights):
        n = A.shape[axis]
        w = jnp.broadcast_to(w, [n + 1 if a == axis else 1 for a in range(ndim)]
                             if w.ndim == 0 else w.shape)
        for step, start in ((-1, 0), (1, 1)):
            face = jax.lax.slice_in_dim(w, start, start + n, axis=axis) if w.shape[axis] > 1 \
                else w
            offset = tuple(step if a == axis else 0 for a in range(ndim))
            out[offset] = -jnp.broadcast_to(face, A.shape)
    return out


def galerkin(apply: Callable[[jax.Array], jax.Array], shape: tuple[int, ...],
             dtype: np.dtype) -> BoxStencil:
    """The box stencil of the linear map ``apply`` on a grid of ``shape`` (a ``P^T A P``
    whose couplings stay within one node on every axis), by probing with ``3^d`` colours."""
    ndim = len(shape)
    colours = offsets(ndim)  # colour c + 1 (in {0, 1, 2}^d) is an offset shifted by one
    index = np.indices(shape)
    probes = jnp.asarray(np.stack([np.all([(index[a] % 3) == (c[a] + 1) for a in range(ndim)],
                                          axis=0) for c in colours]), dtype)
    products = jax.lax.map(apply, probes)  # (3^d, *shape), one traced product in a loop
    # for each offset o, the colour of node I + o (a flat index into ``colours``), and
    # whether I + o is inside the grid
    colour = np.stack([sum(((index[a] + o[a]) % 3) * 3 ** (ndim - 1 - a) for a in range(ndim))
                       for o in colours])
    inside = np.stack([np.all([(index[a] + o[a] >= 0) & (index[a] + o[a] < shape[a])
                               for a in range(ndim)], axis=0) for o in colours])
    entries = jnp.where(inside, jnp.take_along_axis(products, jnp.asarray(colour), axis=0), 0)
    return BoxStencil(tuple(entries), tuple(shape))
