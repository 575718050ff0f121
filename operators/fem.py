"""P1 finite elements on a simplicial :class:`meshes.Mesh`: stiffness, mass, load, boundary
conditions, and the resulting :class:`FEMProblem`.

The model problem is

.. math:: -\\nabla \\cdot (a \\nabla u) + c\\, u = f \\ \\text{in } \\Omega, \\qquad
          u = g_D \\ \\text{on } \\Gamma_D, \\qquad a\\, \\partial_n u = g_N \\ \\text{on }
          \\Gamma_N = \\partial\\Omega \\setminus \\Gamma_D,

discretised with continuous piecewise-linear elements (triangles or tetrahedra). On a cell
``K`` with barycentric coordinates ``lambda_i`` (constant gradients) and measure ``|K|``:

.. math:: K_{ij} = \\sum_K a_K |K| \\nabla\\lambda_i \\cdot \\nabla\\lambda_j, \\qquad
          M_{ij} = \\sum_K \\frac{|K| (1 + \\delta_{ij})}{(k + 1)(k + 2)}

(``k`` the simplex dimension; the same formula on boundary facets gives the boundary mass
``M_Gamma``). ``a_K`` is the coefficient at the cell centroid. The load is ``F = int f phi_i
+ M_Gamma g_{N,h}``: ``f`` by quadrature when it is a callable (``M f_h`` for nodal values),
``g_{N,h}`` the nodal interpolant of the flux (both second-order accurate).
Dirichlet conditions are imposed by elimination: with ``D`` the Dirichlet and ``F`` the free
nodes, the system is ``A_FF u_F = F_F - A_FD g_D``, symmetric, and positive definite when
``a > 0`` and ``Gamma_D`` is non-empty or ``c > 0``. All assembly is vectorised: element
matrices as ``(C, k+1, k+1)`` arrays, scattered once through a COO matrix converted to CSR.
The geometry and the stiffness/mass matrices are :mod:`meshes.p1`'s (re-exported here), so
the mesh layer builds them without importing this one.

On a quasi-uniform family of meshes the error of the P1 solution for a smooth ``u`` is
``O(h^2)`` in ``L^2`` and ``O(h)`` in the ``H^1`` seminorm [1]_; :func:`l2_error` and
:func:`h1_error` measure them by quadrature (degree 4 on triangles, 2 on tetrahedra).

References
----------
.. [1] S. C. Brenner and L. R. Scott, "The Mathematical Theory of Finite Element Methods",
   3rd ed., Springer, 2008, ch. 0 and 4.

Examples
--------
>>> import numpy as np, meshes
>>> from solvers import solve
>>> m = meshes.unit_square(16)
>>> exact = lambda x: np.sin(np.pi * x[:, 0]) * np.sin(np.pi * x[:, 1])
>>> p = p1_poisson(m, lambda x: 2 * np.pi**2 * exact(x))
>>> p
FEMProblem(kind='p1_poisson', n=225, nnz=1457, symmetric=True, positive_definite=True)
>>> u = p.full(solve(p, p.b, rtol=1e-10).x)
>>> bool(l2_error(m, u, exact) < 1e-2)
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from meshes import p1
from meshes.mesh import Mesh
from meshes.p1 import geometry, mass
from meshes.p1 import quadrature as _quadrature
from operators.problem import Problem
from solvers.errors import InvalidSystemError

__all__ = ["FEMProblem", "advection", "geometry", "h1_error", "l2_error", "load", "mass",
           "nonlinear_load", "p1_poisson", "stiffness"]

#: A field given as a constant, a callable of points ``(M, d) -> (M,)``, or an array.
Field = float | Callable[[np.ndarray], np.ndarray] | np.ndarray


@dataclass(repr=False)
class FEMProblem(Problem):
    """A :class:`~operators.Problem` from P1 elements: the system on the free (non-Dirichlet)
    nodes, plus what is needed to rebuild the nodal solution.

    Attributes
    ----------
    mesh
        The mesh.
    free
        Indices of the unknowns' nodes (``A`` is indexed by them).
    dirichlet_nodes, dirichlet_values
        The eliminated nodes and their prescribed values.
    """

    mesh: Mesh | None = None
    free: np.ndarray | None = None
    dirichlet_nodes: np.ndarray | None = None
    dirichlet_values: np.ndarray | None = None

    def full(self, x: np.ndarray) -> np.ndarray:
        """The nodal solution on every mesh point from the solution ``x`` on the free nodes."""
        u = np.empty(self.mesh.n_points)
        u[self.free] = np.asarray(x, dtype=float)
        u[self.dirichlet_nodes] = self.dirichlet_values
        return u


def stiffness(mesh: Mesh, coefficient: Field | None = None) -> sp.csr_matrix:
    """The stiffness matrix ``K_ij = int a grad(phi_i) . grad(phi_j)`` (``a`` at centroids;
    :func:`meshes.p1.stiffness` with the cell values of ``a``)."""
    a = _cell_values(mesh, 1.0 if coefficient is None else coefficient, "coefficient")
    return p1.stiffness(mesh, a)


def advection(mesh: Mesh, velocity: np.ndarray) -> sp.csr_matrix:
    """The advection matrix ``C_ij = int phi_i (w . grad phi_j)`` of a P1 velocity ``w``.

    ``velocity`` holds nodal values ``(N, d)``; on a cell, ``int_K phi_i phi_k = |K| (1 +
    delta_ik) / ((k + 1)(k + 2))`` gives ``int_K phi_i w`` exactly, and ``grad phi_j`` is
    constant, so the matrix is exact for P1 ``w``. It is not symmetric; ``C 1 = 0``.
    """
    w = np.asarray(velocity, dtype=float)
    if w.shape != (mesh.n_points, mesh.dim) or not np.all(np.isfinite(w)):
        raise InvalidSystemError(f"velocity must give one finite {mesh.dim}-vector per mesh "
                                 f"point ({mesh.n_points}), got shape {w.shape}")
    measure, grads = geometry(mesh)
    k = mesh.dim
    wc = w[mesh.cells]                                        # (C, k+1, d)
    weighted = (wc.sum(axis=1, keepdims=True) + wc) / ((k + 1) * (k + 2))  # int phi_i w / |K|
    local = measure[:, None, None] * np.einsum("cid,cjd->cij", weighted, grads)
    return p1.scatter(mesh.cells, local, mesh.n_points)


def load(mesh: Mesh, f: Field) -> np.ndarray:
    """The load vector ``F_i = int f phi_i``.

    A callable ``f`` is integrated by quadrature (degree 4 on triangles, 2 on tetrahedra),
    which matters for sharp sources; nodal values or a constant give ``M f_h``.
    """
    if not callable(f):
        return mass(mesh) @ _nodal(mesh, f, "f")
    measure, _ = geometry(mesh)
    points, weights = _quadrature(mesh.dim)
    corners = mesh.points[mesh.cells]
    local = np.zeros(mesh.cells.shape)
    for lam, w in zip(points, weights, strict=True):
        values = np.asarray(f(np.einsum("i,cid->cd", lam, corners)), dtype=float)
        if values.shape != (mesh.n_cells,) or not np.all(np.isfinite(values)):
            raise InvalidSystemError(f"f must map points (M, {mesh.dim}) to M finite values")
        local += (w * measure * values)[:, None] * lam[None, :]
    return np.bincount(mesh.cells.ravel(), local.ravel(), minlength=mesh.n_points)


def nonlinear_load(mesh: Mesh, u: np.ndarray,
                   f: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``F_i = int f(u_h) phi_i`` of the P1 field ``u_h`` (nodal ``u``) by quadrature.

    ``f`` maps values to values elementwise (a reaction term). The quadrature of
    :func:`load` (degree 4 on triangles, 2 on tetrahedra) is exact for ``f`` of degree 3 in
    2D; unlike ``M f(u)`` (the interpolant of ``f(u)``), it does not shift the speed of a
    front that is only a few cells wide.
    """
    measure, _ = geometry(mesh)
    points, weights = _quadrature(mesh.dim)
    values = np.asarray(f(np.asarray(u, dtype=float)[mesh.cells] @ points.T), dtype=float)
    local = (measure[:, None] * (values * weights)) @ points      # (C, k+1)
    return np.bincount(mesh.cells.ravel(), local.ravel(), minlength=mesh.n_points)


