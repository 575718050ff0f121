"""Evaluating a P1 (piecewise-linear, nodal) field of a 2D mesh at arbitrary points.

A point ``x`` in triangle ``K = (p_0, p_1, p_2)`` gets ``u(x) = sum_i lambda_i u(p_i)`` with the
barycentric coordinates ``lambda = T^{-1} (x - p_0)`` (``T = [p_1 - p_0, p_2 - p_0]``,
``lambda_0 = 1 - lambda_1 - lambda_2``). The triangle holding each point is found by a
bucket search (:class:`PointLocator`, vectorised over all points). Points the locator
misses (outside the mesh, or on its boundary up to round-off) take the triangle with the
nearest centroid and clipped, renormalised barycentric weights, i.e. a nearby value of the
field, never an extrapolation. Quad meshes are split into triangles first
(:meth:`meshes.mesh.Mesh.triangulated`).

Examples
--------
>>> import numpy as np
>>> from meshes.generators import unit_square
>>> m = unit_square(4)
>>> u = 2 * m.points[:, 0] + m.points[:, 1]          # linear: reproduced exactly
>>> interpolate(m, u, np.array([[0.3, 0.7], [1.0, 1.0]]))
array([1.3, 3. ])
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from meshes.mesh import Mesh, MeshError

__all__ = ["PointLocator", "barycentric", "interpolate", "locate", "transfer"]


class PointLocator:
    """Finds the triangle of points in a fixed 2D mesh; build once, query many times.

    The bounding box is cut into about ``C / 2`` square buckets; each triangle is listed in
    every bucket its bounding box overlaps, and a point is tested (barycentric weights
    ``>= -1e-12``) against the triangles of its bucket only: ``O(C)`` to build, ``O(1)``
    expected per point, vectorised over all points and candidates.

    Examples
    --------
    >>> import numpy as np
    >>> from meshes.generators import unit_square
    >>> finder = PointLocator(unit_square(2))
    >>> finder(np.array([[0.1, 0.05]]))[0]
    array([0])
    """

    def __init__(self, mesh: Mesh) -> None:
        self.mesh = _planar(mesh)
        corners = self.mesh.points[self.mesh.cells]
        self._lo = self.mesh.points.min(axis=0)
        extent = np.maximum(self.mesh.points.max(axis=0) - self._lo, np.finfo(float).tiny)
        self._shape = np.maximum(1, np.ceil(np.sqrt(self.mesh.n_cells / 2) * extent
                                            / extent.max())).astype(np.int64)
        self._size = extent / self._shape
        first = self._bucket(corners.min(axis=1))
        last = self._bucket(corners.max(axis=1))
        span = last - first + 1
        count = span[:, 0] * span[:, 1]
        cell = np.repeat(np.arange(self.mesh.n_cells), count)
        offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        ij = first[cell] + np.column_stack([offset % span[cell, 0], offset // span[cell, 0]])
        bucket = ij[:, 0] + self._shape[0] * ij[:, 1]
        order = np.argsort(bucket, kind="stable")
        self._cells = cell[order]
        self._start = np.searchsorted(bucket[order], np.arange(self._shape.prod() + 1))
        self._centroids: cKDTree | None = None

    def __call__(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(cells, weights)``: the triangle of every point and its barycentric weights."""
        points = np.asarray(points, dtype=float).reshape(-1, 2)
        ij = self._bucket(points)
        bucket = ij[:, 0] + self._shape[0] * ij[:, 1]
        begin, count = self._start[bucket], self._start[bucket + 1] - self._start[bucket]
        owner = np.repeat(np.arange(len(points)), count)
        candidate = self._cells[np.repeat(begin - np.cumsum(count) + count, count)
                                + np.arange(count.sum())]
        inside = barycentric(self.mesh, candidate, points[owner]).min(axis=1) >= -1e-12
        cells = np.full(len(points), -1, dtype=np.int64)
        cells[owner[inside][::-1]] = candidate[inside][::-1]  # the first hit wins
        missed = cells < 0
        if missed.any():
            if self._centroids is None:
                self._centroids = cKDTree(self.mesh.points[self.mesh.cells].mean(axis=1))
            cells[missed] = self._centroids.query(points[missed])[1]
        weights = barycentric(self.mesh, cells, points)
        if missed.any():
            w = np.clip(weights[missed], 0.0, None)
            weights[missed] = w / w.sum(axis=1, keepdims=True)
        return cells, weights

    def _bucket(self, points: np.ndarray) -> np.ndarray:
        ij = np.floor((points - self._lo) / self._size).astype(np.int64)
        return np.clip(ij, 0, self._shape - 1)

    def interpolate(self, values: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The P1 field with nodal ``values`` (``(N,)`` or ``(N, k)``) at ``points``."""
        values = np.asarray(values)
        if values.shape[:1] != (self.mesh.n_points,):
            raise MeshError(f"values must have one entry per mesh point "
                            f"({self.mesh.n_points}), got shape {values.shape}")
        cells, weights = self(points)
        return np.einsum("mi,mi...->m...", weights, values[self.mesh.cells[cells]])


def locate(mesh: Mesh, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(cells, weights)``: the triangle of every point and its barycentric weights ``(M, 3)``.

    ``mesh`` is triangulated first, so cell indices refer to ``mesh.triangulated()``.
    """
    return PointLocator(mesh)(points)


def barycentric(mesh: Mesh, cells: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Barycentric coordinates ``(M, 3)`` of ``points[i]`` in triangle ``cells[i]``."""
    p = mesh.points[mesh.cells[cells]]
    e1, e2, d = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0], points - p[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    l1 = (d[:, 0] * e2[:, 1] - d[:, 1] * e2[:, 0]) / det
    l2 = (e1[:, 0] * d[:, 1] - e1[:, 1] * d[:, 0]) / det
    return np.column_stack([1.0 - l1 - l2, l1, l2])


def interpolate(mesh: Mesh, values: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The P1 field with nodal ``values`` (``(N,)`` or ``(N, k)``) evaluated at ``points``."""
    return PointLocator(mesh).interpolate(values, points)


def transfer(source: Mesh, values: np.ndarray, target: Mesh) -> np.ndarray:
    """Nodal values on ``target`` of the P1 field ``values`` of ``source``."""
    return interpolate(source, values, target.points)


def _planar(mesh: Mesh) -> Mesh:
    if mesh.dim != 2:
        raise MeshError(f"interpolation works on 2D meshes, this one is {mesh.dim}D")
    return mesh.triangulated()
