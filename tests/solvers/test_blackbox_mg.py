"""Black-box multigrid (``pc="mg"``, ``coarsening="galerkin"``): operator-dependent
interpolation, ``R = P^T``, Galerkin ``3^d``-point coarse stencils, and MG-PCG iterations
bounded on sharp high-contrast coefficients where rediscretised coarse levels fail.

float64 (module fixture); grids 4^3 to 64^2 and 16^3.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import operators
from operators import contrast
from operators.stencils import diffusion_stencil
from solvers import linear_solve, solve
from solvers.errors import InvalidOptionError
from solvers.multigrid import multigrid
from solvers.multigrid.blackbox import coarse_shape, interpolation
from solvers.multigrid.galerkin import BoxStencil, entries_of, galerkin


@pytest.fixture(autouse=True, scope="module")
def x64():
    with jax.enable_x64(True):
        yield


@functools.partial(jax.jit, static_argnames="coarsening")
def _hierarchy(A, coarsening="galerkin"):
    return multigrid(A, coarsening=coarsening)


def _dense(apply, n: int, shape: tuple[int, ...]) -> np.ndarray:
    """The matrix of a linear map on grid arrays of ``shape`` (one jitted, vmapped call)."""
    columns = jax.jit(jax.vmap(lambda e: apply(e.reshape(shape)).ravel()))(jnp.eye(n))
    return np.asarray(columns).T


@pytest.mark.parametrize("shape", [(8, 6), (4, 6, 4)])
def test_restriction_is_the_transpose_and_the_coarse_operator_is_galerkin(shape) -> None:
    K = np.random.default_rng(0).lognormal(sigma=2.0, size=shape)
    A = diffusion_stencil(jnp.asarray(K))
    axes = tuple(range(len(shape)))
    P = jax.jit(lambda A: interpolation(entries_of(A), axes))(A)
    small = coarse_shape(shape, axes)
    n, nc = int(np.prod(shape)), int(np.prod(small))
    Pm, Rm = _dense(P.prolong, nc, small), _dense(P.restrict, n, shape)
    np.testing.assert_allclose(Rm, Pm.T, atol=1e-14)
    Am = _dense(lambda u: A(u.ravel()), n, shape)
    Ac = jax.jit(lambda A, P: galerkin(lambda v: P.restrict(A(P.prolong(v))), small,
                                       A.dtype))(A, P)
    assert isinstance(Ac, BoxStencil) and len(Ac.entries) == 3 ** len(shape)
    np.testing.assert_allclose(_dense(lambda v: Ac(v.ravel()), nc, small), Pm.T @ Am @ Pm,
                               atol=1e-12 * np.abs(Am).max())
    # a constant coefficient: interior fine nodes interpolate a constant exactly
    P1 = jax.jit(lambda A: interpolation(entries_of(A), axes))(diffusion_stencil(jnp.ones(shape)))
    inside = np.asarray(jax.jit(P1.prolong)(jnp.ones(small)))[(slice(1, None),) * len(shape)]
    np.testing.assert_allclose(inside, 1.0, rtol=1e-12)


@pytest.mark.parametrize("coarsening", ["galerkin", "rediscretise"])
def test_the_vcycle_is_symmetric_positive_definite(coarsening: str) -> None:
    K = contrast.inclusions((8, 8, 8), 1e4, seed=1)
    M = _hierarchy(diffusion_stencil(jnp.asarray(K)), coarsening)
    assert len(M.stencils) == 2 and M.coarse is not None
    rng = np.random.default_rng(3)
    u, v = (jnp.asarray(rng.standard_normal(8**3)) for _ in range(2))
    Mu, Mv = jax.jit(jax.vmap(M))(jnp.stack([u, v]))
    assert float(jnp.vdot(Mu, v)) == pytest.approx(float(jnp.vdot(u, Mv)), rel=1e-10)
    assert float(jnp.vdot(u, Mu)) > 0


CASES_2D = {
    "disk": contrast.disk(64, 1e4),
    "checkerboard": contrast.checkerboard(64, 1e4),
    "channels": contrast.channels(64, 1e4, seed=7),
    "inclusions": contrast.inclusions(64, 1e-4, seed=8),  # insulating inclusions
}


def _iterations(K: np.ndarray, coarsening: str) -> int:
    A = diffusion_stencil(jnp.asarray(K))
    b = jnp.asarray(np.random.default_rng(0).standard_normal(A.n))
    sol = linear_solve(A, b, pc=_hierarchy(A, coarsening), rtol=1e-8, maxiter=400)
    return int(sol.iterations) if bool(sol.converged) else 10**6


@pytest.mark.parametrize("name", list(CASES_2D))
def test_blackbox_iterations_are_bounded_on_high_contrast_2d(name: str) -> None:
    assert _iterations(CASES_2D[name], "galerkin") <= 16


def test_blackbox_iterations_are_bounded_on_high_contrast_3d() -> None:
    for K in (contrast.disk((16, 16, 16), 1e4), contrast.checkerboard((16, 16, 16), 1e4, 4),
              contrast.inclusions((16, 16, 16), 1e4, seed=2, count=6)):
        assert _iterations(K, "galerkin") <= 14


def test_rediscretised_coarse_levels_fail_where_blackbox_does_not() -> None:
    """The case the black-box construction is for: a checkerboard of contrast 1e4."""
    K = CASES_2D["checkerboard"]
    assert _iterations(K, "rediscretise") > 4 * _iterations(K, "galerkin")


def test_coarsening_is_a_declared_parameter_of_pc_mg() -> None:
    p = operators.diffusion(contrast.checkerboard(32, 1e3))
    res = solve(p, p.b, method="cg", pc="mg", backend="jax", rtol=1e-8)
    old = solve(p, p.b, method="cg", pc="mg", backend="jax", rtol=1e-8,
                coarsening="rediscretise")
    assert res.converged and old.converged and res.iterations < old.iterations
    assert np.linalg.norm(p.b - p.A @ res.x) <= 1e-8 * np.linalg.norm(p.b)
    with pytest.raises(InvalidOptionError, match="coarsening.*'algebraic'"):
        solve(p, p.b, method="cg", pc="mg", backend="jax", coarsening="algebraic")


def test_contrast_fields_are_seeded_and_validated() -> None:
    a, b = contrast.channels(32, 1e3, seed=3), contrast.channels(32, 1e3, seed=3)
    assert np.array_equal(a, b) and set(np.unique(a)) == {1.0, 1e3}
    assert not np.array_equal(a, contrast.channels(32, 1e3, seed=4))
    with pytest.raises(ValueError, match="contrast"):
        contrast.disk(16, -1.0)
    with pytest.raises(ValueError, match="seed"):
        contrast.inclusions(16, 10.0, seed=None)


def test_the_correction_hook_sees_the_black_box_weights_and_replaces_them() -> None:
    """``interpolation(..., correct=fn)`` and ``multigrid(..., correct=fn)``: ``fn`` gets the
    level's entries, axes and black-box weights; what it returns is the prolongation used,
    and the V-cycle stays symmetric."""
    shape = (8, 8)
    A = diffusion_stencil(jnp.asarray(contrast.inclusions(shape, 1e3, seed=5, count=3)))
    axes = (0, 1)
    seen = []

    def halve(entries, axes, weights):
        seen.append((len(entries), axes, len(weights)))
        return (weights[0],) + tuple(0.5 * w for w in weights[1:])

    plain = interpolation(entries_of(A), axes)
    halved = interpolation(entries_of(A), axes, correct=halve)
    assert seen == [(5, axes, 9)]
    for w, v in zip(plain.weights[1:], halved.weights[1:], strict=True):
        np.testing.assert_allclose(v, 0.5 * w)
    M = multigrid(A, correct=halve, coarsest=16)
    assert len(seen) == 2  # 8^2 -> 4^2 -> 2^2: two levels corrected
    B = _dense(lambda r: M(r.ravel()).reshape(shape), 64, shape)
    np.testing.assert_allclose(B, B.T, atol=1e-10 * np.abs(B).max())
    assert not np.allclose(B, _dense(lambda r: multigrid(A, coarsest=16)(r.ravel())
                                     .reshape(shape), 64, shape))
    with pytest.raises(ValueError, match="galerkin"):
        multigrid(A, coarsening="rediscretise", correct=halve)
