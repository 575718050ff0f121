r"""The data-free DMM loss: Monge-Ampere equidistribution + boundary + convexity [1]_.

For a sample ``u`` (parameters ``q`` of :mod:`sciml.mesh_movers.fronts`), collocation points
``xi_j`` and the network potential ``phi = phi(u, .)``, with ``x_j = xi_j + grad phi(xi_j)``
and ``H_j`` the Hessian of ``phi`` at ``xi_j``:

.. math::
    L = \frac1P \sum_j \Big( \frac{m(x_j) \det(I + H_j)}{\theta} - 1 \Big)^2
      + \beta \frac1{P_b} \sum_k (\partial_n \phi(\zeta_k))^2
      + \gamma \frac1P \sum_j \big( \min(0, 1 + \phi_{xx})^2 + \min(0, 1 + \phi_{yy})^2 \big),

averaged over the batch: the equidistribution residual of ``m(x) det(dx/dxi) = theta``
(``theta = int m dx = 1 + 1/alpha``), the Neumann condition ``d phi / dn = 0`` at boundary
points ``zeta_k`` (weight ``beta``, 1000 in the reference; identically zero for the
``boundary="hard"`` architecture, where it only checks the construction), and a penalty
on non-convexity of ``|xi|^2 / 2 + phi`` along the axes (weight ``gamma``), which keeps the
map from folding. No mesh from a classical mover enters: the loss only needs ``m``.

Collocation points are drawn half uniformly and half proportionally to ``m(xi)`` (a cell of
a ``128 x 128`` grid chosen with probability ``~ m`` at its centre, then a uniform point in
it), so the layers where the residual is hardest get the most points.

References
----------
.. [1] P. Hu, Y. Wang, Z.-M. Ma, "Better Neural PDE Solvers Through Data-Free Mesh Movers",
   ICLR 2024, eq. (4)-(6).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from sciml.mesh_movers import fronts
from sciml.mesh_movers.model import DMMNet

__all__ = ["Batch", "LossTerms", "boundary_points", "collocation", "loss", "loss_terms",
           "make_batch", "residual_terms"]


class Batch(NamedTuple):
    """One training batch: ``u`` ``(B, G, G)``, ``params`` ``(B, 8)``, ``mean`` ``(B,)``
    (mean slope), ``points`` ``(B, P, 2)``, ``boundary`` ``(B, Pb, 2)``, ``normals``
    ``(B, Pb, 2)``."""

    u: jax.Array
    params: jax.Array
    mean: jax.Array
    points: jax.Array
    boundary: jax.Array
    normals: jax.Array


class LossTerms(NamedTuple):
    """The three terms of the loss (batch means), unweighted."""

    equidistribution: jax.Array
    boundary: jax.Array
    convexity: jax.Array


def make_batch(key: jax.Array, *, batch: int, points: int, grid: int, alpha: float,
               width: tuple[float, float] = (0.02, 0.06)) -> Batch:
    """Draw ``batch`` fronts and their collocation and boundary points from ``key``."""
    k_params, k_points, k_boundary = jax.random.split(key, 3)
    params = fronts.sample(k_params, batch, width)
    u = jax.vmap(fronts.grid_values, (0, None))(params, grid)
    mean = jax.vmap(fronts.mean_slope)(params)
    keys = jax.random.split(k_points, batch)
    pts = jax.vmap(_collocation, (0, 0, 0, None, None))(keys, params, mean, points, alpha)
    boundary, normals = boundary_points(k_boundary, batch, max(points // 8, 8))
    return Batch(u, params, mean, pts, boundary, normals)


def loss_terms(net: DMMNet, batch: Batch, alpha: float) -> LossTerms:
    """The unweighted terms, averaged over the batch."""
    theta = 1.0 + 1.0 / alpha
    terms = jax.vmap(_sample_terms, (None, 0, 0, 0, 0, 0, 0, None, None))(
        net, batch.u, batch.params, batch.mean, batch.points, batch.boundary, batch.normals,
        alpha, theta)
    return LossTerms(*(jnp.mean(t) for t in terms))


def loss(net: DMMNet, batch: Batch, alpha: float, boundary_weight: float = 1000.0,
         convexity_weight: float = 1.0) -> jax.Array:
    """The weighted loss ``L`` of the module docstring."""
    t = loss_terms(net, batch, alpha)
    return t.equidistribution + boundary_weight * t.boundary + convexity_weight * t.convexity


def _sample_terms(net: DMMNet, u: jax.Array, params: jax.Array, mean: jax.Array,
                  points: jax.Array, boundary: jax.Array, normals: jax.Array, alpha: float,
                  theta: float) -> tuple[jax.Array, jax.Array, jax.Array]:
    def m(x: jax.Array) -> jax.Array:
        return jax.vmap(fronts.monitor, (None, 0, None, None))(params, x, alpha, mean)
    return residual_terms(net, u, m, theta, points, boundary, normals)


def residual_terms(net: DMMNet, u: jax.Array, monitor: Callable[[jax.Array], jax.Array],
                   theta: jax.Array | float, points: jax.Array, boundary: jax.Array,
                   normals: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The three terms of one sample: ``monitor(x (P, 2)) -> (P,)`` any differentiable
    monitor with integral ``theta`` over the square (the tanh fronts' exact one, or a gridded
    one from simulation snapshots, :mod:`~sciml.mesh_movers.snapshots`)."""
    features = net.encode(u)
    grad = jax.grad(net.potential, argnums=1)
    hess = jax.hessian(net.potential, argnums=1)
    g = jax.vmap(grad, (None, 0))(features, points)
    H = jax.vmap(hess, (None, 0))(features, points)
    det = (1 + H[:, 0, 0]) * (1 + H[:, 1, 1]) - H[:, 0, 1] * H[:, 1, 0]
    equi = jnp.mean((monitor(points + g) * det / theta - 1.0) ** 2)
    dn = jnp.sum(jax.vmap(grad, (None, 0))(features, boundary) * normals, axis=1)
    convex = jnp.mean(jnp.minimum(0.0, 1 + H[:, 0, 0]) ** 2
                      + jnp.minimum(0.0, 1 + H[:, 1, 1]) ** 2)
    return equi, jnp.mean(dn ** 2), convex


