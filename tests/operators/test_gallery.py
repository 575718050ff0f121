"""Tests for the operator gallery: matrices against independent references, tags, errors."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time

import numpy as np
import pytest
import scipy.sparse as sp

import operators
from operators.assembly import diffusion_matrix, grid_spacing, harmonic_faces
from operators.gallery import laplacian_eigenvalue_range

SHAPES = [(7,), (5, 4), (3, 4, 5)]


# ---------------------------------------------------------------- references (small grids)
def kron_laplacian(shape: tuple[int, ...]) -> sp.csr_matrix:
    """-Laplace on the interior grid as a Kronecker sum of 1D second differences."""
    h = grid_spacing(shape)
    L = sp.csr_matrix((int(np.prod(shape)),) * 2)
    for a, n in enumerate(shape):
        T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n)) / h[a] ** 2
        before = sp.identity(int(np.prod(shape[:a])))
        after = sp.identity(int(np.prod(shape[a + 1 :])))
        L = L + sp.kron(sp.kron(before, T), after)
    return sp.csr_matrix(L)


def loop_reference(
    K: np.ndarray, velocity: tuple[float, ...] | None = None, eps: float = 1.0
) -> np.ndarray:
    """Dense -eps div(K grad u) + upwind v.grad u, one grid point at a time (slow, obvious)."""
    shape = K.shape
    h = grid_spacing(shape)
    n = K.size
    A = np.zeros((n, n))
    index = np.arange(n).reshape(shape)
    for node in itertools.product(*(range(s) for s in shape)):
        i = index[node]
        for a in range(K.ndim):
            for step in (-1, 1):
                nb = list(node)
                nb[a] += step
                inside = 0 <= nb[a] < shape[a]
                face = 2 * K[node] * K[tuple(nb)] / (K[node] + K[tuple(nb)]) if inside else K[node]
                A[i, i] += eps * face / h[a] ** 2
                if inside:
                    A[i, index[tuple(nb)]] -= eps * face / h[a] ** 2
            v = 0.0 if velocity is None else velocity[a]
            A[i, i] += abs(v) / h[a]
            nb = list(node)
            nb[a] += -1 if v > 0 else 1
            if v != 0 and 0 <= nb[a] < shape[a]:
                A[i, index[tuple(nb)]] -= abs(v) / h[a]
    return A


def dense(A: sp.spmatrix) -> np.ndarray:
    return A.toarray()


# ------------------------------------------------------------------------------- assembly
@pytest.mark.parametrize("shape", SHAPES + [(1, 5), (4, 1, 3), (1,)])
def test_diffusion_matrix_is_canonical_csr_matching_coo_assembly(shape):
    rng = np.random.default_rng(0)
    K = np.exp(rng.standard_normal(shape))
    faces = [harmonic_faces(K, a) for a in range(len(shape))]
    A = diffusion_matrix(faces, grid_spacing(shape), diagonal=1.5)
    assert A.format == "csr" and A.has_canonical_format
    np.testing.assert_allclose(dense(A), loop_reference(K) + 1.5 * np.eye(K.size), rtol=1e-13)


def test_diffusion_matrix_complex_diagonal():
    shape = (3, 4)
    A = diffusion_matrix([np.ones((4, 4)), np.ones((3, 5))], grid_spacing(shape), 2 - 1j)
    assert A.dtype == np.complex128
    np.testing.assert_allclose(dense(A), dense(kron_laplacian(shape)) + (2 - 1j) * np.eye(12))


# -------------------------------------------------------------------------------- poisson
@pytest.mark.parametrize("shape", SHAPES)
def test_poisson_matches_kron(shape):
    p = operators.poisson(shape)
    np.testing.assert_allclose(dense(p.A), dense(kron_laplacian(shape)), rtol=1e-14)
    assert p.kind == "poisson" and p.shape == shape and p.spacing == grid_spacing(shape)
    assert p.symmetric and p.positive_definite
    np.testing.assert_array_equal(p.b, np.ones(p.n))


def test_int_shape_is_square_2d():
    assert operators.poisson(6).shape == (6, 6)
    assert operators.helmholtz(6, 1.0).shape == (6, 6)
    assert operators.convection_diffusion(6, (1.0, 1.0)).shape == (6, 6)


def test_poisson_second_order_accuracy():
    """Manufactured u = sin(pi x) sin(pi y): the error falls by ~4 when h halves."""
    errors = []
    for n in (15, 31):
        x = np.arange(1, n + 1) / (n + 1)
        X, Y = np.meshgrid(x, x, indexing="ij")
        u = np.sin(np.pi * X) * np.sin(np.pi * Y)
        p = operators.poisson((n, n), rhs=2 * np.pi**2 * u)
        errors.append(np.abs(sp.linalg.spsolve(p.A.tocsc(), p.b) - u.ravel()).max())
    assert 3.5 < errors[0] / errors[1] < 4.5


def test_poisson_128_cubed_assembles_fast():
    t = time.perf_counter()
    p = operators.poisson((128, 128, 128))
    elapsed = time.perf_counter() - t
    assert p.A.shape == (128**3, 128**3) and p.A.nnz == 7 * 128**3 - 6 * 128**2
    assert elapsed < 10.0, f"128^3 Poisson took {elapsed:.1f} s"


# ------------------------------------------------------------------------------ diffusion
@pytest.mark.parametrize("shape", [(6,), (4, 5), (3, 3, 4)])
def test_diffusion_matches_loop_reference(shape):
    K = np.exp(np.random.default_rng(1).standard_normal(shape))
    p = operators.diffusion(K)
    np.testing.assert_allclose(dense(p.A), loop_reference(K), rtol=1e-13)
    assert p.kind == "diffusion" and p.shape == shape
    np.testing.assert_array_equal(p.coefficient, K)


@pytest.mark.parametrize("shape", SHAPES)
def test_diffusion_with_unit_coefficient_equals_poisson(shape):
    assert abs(operators.diffusion(np.ones(shape)).A - operators.poisson(shape).A).max() == 0


def test_diffusion_is_spd():
    K = np.exp(2 * np.random.default_rng(2).standard_normal((6, 7)))
    p = operators.diffusion(K)
    A = dense(p.A)
    assert p.symmetric and p.positive_definite
    np.testing.assert_array_equal(A, A.T)
    assert np.linalg.eigvalsh(A).min() > 0


@pytest.mark.parametrize(
    ("K", "match"),
    [
        (-np.ones((4, 4)), "K must be positive"),
        (np.zeros((4, 4)), "K must be positive"),
        (np.where(np.eye(4) > 0, np.nan, 1.0), "K must be finite: 4 NaN/Inf"),
        (np.full((3, 3), np.inf), "K must be finite"),
        (np.ones((4, 4)) * (1 + 1j), "K must be a real array"),
        (np.ones((2, 2, 2, 2)), "1D, 2D or 3D"),
        (np.ones((0, 3)), "non-empty"),
        (np.array(["a", "b"]), "K must be a real array"),
    ],
)
def test_diffusion_rejects_bad_coefficients(K, match):
    with pytest.raises(ValueError, match=match):
        operators.diffusion(K)


def test_negative_coefficient_message_points_at_the_node():
    K = np.ones((4, 5))
    K[2, 3] = -0.5
    with pytest.raises(ValueError, match=r"1 values <= 0 .*index \(2, 3\)"):
        operators.diffusion(K)


# ------------------------------------------------------------------------ shapes and rhs
@pytest.mark.parametrize("shape", [(0, 4), (2, 2, 2, 2), (), "abc", (4.5, 4), -3, None])
def test_bad_shape_is_value_error(shape):
    with pytest.raises(ValueError, match="shape must be"):
        operators.poisson(shape)


def test_rhs_accepts_grid_shape_and_rejects_wrong_size_or_nan():
    rhs = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(operators.poisson((3, 4), rhs=rhs).b, rhs.ravel())
    with pytest.raises(ValueError, match="rhs has 11 values but the grid"):
        operators.diffusion(np.ones((3, 4)), rhs=np.ones(11))
    with pytest.raises(ValueError, match="NaN or Inf"):
        operators.helmholtz((3, 4), 1.0, rhs=np.full(12, np.nan))


# ------------------------------------------------------------------------------ helmholtz
@pytest.mark.parametrize("shape", SHAPES)
def test_helmholtz_matches_kron(shape):
    k = 7.0
    p = operators.helmholtz(shape, k)
    expected = dense(kron_laplacian(shape)) - k**2 * np.eye(p.n)
    np.testing.assert_allclose(dense(p.A), expected, rtol=1e-13, atol=1e-9)
    assert p.kind == "helmholtz" and p.A.dtype == np.float64 and p.symmetric
    assert p.params["k"] == k and p.params["hermitian"]


@pytest.mark.parametrize("shape", SHAPES)
def test_analytic_laplacian_eigenvalue_range(shape):
    eig = np.linalg.eigvalsh(dense(operators.poisson(shape).A))
    lo, hi = laplacian_eigenvalue_range(grid_spacing(shape))
    np.testing.assert_allclose([eig.min(), eig.max()], [lo, hi], rtol=1e-12)


@pytest.mark.parametrize("shape", [(9,), (6, 7), (4, 4, 5)])
def test_helmholtz_definiteness_switches_at_smallest_eigenvalue(shape):
    lo, _ = laplacian_eigenvalue_range(grid_spacing(shape))
    below = operators.helmholtz(shape, 0.99 * np.sqrt(lo))
    above = operators.helmholtz(shape, 1.01 * np.sqrt(lo))
    assert below.positive_definite and not above.positive_definite
    assert np.linalg.eigvalsh(dense(below.A)).min() > 0
    assert np.linalg.eigvalsh(dense(above.A)).min() < 0


def test_helmholtz_large_k_is_indefinite():
    p = operators.helmholtz((12, 12), k=20.0)  # lambda_min < k^2 < lambda_max
    eig = np.linalg.eigvalsh(dense(p.A))
    assert eig.min() < 0 < eig.max()
    assert p.symmetric and not p.positive_definite


def test_zero_dimensional_array_parameters_are_accepted():
    p = operators.helmholtz((4, 4), np.array(2.0), damping=np.float32(0.1))
    assert p.params["k"] == 2.0


def test_damped_helmholtz_is_complex_symmetric_not_hermitian():
    shape, k, damping = (5, 6), 12.0, 0.5
    p = operators.helmholtz(shape, k, damping=damping)
    A = dense(p.A)
    assert p.A.dtype == np.complex128 and p.b.dtype == np.complex128
    np.testing.assert_array_equal(A, A.T)
    assert not np.allclose(A, A.conj().T)
    expected = dense(kron_laplacian(shape)) - k**2 * (1 + 1j * damping) * np.eye(p.n)
    np.testing.assert_allclose(A, expected, rtol=1e-13, atol=1e-9)
    assert not p.symmetric and not p.positive_definite
    assert p.params["complex_symmetric"] and not p.params["hermitian"]
    assert p.params["shift"] == pytest.approx(-(k**2) * (1 + 0.5j))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"k": np.nan}, "k must be finite"), ({"k": 1j}, "k must be a real"),
     ({"k": 1.0, "damping": -0.1}, "damping must be >= 0"),
     ({"k": "3"}, "k must be a real number"), ({"k": [1.0, 2.0]}, "k must be a real number")],
)
def test_helmholtz_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        operators.helmholtz((4, 4), **kwargs)


# --------------------------------------------------------------------- convection-diffusion
@pytest.mark.parametrize("shape", SHAPES)
def test_convection_diffusion_without_velocity_is_scaled_poisson(shape):
    p = operators.convection_diffusion(shape, (0.0,) * len(shape), diffusivity=0.01)
    np.testing.assert_allclose(dense(p.A), 0.01 * dense(operators.poisson(shape).A), rtol=1e-14)
    assert p.symmetric and p.positive_definite


@pytest.mark.parametrize(
    ("shape", "velocity"),
    [((8,), (3.0,)), ((8,), (-3.0,)), ((5, 6), (10.0, -4.0)), ((3, 4, 5), (1.0, 0.0, -2.5))],
)
def test_convection_diffusion_matches_loop_reference(shape, velocity):
    eps = 0.1
    p = operators.convection_diffusion(shape, velocity, diffusivity=eps)
    np.testing.assert_allclose(
        dense(p.A), loop_reference(np.ones(shape), velocity, eps), rtol=1e-13, atol=1e-12
    )
    assert p.kind == "convection_diffusion" and not p.symmetric and not p.positive_definite
    assert p.A.has_canonical_format and p.params["velocity"] == velocity


def test_upwind_gives_m_matrix_with_positive_definite_symmetric_part():
    p = operators.convection_diffusion((7, 8), (200.0, -150.0), diffusivity=1e-3)
    A = dense(p.A)
    assert p.params["peclet"] > 1
    assert (A - np.diag(np.diag(A)) <= 0).all() and (A.sum(axis=1) >= -1e-9).all()
    assert not np.allclose(A, A.T)
    assert np.linalg.eigvalsh((A + A.T) / 2).min() > 0


def test_upwind_is_first_order():
    """1D -u'' + v u' = f with u = sin(pi x): the error halves with h."""
    errors = []
    for n in (63, 127):
        x = np.arange(1, n + 1) / (n + 1)
        f = np.pi**2 * np.sin(np.pi * x) + 5.0 * np.pi * np.cos(np.pi * x)
        p = operators.convection_diffusion((n,), (5.0,), rhs=f)
        errors.append(np.abs(sp.linalg.spsolve(p.A.tocsc(), p.b) - np.sin(np.pi * x)).max())
    assert 1.7 < errors[0] / errors[1] < 2.3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"velocity": (1.0,)}, "one component per axis"),
     ({"velocity": (1.0, 2.0, 3.0)}, "one component per axis"),
     ({"velocity": (1.0, np.inf)}, "must be finite"),
     ({"velocity": (1.0, 1.0), "diffusivity": 0.0}, "diffusivity must be positive")],
)
def test_convection_diffusion_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        operators.convection_diffusion((4, 4), **kwargs)


