"""Matrix-free geometric multigrid (``solvers.multigrid``, ``pc="mg"``): transfers, coarse
operators, a symmetric V-cycle, and MG-PCG iterations flat with grid size.

float64 (module fixture); grids 16^2 to 64^2 and 16^3.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import operators
from operators.stencils import diffusion_stencil, poisson_stencil
from solvers import linear_solve, registry, solve
from solvers.errors import InvalidOptionError
from solvers.multigrid.coarsen import coarsen
from solvers.multigrid.transfer import prolong, restrict


@pytest.fixture(autouse=True, scope="module")
def x64():
    with jax.enable_x64(True):
        yield


def _field(shape: tuple[int, ...], seed: int = 0) -> jax.Array:
    return jnp.exp(jnp.asarray(np.random.default_rng(seed).standard_normal(shape)))


def _smooth(n: int) -> jax.Array:
    """A coefficient with a 100:1 contrast that does not change with the grid."""
    x = np.arange(1, n + 1) / (n + 1)
    return jnp.asarray(np.exp(2.3 * np.outer(np.sin(2 * np.pi * x), np.cos(3 * np.pi * x))))


def test_restriction_is_scaled_transpose_of_prolongation() -> None:
    rng = np.random.default_rng(1)
    coarse, fine = rng.standard_normal((3, 4, 5)), rng.standard_normal((6, 8, 5))
    axes = (0, 1)
    left = np.vdot(jax.jit(prolong, static_argnums=1)(jnp.asarray(coarse), axes), fine)
    right = 4 * np.vdot(coarse, jax.jit(restrict, static_argnums=1)(jnp.asarray(fine), axes))
    assert left == pytest.approx(right, rel=1e-12)
    ones = jnp.ones((4, 6))
    inside = jax.jit(prolong, static_argnums=1)(ones, axes)[1:-1, 1:-1]
    np.testing.assert_allclose(inside, 1.0)  # linear interpolation keeps constants


def test_coarse_poisson_is_the_coarse_laplacian() -> None:
    A = poisson_stencil((16, 8))
    Ac = coarsen(A, (0, 1))
    H = 2 / 17, 2 / 9
    for axis, w in enumerate(Ac.weights):
        w = np.moveaxis(np.asarray(w), axis, 0).reshape(-1)
        np.testing.assert_allclose(w[1:-1], 1 / H[axis] ** 2, rtol=1e-12)  # interior faces
        np.testing.assert_allclose(w[[0, -1]], 4 / (3 * H[axis] ** 2), rtol=1e-12)  # 3H/4 away
    K = _field((8, 8))  # variable coefficient: u^T R A P u ~ u^T A_c u for a smooth u
    A = diffusion_stencil(K)
    x = (np.arange(4) + 0.5) / 4
    u = jnp.asarray(np.outer(np.sin(np.pi * x), np.sin(np.pi * x)))  # a smooth coarse vector
    galerkin = jax.jit(lambda u: restrict(A(prolong(u, (0, 1))), (0, 1)))(u)
    rediscretised = coarsen(A, (0, 1))(u)
    ratio = float(jnp.vdot(u, galerkin) / jnp.vdot(u, rediscretised))  # energy of a smooth u
    assert 0.8 < ratio < 1.25


@pytest.mark.parametrize("kind", ["poisson", "diffusion"])
def test_mg_pcg_iterations_flat_with_grid_size(kind: str) -> None:
    counts = []
    for n in (16, 32, 64):
        A = poisson_stencil((n, n)) if kind == "poisson" else diffusion_stencil(_smooth(n))
        sol = linear_solve(A, jnp.ones(n * n), pc="mg", rtol=1e-8)
        assert bool(sol.converged)
        counts.append(int(sol.iterations))
    assert max(counts) <= min(counts) + 2 and max(counts) <= 15, counts


def test_mg_is_registered_and_runs_on_the_jax_backend() -> None:
    entry = registry.lookup("mg", "pc")
    assert entry.backends == ("jax",) and registry.check(entry) == []
    p = operators.diffusion(np.asarray(_field((32, 32), 4)))
    res = solve(p, p.b, method="cg", pc="mg", backend="jax", rtol=1e-8)
    assert res.converged and res.iterations <= 15, res
    fcg = solve(p, p.b, method="fcg", pc="mg", backend="jax", rtol=1e-8)
    assert fcg.converged and fcg.iterations <= res.iterations + 1
    with pytest.raises(InvalidOptionError, match="matrix-free stencil"):
        solve(p.A, p.b, method="cg", pc="mg", backend="jax")
