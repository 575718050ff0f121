"""What follows a run, the same on every backend: refinement restarts, per-solve hooks and
carried state, ``auto`` fallbacks, timings and the float64 verdict.

``solve(request, store, backend, A, b, x0, callback, state)`` is the whole path below
:meth:`solvers.Solver.solve`: the backend prepares (:class:`solvers.backends.Prepared`) and
runs; everything else is here, once.

Verdict: ``converged`` iff ``||b - A x|| <= max(rtol ||b||, atol)`` for the returned ``x``,
computed in float64 (complex128) on the caller's own ``A`` and ``b``
(:func:`solvers.result.make_result`). A run that met its own test but fails this one is
restarted from its ``x`` with a 10x tighter tolerance (at most :data:`REFINEMENT_RESTARTS`
times, within ``maxiter`` in all, and not when the threshold is below the working precision),
then reported ``inaccurate`` (``precision`` for a single-precision run);
``info["restarts"]`` counts the restarts.

Logged (``logging.getLogger("solvers")``, :mod:`solvers.monitor`) at INFO: ``auto``'s pick,
each fallback and each refinement restart.
"""

from __future__ import annotations

import functools
import time
from dataclasses import replace
from typing import Any

import numpy as np

from solvers.auto import Choice
from solvers.backends import Backend, Prepared
from solvers.method import Callback, Iterate, carries_state
from solvers.monitor import LOGGER
from solvers.request import Request, Store
from solvers.result import SolveResult, make_result
from solvers.reuse import ReuseRule
from solvers.stopping import StoppingRule
from solvers.system import LinearSystem

#: Restarts of a run whose own test passed while the float64 residual fails.
REFINEMENT_RESTARTS = 2


def solve(request: Request, store: Store, backend: Backend, A: Any, b: Any, x0: Any,
          callback: Callback | None, state: Any) -> SolveResult:
    """Prepare on ``backend``, run, and for ``method="auto"`` fall back until one converges.

    A :class:`solvers.Solver` with ``method="auto"`` also applies its reuse rule
    (:mod:`solvers.reuse`): a matrix that keeps coming back is factored once and solved by its
    LU when that is cheaper than iterating.
    """
    start = time.perf_counter()
    if request.auto and store.keeps_setups:
        return _reusing(store.reuse, request, store, backend, A, b, x0, callback, state, start)
    prepared = backend.prepare(request, store, A, b, x0, callback, None)
    return _plan(request, store, backend, A, b, x0, callback, state, start, prepared,
                 prepared.choices)


def _plan(request: Request, store: Store, backend: Backend, A: Any, b: Any, x0: Any,
          callback: Callback | None, state: Any, start: float, prepared: Prepared,
          choices: list[Choice]) -> SolveResult:
    """Run ``prepared`` (``choices[0]``), then ``auto``'s fallbacks until one converges."""
    if choices:
        LOGGER.info("auto chose %s: %s", choices[0].label(), choices[0].why)
    result = _attempt(request.stop, store, prepared, start, state)
    tried: list[dict[str, Any]] = []
    for choice in choices[1:]:
        if result.converged:
            break
        tried.append({"choice": choices[len(tried)].label(),
                      "reason": result.reason.value, "iterations": result.iterations})
        LOGGER.info("auto: %s did not converge (%s after %d iterations); falling back to %s "
                    "(%s)", tried[-1]["choice"], result.reason.value, result.iterations,
                    choice.label(), choice.why)
        began = time.perf_counter()
        fallback = backend.prepare(request, store, A, b, x0, callback, choice)
        result = _attempt(request.stop, store, fallback, began, state)
    if choices:
        choice = choices[len(tried)]
        result.info["auto"] = choice.report(tried)
        result.timings["total"] = time.perf_counter() - start
    return result


def _reusing(rule: ReuseRule, request: Request, store: Store, backend: Backend, A: Any, b: Any,
             x0: Any, callback: Callback | None, state: Any, start: float) -> SolveResult:
    """``auto`` in a :class:`solvers.Solver` that keeps setups: the reuse rule's ``direct``
    when it holds for this matrix (by object, else by fingerprint), else the plan; a failing
    reused LU falls back to the plan; the call is then accounted to the rule."""
    hint = rule.hint(A)
    prepared = backend.prepare(request, store, A, b, x0, callback, hint)
    if hint is None and prepared.choices and prepared.method != "direct":
        fingerprint = _fingerprint(prepared)
        hint = None if fingerprint is None else rule.wants_direct(fingerprint)
        if hint is not None:
            prepared = backend.prepare(request, store, A, b, x0, callback, hint)
    if hint is None:
        result = _plan(request, store, backend, A, b, x0, callback, state, start, prepared,
                       prepared.choices)
    else:
        result = _plan(request, store, backend, A, b, x0, callback, state, start, prepared,
                       [hint])
        if not result.converged:
            prepared = backend.prepare(request, store, A, b, x0, callback, None)
            result = _plan(request, store, backend, A, b, x0, callback, state, start,
                           prepared, prepared.choices)
    _account(rule, store, A, prepared, result)
    return result