# ----------------------------------------------------------------------------- the package
def test_import_is_light():
    code = "import sys, operators; assert 'jax' not in sys.modules, 'operators imported jax'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_names():
    for name in ("Problem", "GridProblem", "poisson", "diffusion", "helmholtz",
                 "convection_diffusion", "gaussian_random_field", "lognormal_coefficient",
                 "random_diffusion", "shifted_laplacian_sequence", "HeatSequence", "heat_sequence"):
        assert name in operators.__all__ and hasattr(operators, name)


# ------------------------------------------------------------------- Problem / GridProblem
def test_problem_from_any_matrix_keeps_unknown_tags():
    A = sp.random(6, 6, density=0.5, random_state=0, format="coo") + sp.identity(6)
    p = operators.Problem(A, np.ones(6))
    assert p.A.format == "csr" and p.n == 6
    assert p.symmetric is None and p.positive_definite is None  # unknown, not False
    assert p.kind == "custom" and p.exact is None and p.params == {}
    assert not hasattr(p, "shape") and not hasattr(p, "grid")
    assert repr(p) == (f"Problem(kind='custom', n=6, nnz={p.A.nnz}, symmetric=None, "
                       f"positive_definite=None)")
    dense = operators.Problem(np.eye(3), np.ones(3), symmetric=True, kind="fem")
    assert isinstance(dense.A, np.ndarray) and dense.n == 3 and "nnz=3" in repr(dense)


