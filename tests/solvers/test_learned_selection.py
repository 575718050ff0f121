"""Learned selection (``Solver(learn=True)``, :mod:`solvers.selection`, :mod:`solvers.learned`)
and the default Solver's reuse rule (:mod:`solvers.reuse`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

import operators
from solvers import Solver, solve
from solvers.errors import InvalidOptionError
from solvers.reuse import ReuseRule, factor_estimate
from solvers.selection import Arm, Learner


def _play(learner: Learner, costs, steps: int, context: str = "cold") -> list[str]:
    """Drive a learner with injected costs ``costs(t)[label]``; the labels it chose."""
    chosen = []
    for t in range(steps):
        decision = learner.choose({a: context for a in learner.arms})
        label = decision.arm.label()
        learner.observe(label, context, costs(t)[label], True)
        chosen.append(label)
    return chosen


def test_learner_converges_to_the_cheapest_arm_with_known_costs():
    learner = Learner(["cg+amg", "direct", "gmres+ilu"], seed=0, explore=0.05)
    chosen = _play(learner, lambda t: {"cg+amg": 3.0, "direct": 1.0, "gmres+ilu": 2.0}, 200)
    assert chosen[:3] == ["cg+amg", "direct", "gmres+ilu"]  # auto's choice, then each once
    assert chosen[-100:].count("direct") >= 90
    assert learner.estimate("direct", "cold") == pytest.approx(1.0)


def test_learner_switches_when_the_regime_changes():
    learner = Learner(["a", "b", "c"], seed=1, explore=0.0)

    def costs(t):
        return {"a": 1.0 if t < 30 else 5.0, "b": 2.0, "c": 3.0 if t < 30 else 0.5}

    chosen = _play(learner, costs, 60)
    assert chosen[10:30] == ["a"] * 20
    assert chosen[-10:] == ["b"] * 10  # a got dear; b is the cheapest it knows
    learner.explore = 0.2  # exploring finds that c became cheaper still
    chosen = _play(learner, lambda t: costs(t + 60), 80)
    assert chosen[-20:].count("c") >= 15


def test_contexts_warm_and_cold_are_estimated_apart():
    learner = Learner(["direct", "cg+amg"], explore=0.0)
    for _ in range(3):
        for arm, ctx, cost in (("direct", "cold", 5.0), ("direct", "warm", 0.1),
                               ("cg+amg", "cold", 1.0), ("cg+amg", "warm", 0.8)):
            learner.observe(arm, ctx, cost, True)
    assert learner.choose({"direct": "warm", "cg+amg": "warm"}).arm == Arm("direct")
    assert learner.choose({"direct": "cold", "cg+amg": "cold"}).arm == Arm("cg", "amg")


def test_a_cut_short_arm_costs_at_least_penalty_times_its_budget():
    learner = Learner(["a", "b"], penalty=2.0)
    learner.observe("a", "cold", 1.0, True)
    decision = learner.choose({"a": "cold", "b": "cold"})
    assert decision.exploring and decision.arm.label() == "b" and decision.budget == 1.0
    learner.observe("b", "cold", 0.01, False, cut=decision.budget)
    assert learner.estimate("b", "cold") == pytest.approx(2.0)
    assert learner.failures["b"] == 0  # a cut is not a failure
    learner.observe("b", "cold", 1.0, False)
    learner.observe("b", "cold", 1.0, False)
    assert learner.usable() == ["a"]


def test_learner_state_round_trips_through_json():
    learner = Learner(["x", "y", "z"], seed=4, explore=0.3)
    _play(learner, lambda t: {"x": 1.0, "y": 2.0, "z": 0.5}, 10)
    copy = Learner.from_dict(json.loads(json.dumps(learner.to_dict())))
    costs = lambda t: {"x": 1.0, "y": 2.0, "z": 0.5}  # noqa: E731
    assert _play(copy, costs, 30) == _play(learner, costs, 30)


def _system(n=30):
    p = operators.poisson((n, n))
    return p


def test_learning_solver_solves_every_system_and_reports_its_choice(tmp_path):
    p = _system()
    s = Solver(learn={"seed": 3}, rtol=1e-8)
    results = [s.solve(p.A, p.b * (1 + k)) for k in range(8)]
    for k, r in enumerate(results):
        x_resid = np.linalg.norm(p.b * (1 + k) - p.A @ r.x)
        assert r.converged and x_resid <= 1e-8 * np.linalg.norm(p.b * (1 + k)) * (1 + 1e-12)
        learned = r.info["auto"]["learned"]
        assert learned["key"] == f"spd:{p.A.shape[0]}" and set(learned["estimates"]) >= {
            "direct", "cg+amg"}
    assert results[0].info["auto"]["why"] == "first call: auto's choice"
    assert any(r.info["auto"]["learned"]["explored"] for r in results)
    # the state carries over, through a file, into a new solver
    persist = pytest.importorskip("sciml.persist")
    path = persist.write_solver_state(tmp_path / "learned.json", results[-1].state)
    again = Solver(learn=True, rtol=1e-8)
    r = again.solve(p.A, p.b, state=persist.read_solver_state(path))
    assert r.converged
    assert r.state["learners"][f"spd:{p.A.shape[0]}"]["step"] == 9


def test_a_non_converging_arm_still_ends_with_the_system_solved():
    p = operators.convection_diffusion((104, 104), (50.0, 20.0), diffusivity=0.01)
    s = Solver(learn={"seed": 0}, rtol=1e-10, maxiter=3)  # every Krylov arm runs out
    failed = []
    for k in range(4):
        r = s.solve(p.A, p.b * (1 + k))
        assert r.converged and r.residual_norm <= r.threshold
        failed += [t["choice"] for t in r.info["auto"]["tried"] if t["reason"] == "maxiter"]
    assert "gmres+ilu" in failed  # auto's choice ran out of iterations; the system was solved
    assert r.method == "direct"


def test_learner_options_are_validated():
    with pytest.raises(InvalidOptionError, match="explore=2"):
        Solver(learn={"explore": 2})
    with pytest.raises(InvalidOptionError, match="unknown learner option 'seeds'"):
        Solver(learn={"seeds": 1})
    with pytest.raises(InvalidOptionError, match="learn must be"):
        Solver(learn="yes")
    with pytest.raises(InvalidOptionError, match="method='auto'"):
        Solver(method="cg", learn=True)
    with pytest.raises(InvalidOptionError, match="learn"):
        solve(sp.identity(3, format="csr"), np.ones(3), learn=True)


# -- the default Solver's reuse rule ---------------------------------------------------------


def test_factor_estimate_is_an_envelope_bound():
    n = 500
    tridiagonal = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n), format="csr")
    flops, entries = factor_estimate(tridiagonal)
    assert flops == pytest.approx(n - 1 + tridiagonal.nnz) and entries == 2 * (n - 1) + n
    grid = operators.poisson((40, 40)).A
    flops2, _ = factor_estimate(grid)
    assert 40**2 * 20**2 < flops2 < 40**2 * 41**2 + grid.nnz  # envelope width <= 41 after RCM


def test_default_solver_factors_a_matrix_that_keeps_coming_back():
    p = operators.poisson((110, 110))  # n = 12,100 > 10,000: auto picks CG + AMG
    s = Solver(rtol=1e-8)
    methods = []
    for k in range(40):
        r = s.solve(p.A, p.b * (1 + 0.01 * k))
        assert r.converged
        methods.append(r.method)
    assert methods[0] == "cg" and methods[-1] == "direct"
    switch = methods.index("direct")
    assert set(methods[switch:]) == {"direct"}
    assert "reusing its LU" in r.info["auto"]["why"] and s.cache.reuse.decided == "direct"
    # a new matrix starts the count again: back to auto's plan
    r = s.solve(p.A * 2.0, p.b)
    assert r.converged and r.method == "cg" and s.cache.reuse.calls == 1


def test_reuse_rule_keeps_iterating_when_the_lu_is_not_cheaper():
    rule = ReuseRule()

    class Result:
        def __init__(self, total, solve=0.0, converged=True):
            self.timings, self.converged = {"total": total, "solve": solve}, converged

    system = operators.poisson((20, 20))
    from solvers.system import as_system

    host = as_system(system.A, system.b)
    for _ in range(3):
        rule.observe(system.A, host, "cg", Result(1.0))
    assert rule.decided == "trial" and rule.hint(system.A) is not None
    rule.observe(system.A, host, "direct", Result(3.0, solve=2.0))
    assert rule.decided == "iterative" and rule.hint(system.A) is None


def test_one_shot_solve_keeps_nothing():
    p = operators.poisson((110, 110))
    for _ in range(2):
        r = solve(p.A, p.b)
        assert r.method == "cg"


def test_learning_solver_on_jax_chooses_among_its_kernels():
    pytest.importorskip("jax")
    p = operators.poisson((16, 16))
    s = Solver(backend="jax", learn={"seed": 0}, rtol=1e-6)
    results = [s.solve(p, p.b * (1 + k)) for k in range(4)]
    assert all(r.converged and r.backend == "jax" for r in results)
    learned = results[-1].info["auto"]["learned"]
    assert set(learned["estimates"]) == {"cg+jacobi", "cg"}
    assert {r.info["auto"]["learned"]["arm"] for r in results} == {"cg+jacobi", "cg"}


def test_a_switch_is_logged_and_monitored(caplog, capsys):
    p = _system(20)
    key = f"spd:{p.A.shape[0]}"
    arms = ["direct", "cg+jacobi", "cg+icc", "cg+amg", "minres"]
    known = {a: {"cold": [1.0, 3], "warm": [1.0, 3]} for a in arms}
    known["direct"] = {"cold": [1e-4, 3], "warm": [1e-5, 3]}
    state = {"kind": "learned-auto", "learners": {key: Learner(arms, explore=0.0, costs=known,
                                                               step=15).to_dict()}}
    s = Solver(learn=True, monitor=True)
    s.learned.load(state)
    s.learned.greedy[key] = "cg+jacobi"  # as if cg+jacobi had been the greedy arm
    with caplog.at_level("INFO", logger="solvers"):
        r = s.solve(p.A, p.b)
    assert r.converged and r.info["auto"]["learned"]["switched_from"] == "cg+jacobi"
    assert "switching from cg+jacobi to direct" in caplog.text
    assert "learned auto: switching from cg+jacobi to direct" in capsys.readouterr().out
