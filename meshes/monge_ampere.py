"""The classical Monge-Ampere mesh mover (relaxation), after Firedrake's ``movement`` [1]_, [2]_.

A structured triangle mesh ``xi`` of a rectangle ``Omega`` (:func:`meshes.rectangle`) is
moved to ``x = xi + grad phi(xi)`` where the potential ``phi`` solves the Monge-Ampere
equation of equidistribution

.. math:: m(\\xi + \\nabla\\phi)\\, \\det(I + H(\\phi)) = \\theta, \\qquad
          \\theta = \\frac{1}{|\\Omega|} \\int_\\Omega m(\\xi + \\nabla\\phi)
          \\det(I + H(\\phi))\\, d\\xi, \\qquad \\partial_n \\phi = 0 \\text{ on } \\partial\\Omega,

so every cell carries the same share of ``int m dx``. Relaxation marches the parabolic
equation ``-d_tau Lap phi = m det(I + H(phi)) - theta`` to steady state in pseudo-time. One step
with P1 elements (stiffness ``K``, mass ``M``; ``eps M`` with ``eps = 1e-8 / |Omega|`` fixes
the constant of ``phi`` and makes the matrix SPD) is

1. recover the nodal gradient ``g = grad phi`` and Hessian ``H`` by central differences on
   the grid, with ``phi`` reflected evenly across the boundary (the discrete form of
   ``d_n phi = 0``: the normal component of ``g`` and the mixed derivative vanish there,
   ``phi_nn = 2 (phi_1 - phi_0) / h^2``);
2. ``r = m(xi + g) det(I + H) - theta`` at the nodes;
3. solve ``(K + eps M) delta = dtau M_L r`` (``M_L`` the lumped mass; on this grid
   ``M_L^{-1} K`` is the 5-point Neumann Laplacian, consistent with step 1) with a sparse LU
   factorisation (:func:`scipy.sparse.linalg.factorized`) of the SPD matrix, computed once
   and reused every step;
4. ``phi <- phi + delta``; a step that increases the residual is rejected and ``dtau``
   halved; if the mesh ``xi + grad phi`` has a cell of non-positive area, the
   step is halved (down to ``2^-10 delta``) until it has none, so the mesh never tangles.

Boundary nodes slide along the edges (the normal component of ``grad phi`` is zero) and the
corners stay put. Stopping rule: the equidistribution residual
``||r||_{L^2} / (theta |Omega|^{1/2}) <= rtol``, or ``maxiter`` steps, or stagnation (the
residual has not dropped by 1 % in 20 steps; then ``converged`` is False unless ``rtol``
holds).

References
----------
.. [1] J. G. Wallwork, N. A. Barral, D. A. Ham and M. D. Piggott, "Goal-oriented error
   estimation and mesh adaptation for tracer transport modelling", Computer-Aided Design
   143, 2022; the ``movement`` package (github.com/mesh-adaptation/movement).
.. [2] C. J. McRae, C. J. Cotter and C. J. Budd, "Optimal-transport-based mesh adaptivity
   on the plane and sphere using finite elements", SIAM J. Sci. Comput. 40(2), 2018.

Examples
--------
>>> import numpy as np
>>> from meshes.generators import unit_square
>>> from meshes.quality import inverted_cells
>>> monitor = lambda x: 1 + 5 * np.exp(-50 * np.sum((x - 0.5) ** 2, axis=1))
>>> result = MongeAmpereMover(unit_square(12), monitor, rtol=1e-2).move()
>>> result.converged, inverted_cells(result.mesh)
(True, 0)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from meshes.interpolate import PointLocator
from meshes.mesh import Mesh, MeshError
from meshes.p1 import geometry, mass, stiffness
from meshes.quality import signed_measures

__all__ = ["MongeAmpereMover", "MoveResult", "gradient_monitor"]

Monitor = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class MoveResult:
    """The outcome of :meth:`MongeAmpereMover.move`.

    ``mesh`` the moved mesh, ``phi`` the nodal potential, ``iterations`` the relaxation
    steps, ``residual`` the final equidistribution residual (``residuals`` all of them, from
    the initial mesh on), ``converged`` whether ``rtol`` was met, ``seconds`` the wall time.
    """

    mesh: Mesh
    phi: np.ndarray
    iterations: int
    residual: float
    converged: bool
    seconds: float
    residuals: list[float] = field(default_factory=list)


class MongeAmpereMover:
    """Move a structured triangle mesh of a rectangle by Monge-Ampere relaxation.

    Parameters
    ----------
    mesh
        The reference mesh ``xi``: a :func:`meshes.rectangle` / :func:`meshes.unit_square`
        triangle mesh (vertices on a tensor grid, x fastest).
    monitor
        ``m(points (M, 2)) -> (M,)``, positive: the density of cells wanted at each point.
    rtol
        Target equidistribution residual (see the module docstring).
    maxiter
        Most relaxation steps.
    dtau
        Initial pseudo-time step. A step that increases the residual is rejected and
        ``dtau`` halved (explicit stability of the linearised equation needs roughly
        ``dtau max(m) < 2``).
    """

    def __init__(self, mesh: Mesh, monitor: Monitor, *, rtol: float = 1e-3,
                 maxiter: int = 500, dtau: float = 0.2) -> None:
        self.mesh, self.monitor, self.rtol, self.maxiter = mesh, monitor, rtol, maxiter
        self._d1, self._d2 = _grid_differences(mesh)
        M = mass(mesh)
        self._lumped = np.asarray(M.sum(axis=1)).ravel()
        self._area = self._lumped.sum()
        m0 = np.asarray(monitor(mesh.points), dtype=float)
        if m0.shape != (mesh.n_points,) or not np.all(m0 > 0):
            raise MeshError("the monitor must return one positive value per point")
        self._solve = spla.factorized((stiffness(mesh) + (1e-8 / self._area) * M).tocsc())
        self.dtau = float(dtau)

    def move(self) -> MoveResult:
        """Relax to equidistribution; returns the moved mesh and the convergence history."""
        start = time.perf_counter()
        phi = np.zeros(self.mesh.n_points)
        r, res = self._residual(phi)
        residuals = [res]
        dtau = self.dtau
        while res > self.rtol and len(residuals) <= self.maxiter and not _stagnant(residuals):
            delta = self._solve(dtau * self._lumped * r)
            trial = self._untangled_step(phi, delta)
            r_trial, res_trial = self._residual(trial)
            if res_trial > res and dtau > 1e-3 * self.dtau:  # unstable: reject, halve dtau
                dtau *= 0.5
                continue
            phi, r, res = trial, r_trial, res_trial
            residuals.append(res)
        mesh = self.mesh.with_points(self.mesh.points + self.gradient(phi))
        return MoveResult(mesh, phi, len(residuals) - 1, res, res <= self.rtol,
                          time.perf_counter() - start, residuals)

    def gradient(self, phi: np.ndarray) -> np.ndarray:
        """Nodal ``grad phi`` ``(N, 2)`` (zero normal component on the boundary)."""
        return np.column_stack([D @ phi for D in self._d1])

    def hessian(self, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nodal ``(phi_xx, phi_xy, phi_yy)``."""
        dx, dy = self._d1
        return self._d2[0] @ phi, dx @ (dy @ phi), self._d2[1] @ phi

    def _residual(self, phi: np.ndarray) -> tuple[np.ndarray, float]:
        hxx, hxy, hyy = self.hessian(phi)
        det = (1 + hxx) * (1 + hyy) - hxy * hxy
        x = self.mesh.points + self.gradient(phi)
        density = np.asarray(self.monitor(x), dtype=float) * det
        theta = self._lumped @ density / self._area
        r = density - theta
        return r, float(np.sqrt(self._lumped @ r ** 2 / self._area) / theta)

    def _untangled_step(self, phi: np.ndarray, delta: np.ndarray) -> np.ndarray:
        for _ in range(11):
            trial = phi + delta
            moved = self.mesh.points + self.gradient(trial)
            if signed_measures(self.mesh.with_points(moved)).min() > 0:
                return trial
            delta = 0.5 * delta
        return phi


