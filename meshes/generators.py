"""Structured meshes of rectangles and boxes: quads/hexes split into positively oriented simplices.

Vertex ``(i, j)`` of an ``nx x ny`` rectangle (``i`` along x) has index ``i + (nx + 1) j``, so
a nodal field reshapes to the grid as ``u.reshape(ny + 1, nx + 1)``; in 3D vertex ``(i, j, k)``
has index ``i + (nx + 1) (j + (ny + 1) k)``. Every quad is split along its diagonal from
``(i, j)`` to ``(i + 1, j + 1)`` into two counter-clockwise triangles; every hex into the six
Kuhn (Freudenthal) tetrahedra sharing the diagonal from ``(i, j, k)`` to ``(i+1, j+1, k+1)``,
which makes the tetrahedral mesh conforming.

Examples
--------
>>> unit_square(4)
Mesh(cell_type='triangle', points=25, cells=32, dim=2)
>>> rectangle(3, 2, upper=(3.0, 2.0), cell_type="quad")
Mesh(cell_type='quad', points=12, cells=6, dim=2)
>>> box(2)
Mesh(cell_type='tetra', points=27, cells=48, dim=3)
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import permutations

import numpy as np

from meshes.mesh import Mesh, MeshError

__all__ = ["box", "rectangle", "unit_square"]


def unit_square(n: int, cell_type: str = "triangle") -> Mesh:
    """The unit square ``[0, 1]^2`` with ``n x n`` quads (split into triangles by default)."""
    return rectangle(n, n, cell_type=cell_type)


def rectangle(nx: int, ny: int | None = None, lower: Sequence[float] = (0.0, 0.0),
              upper: Sequence[float] = (1.0, 1.0), cell_type: str = "triangle") -> Mesh:
    """The rectangle ``[lower, upper]`` with ``nx x ny`` quads (``ny`` defaults to ``nx``).

    ``cell_type`` is ``"triangle"`` (each quad split in two, ``2 nx ny`` cells) or ``"quad"``.
    """
    ny = nx if ny is None else ny
    _check_counts(nx, ny)
    points = _grid_points((nx, ny), lower, upper)
    i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="xy")
    v00 = (i + (nx + 1) * j).ravel()
    v10, v01 = v00 + 1, v00 + nx + 1
    v11 = v01 + 1
    if cell_type == "quad":
        return Mesh(points, np.stack([v00, v10, v11, v01], axis=1), "quad")
    if cell_type != "triangle":
        raise MeshError(f"rectangle cell_type must be 'triangle' or 'quad', not {cell_type!r}")
    lower_tri = np.stack([v00, v10, v11], axis=1)
    upper_tri = np.stack([v00, v11, v01], axis=1)
    return Mesh(points, np.concatenate([lower_tri, upper_tri]), "triangle")


def box(nx: int, ny: int | None = None, nz: int | None = None,
        lower: Sequence[float] = (0.0, 0.0, 0.0),
        upper: Sequence[float] = (1.0, 1.0, 1.0)) -> Mesh:
    """The box ``[lower, upper]`` with ``nx x ny x nz`` hexes, each split into 6 tetrahedra."""
    ny = nx if ny is None else ny
    nz = nx if nz is None else nz
    _check_counts(nx, ny, nz)
    points = _grid_points((nx, ny, nz), lower, upper)
    i, j, k = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(ny), np.arange(nz),
                                              indexing="ij"))
    stride = np.array([1, nx + 1, (nx + 1) * (ny + 1)])
    base = i * stride[0] + j * stride[1] + k * stride[2]
    tets = []
    for order in permutations(range(3)):
        offsets = np.zeros(4, dtype=np.int64)
        for step, axis in enumerate(order, start=1):
            offsets[step:] += stride[axis]
        tet = base[:, None] + offsets[None, :]
        if _parity(order):  # odd permutations are negatively oriented: swap two vertices
            tet = tet[:, [0, 2, 1, 3]]
        tets.append(tet)
    return Mesh(points, np.concatenate(tets), "tetra")


def _grid_points(counts: Sequence[int], lower: Sequence[float],
                 upper: Sequence[float]) -> np.ndarray:
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    if lo.shape != (len(counts),) or hi.shape != lo.shape or np.any(hi <= lo):
        raise MeshError(f"lower/upper must be {len(counts)} coordinates with lower < upper, got "
                        f"{tuple(lo)} and {tuple(hi)}")
    axes = [np.linspace(a, b, n + 1) for a, b, n in zip(lo, hi, counts, strict=True)]
    grids = np.meshgrid(*axes, indexing="ij")
    # x fastest: transpose the "ij" grids so that C order runs over x first
    return np.stack([g.transpose().ravel() for g in grids], axis=1)


def _parity(order: tuple[int, ...]) -> int:
    inversions = sum(a > b for n, a in enumerate(order) for b in order[n + 1:])
    return inversions % 2


def _check_counts(*counts: int) -> None:
    for n in counts:
        if int(n) != n or n < 1:
            raise MeshError(f"cell counts must be positive integers, got {counts}")
