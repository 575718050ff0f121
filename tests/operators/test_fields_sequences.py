"""Tests for seeded random fields and for the sequences of related systems."""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import scipy.stats

import operators
from operators.assembly import grid_spacing

# ---------------------------------------------------------------------------------- fields
KERNELS = ["gaussian", "matern", "exponential"]


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("shape", [(50,), (16, 24), (8, 10, 12)])
def test_field_is_reproducible_and_seed_dependent(shape, kernel):
    a = operators.gaussian_random_field(shape, seed=7, kernel=kernel)
    b = operators.gaussian_random_field(shape, seed=7, kernel=kernel)
    c = operators.gaussian_random_field(shape, seed=8, kernel=kernel)
    assert a.shape == shape and a.dtype == np.float64 and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_field_accepts_generator_and_int_shape():
    a = operators.gaussian_random_field(12, seed=np.random.default_rng(3))
    b = operators.gaussian_random_field((12, 12), seed=np.random.default_rng(3))
    assert a.shape == (12, 12)
    np.testing.assert_array_equal(a, b)


def _samples(n_samples: int, **kwargs) -> np.ndarray:
    return np.array(
        [operators.gaussian_random_field((48, 48), seed=s, **kwargs) for s in range(n_samples)]
    )


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize(
    ("kernel", "correlation"),
    [
        ("gaussian", lambda r: np.exp(-(r**2) / (2 * 0.1**2))),
        ("exponential", lambda r: np.exp(-r / 0.1)),
        ("matern", lambda r: (1 + np.sqrt(3) * r / 0.1) * np.exp(-np.sqrt(3) * r / 0.1)),
    ],
)
def test_field_statistics(kernel, correlation, periodic):
    """Mean, point variance and correlation at a few lags match the kernel (nu = 3/2)."""
    g = _samples(100, kernel=kernel, variance=2.0, mean=1.0, length_scale=0.1, periodic=periodic)
    h = grid_spacing((48, 48))[0]
    assert abs(g.mean() - 1.0) < 0.15
    assert abs(g.var() / 2.0 - 1) < 0.1
    z = g - 1.0
    for lag in (2, 5, 10):
        measured = np.mean(z[:, :, :-lag] * z[:, :, lag:]) / 2.0
        assert abs(measured - correlation(lag * h)) < 0.06, (lag, measured)


def test_zero_variance_gives_the_mean():
    g = operators.gaussian_random_field((8, 8), seed=0, variance=0.0, mean=2.5)
    np.testing.assert_allclose(g, 2.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": None}, "seed is required"),
        ({"seed": 0, "kernel": "rbf"}, r"unknown kernel .rbf.; valid choices are \[.exponential."),
        ({"seed": 0, "kernel": "matérn"}, "did you mean 'matern'"),
        ({"seed": 0, "length_scale": 0.0}, "length_scale must be positive"),
        ({"seed": 0, "variance": -1.0}, "variance must be >= 0"),
        ({"seed": 0, "nu": -1.0}, "nu must be positive"),
    ],
)
def test_field_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        operators.gaussian_random_field((8, 8), **kwargs)


def test_seed_is_keyword_only_and_required():
    with pytest.raises(TypeError):
        operators.gaussian_random_field((8, 8))  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        operators.lognormal_coefficient((8, 8), 0)  # type: ignore[misc]


def test_lognormal_is_exp_of_gaussian_field():
    kwargs = {"seed": 4, "length_scale": 0.2, "variance": 0.5, "mean": -1.0}
    K = operators.lognormal_coefficient((20, 20), **kwargs)
    assert (K > 0).all()
    np.testing.assert_allclose(np.log(K), operators.gaussian_random_field((20, 20), **kwargs))


def test_random_diffusion_records_seed_and_rebuilds():
    p = operators.random_diffusion((12, 14), seed=5, variance=0.3, length_scale=0.2)
    q = operators.diffusion(
        operators.lognormal_coefficient((12, 14), seed=5, variance=0.3, length_scale=0.2)
    )
    assert p.kind == "diffusion" and p.symmetric and p.positive_definite
    assert p.params["seed"] == 5 and p.params["variance"] == 0.3
    assert p.params["kernel"] == "gaussian" and p.params["field"] == "lognormal"
    assert abs(p.A - q.A).max() == 0
    np.testing.assert_array_equal(p.coefficient, q.coefficient)
    assert abs(p.A - operators.random_diffusion((12, 14), seed=6).A).max() > 0