def test_problem_tags_are_keyword_only():
    with pytest.raises(TypeError):
        operators.Problem(np.eye(2), np.ones(2), True)


@pytest.mark.parametrize("build", [
    lambda: operators.poisson((4, 5)),
    lambda: operators.diffusion(np.ones((3, 4))),
    lambda: operators.helmholtz((4, 4), k=2.0),
    lambda: operators.convection_diffusion((4, 4), velocity=(1.0, 0.0)),
    lambda: operators.random_diffusion((4, 4), seed=0),
    lambda: operators.shifted_laplacian_sequence(1, shape=(4, 4), seed=0)[0],
    lambda: next(operators.heat_sequence(1, (4, 4), seed=0)),
])
def test_gallery_returns_grid_problems_with_every_field(build):
    p = build()
    assert isinstance(p, operators.GridProblem) and isinstance(p, operators.Problem)
    assert p.A.format == "csr" and p.n == p.A.shape[0] == int(np.prod(p.shape))
    assert p.ndim == len(p.shape) == len(p.spacing)
    assert p.grid(p.b).shape == p.shape
    assert isinstance(p.symmetric, bool) and isinstance(p.positive_definite, bool)
    assert isinstance(p.kind, str) and isinstance(p.params, dict)
    assert repr(p).startswith(f"GridProblem(kind={p.kind!r}, shape={p.shape}, n={p.n}")


