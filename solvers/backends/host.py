"""The host backend (``backend="scipy"``): NumPy/SciPy arrays, our own methods, SciPy, pyamg.

``prepare`` validates the input (:func:`solvers.system.as_system`), resolves
``method="auto"`` (:mod:`solvers.auto`), builds the method and preconditioner once per
:class:`solvers.Solver` and their setup once per matrix (reused while the matrix fingerprint
is unchanged), and returns a :class:`solvers.backends.Prepared` whose ``run`` calls the
method. The float64 residual of the verdict is computed on the caller's own matrix, upcast.
With ``monitor=True`` the callback is wrapped in a :class:`solvers.monitor.IterationMonitor`
(true residual per iteration). A preconditioner given as a matrix or ``LinearOperator``
(SciPy's ``M``) runs like a callable ``pc``, its shape checked against ``A``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import scipy.sparse.linalg as spla

from solvers import auto
from solvers.backends import Prepared, Run
from solvers.backends.common import facts, float64_residual, norm64, symmetry
from solvers.errors import SetupError
from solvers.method import Callback, Iterate, Method, Preconditioner, carries_state
from solvers.monitor import LOGGER, IterationMonitor
from solvers.reasons import Reason
from solvers.request import CUSTOM, Request, Store, check_symmetry
from solvers.stopping import StoppingRule
from solvers.system import LinearSystem, as_system, as_vector, checked_preconditioner


def prepare(request: Request, store: Store, A: Any, b: Any, x0: Any,
            callback: Callback | None, choice: auto.Choice | None) -> Prepared:
    """Validate, choose, set up (or reuse); see the module docstring."""
    system = as_system(A, b)
    x0 = None if x0 is None else as_vector(x0, system.n, "x0").astype(system.dtype)
    symmetric = symmetry(system, store.symmetric)
    choices = (auto.plan(facts(system, symmetric), "scipy") if request.auto and choice is None
               else [])
    method_entry, pc_entry = request.names(choice or (choices[0] if choices else None))
    check_symmetry([method_entry, pc_entry], symmetric)
    # A method entry's factory builds a Method, a pc entry's a Preconditioner.
    method = cast(Method, store.component(method_entry, request))
    pc = None if pc_entry is None else cast(Preconditioner, store.component(pc_entry, request))
    method_name, pc_name = method_entry.name, CUSTOM if pc_entry is None else pc_entry.name
    info = {"backend": "scipy", "method": method_name, "pc": pc_name, "device": "cpu"}
    residual = float64_residual(system)
    try:
        M = _setup(store, system, "pc", pc_name, pc)
        _setup(store, system, "method", method_name, method)
        if pc_entry is None:
            M = checked_preconditioner(request.user_pc, system.n, system.dtype)
        if request.monitor:
            callback = _monitor(system, residual, x0, callback, method_name, pc_name)
        run = _runner(method, system, M, callback)
    except SetupError as exc:
        run = _failed_setup(exc, system)
    return Prepared(run, residual, norm64(system.b), _same, system.n,
                    system.dtype, method_name, pc_name, x0, info,
                    components={("method", method_name): method, ("pc", pc_name): pc},
                    hook_system=system, choices=choices, refine=method_entry.refine)


def _monitor(system: LinearSystem, residual: Callable[[Any], float], x0: Any,
             callback: Callback | None, method: str, pc: str) -> IterationMonitor:
    """The monitoring callback for this run (header and line 0 printed now)."""
    watch = IterationMonitor(residual, norm64(system.b), callback)
    label = method if pc == "none" else f"{method}+{pc}"
    watch.start(f"{label} on scipy, n={system.n}", x0)
    return watch


def _runner(method: Method, system: LinearSystem, M: spla.LinearOperator | None,
            callback: Callback | None) -> Run:
    """``run(x0, stop, state)``: the method on this system (``state`` if it carries one)."""
    stateful = carries_state(method)

    def run(x0: np.ndarray | None, stop: StoppingRule, state: Any) -> Iterate:
        extra = {"state": state} if stateful else {}
        return method.solve(system, system.b, x0, M, stop, callback, **extra)

    return run


def _setup(store: Store, system: LinearSystem, kind: str, name: str,
           component: Method | Preconditioner | None) -> spla.LinearOperator | None:
    """Run ``component.setup(system)`` or reuse the one built for the same matrix values.

    The fingerprint is computed only once a previous setup exists (a one-shot solve pays
    nothing for it).
    """
    if component is None:
        return None
    if not store.keeps_setups:
        return component.setup(system)
    cached = store.setups.get((kind, name))
    fingerprint = system.fingerprint() if cached is not None else None
    if cached is not None and cached[0] == fingerprint:
        LOGGER.debug("%s %r: reusing the setup (same matrix values)", kind, name)
        return cached[1]
    LOGGER.debug("%s %r: setting up for n=%d%s", kind, name, system.n,
                 "" if cached is None else " (the matrix values changed)")
    value = component.setup(system)
    store.setups[(kind, name)] = (fingerprint or system.fingerprint(), value)
    return value


def _same(x: Any) -> Any:
    return x


def _failed_setup(exc: SetupError, system: LinearSystem) -> Run:
    """A run that reports the failed setup: ``x`` is the initial guess, nothing iterated."""

    def run(x0: np.ndarray | None, stop: StoppingRule, state: Any) -> Iterate:
        x = np.zeros_like(system.b) if x0 is None else x0
        return Iterate(x, 0, [], Reason(exc.reason), {"error": str(exc)}, state)

    return run