def _collocation(key: jax.Array, params: jax.Array, mean: jax.Array, count: int,
                 alpha: float) -> jax.Array:
    """``count // 2`` points drawn ~ m(xi) on a 128^2 grid of cells, the rest uniform."""
    n = fronts.QUADRATURE
    axis = (jnp.arange(n) + 0.5) / n
    centres = jnp.stack(jnp.meshgrid(axis, axis, indexing="xy"), axis=-1).reshape(-1, 2)
    m = jax.vmap(fronts.monitor, (None, 0, None, None))(params, centres, alpha, mean)
    return collocation(key, m, count)


def collocation(key: jax.Array, cell_monitor: jax.Array, count: int) -> jax.Array:
    """``count // 2`` points drawn ~ ``cell_monitor`` (values at the centres of an ``n x n``
    grid of cells, flattened x fastest) and jittered in their cell, the rest uniform."""
    n = int(round(cell_monitor.size ** 0.5))
    k_cells, k_jitter, k_uniform = jax.random.split(key, 3)
    axis = (jnp.arange(n) + 0.5) / n
    centres = jnp.stack(jnp.meshgrid(axis, axis, indexing="xy"), axis=-1).reshape(-1, 2)
    half = count // 2
    cdf = jnp.cumsum(cell_monitor.ravel())
    cells = jnp.searchsorted(cdf, jax.random.uniform(k_cells, (half,)) * cdf[-1])
    cells = jnp.minimum(cells, n * n - 1)
    jitter = jax.random.uniform(k_jitter, (half, 2), minval=-0.5, maxval=0.5) / n
    uniform = jax.random.uniform(k_uniform, (count - half, 2))
    return jnp.concatenate([centres[cells] + jitter, uniform])


def boundary_points(key: jax.Array, batch: int, count: int) -> tuple[jax.Array, jax.Array]:
    """Uniform points on the four sides and their outward normals, ``(batch, 4 count, 2)``."""
    s = jax.random.uniform(key, (batch, count))
    zeros, ones = jnp.zeros_like(s), jnp.ones_like(s)
    pts = jnp.concatenate([jnp.stack(p, axis=-1) for p in
                           ((s, zeros), (ones, s), (s, ones), (zeros, s))], axis=1)
    normals = jnp.array([[0.0, -1.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    return pts, jnp.broadcast_to(jnp.repeat(normals, count, axis=0), pts.shape)
