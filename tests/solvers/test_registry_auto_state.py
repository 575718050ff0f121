"""The solve pipeline: registry specs resolve, `auto` does not give up, carried state is
explicit and updated once, verdicts are float64 on the caller's system."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import operators
from solvers import Reason, Solver, registry, solve
from solvers.method import Iterate
from solvers.params import Param
from solvers.stationary.sor import SOR

README = Path(__file__).resolve().parents[2] / "README.md"


# --- one spec per method --------------------------------------------------------------------


@pytest.mark.parametrize("entry", registry.entries(), ids=lambda e: f"{e.kind}:{e.name}")
def test_every_declared_backend_resolves(entry: registry.Entry) -> None:
    assert registry.check(entry) == []
    assert entry.backends, f"{entry.name} runs on no backend"
    if "scipy" in entry.backends:
        assert callable(entry.factory)


def test_check_finds_a_broken_spec() -> None:
    broken = registry.Entry("x", "method", None, jax=registry.JaxSpec("solvers.nowhere:cg"),
                            petsc=registry.PetscSpec("no-such-ksp"))
    problems = registry.check(broken)
    assert any("does not resolve" in p for p in problems)


def test_check_finds_a_declared_parameter_nothing_takes() -> None:
    """A declared parameter that neither the factory nor PETSc takes would be accepted and
    then dropped: registry.check reports it."""
    entry = registry.Entry("x", "method", SOR, params=(Param("nope", "int", 1, low=0),))
    assert registry.check(entry) == ["x: declared parameter 'nope' is taken by nothing"]


def _readme_table(header: str) -> dict[str, set[str]]:
    """``{name: backends}`` from the README table whose header starts with ``header``."""
    lines = README.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        for name in re.findall(r"`([^`]+)`", cells[0]):
            rows[name] = {b.strip() for b in cells[1].split(",")}
    return rows


@pytest.mark.parametrize("kind,header", [("method", "| `method=`"), ("pc", "| `pc=`")])
def test_readme_tables_match_the_registry(kind: str, header: str) -> None:
    table = _readme_table(header)
    table.pop("auto", None)
    registered = {n: set(registry.lookup(n, kind).backends) for n in registry.names(kind)
                  if not n.startswith("test-")}
    assert table == registered


# --- auto that does not give up ------------------------------------------------------------


def test_auto_falls_back_from_cg_on_a_symmetric_indefinite_matrix() -> None:
    """Symmetric, positive diagonal, indefinite, n > 10,000 (the review's FEM Helmholtz
    case): CG+AMG breaks down, auto goes on to a direct solve and says so."""
    p = operators.helmholtz((127, 127), k=20.0)
    A = sp.csr_matrix(p.A)  # a plain matrix: no tags, only the numerical symmetric test
    assert A.diagonal().min() > 0 and p.n > 10_000
    res = solve(A, p.b, rtol=1e-8)
    assert res.converged
    auto = res.info["auto"]
    assert auto["chose"] == "direct" and auto["tried"][0]["choice"] == "cg+amg"
    assert auto["tried"][0]["reason"] in ("indefinite_mat", "indefinite_pc", "breakdown")
    assert "auto='direct'" in repr(res)
    with_tags = solve(p, p.b, rtol=1e-8)  # tagged indefinite: direct first, nothing tried
    assert with_tags.converged and with_tags.info["auto"]["tried"] == []


def test_auto_says_what_it_chose_and_why() -> None:
    p = operators.poisson((120, 120))
    res = solve(p, p.b)
    assert res.converged and res.info["auto"]["chose"] == "cg+amg"
    assert "SPD" in res.info["auto"]["why"]
    small = operators.convection_diffusion((20, 20), velocity=(5.0, 1.0))
    assert solve(small, small.b).info["auto"]["chose"] == "direct"


# --- explicit carried state, updated once ----------------------------------------------------


class _Counting:
    """A stateful method whose first run claims convergence too early (to force a
    refinement restart); its state counts runs and hook calls."""

    carries_state = True
    requires_symmetric = False

    def __init__(self) -> None:
        self.sor = SOR(1.0)

    def initial_state(self) -> dict:
        return {"rounds": 0, "runs": 0}

    def setup(self, system):
        self.sor.setup(system)

    def before_solve(self, system, stop, state):
        return {**state, "rounds": state["rounds"] + 1}

    def solve(self, system, b, x0, M, stop, callback=None, state=None):
        it = self.sor.solve(system, b, x0, None, stop, callback)
        state = {**state, "runs": state["runs"] + 1}
        if state["runs"] == 1:  # over-confident first run
            return Iterate(it.x * 0.5, it.iterations, it.residuals, Reason.RTOL, state=state)
        return Iterate(it.x, it.iterations, it.residuals, it.reason, state=state)

    def after_solve(self, result, state):
        return {**state, "last_converged": result.converged}


def test_state_goes_in_and_out_and_a_restart_updates_it_once() -> None:
    registry.register("test-counting", _Counting, "method", replace=True)
    p = operators.poisson((8, 8))
    s = Solver(method="test-counting", rtol=1e-8, maxiter=5000)
    res = s.solve(p, p.b)
    assert res.converged and res.info["method"] == "test-counting"
    assert res.state == {"rounds": 1, "runs": 2, "last_converged": True}  # one round, 2 runs
    assert s.states[("method", "test-counting")] is res.state
    again = s.solve(p, p.b)
    assert again.state["rounds"] == 2
    fresh = s.solve(p, p.b, state={"rounds": 10, "runs": 0})  # SciPy's CU= style
    assert fresh.state["rounds"] == 11 and s.states[("method", "test-counting")] is fresh.state


# --- precision-honest verdicts --------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_single_precision_never_claims_an_unreachable_tolerance(dtype) -> None:
    A = np.diag([3.0, 7.0]).astype(dtype)
    b = np.ones(2, dtype)
    res = solve(A, b, method="cg", rtol=1e-14)
    r64 = np.linalg.norm(np.ones(2) - np.diag([3.0, 7.0]) @ res.x.astype(np.complex128))
    assert res.residual_norm == pytest.approx(r64)
    assert not res.converged and res.reason == Reason.PRECISION
    assert "float64" in res.reason.message and res.info["dtype"] == np.dtype(dtype).name
    assert solve(A, b, method="cg", rtol=1e-5).converged  # reachable: converged honestly
