"""Mesh quality: signed cell measures, inverted cells, minimum angles, aspect ratios,
equidistribution.

* Signed measure: triangle ``det[p1 - p0, p2 - p0] / 2``, tetrahedron
  ``det[p1 - p0, p2 - p0, p3 - p0] / 6``; a quad's is its shoelace area. A cell is *inverted*
  (tangled) when its signed measure is ``<= 0``; for a quad, when any corner has a
  non-positive cross product (a non-convex or folded quad).
* Minimum angle: the smallest interior angle of a triangle or quad; for a tetrahedron the
  smallest dihedral angle. In degrees.
* Aspect ratio: ``h_max / (2 sqrt(3) r)`` for a triangle and ``h_max / (2 sqrt(6) r)`` for a
  tetrahedron (``h_max`` the longest edge, ``r`` the inradius ``d |K| / |dK|``), 1 for the
  regular simplex and growing as the cell degenerates; longest over shortest edge for a quad.
* Equidistribution spread of a monitor ``m``: ``std(m(c_K) |K|) / mean(m(c_K) |K|)`` over the
  cells ``K`` with centroids ``c_K`` [1]_; 0 for a perfectly equidistributed mesh.

References
----------
.. [1] W. Huang and R. D. Russell, "Adaptive Moving Mesh Methods", Springer, 2011, ch. 2.

Examples
--------
>>> from meshes.generators import unit_square
>>> m = unit_square(2)
>>> float(signed_measures(m).sum()), inverted_cells(m), round(float(min_angles(m).min()), 6)
(1.0, 0, 45.0)
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import numpy as np

from meshes.mesh import Mesh

__all__ = ["aspect_ratios", "equidistribution_spread", "inverted_cells", "min_angles",
           "signed_measures"]


def signed_measures(mesh: Mesh) -> np.ndarray:
    """Signed area (2D) or volume (3D) of every cell, shape ``(C,)``."""
    p = mesh.points[mesh.cells]
    if mesh.cell_type == "quad":
        x, y = p[..., 0], p[..., 1]
        return 0.5 * np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1)
    edges = p[:, 1:] - p[:, :1]
    return np.linalg.det(edges) / (2.0 if mesh.dim == 2 else 6.0)


def inverted_cells(mesh: Mesh) -> int:
    """Number of cells with non-positive signed measure (quads: any non-positive corner)."""
    if mesh.cell_type == "quad":
        p = mesh.points[mesh.cells]
        a, b = np.roll(p, 1, axis=1) - p, np.roll(p, -1, axis=1) - p
        corner = b[..., 0] * a[..., 1] - b[..., 1] * a[..., 0]
        return int(np.count_nonzero((corner <= 0).any(axis=1)))
    return int(np.count_nonzero(signed_measures(mesh) <= 0))


def min_angles(mesh: Mesh) -> np.ndarray:
    """Smallest interior (2D) or dihedral (3D) angle of every cell, in degrees."""
    p = mesh.points[mesh.cells]
    if mesh.dim == 2:
        a, b = np.roll(p, 1, axis=1) - p, np.roll(p, -1, axis=1) - p
        return np.degrees(_angle(a, b)).min(axis=1)
    angles = []
    for i, j in combinations(range(4), 2):
        k, l = (v for v in range(4) if v not in (i, j))
        edge = p[:, j] - p[:, i]
        n1 = np.cross(edge, p[:, k] - p[:, i])
        n2 = np.cross(edge, p[:, l] - p[:, i])
        angles.append(_angle(n1, n2))
    return np.degrees(np.stack(angles, axis=1)).min(axis=1)


def aspect_ratios(mesh: Mesh) -> np.ndarray:
    """Aspect ratio of every cell (1 for the regular simplex; see the module docstring)."""
    p = mesh.points[mesh.cells]
    k = p.shape[1]
    lengths = np.stack([np.linalg.norm(p[:, j] - p[:, i], axis=1)
                        for i, j in combinations(range(k), 2)], axis=1)
    if mesh.cell_type == "quad":
        sides = np.linalg.norm(np.roll(p, -1, axis=1) - p, axis=2)
        return sides.max(axis=1) / np.maximum(sides.min(axis=1), np.finfo(float).tiny)
    measure = np.abs(signed_measures(mesh))
    if mesh.dim == 2:
        boundary = lengths.sum(axis=1)
        scale = 2.0 * np.sqrt(3.0)
    else:
        faces = [np.linalg.norm(np.cross(p[:, b] - p[:, a], p[:, c] - p[:, a]), axis=1) / 2
                 for a, b, c in combinations(range(4), 3)]
        boundary = np.sum(faces, axis=0)
        scale = 2.0 * np.sqrt(6.0)
    inradius = mesh.dim * measure / boundary
    with np.errstate(divide="ignore"):
        return lengths.max(axis=1) / (scale * inradius)


def equidistribution_spread(mesh: Mesh, monitor: Callable[[np.ndarray], np.ndarray]) -> float:
    """``std(m(c_K) |K|) / mean(m(c_K) |K|)`` over the cells (0 when equidistributed).

    ``monitor`` maps points ``(M, d)`` to values ``(M,)``.
    """
    centroids = mesh.points[mesh.cells].mean(axis=1)
    weighted = np.asarray(monitor(centroids), dtype=float) * np.abs(signed_measures(mesh))
    return float(np.std(weighted) / np.mean(weighted))


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.arccos(np.clip(cos, -1.0, 1.0))
