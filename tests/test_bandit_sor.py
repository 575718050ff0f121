"""Bandit-tuned SOR/SSOR through ``solve``/``Solver``: correctness, learning, persistence, errors.

The bandit algorithms themselves (regret on synthetic cost tables) are tested in
``test_bandits.py``; this file tests their use as ``method="bandit-sor"`` and
``pc="bandit-ssor"``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import operators
from sciml.bandits import BinnedContextualBandit, ChebCB, TsallisINF
from sciml.bandits.omega import DEFAULT_OMEGAS, OmegaBandit
from sciml.bandits.sor import BanditSOR, BanditSSOR
from sciml.bandits.tuning import best_fixed_omega, cost_table
from solvers import Solver, registry, solve
from solvers.errors import InvalidOptionError, InvalidSystemError
from solvers.system import as_system

RTOL = 1e-8
SEED = 0


@pytest.fixture(scope="module")
def sequence() -> list[operators.Problem]:
    """200 shifted 10 x 10 Laplacians, the setting of Khodak et al. (n = 100)."""
    return operators.shifted_laplacian_sequence(200, seed=SEED)


def _exact(p: operators.Problem) -> np.ndarray:
    return spla.spsolve(p.A.tocsc(), p.b)


def _run(solver: Solver, problems: list[operators.Problem]) -> list[int]:
    return [solver.solve(p, p.b).iterations for p in problems]


# ------------------------------------------------------------------ registration, one step
def test_names_are_registered_through_entry_points():
    assert "bandit-sor" in registry.names("method")
    assert "bandit-ssor" in registry.names("pc")


@pytest.mark.parametrize(("method", "pc"), [("bandit-sor", None), ("cg", "bandit-ssor"),
                                            ("gmres", "bandit-ssor")])
def test_plain_solve_runs_one_step_and_matches_direct(sequence, method, pc):
    p = sequence[0]
    res = solve(p, p.b, method, pc, rtol=RTOL)
    assert res.converged and res.residual_norm <= RTOL * np.linalg.norm(p.b)
    exact = _exact(p)
    assert np.linalg.norm(res.x - exact) <= 1e4 * RTOL * np.linalg.norm(exact)
    if pc is None:
        assert res.info["omega"] in DEFAULT_OMEGAS and res.info["loss"] == res.iterations / 1000


def test_bandit_sor_solves_non_problem_input_and_warm_starts(sequence):
    p = sequence[1]
    s = Solver(method="bandit-sor", rtol=RTOL, omegas=[1.5])
    cold = s.solve(p.A, p.b)
    warm = s.solve(p.A, p.b, x0=cold.x)
    assert cold.converged and warm.converged and warm.iterations == 0


def test_ssor_operator_is_the_ssor_inverse_of_the_drawn_omega(sequence):
    p = sequence[2]
    pc = BanditSSOR(omegas=[1.2, 1.7], seed=3)
    system = as_system(p, p.b)
    op = pc.setup(system)
    pc.before_solve(system, Solver(rtol=RTOL).stop)
    omega = pc.omega
    A = p.A.toarray()
    D, L, U = np.diag(np.diag(A)), np.tril(A, -1), np.triu(A, 1)
    # textbook SSOR: M = (D + w L) D^{-1} (D + w U) / (w (2 - w))
    M = (D + omega * L) @ np.linalg.solve(D, D + omega * U) / (omega * (2 - omega))
    r = np.random.default_rng(SEED).standard_normal(p.n)
    np.testing.assert_allclose(op.matvec(r), np.linalg.solve(M, r), rtol=1e-10)


def test_bandit_sor_matches_plain_sor_for_the_same_omega(sequence):
    s = Solver(method="bandit-sor", rtol=RTOL, seed=1)
    for p in sequence[:5]:
        res = s.solve(p, p.b)
        ref = solve(p, p.b, "sor", rtol=RTOL, omega=res.info["omega"])
        assert res.iterations == ref.iterations
        np.testing.assert_array_equal(res.x, ref.x)


# ------------------------------------------------------------------ learning across a sequence
@pytest.mark.parametrize("cost_scale", ["maxiter", "mean"])
def test_sequence_beats_gauss_seidel(sequence, cost_scale):
    bandit = Solver(method="bandit-sor", rtol=RTOL, seed=SEED, cost_scale=cost_scale)
    gauss_seidel = Solver(method="sor", rtol=RTOL, omega=1.0)
    ours, gs = sum(_run(bandit, sequence)), sum(_run(gauss_seidel, sequence))
    assert ours < 0.6 * gs, (ours, gs)
    learner = bandit.component("method", "bandit-sor")
    assert learner.bandit.t == len(sequence) and len(learner.records) == len(sequence)
    p = learner.probabilities()
    # the learner moved its weight towards the fast omegas (1.4 .. 1.8) on this sequence
    fast = (learner.omegas >= 1.4) & (learner.omegas <= 1.8)
    assert p[fast].sum() > fast.mean() + 0.1, p


@pytest.mark.parametrize("options", [{}, {"context": "shift", "bins": (-0.15, 0.45, 4)},
                                     {"contextual": "chebcb", "bins": (-0.15, 0.45, 1)}])
def test_save_load_continues_identically(sequence, tmp_path, options):
    problems, half = sequence[:40], 20
    whole = Solver(method="bandit-sor", rtol=RTOL, seed=7, **options)
    _run(whole, problems)
    first = Solver(method="bandit-sor", rtol=RTOL, seed=7, **options)
    _run(first, problems[:half])
    path = tmp_path / "bandit.json"
    first.component("method", "bandit-sor").save(path)
    second = Solver(method="bandit-sor", rtol=RTOL, seed=7, resume=path, **options)
    _run(second, problems[half:])
    a, b = whole.component("method", "bandit-sor"), second.component("method", "bandit-sor")
    np.testing.assert_array_equal(a.chosen_omegas, b.chosen_omegas)
    np.testing.assert_array_equal(a.iterations, b.iterations)
    assert a.state_dict() == b.state_dict()


def test_load_refuses_other_options(sequence, tmp_path):
    s = Solver(method="bandit-sor", rtol=RTOL)
    _run(s, sequence[:3])
    path = tmp_path / "state.json"
    s.component("method", "bandit-sor").save(path)
    with pytest.raises(InvalidOptionError, match="omegas"):
        BanditSOR(omegas=[1.0, 1.5], resume=path)
    with pytest.raises(InvalidOptionError, match="no bandit state file"):
        BanditSOR(resume=tmp_path / "missing.json")


def test_bandit_ssor_inside_cg_updates_its_bandit(sequence):
    s = Solver(method="cg", pc="bandit-ssor", rtol=RTOL, seed=2)
    results = [s.solve(p, p.b) for p in sequence[:30]]
    assert all(r.converged for r in results)
    pc = s.component("pc", "bandit-ssor")
    assert pc.bandit.t == 30 and pc.pending is None
    assert [r["iterations"] for r in pc.records] == [r.iterations for r in results]
    assert len(set(pc.chosen_omegas)) > 1
    # the cached operator really applied the omega drawn for each solve
    for p, r, omega in zip(sequence[:3], results, pc.chosen_omegas, strict=False):
        assert r.iterations == solve(p, p.b, "cg", "ssor", rtol=RTOL, omega=omega).iterations


def test_contextual_variants_read_the_context(sequence):
    shifts = [p.params["shift"] for p in sequence[:20]]
    binned = Solver(method="bandit-sor", rtol=RTOL, context="shift", bins=(-0.15, 0.45, 4))
    cheb = Solver(method="bandit-sor", rtol=RTOL, contextual="chebcb", bins=[-0.15, 0.45])
    by_callable = Solver(method="bandit-sor", rtol=RTOL, bins=(3.8, 4.5, 3),
                         context=lambda p: float(p.A.diagonal().mean()))
    for s in (binned, cheb, by_callable):
        assert all(r.converged for r in (s.solve(p, p.b) for p in sequence[:20]))
    b = binned.component("method", "bandit-sor")
    assert isinstance(b.bandit, BinnedContextualBandit)
    assert [r["context"] for r in b.records] == shifts
    assert b.probabilities(0.1).shape == DEFAULT_OMEGAS.shape
    assert isinstance(cheb.component("method", "bandit-sor").bandit, ChebCB)
    contexts = [r["context"] for r in by_callable.component("method", "bandit-sor").records]
    np.testing.assert_allclose(contexts, np.array(shifts) + 4.0)


def test_failed_solves_cost_a_loss_of_one(sequence):
    p = sequence[3]
    s = Solver(method="bandit-sor", rtol=RTOL, maxiter=5)
    res = s.solve(p, p.b)
    assert not res.converged and s.component("method", "bandit-sor").records[-1]["loss"] == 1.0
    # SOR on an indefinite matrix diverges: reason diverged_*, loss 1
    A = sp.csr_matrix(np.array([[1.0, 3.0], [3.0, 1.0]]))
    s = Solver(method="bandit-sor", omegas=[1.5], cost_scale="mean")
    res = s.solve(A, np.ones(2))
    assert res.reason.value.startswith("diverged")
    assert s.component("method", "bandit-sor").records[-1]["loss"] == 1.0


def test_cost_table_and_best_fixed_omega(sequence):
    omegas = [1.0, 1.3, 1.6, 1.9]
    omega, table = best_fixed_omega(sequence[:6], omegas, rtol=RTOL)
    expected = np.array([[solve(p, p.b, "sor", rtol=RTOL, omega=w).iterations for w in omegas]
                         for p in sequence[:6]])
    np.testing.assert_array_equal(table.iterations, expected)
    assert omega == omegas[int(np.argmin(expected.sum(0)))]
    np.testing.assert_array_equal(table.instance_optimal, expected.argmin(1))
    iters, seconds = table.pick(table.instance_optimal)
    assert iters.sum() == expected.min(1).sum() and np.all(seconds > 0)
    pcg = cost_table([(p.A, p.b) for p in sequence[:2]], [1.2], method="cg", pc="ssor")
    assert pcg.converged.all()


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("omegas", [[], [0.0, 1.0], [1.0, 2.0], [1.0, float("nan")],
                                    [[1.0, 1.5]], "fast", [1.2, 1.2], [-0.5]])
def test_bad_omega_grid(sequence, omegas):
    with pytest.raises(InvalidOptionError, match="omega"):
        BanditSOR(omegas=omegas)
    p = sequence[0]
    with pytest.raises(InvalidOptionError, match="omega"):
        solve(p, p.b, "cg", "bandit-ssor", omegas=omegas)


@pytest.mark.parametrize(("options", "match"), [
    ({"context": "shift"}, "bins"),
    ({"context": "shift", "bins": (0.5, 0.1, 3)}, "bins"),
    ({"context": "shift", "bins": [0.3]}, "bins"),
    ({"bins": (0.0, 1.0, 3)}, "context"),
    ({"context": "shift", "contextual": False}, "contextual"),
    ({"contextual": "ucb"}, "contextual"),
    ({"context": 3.0, "bins": (0.0, 1.0, 2)}, "context"),
    ({"cost_scale": 0}, "cost_scale"),
    ({"cost_scale": "max"}, "cost_scale"),
    ({"seed": -1}, "seed"),
    ({"learner_options": {"eta": 1.0}}, "eta"),
])
def test_bad_options(options, match):
    with pytest.raises(InvalidOptionError, match=match):
        OmegaBandit(**options)


def test_bad_context_at_solve_time(sequence):
    p = sequence[0]
    with pytest.raises(InvalidOptionError, match="names a parameter"):
        solve(p.A, p.b, "bandit-sor", context="shift", bins=(0.0, 1.0, 2))
    with pytest.raises(InvalidOptionError, match="finite real"):
        solve(p, p.b, "bandit-sor", context=lambda p: float("nan"), bins=(0.0, 1.0, 2))


def test_matrix_free_input_is_refused(sequence):
    p = sequence[0]
    with pytest.raises(InvalidSystemError, match="assembled matrix"):
        solve(spla.aslinearoperator(p.A), p.b, "bandit-sor")


def test_tsallis_state_is_inspectable(sequence):
    s = Solver(method="bandit-sor", rtol=RTOL, omegas=[1.0, 1.5, 1.9])
    _run(s, sequence[:5])
    b = s.component("method", "bandit-sor")
    assert isinstance(b.bandit, TsallisINF) and len(b.bandit.history) == 5
    assert b.best_omega() in (1.0, 1.5, 1.9) and "rounds=5" in repr(b)