def gradient_monitor(mesh: Mesh, u: np.ndarray, alpha: float = 1.0,
                     smooth: int = 0) -> Monitor:
    """The monitor ``m = 1 + |grad u| / (alpha mean|grad u|)`` of a P1 field on a 2D mesh.

    ``|grad u|`` is the recovered nodal gradient (area-weighted cell gradients) and the mean
    its integral mean; the returned callable evaluates the P1 interpolant of ``m`` at points
    (build it on a fine mesh so that it resolves the features of ``u``). Larger ``alpha``
    moves fewer points into the steep regions. ``smooth`` passes of mass-matrix averaging
    ``s <- M_L^{-1} M s`` (each spreads ``|grad u|`` over about one cell; the usual remedy
    for a monitor recovered from a coarse numerical solution, Huang and Russell, ch. 2)
    are applied to ``|grad u|`` first.
    """
    measure, grads = geometry(mesh)
    slope = np.hypot(*(R @ np.asarray(u, dtype=float) for R in _recovery(mesh, measure, grads)))
    M = mass(mesh)
    lumped = np.asarray(M.sum(axis=1)).ravel()
    for _ in range(int(smooth)):
        slope = (M @ slope) / lumped
    mean = max(float(lumped @ slope / lumped.sum()), np.finfo(float).tiny)
    values = 1.0 + slope / (alpha * mean)
    locator = PointLocator(mesh)
    return lambda points: locator.interpolate(values, points)


