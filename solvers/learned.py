"""``Solver(method="auto", learn=True)``: run the configuration an online learner picks.

Per call: describe the system (size, structure class, matrix fingerprint), let the learner of
that ``(class, n)`` choose an arm (:class:`solvers.selection.Learner`), run it through the
ordinary path (:func:`solvers.finish.solve`, each arm with its own
:class:`solvers.request.Store`, so its setup -- an LU, an AMG hierarchy, an ILU -- is kept and
reused while the matrix is unchanged: the *warm* context), and report its wall time to the
learner. An explored arm runs under a time budget (host backend: checked after every
iteration; elsewhere an iteration cap) and is cut short there; a cut-short or failed arm is
followed by the best arm known, then by the static ``auto`` plan, which ends with a direct solve
when the system fits, so every system is solved if any candidate can. ``converged`` is the
ordinary float64 verdict of the run that produced ``x``.

``result.info["auto"]``: ``chose`` (the arm whose ``x`` is returned), ``why``, ``tried``,
``learned`` (``explored`` or not, the context, the estimates in seconds, the arm switched
from). ``result.state`` is the learners' state (JSON-able; ``Solver.solve(..., state=s)`` and
:func:`sciml.persist.write_solver_state` carry it on). Switches are logged at INFO on the
``"solvers"`` logger (and printed with ``monitor=True``).

On PETSc under MPI the ranks agree: the arm is chosen on rank 0 and broadcast, and the cost
each learner sees is the largest over the ranks.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from solvers import auto, backends, finish
from solvers.errors import InvalidOptionError
from solvers.monitor import LOGGER
from solvers.request import Request, Store
from solvers.result import SolveResult
from solvers.reuse import FLOP_RATE, MAX_ENTRIES, factor_estimate
from solvers.selection import LEARN_PARAMS, Arm, Learner, arms_for, structure

STATE_KIND = "learned-auto"
#: Iteration cap of an explored arm where a time budget cannot be checked per iteration.
EXPLORE_MAXITER = 500


class OverBudget(Exception):  # noqa: N818  (a control-flow signal, not an error)
    """Raised from the budget callback: the explored arm ran past its time budget."""

    def __init__(self, x: Any) -> None:
        super().__init__("time budget exhausted")
        self.x = x


def learn_options(learn: Any) -> dict[str, Any] | None:
    """``learn=`` checked: ``False`` (off), ``True`` (defaults) or a dict of
    :data:`solvers.selection.LEARN_PARAMS`; ``None`` when off.

    Examples
    --------
    >>> learn_options({"seed": 3})["seed"], learn_options(False)
    (3, None)
    >>> learn_options({"explore": 2.0})
    Traceback (most recent call last):
    ...
    solvers.errors.InvalidOptionError: learn: explore=2.0 is invalid; ...
    """
    if isinstance(learn, bool | np.bool_):
        return {p.name: p.default for p in LEARN_PARAMS} if learn else None
    options = {p.name: p.default for p in LEARN_PARAMS}
    if not isinstance(learn, dict):
        raise InvalidOptionError(f"learn must be True, False or a dict of learner options "
                                 f"({', '.join(p.name for p in LEARN_PARAMS)}), not {learn!r}")
    declared = {p.name: p for p in LEARN_PARAMS}
    for name, value in learn.items():
        if name not in declared:
            raise InvalidOptionError(f"unknown learner option {name!r} in learn=; valid: "
                                     f"{', '.join(declared)}")
        options[name] = declared[name].check(value, "learn")
    return options


@dataclass
class System:
    """What the learner needs about a system: its facts, fingerprint, MPI communicator and
    (host) its assembled matrix."""

    facts: auto.Facts
    fingerprint: Any
    comm: Any = None
    matrix: Any = None


def _prior(system: System, arms: list[str]) -> dict[str, float]:
    """Predicted cold costs: ``direct``'s from the factorisation bound
    (:func:`solvers.reuse.factor_estimate`), when the host matrix is at hand."""
    if "direct" not in arms or system.matrix is None:
        return {}
    flops, entries = factor_estimate(system.matrix)
    return {"direct": flops / FLOP_RATE if entries <= MAX_ENTRIES else float("inf")}


class LearnedAuto:
    """The driver behind ``Solver(method="auto", learn=True)`` (module docstring)."""

    def __init__(self, request: Request, options: dict[str, Any]) -> None:
        if not request.auto or request.pc is not None or request.user_pc is not None:
            raise InvalidOptionError("learn=True chooses the method and pc itself: use it "
                                     "with method='auto' and no pc")
        self.request = request
        self.options = options
        self.learners: dict[str, Learner] = {}
        self.stores: dict[str, Store] = {}
        self.requests: dict[str, Request] = {}
        self.warm: dict[str, Any] = {}
        self.auto_store = Store()
        self.symmetric: dict[tuple, bool] = {}
        self.streak: dict[str, Any] = {}
        self.greedy: dict[str, str] = {}
        self.pace: dict[str, float] = {}
        self.described: tuple | None = None

    def state(self) -> dict[str, Any]:
        """The learners' state, JSON-able."""
        return {"kind": STATE_KIND, "learners": {k: v.to_dict() for k, v in
                                                 self.learners.items()}}

    def load(self, state: dict[str, Any]) -> None:
        """Replace the learners by a saved :meth:`state`."""
        if not isinstance(state, dict) or state.get("kind") != STATE_KIND:
            raise InvalidOptionError(f"state= for a learning Solver must be a res.state of "
                                     f"one (kind {STATE_KIND!r}), not {type(state).__name__}")
        self.learners = {k: Learner.from_dict(v) for k, v in state["learners"].items()}

    def solve(self, backend: str, A: Any, b: Any, x0: Any, callback: Callable | None,
              state: Any) -> SolveResult:
        if state is not None:
            self.load(state)
        start = time.perf_counter()
        system = self._describe(backend, A, b)
        key = f"{structure(system.facts)}:{system.facts.n}"
        learner = self.learners.get(key)
        if learner is None:
            arms = [a.label() for a in arms_for(system.facts, backend)]
            learner = self.learners[key] = Learner(arms, **self.options,
                                                   prior=_prior(system, arms))
        contexts = {a: self._context(a, system) for a in learner.arms}
        streak = self._streak(system.fingerprint)
        allow_cold = streak["spent"] >= (streak["explored"] + 1) * streak["first"]
        decision = _agree(system.comm, learner.choose(contexts, allow_cold))
        if decision.exploring and contexts[decision.arm.label()] == "cold":
            streak["explored"] += 1
        previous = self.greedy.get(key)
        label = decision.arm.label()
        budget = decision.budget
        result, seconds, cut = self._run(backend, decision.arm, A, b, x0, callback, budget,
                                         system.comm)
        learner.observe(label, contexts[label], _slowest(system.comm, seconds),
                        result.converged and not cut, budget if cut else None,
                        decision.exploring)
        self.warm[label] = system.fingerprint
        tried: list[dict[str, Any]] = []
        if not result.converged or cut:
            result = self._fall_back(backend, learner, contexts, label, result, cut, A, b, x0,
                                     callback, system, tried)
        if not decision.exploring:
            if previous is not None and label != previous:
                self._log_switch(previous, label, decision.why)
            self.greedy[key] = label
        result.info["auto"] = {
            "chose": result.info.get("auto", {}).get("chose", label) if tried else label,
            "why": decision.why, "tried": tried,
            "learned": {"arm": label, "explored": decision.exploring,
                        "context": contexts[label], "key": key, "switched_from":
                        previous if previous not in (None, label) and not decision.exploring
                        else None,
                        "estimates": learner.estimates()}}
        result.timings["total"] = time.perf_counter() - start
        streak["spent"] += result.timings["total"]
        streak["first"] = streak["first"] or result.timings["total"]
        result.state = self.state()
        return result

    def _streak(self, fingerprint: Any) -> dict[str, Any]:
        """Time spent on the current matrix (``spent``), its first call's time (``first``)
        and the cold explorations made on it: a cold arm is explored during a warm streak only
        once ``spent >= (explored + 1) * first`` (ski rental: a setup is assumed to cost about
        what the first call on the matrix cost)."""
        if self.streak.get("fingerprint") != fingerprint:
            self.streak = {"fingerprint": fingerprint, "spent": 0.0, "first": 0.0,
                           "explored": 0}
        return self.streak

    def _context(self, label: str, system: System) -> str:
        seen = self.warm.get(label)
        return "warm" if seen is not None and seen == system.fingerprint else "cold"

    def _request(self, arm: Arm) -> Request:
        """The validated request of ``arm``: the caller's stopping rule and options, and
        those of the caller's parameters that the arm's method or pc declares."""
        key = arm.label()
        if key not in self.requests:
            base = self.request
            request = Request.build(arm.method, arm.pc, None, base.stop, {}, base.backend,
                                    base.options, base.monitor)
            names = {p for e in request.candidates() for p in e.parameters()}
            params = {k: v for k, v in base.params.items() if k in names}
            self.requests[key] = Request.build(arm.method, arm.pc, None, base.stop, params,
                                               base.backend, base.options, base.monitor)
        return self.requests[key]

    def _run(self, backend: str, arm: Arm, A: Any, b: Any, x0: Any, callback: Callable | None,
             budget: float | None, comm: Any = None) -> tuple[SolveResult, float, bool]:
        """Run ``arm``, cut short after about ``budget`` seconds; ``(result, seconds, cut)``.

        The cut is an iteration cap from the arm's last seconds per iteration when known
        (free), else a deadline checked after every iteration on the host (not for GMRES,
        whose callback costs a pc application per iteration), else :data:`EXPLORE_MAXITER`.
        A direct solve is never cut. Under MPI the pace is the slowest rank's, so every rank
        gets the same cap."""
        label = arm.label()
        store = self.stores.setdefault(label, Store(symmetric=self.symmetric))
        request = uncapped = self._request(arm)
        watch = callback
        began = time.perf_counter()
        if budget is not None and arm.method != "direct":
            pace = self.pace.get(label)
            if pace is not None:
                request = _capped(request, max(10, int(budget / pace)))
            elif backend == "scipy" and "gmres" not in arm.method:
                watch = _budget_callback(began + budget, callback)
            else:
                request = _capped(request, EXPLORE_MAXITER)
        try:
            result = finish.solve(request, store, backends.get(backend), A, b, x0, watch, None)
        except OverBudget as stop:
            seconds = time.perf_counter() - began
            return _cut_result(stop.x, seconds), seconds, True
        seconds = time.perf_counter() - began
        if result.iterations > 0 and arm.method != "direct":
            pace = result.timings.get("solve", seconds) / result.iterations
            self.pace[label] = _slowest(comm, pace)
        capped = request is not uncapped and request.stop.maxiter != uncapped.stop.maxiter
        return result, seconds, capped and not result.converged and result.reason == "maxiter"

    def _fall_back(self, backend: str, learner: Learner, contexts: dict[str, str], label: str,
                   result: SolveResult, cut: bool, A: Any, b: Any, x0: Any,
                   callback: Callable | None, system: System,
                   tried: list[dict[str, Any]]) -> SolveResult:
        """Finish a system whose arm failed or was cut short: the best other arm known, then
        the static ``auto`` plan."""
        tried.append({"choice": label, "reason": "budget" if cut else result.reason.value,
                      "iterations": result.iterations})
        start = result.x if cut and backend == "scipy" else x0
        known = {a: learner.estimate(a, contexts[a]) for a in learner.usable() if a != label}
        scored = sorted((c, a) for a, c in known.items() if c is not None)
        if scored:
            other = Arm.parse(scored[0][1])
            result, seconds, _ = self._run(backend, other, A, b, start, callback, None,
                                           system.comm)
            if not cut:
                learner.observe(other.label(), contexts[other.label()],
                                _slowest(system.comm, seconds), result.converged)
            self.warm[other.label()] = system.fingerprint
            if result.converged:
                result.info["auto"] = {"chose": other.label()}
                return result
            tried.append({"choice": other.label(), "reason": result.reason.value,
                          "iterations": result.iterations})
        LOGGER.info("learned auto: falling back to the static auto plan")
        result = finish.solve(self.request, self.auto_store, backends.get(backend), A, b,
                              start, callback, None)
        tried.extend(result.info["auto"]["tried"])
        return result

    def _log_switch(self, previous: str, label: str, why: str) -> None:
        LOGGER.info("learned auto: switching from %s to %s (%s)", previous, label, why)
        if self.request.monitor:
            print(f"learned auto: switching from {previous} to {label} ({why})")

    def _describe(self, backend: str, A: Any, b: Any) -> System:
        if backend == "petsc":
            from solvers.backends.petsc.learned import describe

            return System(*describe(A, b, self.symmetric))
        if backend == "jax":
            return _describe_jax(A)
        return self._describe_host(A, b)

    def _describe_host(self, A: Any, b: Any) -> System:
        """The host description, kept for the same matrix object with the same value array
        (the arm's own setup cache still checks the fingerprint: a matrix changed in place is
        solved right, only its context is then misjudged once)."""
        from solvers.backends.common import facts, symmetry
        from solvers.system import as_system, is_problem

        given = A.A if is_problem(A) else A
        data = getattr(given, "data", None)
        last = self.described
        if last is not None and last[0]() is given and last[1] is data:
            return last[2]
        host = as_system(A, b)
        fingerprint = host.fingerprint() if host.matrix is not None else id(A)
        system = System(facts(host, symmetry(host, self.symmetric)), fingerprint, None,
                        host.matrix)
        try:
            self.described = (weakref.ref(given), data, system)
        except TypeError:
            self.described = None
        return system