def test_grid_problem_positional_fields_and_replace():
    import dataclasses

    p = operators.poisson((3, 3))
    q = operators.GridProblem(p.A, p.b, p.shape, p.spacing, kind="poisson", symmetric=True)
    assert q.coefficient is None and q.positive_definite is None
    r = dataclasses.replace(p, b=2 * p.b)
    assert isinstance(r, operators.GridProblem) and r.shape == p.shape
    np.testing.assert_array_equal(r.b, 2 * p.b)


def test_solvers_recognise_problems_by_their_fields():
    from solvers.system import as_system, is_grid_problem, is_problem

    grid = operators.poisson((3, 3))
    plain = operators.Problem(grid.A, grid.b, symmetric=True, positive_definite=True)
    assert is_problem(grid) and is_grid_problem(grid)
    assert is_problem(plain) and not is_grid_problem(plain)
    assert not is_problem(grid.A) and not is_problem(np.eye(2))
    system = as_system(plain, plain.b)
    assert system.problem is plain and system.symmetric is True
    assert as_system(operators.Problem(grid.A, grid.b), grid.b).symmetric is None


@pytest.mark.parametrize("form", ["csr", "dense", "coo", "operator"])
@pytest.mark.parametrize("tags", [{}, {"symmetric": True, "positive_definite": True}])
def test_problem_from_any_matrix_is_solvable(form, tags):
    import scipy.sparse.linalg as spla

    from solvers import solve

    grid = operators.poisson((6, 6))
    A = {"csr": grid.A, "dense": grid.A.toarray(), "coo": grid.A.tocoo(),
         "operator": spla.aslinearoperator(grid.A)}[form]
    p = operators.Problem(A, grid.b, **tags)
    for method in ("auto", "cg", "gmres"):
        res = solve(p, p.b, method=method, rtol=1e-10)
        assert res.converged, (method, res)
        assert np.linalg.norm(grid.b - grid.A @ res.x) <= 1e-10 * np.linalg.norm(grid.b) * 1.01


@pytest.mark.parametrize("kwargs", [{"backend": "jax"}, {"backend": "jax", "method": "cg"}])
def test_problem_without_grid_on_jax_uses_its_matrix(kwargs):
    from solvers import solve

    grid = operators.poisson((6, 6))  # a stencil kind, but no grid: the assembled matrix is used
    p = operators.Problem(grid.A, grid.b, kind="poisson", symmetric=True, positive_definite=True)
    res = solve(p, p.b, rtol=1e-5, **kwargs)
    assert res.converged
    np.testing.assert_allclose(np.asarray(res.x), solve(grid, grid.b, rtol=1e-10).x, rtol=1e-4)