def _recovery(mesh: Mesh, measure: np.ndarray, grads: np.ndarray) -> list[sp.csr_matrix]:
    """Sparse ``R_d`` (one per axis) mapping nodal values to area-averaged nodal derivatives."""
    n, c = mesh.n_points, mesh.n_cells
    k = mesh.cells.shape[1]
    incidence = sp.csr_matrix((np.repeat(measure, k), (mesh.cells.ravel(),
                               np.repeat(np.arange(c), k))), shape=(n, c))
    weights = 1.0 / np.asarray(incidence.sum(axis=1)).ravel()
    out = []
    for axis in range(mesh.dim):
        cell_grad = sp.csr_matrix((grads[:, :, axis].ravel(),
                                   (np.repeat(np.arange(c), k), mesh.cells.ravel())),
                                  shape=(c, n))
        out.append(sp.diags(weights) @ incidence @ cell_grad)
    return [R.tocsr() for R in out]


def _grid_differences(mesh: Mesh) -> tuple[list[sp.csr_matrix], list[sp.csr_matrix]]:
    """First (``[D_x, D_y]``) and second (``[D_xx, D_yy]``) central differences on the
    tensor grid of ``mesh``, with even reflection at the boundary."""
    if mesh.cell_type != "triangle" or mesh.dim != 2:
        raise MeshError(f"the Monge-Ampere mover needs a 2D triangle mesh, not a "
                        f"{mesh.dim}D {mesh.cell_type!r} mesh")
    axes = [np.unique(mesh.points[:, a]) for a in range(2)]
    grid = np.stack(np.meshgrid(*axes, indexing="xy"), axis=-1).reshape(-1, 2)
    if grid.shape != mesh.points.shape or not np.allclose(grid, mesh.points):
        raise MeshError("the Monge-Ampere mover needs a structured mesh from "
                        "meshes.rectangle() or meshes.unit_square() (vertices on a tensor "
                        "grid, x fastest)")
    first, second = [], []
    for a, coords in enumerate(axes):
        n, h = coords.size, float(np.mean(np.diff(coords)))
        d1 = sp.diags([-1.0, 1.0], [-1, 1], shape=(n, n), format="lil") / (2 * h)
        d1[0, :], d1[n - 1, :] = 0.0, 0.0
        d2 = sp.diags([1.0, -2.0, 1.0], [-1, 0, 1], shape=(n, n), format="lil") / h ** 2
        d2[0, 1], d2[n - 1, n - 2] = 2.0 / h ** 2, 2.0 / h ** 2
        other = sp.identity(axes[1 - a].size)
        lift = (lambda op, other=other: sp.kron(other, op)) if a == 0 else \
            (lambda op, other=other: sp.kron(op, other))
        first.append(lift(d1.tocsr()).tocsr())
        second.append(lift(d2.tocsr()).tocsr())
    return first, second


def _stagnant(residuals: list[float], window: int = 20) -> bool:
    return len(residuals) > window and residuals[-1] > 0.99 * residuals[-1 - window]
