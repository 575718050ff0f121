"""The :class:`Mesh` container: points, one cell block of one type, validated on construction.

A mesh is conforming and single-typed: ``points`` has shape ``(N, d)`` and ``cells`` shape
``(C, k)`` with ``k`` vertices per cell, all of the type ``cell_type`` (meshio's names):

==============  ===  ===  ===========================================
``cell_type``    d    k   orientation (positive signed measure)
==============  ===  ===  ===========================================
``triangle``     2    3   counter-clockwise
``quad``         2    4   counter-clockwise, vertices in cyclic order
``tetra``        3    4   ``det[p1 - p0, p2 - p0, p3 - p0] > 0``
==============  ===  ===  ===========================================

Validation checks shapes, finiteness, index range and repeated vertices in a cell; a mesh that
fails raises :class:`MeshError` saying what is wrong and how to fix it. Orientation is not
enforced on construction (a moved mesh may tangle); :func:`meshes.quality.inverted_cells`
counts the cells of non-positive signed measure.

Examples
--------
>>> import numpy as np
>>> m = Mesh(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), np.array([[0, 1, 2]]))
>>> m
Mesh(cell_type='triangle', points=3, cells=1, dim=2)
>>> try:
...     Mesh(m.points, np.array([[0, 1, 1]]))
... except MeshError as exc:
...     print(exc)
cell 0 repeats a vertex ([0 1 1]); every cell needs 3 distinct vertices
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from solvers.errors import SolverError

__all__ = ["CELL_TYPES", "Mesh", "MeshError"]

#: ``cell_type -> (spatial dimension, vertices per cell)``.
CELL_TYPES: dict[str, tuple[int, int]] = {"triangle": (2, 3), "quad": (2, 4), "tetra": (3, 4)}


class MeshError(SolverError, ValueError):
    """A mesh is malformed (bad shapes, indices, repeated vertices) or a mesh file is unusable."""


@dataclass(frozen=True, repr=False, eq=False)
class Mesh:
    """A conforming mesh of one cell type.

    Attributes
    ----------
    points
        Vertex coordinates, float64 array ``(N, d)``.
    cells
        Vertex indices per cell, int64 array ``(C, k)``.
    cell_type
        ``"triangle"``, ``"quad"`` or ``"tetra"`` (see the module docstring); default
        ``"triangle"``.
    """

    points: np.ndarray
    cells: np.ndarray
    cell_type: str = "triangle"

    def __post_init__(self) -> None:
        points = _as_points(self.points)
        cells = _as_cells(self.cells, self.cell_type, points)
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "cells", cells)

    @property
    def dim(self) -> int:
        """Spatial dimension ``d``."""
        return int(self.points.shape[1])

    @property
    def n_points(self) -> int:
        """Number of vertices ``N``."""
        return int(self.points.shape[0])

    @property
    def n_cells(self) -> int:
        """Number of cells ``C``."""
        return int(self.cells.shape[0])

    @property
    def is_simplicial(self) -> bool:
        """True for triangles and tetrahedra (the cells P1 elements live on)."""
        return self.cell_type in ("triangle", "tetra")

    def with_points(self, points: np.ndarray) -> Mesh:
        """The same connectivity on other vertex positions (a moved mesh)."""
        return Mesh(points, self.cells, self.cell_type)

    def boundary_facets(self) -> np.ndarray:
        """Facets (edges in 2D, triangles in 3D) that belong to exactly one cell, ``(F, d)``.

        Vertices are in the order the cell lists them; for quads the facets are the four
        sides, for simplices the faces opposite each vertex.
        """
        k = self.cells.shape[1]
        if self.cell_type == "quad":
            local = [(i, (i + 1) % 4) for i in range(4)]
        else:
            local = [tuple(j for j in range(k) if j != i) for i in range(k)]
        facets = np.concatenate([self.cells[:, list(f)] for f in local])
        _, first, counts = np.unique(np.sort(facets, axis=1), axis=0, return_index=True,
                                     return_counts=True)
        return facets[np.sort(first[counts == 1])]

    def boundary_points(self) -> np.ndarray:
        """Sorted indices of the vertices on the boundary."""
        return np.unique(self.boundary_facets())

    def triangulated(self) -> Mesh:
        """Triangles of this mesh: itself if simplicial, quads split along the 0-2 diagonal."""
        if self.is_simplicial:
            return self
        c = self.cells
        return Mesh(self.points, np.concatenate([c[:, [0, 1, 2]], c[:, [0, 2, 3]]]), "triangle")

    def __repr__(self) -> str:
        return (f"Mesh(cell_type={self.cell_type!r}, points={self.n_points}, "
                f"cells={self.n_cells}, dim={self.dim})")


def _as_points(points: object) -> np.ndarray:
    try:
        p = np.array(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MeshError(f"mesh points must be a numeric (N, d) array ({exc})") from None
    if p.ndim != 2 or p.shape[1] not in (2, 3) or p.shape[0] == 0:
        raise MeshError(f"mesh points must have shape (N, 2) or (N, 3) with N > 0, got "
                        f"{p.shape}")
    if not np.all(np.isfinite(p)):
        raise MeshError("mesh points contain NaN or Inf; check the coordinates")
    p.setflags(write=False)
    return p


def _as_cells(cells: object, cell_type: str, points: np.ndarray) -> np.ndarray:
    if cell_type not in CELL_TYPES:
        raise MeshError(f"unknown cell_type {cell_type!r}; use one of {sorted(CELL_TYPES)}")
    dim, k = CELL_TYPES[cell_type]
    c = np.asarray(cells)
    if c.ndim != 2 or c.shape[1] != k or c.shape[0] == 0:
        raise MeshError(f"{cell_type} cells must have shape (C, {k}) with C > 0, got {c.shape}")
    if not np.issubdtype(c.dtype, np.integer):
        raise MeshError(f"cell indices must be integers, got dtype {c.dtype}")
    if points.shape[1] != dim:
        raise MeshError(f"{cell_type} cells need {dim}-dimensional points, got "
                        f"{points.shape[1]}-dimensional ones")
    c = c.astype(np.int64)
    bad = np.flatnonzero((c < 0).any(axis=1) | (c >= points.shape[0]).any(axis=1))
    if bad.size:
        raise MeshError(f"cell {bad[0]} has vertex indices {c[bad[0]]} outside [0, "
                        f"{points.shape[0] - 1}] ({bad.size} such cells); indices are 0-based")
    s = np.sort(c, axis=1)
    dup = np.flatnonzero((s[:, 1:] == s[:, :-1]).any(axis=1))
    if dup.size:
        raise MeshError(f"cell {dup[0]} repeats a vertex ({c[dup[0]]}); every cell needs "
                        f"{k} distinct vertices")
    c.setflags(write=False)
    return c
