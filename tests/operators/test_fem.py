"""P1 finite elements: matrices, boundary conditions, manufactured-solution convergence."""

from __future__ import annotations

import numpy as np
import pytest

import meshes
import operators
from operators import fem
from solvers import solve
from solvers.errors import InvalidSystemError


def _sin(x):
    return np.prod(np.sin(np.pi * x), axis=1)


def _sin_gradient(x):
    s, c = np.sin(np.pi * x), np.cos(np.pi * x)
    return np.pi * np.column_stack([c[:, 0] * s[:, 1], s[:, 0] * c[:, 1]])


def _orders(errors):
    return np.log2(np.asarray(errors[:-1]) / np.asarray(errors[1:]))


def test_matrices_are_symmetric_and_consistent():
    mesh = meshes.unit_square(6)
    K, M = fem.stiffness(mesh), fem.mass(mesh)
    assert abs(K - K.T).max() < 1e-12 and abs(M - M.T).max() < 1e-14
    np.testing.assert_allclose(K @ np.ones(mesh.n_points), 0.0, atol=1e-12)  # constants
    assert M.sum() == pytest.approx(1.0)  # int 1 = area
    x = mesh.points[:, 0]
    assert x @ K @ x == pytest.approx(1.0)  # int |grad x|^2
    assert fem.mass(meshes.box(2)).sum() == pytest.approx(1.0)


def test_dirichlet_convergence_orders_2d():
    l2, h1 = [], []
    for n in (8, 16, 32):
        mesh = meshes.unit_square(n)
        p = operators.p1_poisson(mesh, lambda x: 2 * np.pi ** 2 * _sin(x))
        assert isinstance(p, operators.Problem) and p.symmetric and p.positive_definite
        u = p.full(solve(p, p.b, rtol=1e-12).x)
        l2.append(fem.l2_error(mesh, u, _sin))
        h1.append(fem.h1_error(mesh, u, _sin_gradient))
    assert np.all((_orders(l2) >= 1.8) & (_orders(l2) <= 2.2)), l2
    assert np.all((_orders(h1) >= 0.9) & (_orders(h1) <= 1.1)), h1


def test_tetrahedra_converge():
    errors = []
    for n in (4, 8):
        mesh = meshes.box(n)
        p = operators.p1_poisson(mesh, lambda x: 3 * np.pi ** 2 * _sin(x))
        errors.append(fem.l2_error(mesh, p.full(solve(p, p.b, rtol=1e-12).x), _sin))
    assert 1.6 <= _orders(errors)[0] <= 2.2


def test_neumann_and_coefficient_converge():
    """u = exp(x) sin(y), a = 2: Dirichlet except on x = 1, where a du/dn = 2 u."""
    exact = lambda x: np.exp(x[:, 0]) * np.sin(x[:, 1])  # noqa: E731
    errors = []
    for n in (8, 16, 32):
        mesh = meshes.unit_square(n)
        p = operators.p1_poisson(mesh, 0.0, coefficient=2.0, dirichlet=exact,
                                 dirichlet_where=lambda x: ~np.isclose(x[:, 0], 1.0),
                                 neumann=lambda x: 2 * exact(x))
        errors.append(fem.l2_error(mesh, p.full(solve(p, p.b, rtol=1e-12).x), exact))
    assert np.all((_orders(errors) >= 1.8) & (_orders(errors) <= 2.2)), errors


def test_pure_neumann_with_reaction():
    exact = lambda x: np.prod(np.cos(np.pi * x), axis=1)  # noqa: E731
    mesh = meshes.unit_square(16)
    p = operators.p1_poisson(mesh, lambda x: (2 * np.pi ** 2 + 1) * exact(x), reaction=1.0,
                             dirichlet_where=lambda x: np.zeros(len(x), bool))
    assert p.params["n_dirichlet"] == 0 and p.n == mesh.n_points
    assert fem.l2_error(mesh, p.full(solve(p, p.b, rtol=1e-12).x), exact) < 0.05


def test_bad_input_raises():
    mesh = meshes.unit_square(3)
    with pytest.raises(InvalidSystemError, match="singular"):
        operators.p1_poisson(mesh, 1.0, dirichlet_where=lambda x: np.zeros(len(x), bool))
    with pytest.raises(InvalidSystemError, match="triangles or tetrahedra"):
        operators.p1_poisson(meshes.unit_square(3, cell_type="quad"))
    with pytest.raises(InvalidSystemError, match="one finite value per mesh point"):
        operators.p1_poisson(mesh, np.ones(3))
    with pytest.raises(InvalidSystemError, match="per cell"):
        fem.stiffness(mesh, np.ones(5))


def test_advection_and_nonlinear_load_are_exact_for_p1_data():
    m = meshes.unit_square(6)
    x, y = m.points.T
    w = np.column_stack([y + 1, 2 - x])
    u = 3 * x - y + 1
    C = fem.advection(m, w)
    M = fem.mass(m)
    assert np.allclose(C @ u, M @ (3 * w[:, 0] - w[:, 1]))   # w . grad u is P1 here
    assert np.allclose(C @ np.ones(m.n_points), 0)
    assert np.allclose(fem.nonlinear_load(m, u, lambda v: 2 * v), M @ (2 * u))
    # int (x)^3 over the unit square = 1/4: exact for a cubic of a P1 field (degree-4 rule)
    assert fem.nonlinear_load(m, x, lambda v: v ** 3).sum() == pytest.approx(0.25, abs=1e-3)
    with pytest.raises(InvalidSystemError, match="velocity"):
        fem.advection(m, w[:, :1])