def _fingerprint(prepared: Prepared) -> tuple | None:
    """The matrix fingerprint of an assembled host system (``None`` for other backends)."""
    system = prepared.hook_system
    if (prepared.info.get("backend") != "scipy" or not isinstance(system, LinearSystem)
            or system.matrix is None):
        return None
    return system.fingerprint()


def _account(rule: ReuseRule, store: Store, A: Any, prepared: Prepared,
             result: SolveResult) -> None:
    """Feed the reuse rule this call; drop a factorisation that lost its trial."""
    if _fingerprint(prepared) is None or result.info.get("auto", {}).get("tried"):
        return
    was_trial = rule.decided == "trial"
    rule.observe(A, prepared.hook_system, result.info.get("method", ""), result)
    if was_trial and rule.decided == "iterative":
        store.drop("method", "direct")


def _attempt(stop: StoppingRule, store: Store, p: Prepared, start: float,
             state: Any) -> SolveResult:
    """One prepared system: hooks, run, restarts, verdict, hooks; carried state kept once."""
    states = _incoming(store, p, state)
    for key in states:
        component = p.components[key]
        if component is not None and hasattr(component, "before_solve"):
            states[key] = component.before_solve(p.hook_system, stop, states[key])
    setup_done = time.perf_counter()
    method_key = ("method", p.method)
    it, rnorm = _refine(p, stop, p.run(p.x0, stop, states.get(method_key)))
    if method_key in states:
        states[method_key] = it.state
    end = time.perf_counter()
    timings = {"setup": setup_done - start, "solve": end - setup_done, "total": end - start,
               **p.timings}
    info = {**p.info, "dtype": _name(p.dtype), **it.info}
    result = make_result(p.output(it.x), rnorm, p.bnorm, stop, it.reason,
                         it.iterations, it.residuals or [rnorm], timings, info, p.dtype)
    for key in states:
        component = p.components[key]
        if component is not None and hasattr(component, "after_solve"):
            states[key] = component.after_solve(result, states[key])
    store.states.update(states)
    result.state = next(iter(states.values()), None)
    return result


@functools.lru_cache(maxsize=16)
def _name(dtype: np.dtype) -> str:
    """``str(dtype)``, remembered (NumPy computes it anew, a few microseconds, every time)."""
    return str(dtype)


def _incoming(store: Store, p: Prepared, state: Any) -> dict[tuple[str, str], Any]:
    """The carried state of each stateful component: the caller's ``state`` for the first
    one, else what the solver kept, else the component's initial state."""
    states: dict[tuple[str, str], Any] = {}
    for key, component in p.components.items():
        if not carries_state(component):
            continue
        if state is not None and not states:
            states[key] = state
        elif key in store.states:
            states[key] = store.states[key]
        else:
            states[key] = component.initial_state()
    return states


def _refine(p: Prepared, stop: StoppingRule, it: Iterate) -> tuple[Iterate, float]:
    """Restart a run that met its own test while the float64 residual fails (see above);
    return the last run and the float64 residual norm of its ``x``."""
    budget = stop.iterations(p.n)
    threshold = stop.threshold(p.bnorm)
    reachable = threshold >= 4 * np.finfo(p.dtype).eps * p.bnorm
    rnorm = p.residual_norm(it.x)
    for attempt in range(1, REFINEMENT_RESTARTS + 1):
        if (not p.refine or not reachable or not it.reason.converged or it.iterations == 0
                or it.iterations >= budget or rnorm <= threshold):
            break
        tighter = replace(stop, rtol=stop.rtol * 0.1**attempt, atol=stop.atol * 0.1**attempt,
                          maxiter=budget - it.iterations)
        LOGGER.info("refinement restart %d: the run met its own test but ||b - A x|| = %.3e "
                    "> %.3e; restarting from its x with rtol=%.1e", attempt, rnorm, threshold,
                    tighter.rtol)
        more = p.run(it.x, tighter, it.state)
        it = Iterate(more.x, it.iterations + more.iterations,
                     [*it.residuals, *more.residuals[1:]],
                     more.reason, {**it.info, **more.info, "restarts": attempt}, more.state)
        rnorm = p.residual_norm(it.x)
    return it, rnorm
