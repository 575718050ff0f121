"""P1 (piecewise-linear) element geometry and matrices on a simplicial :class:`~meshes.Mesh`.

On a cell ``K`` (a triangle or tetrahedron, ``k = d`` its dimension) with barycentric
coordinates ``lambda_i`` (constant gradients) and measure ``|K|``:

.. math:: K_{ij} = \\sum_K w_K |K| \\nabla\\lambda_i \\cdot \\nabla\\lambda_j, \\qquad
          M_{ij} = \\sum_K \\frac{|K| (1 + \\delta_{ij})}{(k + 1)(k + 2)},

the stiffness matrix with cell weights ``w_K`` (default 1) and the consistent mass matrix
[1]_. Element matrices are ``(C, k+1, k+1)`` arrays scattered once through a COO matrix
converted to CSR. They are the mesh-level building blocks of :mod:`operators.fem` (problems,
loads, boundary conditions, errors) and of :class:`meshes.MongeAmpereMover`, which lives
below :mod:`operators` and so takes them from here.

References
----------
.. [1] S. C. Brenner and L. R. Scott, "The Mathematical Theory of Finite Element Methods",
   3rd ed., Springer, 2008, ch. 0.

Examples
--------
>>> import numpy as np
>>> from meshes.generators import unit_square
>>> m = unit_square(4)
>>> K, M = stiffness(m), mass(m)
>>> round(float(M.sum()), 12), bool(np.allclose(K @ np.ones(m.n_points), 0))  # area 1
(1.0, True)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from meshes.mesh import Mesh
from solvers.errors import InvalidSystemError

__all__ = ["geometry", "mass", "quadrature", "scatter", "simplex_mass", "stiffness"]


def geometry(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    """Cell measures ``(C,)`` and barycentric gradients ``(C, d + 1, d)``.

    Raises
    ------
    solvers.errors.InvalidSystemError
        The mesh is not simplicial, or a cell has zero measure.
    """
    if not mesh.is_simplicial:
        raise InvalidSystemError(f"P1 elements need triangles or tetrahedra, not "
                                 f"{mesh.cell_type!r}; use mesh.triangulated()")
    p = mesh.points[mesh.cells]
    J = np.transpose(p[:, 1:] - p[:, :1], (0, 2, 1))  # columns p_i - p_0
    det = np.linalg.det(J)
    if np.any(det == 0):
        raise InvalidSystemError(f"{np.count_nonzero(det == 0)} cells have zero measure; the "
                                 f"mesh is degenerate")
    inv = np.linalg.inv(J)  # rows: gradients of lambda_1..lambda_d
    grads = np.concatenate([-inv.sum(axis=1, keepdims=True), inv], axis=1)
    factorial = 2.0 if mesh.dim == 2 else 6.0
    return np.abs(det) / factorial, grads


def stiffness(mesh: Mesh, weights: np.ndarray | None = None) -> sp.csr_matrix:
    """The stiffness matrix ``K_ij = sum_K w_K int_K grad(phi_i) . grad(phi_j)``.

    ``weights`` are the cell values ``w_K`` ``(C,)`` (default 1: the Laplacian's matrix).
    """
    measure, grads = geometry(mesh)
    w = np.ones(mesh.n_cells) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (mesh.n_cells,):
        raise InvalidSystemError(f"weights must give one value per cell ({mesh.n_cells}), "
                                 f"got shape {w.shape}")
    local = (w * measure)[:, None, None] * np.einsum("cid,cjd->cij", grads, grads)
    return scatter(mesh.cells, local, mesh.n_points)


def mass(mesh: Mesh) -> sp.csr_matrix:
    """The consistent mass matrix ``M_ij = int phi_i phi_j``."""
    measure, _ = geometry(mesh)
    return simplex_mass(mesh.cells, measure, mesh.n_points)


def simplex_mass(cells: np.ndarray, measure: np.ndarray, n: int) -> sp.csr_matrix:
    """The P1 mass matrix ``(n, n)`` of simplices ``cells`` ``(C, k + 1)`` of measures
    ``measure`` (cells of a mesh, or its boundary facets for a boundary mass)."""
    k = cells.shape[1] - 1
    ref = (np.ones((k + 1, k + 1)) + np.eye(k + 1)) / ((k + 1) * (k + 2))
    return scatter(cells, measure[:, None, None] * ref, n)


def scatter(cells: np.ndarray, local: np.ndarray, n: int) -> sp.csr_matrix:
    """Assemble element matrices ``local`` ``(C, k, k)`` on the nodes ``cells`` ``(C, k)``
    into a CSR matrix ``(n, n)`` (entries of shared nodes summed)."""
    k = cells.shape[1]
    rows = np.repeat(cells, k, axis=1).ravel()
    cols = np.tile(cells, (1, k)).ravel()
    return sp.coo_matrix((local.ravel(), (rows, cols)), shape=(n, n)).tocsr()


def quadrature(dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric points ``(Q, dim + 1)`` and weights ``(Q,)`` (summing to 1) of a degree-4
    triangle rule (Dunavant, 6 points) or a degree-2 tetrahedron rule (4 points)."""
    if dim == 2:
        rules = [(0.445948490915965, 0.223381589678011), (0.091576213509771, 0.109951743655322)]
        points, weights = [], []
        for a, w in rules:
            for i in range(3):
                lam = np.full(3, a)
                lam[i] = 1 - 2 * a
                points.append(lam)
                weights.append(w)
        return np.array(points), np.array(weights)
    a, b = 0.5854101966249685, 0.1381966011250105
    return np.full((4, 4), b) + (a - b) * np.eye(4), np.full(4, 0.25)
