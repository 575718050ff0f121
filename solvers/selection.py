"""An online learner that picks a solver configuration (an *arm*) for each system of a sequence.

Arms are ``(method, pc)`` pairs that fit the system's structure (:func:`arms_for`), the static
``auto`` choice first. The cost of a call is its wall time (setup + solve); a run that did not
converge, or that an exploration budget cut short, costs ``penalty`` times what it took.

Context. Each arm's cost is estimated separately for a *warm* call (the arm holds a setup for
this very matrix: a kept LU is one pair of triangular solves, a kept AMG hierarchy skips its
setup) and a *cold* one (the matrix changed, so the arm sets up again), each an exponentially
weighted mean with weight ``memory`` on the newest cost, so that the estimates follow a
sequence that changes regime. A warm call without a warm estimate uses the cold one (an upper
bound).

Rule for call ``t`` (seeded: the random draws of call ``t`` come from ``(seed, t)``):

1. an arm without an estimate for its current context is *explored*, in the order of
   :func:`arms_for` (the very first call runs ``auto``'s choice; the others follow cheap
   setups first); an arm whose predicted cost (``prior``: for ``direct``, the bound of
   :func:`solvers.reuse.factor_estimate`) is below the greedy arm's estimate is explored at
   once, as is one whose pc costs nothing to set up (:data:`CHEAP_SETUP`); any other
   exploration that sets its arm up (*cold*) starts only while the time spent exploring is
   at most ``share`` of the total (a setup under way is not cut: a rough bound);
2. with probability ``explore``, a uniformly drawn other arm is explored;
3. otherwise the arm with the lowest estimate for its context runs (*greedy*).

An explored arm gets a time budget of ``budget`` times the greedy arm's estimate, the greedy
arm :data:`GREEDY_SLACK` times its own; the driver (:mod:`solvers.learned`) cuts a run short
there and finishes the system with the best other arm, so an exploration costs at most about
``budget + 1`` greedy calls (a setup, which cannot be cut, aside). An arm that failed
``MAX_FAILURES`` times in a row is not run again.

References
----------
M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to relax: setting solver
parameters across a sequence of linear system instances", ICLR 2024 (bandits over a sequence
of systems). R. S. Sutton, A. G. Barto, *Reinforcement Learning*, 2nd ed., 2018, ch. 2
(epsilon-greedy with a constant step size for nonstationary problems).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers import auto, registry
from solvers.params import Param

#: The greedy arm is cut short after this many times its own estimate (a regime change that
#: makes it fail or diverge costs at most that before the fallback).
GREEDY_SLACK = 4.0
#: Preconditioners whose setup is negligible: exploring an arm with one is all iterations,
#: which the budget cuts, so it is not held back by ``share``.
CHEAP_SETUP = frozenset({"none", "jacobi"})
#: Runs in a row that failed before an arm is dropped.
MAX_FAILURES = 2

#: The learner's options (``Solver(learn={...})``), checked like any declared parameter.
LEARN_PARAMS = (
    Param("seed", "int", 0, low=0, high=2**32 - 1, doc="seed of the exploration draws"),
    Param("explore", "float", 0.02, low=0.0, high=1.0,
          doc="probability of exploring another arm on a call"),
    Param("budget", "float", 1.0, low=0.1, high=100.0,
          doc="an explored arm is cut short after budget x the greedy arm's estimate"),
    Param("penalty", "float", 2.0, low=1.0, high=100.0,
          doc="a failed or cut-short run costs penalty x its wall time"),
    Param("memory", "float", 0.3, low=0.0, high=1.0, open_low=True,
          doc="weight of the newest cost in each estimate (1: the last cost only)"),
    Param("share", "float", 0.2, low=0.0, high=1.0,
          doc="a cold exploration starts only while exploring took at most this share of "
              "the total time"),
)


@dataclass(frozen=True)
class Arm:
    """One configuration: a method and its preconditioner (``"none"``)."""

    method: str
    pc: str = "none"

    def label(self) -> str:
        return self.method if self.pc == "none" else f"{self.method}+{self.pc}"

    @classmethod
    def parse(cls, label: str) -> Arm:
        method, _, pc = label.partition("+")
        return cls(method, pc or "none")


#: Configurations considered per structure class (those a backend does not run are left out).
#: In the order they are explored: cheap setups first (the first explorations set the budget
#: of the later ones).
SPD_ARMS = (Arm("cg", "jacobi"), Arm("cg", "icc"), Arm("cg", "amg"), Arm("direct"))
SYMMETRIC_ARMS = (Arm("minres"), Arm("gmres", "ilu"), Arm("direct"))
GENERAL_ARMS = (Arm("gmres", "jacobi"), Arm("gmres", "ilu"), Arm("bicgstab", "ilu"),
                Arm("direct"))



def structure(facts: auto.Facts) -> str:
    """``"spd"``, ``"symmetric"`` or ``"general"``: the class whose arms are tried."""
    symmetric = _value(facts.symmetric)
    diagonal = _value(facts.positive_diagonal)
    if facts.positive_definite or (facts.positive_definite is None and symmetric and diagonal):
        return "spd"
    return "symmetric" if symmetric else "general"


def _value(fact: Any) -> Any:
    return fact() if callable(fact) else fact


def arms_for(facts: auto.Facts, backend: str) -> list[Arm]:
    """The arms for a system: ``auto``'s first choice, then the others of its structure class
    that ``backend`` runs (``direct`` only when assembled and ``n <=``
    :data:`solvers.auto.AUTO_DIRECT_FALLBACK_MAX_N`; pcs only when assembled; on JAX or
    matrix-free also the Krylov methods without a pc; MINRES for a matrix only guessed SPD from
    its positive diagonal)."""
    first = auto.plan(facts, backend)[0]
    pool = {"spd": SPD_ARMS, "symmetric": SYMMETRIC_ARMS, "general": GENERAL_ARMS}[
        structure(facts)]
    if pool is SPD_ARMS and not facts.positive_definite:  # SPD is a guess: MINRES as well
        pool = (*pool, Arm("minres"))
    if backend == "jax" or not facts.assembled:  # compiled loops: also without a pc
        pool = (*pool, *(Arm(m) for m in ("cg", "bicgstab", "gmres") if
                         m == "cg" or structure(facts) != "spd"))
    arms = [Arm(first.method, first.pc)]
    for arm in pool:
        if arm not in arms and _runs(arm, facts, backend):
            arms.append(arm)
    return arms


def _runs(arm: Arm, facts: auto.Facts, backend: str) -> bool:
    if backend not in registry.lookup(arm.method).backends:
        return False
    if arm.pc != "none" and (not facts.assembled
                             or backend not in registry.lookup(arm.pc, "pc").backends):
        return False
    return arm.method != "direct" or (facts.assembled
                                      and facts.n <= auto.AUTO_DIRECT_FALLBACK_MAX_N)


@dataclass
class Decision:
    """What :meth:`Learner.choose` picked: the arm, whether it explores, why, and the time
    budget of an exploration (seconds; ``None``: not cut)."""

    arm: Arm
    exploring: bool
    why: str
    budget: float | None = None


@dataclass
class Learner:
    """Cost estimates per arm and context, and the selection rule (module docstring).

    State (JSON-able through :meth:`to_dict`): ``arms`` (labels), ``step`` (calls so far),
    ``costs[label][context] = [estimate, count]``, ``failures[label]`` (in a row), ``last``
    (the arm that ran last), and the options.
    """

    arms: list[str]
    seed: int = 0
    explore: float = 0.02
    budget: float = 1.0
    penalty: float = 2.0
    memory: float = 0.3
    share: float = 0.2
    step: int = 0
    costs: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    last: str | None = None
    spent: float = 0.0
    explored: float = 0.0
    prior: dict[str, float] = field(default_factory=dict)

    def estimate(self, label: str, context: str) -> float | None:
        """The cost estimate of ``label`` in ``context`` (``"warm"`` or ``"cold"``)."""
        costs = self.costs.get(label, {})
        if context in costs:
            return costs[context][0]
        return costs["cold"][0] if context == "warm" and "cold" in costs else None

    def usable(self) -> list[str]:
        return [a for a in self.arms if self.failures.get(a, 0) < MAX_FAILURES]

    def choose(self, contexts: dict[str, str], allow_cold: bool = True) -> Decision:
        """The arm for this call; ``contexts[label]`` is ``"warm"`` or ``"cold"``.
        ``allow_cold=False``: while the greedy arm is warm, explore only warm arms (the driver
        allows a cold one once the time spent on this matrix pays for a setup)."""
        usable = self.usable() or self.arms[:1]
        known = {a: self.estimate(a, contexts.get(a, "cold")) for a in usable}
        scored = {a: c for a, c in known.items() if c is not None} or {
            a: max(v[0] for v in self.costs[a].values()) for a in usable if self.costs.get(a)}
        best = min(scored, key=scored.__getitem__) if scored else usable[0]
        cap = None if not scored else self.budget * scored[best]
        best_warm = contexts.get(best) == "warm"
        affordable = self.explored <= self.share * self.spent
        untried = [a for a in usable if contexts.get(a, "cold") not in self.costs.get(a, {})]
        promising = [a for a in untried if scored and contexts.get(a) == "cold"
                     and self.prior.get(a, np.inf) <= scored[best]]
        fresh = promising or [a for a in untried if contexts.get(a) == "warm"
                              or Arm.parse(a).pc in CHEAP_SETUP
                              or (affordable and (allow_cold or not best_warm))]
        if fresh and not self.costs:
            return Decision(Arm.parse(fresh[0]), False, "first call: auto's choice")
        if fresh:
            context = contexts.get(fresh[0], "cold")
            why = (f"exploring: predicted {self.prior[fresh[0]]:.3g} s" if fresh == promising
                   else f"exploring: not tried {context} yet")
            return Decision(Arm.parse(fresh[0]), True, why, cap)
        rng = np.random.default_rng([self.seed, self.step])
        others = [a for a in usable if a != best and a in scored]
        if others and rng.random() < self.explore:
            pick = others[int(rng.integers(len(others)))]
            return Decision(Arm.parse(pick), True, f"exploring (probability {self.explore})",
                            cap)
        if best not in scored:
            return Decision(Arm.parse(best), False, "no estimate yet")
        return Decision(Arm.parse(best), False,
                        f"lowest estimated cost ({scored[best]:.3g} s, {contexts.get(best)})",
                        GREEDY_SLACK * scored[best])

    def observe(self, label: str, context: str, seconds: float, ok: bool,
                cut: float | None = None, exploring: bool = False) -> None:
        """Account one run of ``label``: ``seconds`` of wall time, ``ok`` if it converged.
        A failed run costs ``penalty * seconds``; one cut short at its budget ``cut``
        (seconds) costs ``penalty * max(seconds, cut)``, at least ``penalty`` times the greedy
        arm's estimate (its true cost is unknown, but above the budget). A failure, not a
        cut, counts towards dropping the arm. ``exploring``: the run was an exploration."""
        self.step += 1
        self.spent += seconds
        self.explored += seconds if exploring else 0.0
        self.last = label
        cost = seconds if ok else self.penalty * max(seconds, cut or 0.0)
        self.failures[label] = 0 if ok or cut else self.failures.get(label, 0) + 1
        entry = self.costs.setdefault(label, {}).setdefault(context, [cost, 0])
        entry[0] = cost if entry[1] == 0 else (1 - self.memory) * entry[0] + self.memory * cost
        entry[1] += 1

    def estimates(self) -> dict[str, dict[str, float]]:
        """``{label: {"warm": s, "cold": s}}``: the current estimates (seconds)."""
        return {a: {c: v[0] for c, v in self.costs.get(a, {}).items()} for a in self.arms}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (:meth:`from_dict` restores it)."""
        return {"kind": "learned-auto", "arms": list(self.arms), "seed": self.seed,
                "explore": self.explore, "budget": self.budget, "penalty": self.penalty,
                "memory": self.memory, "share": self.share, "step": self.step,
                "costs": {a: {c: list(v) for c, v in d.items()} for a, d in self.costs.items()},
                "failures": dict(self.failures), "last": self.last, "spent": self.spent,
                "explored": self.explored, "prior": dict(self.prior)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Learner:
        """The learner saved by :meth:`to_dict`."""
        fields = {k: v for k, v in data.items() if k != "kind"}
        return cls(**fields)
