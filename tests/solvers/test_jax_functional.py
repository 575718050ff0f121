"""The functional JAX solve ``solvers.linear_solve``: gradients vs finite differences (w.r.t.
``b`` and a coefficient field), ``vmap`` vs a loop, ``jit``, no recompilation for new values.

float64 (the module fixture switches 64-bit JAX on; the precision-rule tests switch it off
inside); grids are 8^2 to 64^2.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import operators
import solvers
from operators.stencils import diffusion_stencil, poisson_stencil
from solvers import JaxSolution, linear_solve
from solvers.backends.jax import compile_count
from solvers.errors import InvalidOptionError, InvalidSystemError

SHAPE = (16, 16)


@pytest.fixture(autouse=True, scope="module")
def x64():
    with jax.enable_x64(True):
        yield


def _field(seed: int, shape: tuple[int, ...] = SHAPE) -> jax.Array:
    return jnp.exp(jnp.asarray(np.random.default_rng(seed).standard_normal(shape)))


def _vector(seed: int, n: int) -> jax.Array:
    return jnp.asarray(np.random.default_rng(seed).standard_normal(n))


def _central(f, u: jax.Array, direction: jax.Array, eps: float = 1e-6) -> float:
    return float((f(u + eps * direction) - f(u - eps * direction)) / (2 * eps))


@pytest.mark.parametrize(("method", "pc"), [("cg", "mg"), ("gmres", "jacobi")])
def test_gradients_match_central_differences(method: str, pc: str) -> None:
    K, b = _field(0), _vector(1, 256)
    weights = _vector(2, 256)

    def loss(K: jax.Array, b: jax.Array) -> jax.Array:
        x = linear_solve(diffusion_stencil(K), b, method=method, pc=pc, rtol=1e-12).x
        return jnp.vdot(weights, jnp.sin(x))

    gK, gb = jax.grad(loss, argnums=(0, 1))(K, b)
    for u, g, dir_seed, f in ((K, gK, 3, lambda K: loss(K, b)), (b, gb, 4, lambda b: loss(K, b))):
        direction = _vector(dir_seed, u.size).reshape(u.shape)
        exact = float(jnp.vdot(g, direction))
        assert abs(exact - _central(f, u, direction)) <= 1e-6 * abs(exact)


def test_jvp_agrees_with_grad() -> None:
    K, b, direction = _field(5), _vector(6, 256), _field(7)

    def solution(K: jax.Array) -> jax.Array:
        return linear_solve(diffusion_stencil(K), b, pc="mg", rtol=1e-12).x

    _, tangent = jax.jvp(solution, (K,), (direction,))
    cotangent = jax.grad(lambda K: jnp.sum(solution(K)))(K)
    assert float(jnp.sum(tangent)) == pytest.approx(float(jnp.vdot(cotangent, direction)),
                                                    rel=1e-8)


def test_vmap_over_b_and_over_coefficients_equals_a_loop() -> None:
    K, B = _field(8), jnp.stack([_vector(s, 256) for s in range(3)])
    A = diffusion_stencil(K)
    batched = jax.vmap(lambda b: linear_solve(A, b, pc="mg", rtol=1e-10))(B)
    looped = [linear_solve(A, b, pc="mg", rtol=1e-10) for b in B]
    assert batched.x.shape == B.shape and bool(jnp.all(batched.converged))
    np.testing.assert_allclose(batched.x, jnp.stack([s.x for s in looped]), rtol=0, atol=1e-12)
    Ks = jnp.stack([_field(s) for s in (9, 10)])
    per_K = jax.vmap(lambda K: linear_solve(diffusion_stencil(K), B[0], rtol=1e-10).x)(Ks)
    for K, x in zip(Ks, per_K, strict=True):
        np.testing.assert_allclose(x, linear_solve(diffusion_stencil(K), B[0], rtol=1e-10).x,
                                   rtol=0, atol=1e-12)


def test_jit_and_no_recompilation_for_new_values() -> None:
    @jax.jit
    def solve_it(K: jax.Array, b: jax.Array) -> JaxSolution:
        return linear_solve(diffusion_stencil(K), b, pc="mg", rtol=1e-9, maxiter=50)

    first = solve_it(_field(11), _vector(12, 256))
    assert bool(first.converged) and 0 < int(first.iterations) <= 15
    count = compile_count()
    K, b = _field(13), _vector(14, 256)
    second = solve_it(K, b)  # new coefficient and right-hand side: the same program
    assert compile_count() == count
    eager = linear_solve(diffusion_stencil(K), b, pc="mg", rtol=1e-9, maxiter=50)
    count = compile_count()
    again = linear_solve(diffusion_stencil(2 * K), 3 * b, pc="mg", rtol=1e-7, maxiter=40)
    assert compile_count() == count  # new K, b, rtol, maxiter: the same program
    assert bool(again.converged) and again.reason() == solvers.Reason.RTOL
    np.testing.assert_allclose(second.x, eager.x, rtol=0, atol=1e-12)
    residual = b - diffusion_stencil(K)(second.x)
    assert float(second.residual_norm) == pytest.approx(float(jnp.linalg.norm(residual)))


def test_operator_forms_and_x0() -> None:
    A = poisson_stencil((8, 8))
    dense = jax.vmap(A)(jnp.eye(64)).T
    b = _vector(15, 64)
    exact = jnp.linalg.solve(dense, b)
    for operator in (A, dense, jax.experimental.sparse.BCOO.fromdense(dense), A.__call__):
        sol = linear_solve(operator, b, rtol=1e-12)
        assert bool(sol.converged)
        np.testing.assert_allclose(sol.x, exact, rtol=1e-9)
    warm = linear_solve(A, b, rtol=1e-12, x0=exact + 1e-3)
    assert bool(warm.converged) and int(warm.iterations) < 30
    capped = linear_solve(A, b, rtol=1e-12, maxiter=2)
    assert not bool(capped.converged) and capped.reason() == solvers.Reason.MAXITER


def test_bad_arguments() -> None:
    A, b = poisson_stencil((4, 4)), jnp.ones(16)
    with pytest.raises(InvalidOptionError, match="no JAX kernel"):
        linear_solve(A, b, method="minres")
    with pytest.raises(InvalidOptionError, match="restart"):
        linear_solve(A, b, method="gmres", truncation=3)
    with pytest.raises(InvalidOptionError, match="needs a matrix-free"):
        linear_solve(jnp.eye(16), b, pc="mg")
    with pytest.raises(InvalidOptionError, match="'jacobi', 'mg'"):
        linear_solve(A, b, pc="ilu")
    with pytest.raises(InvalidSystemError, match="size 16"):
        linear_solve(A, jnp.ones(15))
    with pytest.raises(InvalidSystemError, match="Stencil"):
        linear_solve("A", b)


def test_numpy_float64_is_solved_in_float64_whatever_x64_says() -> None:
    """``solve()``'s precision rule: eager NumPy float64 input in float64 (returned as NumPy),
    jax arrays and everything under jit/vmap/grad in their own precision."""
    P = operators.poisson(SHAPE)
    b = np.random.default_rng(16).standard_normal(P.A.shape[0])
    with jax.enable_x64(False):
        A = poisson_stencil(SHAPE)  # float32 weights (1/h^2 = 289 is exact)
        for operator in (A, P.A.toarray()):
            sol = linear_solve(operator, b, rtol=1e-10)
            assert isinstance(sol.x, np.ndarray) and sol.x.dtype == np.float64
            assert bool(sol.converged) and sol.reason() == solvers.Reason.RTOL
            assert np.linalg.norm(b - P.A @ sol.x) <= 1e-10 * np.linalg.norm(b)
        assert linear_solve(A, jnp.asarray(b), rtol=1e-4).x.dtype == jnp.float32
        assert jax.jit(lambda b: linear_solve(A, b, rtol=1e-4).x)(b).dtype == jnp.float32
        batched = jax.vmap(lambda b: linear_solve(A, b, rtol=1e-4).x)(np.stack([b, 2 * b]))
        assert batched.dtype == jnp.float32 and batched.shape == (2, b.size)
        grad = jax.grad(lambda b: jnp.sum(linear_solve(A, b, rtol=1e-4).x))(b)
        assert grad.dtype == jnp.float32


def test_a_single_precision_that_cannot_reach_rtol_is_said() -> None:
    with jax.enable_x64(False):
        A, b = poisson_stencil(SHAPE), jnp.ones(256, jnp.float32)
        with pytest.warns(RuntimeWarning, match="below what float32 can reach"):
            sol = linear_solve(A, b, rtol=1e-8)
        assert not bool(sol.converged) and sol.reason() == solvers.Reason.PRECISION
        with pytest.warns(RuntimeWarning, match="below what float32 can reach"):
            jax.jit(lambda b: linear_solve(A, b, rtol=1e-9))(b)  # said when it is traced
        rough = diffusion_stencil(jnp.exp(jax.random.normal(jax.random.key(0), (64, 64))))
        with pytest.warns(RuntimeWarning, match="true residual .* misses it"):
            missed = linear_solve(rough, jnp.ones(4096, jnp.float32), pc="mg", rtol=1e-5)
        assert not bool(missed.converged) and missed.reason() == solvers.Reason.PRECISION
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            reachable = linear_solve(A, b, rtol=1e-4)
        assert bool(reachable.converged) and reachable.x.dtype == jnp.float32