# ---------------------------------------------------------------- shifted Laplacian sequence
def unscaled_laplacian(shape: tuple[int, int]) -> np.ndarray:
    """delsq-style 5-point Laplacian: 4 on the diagonal, -1 to each neighbour."""
    T = [sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n)) for n in shape]
    return (sp.kron(T[0], sp.identity(shape[1])) + sp.kron(sp.identity(shape[0]), T[1])).toarray()


def test_shifted_sequence_matrices_and_tags():
    seq = operators.shifted_laplacian_sequence(20, seed=0)
    L = unscaled_laplacian((10, 10))
    assert len(seq) == 20
    for t, p in enumerate(seq):
        c = p.params["shift"]
        assert p.params == {"shift": c, "context": c, "index": t, "seed": 0}
        assert p.kind == "shifted_laplacian" and p.shape == (10, 10) and p.spacing == (1.0, 1.0)
        np.testing.assert_array_equal(p.A.toarray(), L + c * np.eye(100))
        assert p.symmetric and p.positive_definite
        assert np.linalg.eigvalsh(p.A.toarray()).min() > 0
        assert p.b.shape == (100,) and p.b @ p.b <= 100  # radially truncated normal


def test_shifted_sequence_is_reproducible_prefix_stable_and_seeded():
    a = operators.shifted_laplacian_sequence(30, seed=11)
    b = operators.shifted_laplacian_sequence(10, seed=11)
    c = operators.shifted_laplacian_sequence(10, seed=12)
    for p, q in zip(a[:10], b, strict=True):
        assert p.params["shift"] == q.params["shift"]
        np.testing.assert_array_equal(p.b, q.b)
    assert [p.params["shift"] for p in b] != [p.params["shift"] for p in c]


def test_shift_distribution_is_affine_beta():
    seq = operators.shifted_laplacian_sequence(5000, seed=1)
    c = np.array([p.params["shift"] for p in seq])
    assert c.min() >= -0.15 and c.max() <= 0.45
    beta_draws = (c + 0.15) / 0.6
    assert scipy.stats.kstest(beta_draws, scipy.stats.beta(2.0, 6.0).cdf).pvalue > 1e-3
    assert abs(c.mean() - (-0.15 + 0.6 * 2 / 8)) < 0.01


def test_high_variance_setting_and_normal_rhs():
    seq = operators.shifted_laplacian_sequence(
        3000, seed=2, alpha=0.5, beta=1.5, rhs="normal"
    )
    beta_draws = (np.array([p.params["shift"] for p in seq]) + 0.15) / 0.6
    assert scipy.stats.kstest(beta_draws, scipy.stats.beta(0.5, 1.5).cdf).pvalue > 1e-3
    norms2 = np.array([p.b @ p.b for p in seq])
    assert (norms2 > 100).any()  # not truncated
    assert abs(norms2.mean() / 100 - 1) < 0.02


def test_5000_systems_are_cheap_and_independent():
    t = time.perf_counter()
    seq = operators.shifted_laplacian_sequence(5000, seed=3)
    assert time.perf_counter() - t < 5.0
    before = seq[1].A.copy()
    seq[0].A.data[:] = 0.0
    assert abs(seq[1].A - before).max() == 0


def test_negative_shift_on_a_fine_grid_is_tagged_indefinite():
    seq = operators.shifted_laplacian_sequence(
        40, (30, 30), seed=4, c_offset=-0.15, c_scale=0.3, alpha=1.0, beta=1.0
    )
    lam_min = 8 * np.sin(np.pi / 62) ** 2
    for p in seq[:8]:
        assert p.positive_definite == (p.params["shift"] + lam_min > 0)
    assert {p.positive_definite for p in seq} == {True, False}
    p = next(p for p in seq if not p.positive_definite)
    assert spla.eigsh(p.A, k=1, which="SA")[0][0] < 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"seed": None}, "seed is required"), ({"seed": 0, "alpha": 0.0}, "alpha must be positive"),
     ({"seed": 0, "rhs": "uniform"}, "unknown rhs 'uniform'"),
     ({"seed": 0, "shape": (0, 3)}, "shape must be")],
)
def test_shifted_sequence_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        operators.shifted_laplacian_sequence(3, **kwargs)


@pytest.mark.parametrize("n", [-1, 2.5, "3", None])
def test_sequence_lengths_must_be_counts(n):
    with pytest.raises(ValueError, match="must be a non-negative integer"):
        operators.shifted_laplacian_sequence(n, seed=0)
    with pytest.raises(ValueError, match="must be a non-negative integer"):
        operators.heat_sequence(n, (4, 4), seed=0)