def _describe_jax(A: Any) -> System:
    """JAX input: a matrix or BCOO (assembled) or a grid problem's stencil."""
    n = int(A.shape[0]) if hasattr(A, "shape") else int(A.A.shape[0])
    facts = auto.Facts(n, True, lambda: bool(getattr(A, "symmetric", False)),
                       lambda: bool(getattr(A, "positive_definite", False)),
                       getattr(A, "positive_definite", None))
    return System(facts, id(A))


def _capped(request: Request, cap: int) -> Request:
    """``request`` with at most ``cap`` iterations (already validated: no re-check)."""
    limit = cap if request.stop.maxiter is None else min(request.stop.maxiter, cap)
    return replace(request, stop=replace(request.stop, maxiter=limit))


def _budget_callback(deadline: float, callback: Callable | None) -> Callable:
    def watch(x: Any) -> None:
        if callback is not None:
            callback(x)
        if time.perf_counter() > deadline:
            raise OverBudget(np.array(x, copy=True))

    return watch


def _cut_result(x: Any, seconds: float) -> SolveResult:
    from solvers.reasons import Reason

    return SolveResult(x, False, Reason.MAXITER, 0, np.array([]), float("nan"), float("nan"),
                       {"total": seconds}, {})


def _agree(comm: Any, decision: Any) -> Any:
    """Rank 0's decision on every rank (no-op without MPI)."""
    if comm is None or comm.Get_size() == 1:
        return decision
    return comm.bcast(decision, root=0)


def _slowest(comm: Any, seconds: float) -> float:
    """The largest wall time over the ranks (the cost of a collective solve)."""
    if comm is None or comm.Get_size() == 1:
        return seconds
    from mpi4py import MPI

    return float(comm.allreduce(seconds, op=MPI.MAX))