def p1_poisson(mesh: Mesh, f: Field = 0.0, *, coefficient: Field | None = None,
               reaction: float = 0.0, dirichlet: Field = 0.0,
               dirichlet_where: Callable[[np.ndarray], np.ndarray] | None = None,
               neumann: Field | None = None) -> FEMProblem:
    """Assemble ``-div(a grad u) + c u = f`` with Dirichlet/Neumann conditions as a Problem.

    Parameters
    ----------
    mesh
        A triangle or tetrahedron mesh.
    f
        Source: a constant, a callable of points ``(M, d)``, or nodal values ``(N,)``.
    coefficient
        Diffusivity ``a > 0``: constant, callable (evaluated at cell centroids), nodal values
        ``(N,)`` (averaged per cell) or cell values ``(C,)``; default 1.
    reaction
        The constant ``c >= 0``.
    dirichlet
        Boundary values ``g_D`` (constant, callable or nodal values).
    dirichlet_where
        ``mask(points) -> bool array`` choosing the Dirichlet boundary nodes among the
        boundary nodes; default: the whole boundary. Return all False for a pure Neumann
        problem (which needs ``reaction > 0``).
    neumann
        Flux ``g_N = a du/dn`` on the rest of the boundary (constant, callable or nodal
        values); default 0.

    Returns
    -------
    FEMProblem
        ``A`` (CSR, on the free nodes), ``b``, ``symmetric=True``, ``positive_definite``
        set, ``kind="p1_poisson"``; ``full(x)`` rebuilds the nodal solution.

    Raises
    ------
    InvalidSystemError
        The mesh is not simplicial, a field has the wrong shape or is not finite, or the
        problem is singular (no Dirichlet node and ``reaction == 0``).
    """
    if not mesh.is_simplicial:
        raise InvalidSystemError(f"P1 elements need triangles or tetrahedra, not "
                                 f"{mesh.cell_type!r}; use mesh.triangulated()")
    boundary = mesh.boundary_points()
    on_dirichlet = np.ones(boundary.size, dtype=bool) if dirichlet_where is None else \
        np.asarray(dirichlet_where(mesh.points[boundary]), dtype=bool)
    fixed = boundary[on_dirichlet]
    if fixed.size == 0 and reaction <= 0:
        raise InvalidSystemError("a pure Neumann problem without reaction is singular; add "
                                 "Dirichlet nodes (dirichlet_where) or a reaction > 0")
    A = stiffness(mesh, coefficient)
    if reaction:
        A = A + reaction * mass(mesh)
    rhs = load(mesh, f)
    if neumann is not None:
        rhs += _boundary_load(mesh, neumann, set(fixed.tolist()))
    g = _nodal(mesh, dirichlet, "dirichlet")[fixed]
    free = np.setdiff1d(np.arange(mesh.n_points), fixed)
    A = sp.csr_matrix(A)
    A_ff = A[free][:, free]
    b = rhs[free] - A[free][:, fixed] @ g
    a = _cell_values(mesh, 1.0 if coefficient is None else coefficient, "coefficient")
    spd = bool(np.all(a > 0) and reaction >= 0)
    return FEMProblem(A_ff, b, symmetric=True, positive_definite=spd, kind="p1_poisson",
                      params={"reaction": reaction, "n_dirichlet": int(fixed.size)},
                      mesh=mesh, free=free, dirichlet_nodes=fixed, dirichlet_values=g)


