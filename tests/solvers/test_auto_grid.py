"""``solve(p)`` on a grid problem (issue 28): an SPD stencil problem goes to JAX CG + black-box
multigrid when JAX is installed and the problem is large enough, else to the host (pyamg),
and ``info["auto"]["why"]`` says which and why. Small grids: the size threshold is lowered
by monkeypatching :data:`solvers.auto.AUTO_JAX_MIN_N`.
"""

from __future__ import annotations

import numpy as np
import pytest

import operators
from operators import contrast
from solvers import auto, backends, solve
from solvers.system import STENCIL_KINDS


@pytest.fixture
def low_threshold(monkeypatch):
    monkeypatch.setattr(auto, "AUTO_JAX_MIN_N", 1000)


def _checkerboard() -> operators.GridProblem:
    return operators.diffusion(contrast.checkerboard(64, 1e4))


def test_an_spd_grid_problem_goes_to_jax_multigrid(low_threshold) -> None:
    p = _checkerboard()
    res = solve(p, p.b, rtol=1e-8)
    assert res.info["backend"] == "jax" and res.info["auto"]["chose"] == "cg+mg"
    assert "multigrid" in res.info["auto"]["why"] and res.converged and res.iterations <= 16
    assert np.linalg.norm(p.b - p.A @ res.x) <= 1e-8 * np.linalg.norm(p.b)  # float64 verdict


def test_without_jax_it_stays_on_the_host_and_says_why(low_threshold, monkeypatch) -> None:
    monkeypatch.setattr(auto, "jax_installed", lambda: False)
    p = operators.diffusion(contrast.disk(104, 1e2))
    res = solve(p, p.b, rtol=1e-8)
    assert res.info["backend"] == "scipy" and res.info["auto"]["chose"] == "cg+amg"
    assert "JAX is not installed" in res.info["auto"]["why"] and res.converged


def test_small_grids_named_pcs_and_methods_stay_on_the_host() -> None:
    p = operators.poisson((104, 104))  # n = 10816 <= AUTO_JAX_MIN_N
    res = solve(p, p.b, rtol=1e-8)
    assert res.info["backend"] == "scipy" and "n <= " in res.info["auto"]["why"]
    request_amg = solve(p, p.b, pc="amg", rtol=1e-8)
    assert request_amg.info["backend"] == "scipy"


def test_explicit_choices_are_not_rerouted(low_threshold) -> None:
    p = _checkerboard()
    assert solve(p, p.b, method="cg", rtol=1e-8).info["backend"] == "scipy"
    assert solve(p, p.b, pc="amg", rtol=1e-8).info["backend"] == "scipy"
    helmholtz = operators.helmholtz((64, 64), 5.0)  # no stencil, not SPD
    assert solve(helmholtz, helmholtz.b).info["backend"] == "scipy"


def test_the_jax_plan_falls_back_from_multigrid(low_threshold) -> None:
    facts = auto.Facts(10**6, True, True, True, True, stencil=True)
    plan = auto.plan(facts, "jax")
    assert [c.label() for c in plan[:2]] == ["cg+mg", "cg+jacobi"]
    assert auto.plan(facts, "scipy")[0].label() == "cg+amg"
    p = _checkerboard()
    res = solve(p, p.b, rtol=1e-8, maxiter=3)
    assert res.info["backend"] == "jax" and not res.converged
    assert [t["choice"] for t in res.info["auto"]["tried"]][:1] == ["cg+mg"]


def test_stencil_kinds_agree_with_the_stencils() -> None:
    from operators.stencils import STENCILS

    assert set(STENCIL_KINDS) == set(STENCILS)
    assert backends.detect(operators.poisson((8, 8)), np.ones(64)) == "scipy"
