"""Problem families of operators.families: seeded, reproducible, with the promised structure."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as spla

import operators
from operators.families import FAMILIES, family
from operators.gallery import upwind_matrix


def _same(p, q) -> bool:
    return (p.A != q.A).nnz == 0 and np.array_equal(p.b, q.b)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_samples_depend_on_seed_and_index_only(name):
    fam, again, other = family(name, 12, seed=3), family(name, 12, seed=3), family(name, 12)
    p = fam.sample(5)
    assert _same(p, again.sample(5)) and p.shape == (12, 12) and p.A.shape == (144, 144)
    np.testing.assert_array_equal(p.params["field"], fam.parameters(5))
    np.testing.assert_array_equal(fam.scalars(5), again.scalars(5))
    assert not np.array_equal(fam.parameters(5), fam.parameters(6))
    assert not np.array_equal(fam.parameters(5), other.parameters(5))
    assert p.params["family"] == name and p.params["index"] == 5


def test_darcy_is_the_batch_sample():
    p = family("darcy", 10, seed=4).sample(7)
    q = operators.random_diffusion((10, 10), seed=np.random.SeedSequence([4, 7]))
    assert _same(p, q) and p.positive_definite


def test_helmholtz_is_indefinite_with_several_wavelengths():
    fam = family("helmholtz", 24, seed=0)
    p = fam.sample(0)
    near_zero = spla.eigsh(p.A.tocsc(), k=4, sigma=0, return_eigenvectors=False)
    assert near_zero.min() < 0 < near_zero.max() and p.positive_definite is False
    assert spla.eigsh(p.A, k=1, which="LA", return_eigenvectors=False)[0] > 1000
    k = fam.scalars(0)[0]
    assert 0.2 <= k * p.spacing[0] <= 0.3 and p.params["k"] == k
    big = family("helmholtz", 80, seed=0)
    assert min(big.scalars(i)[0] for i in range(20)) / (2 * np.pi) > 2.5  # wavelengths in [0,1]
    np.testing.assert_allclose(p.A.diagonal(), 4 * 25**2 - (k / fam.parameters(0).ravel())**2)


def test_poisson_shares_one_matrix_and_thermal_is_nonsymmetric():
    fam = family("poisson", 10, seed=1)
    p, q = fam.sample(0), fam.sample(1)
    assert p.A is q.A and not np.array_equal(p.b, q.b)
    np.testing.assert_array_equal(p.b, fam.parameters(0).ravel())
    t = family("thermal", 10, seed=1).sample(0)
    assert abs(t.A - t.A.T).max() > 1 and t.symmetric is False
    # A = diffusion(K) + first-order upwind convection, nothing else
    d = operators.diffusion(t.params["field"]).A
    upwind = upwind_matrix(t.shape, t.spacing, t.params["velocity"])
    assert abs(t.A - d - upwind).max() <= 1e-12 * abs(t.A).max()
    assert abs(upwind - upwind.T).max() > 1  # the nonsymmetric part is the convection's


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_3d_families_use_the_7_point_stencil(name):
    fam = family(name, 6, seed=2, dim=3)
    p = fam.sample(1)
    assert p.shape == (6, 6, 6) and p.A.shape == (216, 216) and fam.parameters(1).shape == p.shape
    assert np.diff(p.A.indptr).max() == 7  # an interior node couples to its six neighbours
    assert not np.array_equal(fam.parameters(1), family(name, 6, seed=2).parameters(1))


def test_absorbing_helmholtz_is_the_dirichlet_matrix_plus_the_boundary_term():
    G, h = 10, 1 / 11
    dirichlet = family("helmholtz", G, dim=3, kh=(0.2, 0.5), seed=4)
    absorbing = family("helmholtz", G, dim=3, kh=(0.2, 0.5), seed=4, boundary="absorbing")
    p, q = dirichlet.sample(2), absorbing.sample(2)
    kappa = np.sqrt(q.params["mass"]).reshape(q.shape)  # k / c
    np.testing.assert_allclose(kappa, q.params["k"] / q.params["field"])
    assert 0.2 <= q.params["kh"] <= 0.5 and q.A.dtype == q.b.dtype == np.complex128
    delta = (q.A - p.A).tocsr()
    assert delta.nnz == G**3 - (G - 2) ** 3  # boundary nodes only, on the diagonal
    face = G // 2 * G + G // 2  # node (0, G/2, G/2): one boundary face; node 0: three
    np.testing.assert_allclose(delta[0, 0], -3 / (h**2 * (1 + 1j * kappa[0, 0, 0] * h)))
    np.testing.assert_allclose(delta[face, face], -1 / (h**2 * (1 + 1j * kappa[0, 5, 5] * h)))
    assert (q.A - q.A.T).nnz == 0 and q.symmetric is False and q.positive_definite is False
    assert np.all(delta.diagonal().imag >= 0) and delta.diagonal().imag.max() > 0


@pytest.mark.parametrize("bad", [{"name": "darcyy"}, {"grid": 1}, {"seed": -1},
                                 {"name": "helmholtz", "kh": -0.1}, {"length_scale": 0.0},
                                 {"dim": 4}, {"name": "helmholtz", "boundary": "pml"},
                                 {"name": "thermal", "velocity": (1.0, 2.0, 3.0)}])
def test_bad_arguments_say_what_is_wrong(bad):
    args = {"name": "darcy", "grid": 8, **bad}
    with pytest.raises(ValueError, match="darcyy|grid|seed|kh|length_scale|dim|boundary|velo"):
        fam = family(args.pop("name"), args.pop("grid"), **args)
        fam.sample(0)
    with pytest.raises(IndexError):
        family("darcy", 8).parameters(-1)