def l2_error(mesh: Mesh, uh: np.ndarray, exact: Callable[[np.ndarray], np.ndarray]) -> float:
    """``||u_h - u||_{L^2}`` of the P1 field ``uh`` (nodal) against the function ``exact``."""
    measure, _ = geometry(mesh)
    points, weights = _quadrature(mesh.dim)
    corners = mesh.points[mesh.cells]
    total = 0.0
    for lam, w in zip(points, weights, strict=True):
        x = np.einsum("i,cid->cd", lam, corners)
        diff = uh[mesh.cells] @ lam - exact(x)
        total += w * np.sum(measure * diff ** 2)
    return float(np.sqrt(total))


def h1_error(mesh: Mesh, uh: np.ndarray,
             exact_gradient: Callable[[np.ndarray], np.ndarray]) -> float:
    """``|u_h - u|_{H^1}`` from the exact gradient ``exact_gradient(points) -> (M, d)``."""
    measure, grads = geometry(mesh)
    grad_h = np.einsum("ci,cid->cd", uh[mesh.cells], grads)
    points, weights = _quadrature(mesh.dim)
    corners = mesh.points[mesh.cells]
    total = 0.0
    for lam, w in zip(points, weights, strict=True):
        x = np.einsum("i,cid->cd", lam, corners)
        total += w * np.sum(measure * np.sum((grad_h - exact_gradient(x)) ** 2, axis=1))
    return float(np.sqrt(total))


def _boundary_load(mesh: Mesh, flux: Field, fixed: set[int]) -> np.ndarray:
    facets = mesh.boundary_facets()
    neumann = facets[[not set(f.tolist()) <= fixed for f in facets]]
    p = mesh.points[neumann]
    if mesh.dim == 2:
        measure = np.linalg.norm(p[:, 1] - p[:, 0], axis=1)
    else:
        measure = np.linalg.norm(np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), axis=1) / 2
    return p1.simplex_mass(neumann, measure, mesh.n_points) @ _nodal(mesh, flux, "neumann")


def _nodal(mesh: Mesh, field: Field, name: str) -> np.ndarray:
    values = field(mesh.points) if callable(field) else field
    values = np.broadcast_to(np.asarray(values, dtype=float), (mesh.n_points,)) \
        if np.ndim(values) == 0 else np.asarray(values, dtype=float)
    if values.shape != (mesh.n_points,) or not np.all(np.isfinite(values)):
        raise InvalidSystemError(f"{name} must give one finite value per mesh point "
                                 f"({mesh.n_points}), got shape {values.shape}")
    return values


def _cell_values(mesh: Mesh, field: Field, name: str) -> np.ndarray:
    if callable(field):
        values = np.asarray(field(mesh.points[mesh.cells].mean(axis=1)), dtype=float)
    elif np.ndim(field) == 0:
        values = np.full(mesh.n_cells, float(field))
    elif np.shape(field) == (mesh.n_points,) and mesh.n_points != mesh.n_cells:
        values = np.asarray(field, dtype=float)[mesh.cells].mean(axis=1)
    else:
        values = np.asarray(field, dtype=float)
    if values.shape != (mesh.n_cells,) or not np.all(np.isfinite(values)):
        raise InvalidSystemError(f"{name} must give one finite value per cell ({mesh.n_cells}) "
                                 f"or per point ({mesh.n_points}), got shape {values.shape}")
    return values
