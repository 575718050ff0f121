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
from typing import Any

import numpy as np
import scipy.sparse.linalg as spla

from solvers import auto, registry
from solvers.backends import Prepared
from solvers.errors import SetupError
from solvers.method import Callback, Iterate
from solvers.monitor import LOGGER, IterationMonitor
from solvers.reasons import Reason
from solvers.system import LinearSystem, as_system, as_vector, checked_preconditioner


def prepare(solver: Any, A: Any, b: Any, x0: Any, callback: Callback | None,
            choice: auto.Choice | None) -> Prepared:
    """Validate, choose, set up (or reuse); see the module docstring."""
    system = as_system(A, b)
    x0 = None if x0 is None else as_vector(x0, system.n, "x0").astype(system.dtype)
    planning = solver.method == "auto" and choice is None  # a fallback brings its choice
    choices = auto.plan(facts(system), "scipy") if planning else []
    method_name, pc_name = names(solver, choice or (choices[0] if choices else None))
    for kind, name in (("method", method_name), ("pc", pc_name)):
        if name != "custom" and registry.lookup(name, kind).requires_symmetric:
            system.require_symmetric(name if kind == "method" else f"pc={name!r}")
    method = solver.component("method", method_name)
    pc = None if pc_name in ("none", "custom") else solver.component("pc", pc_name)
    info = {"backend": "scipy", "method": method_name, "pc": pc_name, "device": "cpu"}
    residual = float64_residual(system)
    try:
        M = _setup(solver, system, "pc", pc_name, pc)
        _setup(solver, system, "method", method_name, method)
        if pc_name == "custom":
            M = checked_preconditioner(solver.pc, system.n, system.dtype)
        if solver.monitor:
            callback = _monitor(system, residual, x0, callback, method_name, pc_name)
        run = _runner(method, system, M, callback)
    except SetupError as exc:
        run = _failed_setup(exc, system)
    return Prepared(run, residual, _norm64(system.b), _same, system.n,
                    system.dtype, method_name, pc_name, x0, info,
                    components={("method", method_name): method, ("pc", pc_name): pc},
                    hook_system=system, choices=choices, refine=method_name != "direct")


def _monitor(system: LinearSystem, residual: Callable[[Any], float], x0: Any,
             callback: Callback | None, method: str, pc: str) -> IterationMonitor:
    """The monitoring callback for this run (header and line 0 printed now)."""
    watch = IterationMonitor(residual, _norm64(system.b), callback)
    label = method if pc == "none" else f"{method}+{pc}"
    watch.start(f"{label} on scipy, n={system.n}", x0)
    return watch


def _runner(method: Any, system: LinearSystem, M: Any, callback: Callback | None) -> Any:
    """``run(x0, stop, state)``: the method on this system (``state`` if it carries one)."""
    stateful = getattr(method, "carries_state", False)

    def run(x0: Any, stop: Any, state: Any) -> Iterate:
        extra = {"state": state} if stateful else {}
        return method.solve(system, system.b, x0, M, stop, callback, **extra)

    return run


def facts(system: LinearSystem) -> auto.Facts:
    """What ``auto`` needs to know about a host system."""
    diagonal = None if system.matrix is None else system.matrix.diagonal()
    positive = None if diagonal is None else bool(
        np.all(diagonal.real > 0) and np.allclose(diagonal.imag, 0))
    return auto.Facts(system.n, system.matrix is not None, system.is_symmetric(), positive,
                      system.positive_definite)


def names(solver: Any, choice: auto.Choice | None) -> tuple[str, str]:
    """``(method, pc)`` for this solve: the solver's, or ``auto``'s choice (a ``pc`` the user
    named is kept for every iterative choice)."""
    pc = "custom" if callable(solver.pc) else solver.pc
    if choice is None:
        return solver.method, pc or "none"
    if pc is None or choice.method == "direct":
        return choice.method, choice.pc
    return choice.method, pc


def _setup(solver: Any, system: LinearSystem, kind: str, name: str, component: Any) -> Any:
    """Run ``component.setup(system)`` or reuse the one built for the same matrix values.

    The fingerprint is computed only once a previous setup exists (a one-shot solve pays
    nothing for it).
    """
    if component is None:
        return None
    setups = solver.cache.setups
    cached = setups.get((kind, name))
    fingerprint = system.fingerprint() if cached is not None else None
    if cached is not None and cached[0] == fingerprint:
        LOGGER.debug("%s %r: reusing the setup (same matrix values)", kind, name)
        return cached[1]
    LOGGER.debug("%s %r: setting up for n=%d%s", kind, name, system.n,
                 "" if cached is None else " (the matrix values changed)")
    value = component.setup(system)
    setups[(kind, name)] = (fingerprint or system.fingerprint(), value)
    return value


def float64_residual(system: LinearSystem) -> Callable[[Any], float]:
    """``x -> ||b - A x||`` in float64/complex128 on the caller's system (upcast once:
    the validated system holds the caller's values, at most widened to a common dtype)."""
    return residual64(system.op if system.matrix is None else system.matrix, system.b)


def residual64(A: Any, b: np.ndarray) -> Callable[[Any], float]:
    """``x -> ||b - A x||`` in float64/complex128 for a SciPy matrix or ``LinearOperator``."""
    wide = np.result_type(A.dtype, b.dtype, np.float64)
    b = np.asarray(b).astype(wide, copy=False)
    if isinstance(A, spla.LinearOperator):
        return lambda x: float(np.linalg.norm(b - A.matvec(np.asarray(x, wide)).ravel()))
    A = A.astype(wide, copy=False)
    return lambda x: float(np.linalg.norm(b - A @ np.asarray(x, wide)))


def _norm64(b: np.ndarray) -> float:
    return float(np.linalg.norm(b.astype(np.result_type(b.dtype, np.float64), copy=False)))


def _same(x: Any) -> Any:
    return x


def _failed_setup(exc: SetupError, system: LinearSystem) -> Any:
    """A run that reports the failed setup: ``x`` is the initial guess, nothing iterated."""

    def run(x0: Any, stop: Any, state: Any) -> Iterate:
        x = np.zeros_like(system.b) if x0 is None else x0
        return Iterate(x, 0, [], Reason(exc.reason), {"error": str(exc)}, state)

    return run
