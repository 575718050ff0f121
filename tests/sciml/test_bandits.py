"""Tests for sciml.bandits' learners (½-Tsallis-INF, binned contextual, ChebCB) and helpers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sciml.bandits import (
    BanditError,
    BinnedContextualBandit,
    ChebCB,
    CostNormaliser,
    TsallisINF,
    UnimodalBandit,
    best_fixed_arm,
    bin_edges,
    cumulative_regret,
    instance_optimal,
    inverse_gap_weighting,
    tsallis_probabilities,
)
from solvers.errors import InvalidOptionError

K, T, BEST = 20, 5000, 7


def stochastic_table(seed: int, n_rounds: int = T, n_arms: int = K, best: int = BEST):
    """Costs in [0, 1]: arm means spread over [0.3, 0.8], arm ``best`` at 0.1; noise 0.1."""
    rng = np.random.default_rng(seed)
    means = np.linspace(0.3, 0.8, n_arms)
    means[best] = 0.1
    return np.clip(means + 0.1 * rng.standard_normal((n_rounds, n_arms)), 0.0, 1.0)


def play(bandit: TsallisINF, table: np.ndarray, check_probs: bool = False) -> np.ndarray:
    arms = np.empty(table.shape[0], dtype=int)
    for t in range(table.shape[0]):
        if check_probs:
            p = bandit.probabilities()
            assert np.all(p >= 0) and math.isclose(p.sum(), 1.0, abs_tol=1e-12)
        a = bandit.select()
        bandit.update(a, float(table[t, a]))
        arms[t] = a
    return arms


def assert_valid_distribution(p: np.ndarray, n: int) -> None:
    assert p.shape == (n,)
    assert np.all(np.isfinite(p)) and np.all(p >= 0)
    assert math.isclose(p.sum(), 1.0, rel_tol=0, abs_tol=1e-12)


# --------------------------------------------------------------------------- Tsallis-INF
@pytest.mark.parametrize("seed", [0, 1])
def test_tsallis_concentrates_on_best_arm_with_sublinear_regret(seed):
    table = stochastic_table(seed)
    assert best_fixed_arm(table) == BEST
    bandit = TsallisINF(K, seed=seed + 100)
    arms = play(bandit, table, check_probs=True)

    assert bandit.probabilities()[BEST] > 0.9, f"seed={seed}: p={bandit.probabilities()}"
    assert np.mean(arms[-1000:] == BEST) > 0.85, f"seed={seed}"
    regret = cumulative_regret(table, arms)
    assert regret[-1] < 0.1 * T, f"seed={seed}: regret {regret[-1]:.1f}"
    # sublinear: the average regret falls, and the second half adds less than the first
    avg = regret / np.arange(1, T + 1)
    assert avg[-1] < 0.5 * avg[T // 10 - 1], f"seed={seed}: {avg[T // 10 - 1]} -> {avg[-1]}"
    assert regret[-1] - regret[T // 2 - 1] < regret[T // 2 - 1], f"seed={seed}"


def test_tsallis_adversarial_switch_recovers():
    """Best arm changes from 0 to 1 after 1/4 of the rounds; the learner follows the leader."""
    n = 2000
    table = np.full((n, 4), 0.8)
    table[: n // 4, 0] = 0.0
    table[n // 4 :, 1] = 0.0
    bandit = TsallisINF(4, seed=5)
    arms = play(bandit, table)
    assert best_fixed_arm(table) == 1
    assert bandit.probabilities().argmax() == 1
    assert cumulative_regret(table, arms)[-1] < 0.25 * n


def test_tsallis_initial_state_and_learning_rate():
    bandit = TsallisINF(5, seed=0, eta_scale=3.0)
    np.testing.assert_allclose(bandit.probabilities(), np.full(5, 0.2))
    assert bandit.eta == 3.0 and bandit.t == 0
    a = bandit.select()
    np.testing.assert_allclose(bandit.probabilities(), np.full(5, 0.2))  # select changes nothing
    bandit.update(a, 1.0)
    assert bandit.t == 1 and math.isclose(bandit.eta, 3.0 / math.sqrt(2))
    assert bandit.history == [(a, 1.0)]
    expected = np.zeros(5)
    expected[a] = 1.0 / 0.2  # importance-weighted estimate
    np.testing.assert_allclose(bandit.cumulative_loss_estimates, expected)
    assert bandit.probabilities()[a] < 0.2


def test_single_arm():
    bandit = TsallisINF(1, seed=0)
    for loss in (0.0, 0.5, 1.0):
        assert bandit.select() == 0
        bandit.update(0, loss)
    np.testing.assert_array_equal(bandit.probabilities(), [1.0])


def test_same_seed_same_run_different_seed_different_run():
    table = stochastic_table(3, n_rounds=300)
    a1 = play(TsallisINF(K, seed=11), table)
    a2 = play(TsallisINF(K, seed=11), table)
    a3 = play(TsallisINF(K, seed=12), table)
    np.testing.assert_array_equal(a1, a2)
    assert not np.array_equal(a1, a3)


@settings(max_examples=200, deadline=None)
@given(
    cum=st.lists(st.floats(min_value=0.0, max_value=1e6, allow_nan=False), min_size=1, max_size=50),
    eta=st.floats(min_value=1e-3, max_value=10.0),
)
def test_tsallis_probabilities_solve_the_normalisation(cum, eta):
    L = np.asarray(cum)
    p = tsallis_probabilities(L, eta)
    assert_valid_distribution(p, L.size)
    # p_i = 4 / (eta (L_i - x))^2 with one common x  <=>  L_i - 2 / (eta sqrt(p_i)) = x
    pos = p > 1e-200
    x = L[pos] - 2.0 / (eta * np.sqrt(p[pos]))
    scale = 1.0 + np.abs(L).max() + 2.0 / (eta * math.sqrt(p.max()))
    assert np.ptp(x) <= 1e-9 * scale
    assert np.all(x < L[pos].min())
    # smaller cumulative loss -> at least as much probability
    order = np.argsort(L, kind="stable")
    assert np.all(np.diff(p[order]) <= 1e-15)


@settings(max_examples=50, deadline=None)
@given(
    losses=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=200),
    n_arms=st.integers(min_value=1, max_value=12),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_tsallis_fuzzed_losses_keep_a_valid_distribution(losses, n_arms, seed):
    bandit = TsallisINF(n_arms, seed=seed)
    for loss in losses:
        a = bandit.select()
        assert 0 <= a < n_arms
        bandit.update(a, loss)
        assert_valid_distribution(bandit.probabilities(), n_arms)
    assert bandit.t == len(losses)
    assert [ell for _, ell in bandit.history] == losses
    assert np.all(bandit.cumulative_loss_estimates >= 0)
    json.dumps(bandit.state_dict())


def roundtrip(learner):
    """``type(learner).from_state`` of its state dict after a JSON round trip."""
    return type(learner).from_state(json.loads(json.dumps(learner.state_dict())))


def test_tsallis_state_dict_round_trip_continues_identically():
    table = stochastic_table(4, n_rounds=800)
    reference = TsallisINF(K, seed=9)
    ref_arms = play(reference, table)

    first = TsallisINF(K, seed=9)
    arms_a = play(first, table[:300])
    resumed = roundtrip(first)
    assert resumed.state_dict() == first.state_dict()
    arms_b = play(resumed, table[300:])

    np.testing.assert_array_equal(np.concatenate([arms_a, arms_b]), ref_arms)
    np.testing.assert_array_equal(resumed.probabilities(), reference.probabilities())
    assert resumed.history == reference.history
    assert resumed.state_dict() == reference.state_dict()


def test_tsallis_saved_between_select_and_update_continues_identically():
    """Nothing is pending inside a learner: update recomputes the probability of the arm."""
    reference = TsallisINF(6, seed=2)
    other = TsallisINF(6, seed=2)
    for _ in range(50):
        a, b = reference.select(), other.select()
        assert a == b
        reference.update(a, a / 6)
        other = roundtrip(other)  # saved between select and update
        other.update(b, b / 6)
    assert other.state_dict() == reference.state_dict()


def test_state_dict_is_plain_json():
    bandit = TsallisINF(3, seed=1)
    play(bandit, np.full((10, 3), 0.5))
    d = bandit.state_dict()
    assert json.loads(json.dumps(d)) == d
    assert TsallisINF.from_state(json.loads(json.dumps(d))).state_dict() == d


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("loss", [-0.1, 1.5, float("nan"), float("inf"), "0.5", None, True])
def test_update_rejects_bad_loss(loss):
    bandit = TsallisINF(3, seed=0)
    a = bandit.select()
    with pytest.raises(BanditError, match=r"loss must be .*\[0, 1\].*CostNormaliser"):
        bandit.update(a, loss)
    assert bandit.t == 0 and not bandit.cumulative_loss_estimates.any()  # nothing changed
    bandit.update(a, 0.5)
    assert bandit.t == 1


@pytest.mark.parametrize("n_arms", [0, -3, 2.5, "4", None, True])
def test_rejects_bad_n_arms(n_arms):
    with pytest.raises(BanditError, match="n_arms must be an integer >= 1"):
        TsallisINF(n_arms, seed=0)
    with pytest.raises(InvalidOptionError, match="n_arms must be an integer >= 1"):
        BinnedContextualBandit(n_arms, (0.0, 1.0, 2), seed=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"seed": 1.5}, "seed must be an integer >= 0"),
        ({"seed": 0, "eta_scale": 0.0}, "eta_scale must be a finite positive number"),
        ({"seed": 0, "eta_scale": float("inf")}, "eta_scale must be a finite positive number"),
    ],
)
def test_rejects_bad_seed_and_eta_scale(kwargs, match):
    with pytest.raises(BanditError, match=match):
        TsallisINF(3, **kwargs)


@pytest.mark.parametrize("arm", [-1, 3, 1.0, "0", None, True])
def test_update_rejects_an_arm_out_of_range(arm):
    bandit = TsallisINF(3, seed=0)
    with pytest.raises(BanditError, match=r"arm must be an integer in \[0, 2\]"):
        bandit.update(arm, 0.5)
    assert bandit.t == 0


def test_from_state_rejects_foreign_or_inconsistent_dict():
    with pytest.raises(BanditError, match="not a TsallisINF state dict"):
        TsallisINF.from_state({"kind": "Other"})
    with pytest.raises(BanditError, match="not a TsallisINF state dict"):
        TsallisINF.from_state([1, 2])
    d = TsallisINF(2, seed=0).state_dict()
    d["cum_loss"] = [0.0, 0.0, 0.0]
    with pytest.raises(BanditError, match=r"cum_loss has shape \(3,\), expected \(2,\)"):
        TsallisINF.from_state(d)


# --------------------------------------------------------------------------- contextual
def contextual_table(seed: int, n_rounds: int):
    """Contexts uniform on [0, 1]; best arm 2 for c < 0.5 and 15 for c >= 0.5."""
    rng = np.random.default_rng(seed)
    contexts = rng.uniform(0.0, 1.0, n_rounds)
    means = np.full((n_rounds, K), 0.6)
    means[contexts < 0.5, 2] = 0.1
    means[contexts >= 0.5, 15] = 0.1
    costs = np.clip(means + 0.1 * rng.standard_normal((n_rounds, K)), 0.0, 1.0)
    return contexts, costs


def play_contextual(cb, contexts, costs) -> np.ndarray:
    """Play a contextual learner (binned or ChebCB) on ``costs`` with ``contexts``."""
    arms = np.empty(len(contexts), dtype=int)
    for t, c in enumerate(contexts):
        a = cb.select(float(c))
        cb.update(a, float(costs[t, a]), float(c))
        arms[t] = a
    return arms


def test_contextual_learns_different_best_arms_per_bin():
    contexts, costs = contextual_table(0, 6000)
    # bandit seeds differ from the table's: default_rng(0).random() would *be* the contexts
    cb = BinnedContextualBandit(K, (0.0, 1.0, 4), seed=21)
    arms = play_contextual(cb, contexts, costs)
    assert cb.n_bins == 4 and sorted(cb.learners) == [0, 1, 2, 3]
    for c, best in [(0.1, 2), (0.4, 2), (0.6, 15), (0.9, 15)]:
        assert cb.best_arm(c) == best, f"context {c}: p={cb.probabilities(c)}"
        assert cb.probabilities(c)[best] > 0.8
    # it beats the best fixed arm by a wide margin and approaches the instance-optimal policy
    n = len(contexts)
    fixed = cumulative_regret(costs, arms, comparator="fixed")[-1]
    inst_curve = cumulative_regret(costs, arms, comparator="instance")
    inst = inst_curve[-1]
    assert fixed < -0.1 * n
    assert inst < 0.15 * n
    assert inst - inst_curve[n // 2 - 1] < 0.5 * inst_curve[n // 2 - 1]  # sublinear
    # a plain Tsallis-INF cannot do both
    plain = play(TsallisINF(K, seed=22), costs)
    assert cumulative_regret(costs, plain, comparator="instance")[-1] > 2 * inst
    assert len(cb.history) == len(contexts) and cb.history[0][0] == contexts[0]


def test_contextual_bins_are_independent_of_visit_order():
    cb1 = BinnedContextualBandit(5, [0.0, 1.0, 2.0, 3.0], seed=4)
    cb2 = BinnedContextualBandit(5, [0.0, 1.0, 2.0, 3.0], seed=4)
    a1 = cb1.select(0.5)
    cb1.update(a1, 0.3, 0.5)
    a_other = cb2.select(2.5)  # cb2 visits another bin first
    cb2.update(a_other, 0.3, 2.5)
    a2 = cb2.select(0.5)
    assert a2 == a1
    cb2.update(a2, 0.3, 0.5)
    assert cb1.learners[0].state_dict() == cb2.learners[0].state_dict()
    assert cb1.learners[0].seed != cb2.learners[2].seed


def test_contextual_bin_index_and_clipping():
    cb = BinnedContextualBandit(3, [0.0, 0.1, 1.0], seed=0)
    assert cb.bin_index(-5.0) == 0
    assert cb.bin_index(0.0) == 0
    assert cb.bin_index(0.1) == 1
    assert cb.bin_index(1.0) == 1
    assert cb.bin_index(7.0) == 1
    np.testing.assert_allclose(cb.probabilities(0.5), np.full(3, 1 / 3))
    for bad in (float("nan"), "0.5", None):
        with pytest.raises(BanditError, match="context must be a finite real number"):
            cb.select(bad)


def test_bin_edges_forms_and_errors():
    np.testing.assert_allclose(bin_edges((0.0, 1.0, 2)), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(bin_edges([0, 1, 2]), [0.0, 1.0, 2.0])  # list: edges
    np.testing.assert_allclose(bin_edges(np.array([0.0, 3.0])), [0.0, 3.0])
    with pytest.raises(ValueError, match="strictly increasing"):
        bin_edges([0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="at least two bin edges"):
        bin_edges([1.0])
    with pytest.raises(ValueError, match="finite low < high"):
        bin_edges((1.0, 0.0, 3))
    with pytest.raises(ValueError, match="n_bins"):
        bin_edges((0.0, 1.0, 0))
    with pytest.raises(BanditError, match="at least two bin edges"):
        bin_edges("fast")


@pytest.mark.parametrize(("make", "n", "cut"), [
    (lambda: BinnedContextualBandit(K, (0.0, 1.0, 3), seed=8), 1200, 500),
    (lambda: ChebCB(K, (0.0, 1.0), seed=3, degree=3), 600, 250),
])
def test_contextual_state_round_trip_continues_identically(make, n, cut):
    """Saved between a select and its update, a contextual learner continues exactly."""
    contexts, costs = contextual_table(101, n)
    reference = make()
    ref_arms = play_contextual(reference, contexts, costs)
    first = make()
    arms_a = play_contextual(first, contexts[:cut], costs[:cut])
    a = first.select(float(contexts[cut]))
    resumed = roundtrip(first)
    resumed.update(a, float(costs[cut, a]), float(contexts[cut]))
    arms_b = play_contextual(resumed, contexts[cut + 1:], costs[cut + 1:])
    np.testing.assert_array_equal(np.concatenate([arms_a, [a], arms_b]), ref_arms)
    assert resumed.state_dict() == reference.state_dict()


def test_contextual_bad_inputs():
    cb = BinnedContextualBandit(4, (0.0, 1.0, 2), seed=0)
    a = cb.select(0.2)
    with pytest.raises(BanditError, match=r"loss must be a real number in \[0, 1\]"):
        cb.update(a, 2.0, 0.2)
    with pytest.raises(BanditError, match=r"arm must be an integer in \[0, 3\]"):
        cb.update(4, 0.5, 0.2)
    with pytest.raises(BanditError, match="context must be a finite real number"):
        cb.update(a, 0.5)  # the context of the round is needed
    assert cb.t == 0 and cb.history == []
    with pytest.raises(BanditError, match="not a BinnedContextualBandit state dict"):
        BinnedContextualBandit.from_state(TsallisINF(2, seed=0).state_dict())


# --------------------------------------------------------------------------- ChebCB
OMEGAS = np.linspace(1.0, 1.95, K)


def smooth_table(seed: int, n_rounds: int):
    """c ~ U[0, 1]; cost of arm i: 0.1 + 2 (omega_i - omega*(c))^2 + noise, omega* = 1.1 + 0.8c."""
    rng = np.random.default_rng(seed)
    contexts = rng.uniform(0.0, 1.0, n_rounds)
    omega_star = 1.1 + 0.8 * contexts
    means = 0.1 + 2.0 * (OMEGAS[None, :] - omega_star[:, None]) ** 2
    costs = np.clip(means + 0.05 * rng.standard_normal((n_rounds, K)), 0.0, 1.0)
    return contexts, costs


def test_chebcb_tracks_a_smoothly_moving_best_arm():
    n = 5000
    contexts, costs = smooth_table(0, n)
    cb = ChebCB(K, (0.0, 1.0), seed=5)
    arms = play_contextual(cb, contexts, costs)
    for c in (0.05, 0.3, 0.5, 0.7, 0.95):
        true_best = int(np.argmin(np.abs(OMEGAS - (1.1 + 0.8 * c))))
        assert abs(cb.best_arm(c) - true_best) <= 1, f"context {c}"
    fixed = cumulative_regret(costs, arms, comparator="fixed")[-1]
    inst = cumulative_regret(costs, arms, comparator="instance")
    assert fixed < -0.05 * n  # clearly better than the best fixed arm
    assert inst[-1] < 0.1 * n
    assert inst[-1] - inst[n // 2 - 1] < inst[n // 2 - 1]  # sublinear
    for c in (0.1, 0.9):
        assert_valid_distribution(cb.probabilities(c), K)


def test_chebcb_bad_inputs():
    with pytest.raises(ValueError, match="n_arms must be an integer >= 1"):
        ChebCB(0, (0.0, 1.0), seed=0)
    with pytest.raises(ValueError, match="finite low < high"):
        ChebCB(3, (1.0, 1.0), seed=0)
    with pytest.raises(ValueError, match="degree must be an integer >= 0"):
        ChebCB(3, (0.0, 1.0), seed=0, degree=-1)
    with pytest.raises(ValueError, match="ridge must be a finite positive number"):
        ChebCB(3, (0.0, 1.0), seed=0, ridge=0.0)
    cb = ChebCB(3, (0.0, 1.0), seed=0)
    a = cb.select(0.5)
    with pytest.raises(BanditError, match=r"loss must be a real number in \[0, 1\]"):
        cb.update(a, -1.0, 0.5)
    with pytest.raises(BanditError, match="context must be a finite real number"):
        cb.features(float("inf"))
    assert cb.t == 0 and not cb.state_dict()["moment"][a][0]
    with pytest.raises(BanditError, match="not a ChebCB state dict"):
        ChebCB.from_state(TsallisINF(2, seed=0).state_dict())


@settings(max_examples=200, deadline=None)
@given(
    f=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=30),
    gamma=st.floats(min_value=0.0, max_value=1e6),
)
def test_inverse_gap_weighting_is_a_distribution_favouring_the_leader(f, gamma):
    pred = np.asarray(f)
    p = inverse_gap_weighting(pred, gamma)
    assert_valid_distribution(p, pred.size)
    best = int(np.argmin(pred))
    assert p[best] >= 1.0 / pred.size - 1e-12
    assert p[best] >= p.max() - 1e-12


# --------------------------------------------------------------------------- helpers
def test_cost_normaliser_budget_mode():
    norm = CostNormaliser(scale=200)
    assert norm(0) == 0.0
    assert norm(50) == 0.25
    assert norm(200) == 1.0
    assert norm(1000) == 1.0  # beyond the budget: clipped
    assert norm(float("inf")) == 1.0  # failed solve
    with pytest.raises(ValueError, match="non-negative"):
        norm(-1)
    with pytest.raises(ValueError, match="non-negative"):
        norm(float("nan"))
    with pytest.raises(ValueError, match="scale must be a finite positive number"):
        CostNormaliser(scale=0)


def test_cost_normaliser_running_max_mode_and_state():
    norm = CostNormaliser()
    assert norm(0) == 0.0
    assert norm(10) == 1.0
    assert norm(5) == 0.5
    assert norm(20) == 1.0
    assert norm(10) == 0.5
    restored = CostNormaliser.from_state(json.loads(json.dumps(norm.state_dict())))
    assert restored.running_max == 20.0 and restored(5) == 0.25


def test_cost_normaliser_maxiter_and_mean_modes():
    per_solve = CostNormaliser("maxiter")
    assert per_solve(50, budget=200) == 0.25 and per_solve(50, budget=100) == 0.5
    assert per_solve(500, budget=100) == 1.0
    with pytest.raises(BanditError, match="needs the iteration budget"):
        per_solve(5)
    mean = CostNormaliser("mean")
    assert mean(40, budget=100) == 0.4  # no mean yet: the budget
    assert mean(float("inf"), budget=100) == 1.0  # a failed solve: loss 1, not in the mean
    assert mean(20, budget=100) == 0.25  # 20 / (2 * 40)
    assert mean(90, budget=100) == 1.0  # 90 / (2 * 30), clipped
    assert (mean.total, mean.count) == (150.0, 3)
    restored = CostNormaliser.from_state(json.loads(json.dumps(mean.state_dict())))
    assert restored(50) == mean(50) == 50 / (2 * 50)
    assert CostNormaliser("running").scale is None
    with pytest.raises(InvalidOptionError, match="scale must be"):
        CostNormaliser("max")


@settings(max_examples=100, deadline=None)
@given(
    costs=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=50),
    scale=st.one_of(st.none(), st.floats(min_value=1.0, max_value=1e6),
                    st.sampled_from(["maxiter", "mean"])),
)
def test_cost_normaliser_output_is_a_valid_loss(costs, scale):
    norm = CostNormaliser(scale)
    bandit = TsallisINF(3, seed=0)
    for c in costs:
        loss = norm(c, budget=1000)
        assert 0.0 <= loss <= 1.0
        bandit.update(bandit.select(), loss)  # accepted by the bandit


def test_offline_helpers():
    table = np.array([[3.0, 1.0, 2.0], [3.0, 4.0, 2.0], [1.0, 1.0, 5.0]])
    assert best_fixed_arm(table) == 1  # column totals 7, 6, 9
    np.testing.assert_array_equal(instance_optimal(table), [1, 2, 0])  # row 3: tie -> lowest
    np.testing.assert_allclose(cumulative_regret(table, np.array([0, 0, 0])), [2.0, 1.0, 1.0])
    regret = cumulative_regret(table, np.array([1, 2, 0]), comparator="instance")
    np.testing.assert_allclose(regret, [0.0, 0.0, 0.0])
    assert best_fixed_arm([[1.0, 1.0]]) == 0  # ties -> lowest index
    with pytest.raises(ValueError, match="shape \\(T, K\\)"):
        best_fixed_arm(np.zeros(3))
    with pytest.raises(ValueError, match="comparator"):
        cumulative_regret(table, np.array([0, 0, 0]), comparator="best")


# --------------------------------------------------------------------------- unimodal (default)
def sor_like_table(seed: int, n_rounds: int, contextual: bool = True):
    """Unimodal costs in the arm with a kink at the best arm, as SOR's iteration counts in
    omega: cost = scale(c) * (1 + 3 |omega - omega*(c)|) * (1 + 0.05 noise), scale(c) spanning
    a factor 4 (1.5 without context) over c in [0, 1]; omega*(c) = 1.7 - 0.5 c (or 1.45)."""
    rng = np.random.default_rng(seed)
    contexts = rng.uniform(0.0, 1.0, n_rounds)
    best = 1.7 - 0.5 * contexts if contextual else np.full(n_rounds, 1.45)
    shape = 1 + 3 * np.abs(OMEGAS[None, :] - best[:, None])
    scale = 100 * (4.0 if contextual else 1.5) ** -contexts
    return contexts, scale[:, None] * shape * (1 + 0.05 * rng.standard_normal((n_rounds, K)))


def test_unimodal_finds_the_best_arm_without_visiting_far_arms():
    contexts, costs = sor_like_table(0, 600, contextual=False)
    bandit = UnimodalBandit(K, seed=0, bins=None)
    arms = play(bandit, costs / 1000)
    best = best_fixed_arm(costs)
    assert bandit.best_arm() == best and np.mean(arms[-200:] == best) > 0.8
    # the search climbs from arm 0 by jumps of 2 and steps of 1: never beyond best + 3
    assert arms.max() <= best + bandit.jump + 1 and bandit.jump == 2
    assert costs[np.arange(len(arms)), arms].sum() <= 1.05 * costs[:, best].sum()


def test_unimodal_with_quantile_bins_approaches_the_instance_optimal_policy():
    contexts, costs = sor_like_table(1, 1000)
    bandit = UnimodalBandit(K, seed=0)
    arms = play_contextual(bandit, contexts, costs / 1000)
    ours = costs[np.arange(len(arms)), arms].sum()
    assert ours <= 0.9 * costs[:, best_fixed_arm(costs)].sum()
    assert ours <= 1.1 * costs.min(axis=1).sum()
    for c in (0.1, 0.5, 0.9):
        assert abs(OMEGAS[bandit.best_arm(c)] - (1.7 - 0.5 * c)) <= 0.11, c


def test_unimodal_is_invariant_to_the_loss_scale_and_round_trips():
    contexts, costs = sor_like_table(2, 120)
    a, b = UnimodalBandit(K, seed=0), UnimodalBandit(K, seed=0)
    arms_a = play_contextual(a, contexts, costs / 1000)
    arms_b = play_contextual(b, contexts, costs / 20000)
    np.testing.assert_array_equal(arms_a, arms_b)
    c = UnimodalBandit.from_state(json.loads(json.dumps(a.state_dict())))
    for x in (0.2, 0.8):
        assert c.select(x) == a.select(x) and c.best_arm(x) == a.best_arm(x)
    assert c.probabilities(0.2).sum() == 1.0 and c.probabilities().sum() == 1.0


def test_unimodal_bins_grow_with_the_rounds():
    bandit = UnimodalBandit(4, seed=0, rounds_per_bin=2)
    for x in np.linspace(0.0, 1.0, 50):
        bandit.update(bandit.select(float(x)), 0.5, float(x))
    # 50 rounds, 2 per bin: floor(sqrt(25)) = 5 quantile bins of 10 rounds each
    assert bandit._neighbourhood(bandit._arrays_of_history()[0], 0.5).sum() == 10


def test_unimodal_bad_inputs():
    with pytest.raises(BanditError, match="bins must be 'quantile'"):
        UnimodalBandit(3, seed=0, bins="adaptive")
    with pytest.raises(BanditError, match="rounds_per_bin must be an integer >= 1"):
        UnimodalBandit(3, seed=0, rounds_per_bin=0)
    with pytest.raises(BanditError, match="arm must be an integer in"):
        UnimodalBandit(3, seed=0, start=3)
    bandit = UnimodalBandit(3, seed=0)
    with pytest.raises(BanditError, match="got context=None"):
        bandit.select()
    with pytest.raises(BanditError, match="context must be a finite real number"):
        bandit.update(0, 0.5, float("nan"))