# --------------------------------------------------------------------------- heat sequence
def test_heat_default_size_and_matrix_structure():
    heat = operators.HeatSequence(seed=0)
    assert heat.shape == (100, 100)
    p = heat.system(1, heat.initial())
    assert p.n >= 10**4 and p.kind == "heat" and p.symmetric and p.positive_definite
    M = operators.diffusion(heat.coefficient).A
    expected = sp.identity(p.n) + p.params["context"] * M
    assert abs(p.A - expected).max() < 1e-9
    assert p.params["context"] == pytest.approx(heat.dt * p.params["scale"])
    np.testing.assert_allclose(p.coefficient, p.params["scale"] * heat.coefficient)


def test_heat_runs_with_spsolve_and_stays_bounded():
    heat = operators.HeatSequence((24, 24), seed=1, dt=2e-3)
    u = heat.initial()
    bound = np.abs(u).max()
    contexts = []
    for t in range(1, 16):
        p = heat.system(t, u)
        contexts.append(p.params["context"])
        u = spla.spsolve(p.A.tocsc(), p.b)
        bound += heat.dt * np.abs(heat.source(t)).max()  # discrete maximum principle
        assert np.isfinite(u).all() and np.abs(u).max() <= bound + 1e-12
    assert len(set(contexts)) == len(contexts)  # the diffusivity changes every step
    assert np.abs(u).max() > 0


def test_heat_is_reproducible_and_seeded():
    a, b = operators.HeatSequence((16, 16), seed=2), operators.HeatSequence((16, 16), seed=2)
    c = operators.HeatSequence((16, 16), seed=3)
    u = a.initial()
    assert abs(a.system(5, u).A - b.system(5, u).A).max() == 0
    assert a.context(5) != c.context(5)
    assert not np.allclose(a.coefficient, c.coefficient)


def test_heat_sequence_generator_gives_exact_trajectory():
    seq = list(operators.heat_sequence(4, (12, 12), seed=0))
    assert [p.params["step"] for p in seq] == [1, 2, 3, 4]
    for prev, p in zip(seq, seq[1:], strict=False):
        assert np.linalg.norm(p.A @ p.exact - p.b) < 1e-10 * np.linalg.norm(p.b)
        heat = operators.HeatSequence((12, 12), seed=0)
        np.testing.assert_allclose(p.b, prev.exact + heat.dt * heat.source(p.params["step"]))


def test_heat_sequence_with_own_solver_and_paper_schedule():
    def schedule(t):
        return max(0.1 * np.sin(2 * np.pi * t), -10 * np.sin(2 * np.pi * t))

    def solve(p):
        return spla.cg(p.A, p.b, rtol=1e-10)[0]

    seq = list(operators.heat_sequence(3, (10, 10), seed=0, solve=solve, scale=schedule,
                                       coefficient=np.ones((10, 10)), theta=0.5))
    heat = operators.HeatSequence((10, 10), seed=0, scale=schedule, theta=0.5)
    assert seq[0].params["context"] == pytest.approx(0.5 * 1e-3 * schedule(0.5e-3))
    assert all(p.exact is None for p in seq)
    assert heat.time(2) == pytest.approx(1.5e-3)


def test_crank_nicolson_right_hand_side():
    heat = operators.HeatSequence((8, 9), seed=0, theta=0.5, dt=0.01)
    u = np.random.default_rng(0).standard_normal(72)
    p = heat.system(3, u)
    s = p.params["scale"]
    expected = u - 0.5 * 0.01 * s * (heat.operator @ u) + 0.01 * heat.source(3)
    np.testing.assert_allclose(p.b, expected)


def test_heat_rejects_bad_input():
    heat = operators.HeatSequence((8, 8), seed=0)
    with pytest.raises(ValueError, match="u_prev has 63 values but the grid"):
        heat.system(1, np.zeros(63))
    with pytest.raises(ValueError, match="steps are numbered from 1"):
        heat.system(0, heat.initial())
    with pytest.raises(ValueError, match="K must be positive"):
        operators.HeatSequence((8, 8), seed=0, coefficient=-np.ones((8, 8)))
    with pytest.raises(ValueError, match="coefficient has 16 values"):
        operators.HeatSequence((8, 8), seed=0, coefficient=np.ones((4, 4)))
    with pytest.raises(ValueError, match="dt > 0"):
        operators.HeatSequence((8, 8), seed=0, dt=0.0)
    with pytest.raises(ValueError, match="scale"):
        operators.HeatSequence((8, 8), seed=0, scale=lambda t: -1.0).matrix(1)
    with pytest.raises(ValueError, match="seed is required"):
        operators.HeatSequence((8, 8), seed=None)
