"""The host backend: NumPy/SciPy arrays, SciPy's Krylov methods, pyamg, and our own methods.

Also the adapter for ``scipy.sparse.linalg.bicgstab`` (argument names translated here).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse.linalg as spla

from solvers.errors import SetupError
from solvers.method import Callback, Iterate
from solvers.reasons import Reason
from solvers.result import SolveResult, make_result
from solvers.stopping import StoppingRule
from solvers.system import LinearSystem, as_system, as_vector

#: Systems with at most this many unknowns are solved directly by ``method="auto"``.
AUTO_DIRECT_MAX_N = 10_000
#: A method that claims convergence but fails the true-residual test (its internal estimate
#: drifted, or its own stopping test differs, as MINRES's does) is restarted from its ``x``
#: with a 10x tighter tolerance, at most this many times.
REFINEMENT_RESTARTS = 2


class ScipyBiCGStab:
    """Adapter for ``scipy.sparse.linalg.bicgstab`` (van der Vorst, 1992).

    Residual history: SciPy's callback gives only the iterate, so the true residual is
    computed there, at the cost of one extra matvec per iteration (BiCGStab does two).
    """

    requires_symmetric = False

    def setup(self, system: LinearSystem) -> None:
        """Nothing to prepare."""

    def solve(self, system: LinearSystem, b: np.ndarray, x0: np.ndarray | None,
              M: spla.LinearOperator | None, stop: StoppingRule,
              callback: Callback | None = None) -> Iterate:
        bnorm = float(np.linalg.norm(b))
        r0 = bnorm if x0 is None else float(np.linalg.norm(b - system.op.matvec(x0)))
        residuals = [r0]

        def record(xk: np.ndarray) -> None:
            residuals.append(float(np.linalg.norm(b - system.op.matvec(xk))))
            if callback is not None:
                callback(xk)

        rtol = stop.threshold(bnorm) / bnorm if bnorm > 0 else 0.0
        x, info = spla.bicgstab(system.op, b, x0=x0, M=M, rtol=rtol, atol=stop.atol,
                                maxiter=stop.iterations(system.n), callback=record)
        if not np.all(np.isfinite(x)):
            reason = Reason.DIVERGED_NAN
        elif info == 0:
            reason = Reason.RTOL
        else:
            reason = Reason.MAXITER if info > 0 else Reason.BREAKDOWN
        return Iterate(np.asarray(x), len(residuals) - 1, residuals, reason)


class _CallablePreconditioner:
    """Wraps a user function ``r -> z`` as a preconditioner."""

    requires_symmetric = False

    def __init__(self, function: Callable[[np.ndarray], np.ndarray]) -> None:
        self.function = function

    def setup(self, system: LinearSystem) -> spla.LinearOperator:
        return spla.LinearOperator(system.op.shape, matvec=self.function, dtype=system.dtype)


def accepts(A: Any, b: Any) -> bool:
    """The host backend takes anything :func:`solvers.system.as_system` understands."""
    return True


def choose_auto(system: LinearSystem) -> tuple[str, str]:
    """The ``method="auto"`` rule (documented in the README and docs/design.md).

    1. small (``n <= AUTO_DIRECT_MAX_N``) and assembled: sparse LU (``"direct"``);
    2. symmetric with a positive real diagonal (likely SPD): CG preconditioned by
       smoothed-aggregation AMG;
    3. otherwise: restarted GMRES with ILU (or unpreconditioned when matrix-free).
    """
    if system.matrix is not None and system.n <= AUTO_DIRECT_MAX_N:
        return "direct", "none"
    if system.is_symmetric():
        diag = system.matrix.diagonal() if system.matrix is not None else None
        if diag is not None and np.all(diag.real > 0) and np.allclose(diag.imag, 0):
            return "cg", "amg"
        if diag is None and system.positive_definite:
            return "cg", "none"
    return "gmres", "ilu" if system.matrix is not None else "none"


def solve(solver: Any, A: Any, b: Any, x0: Any = None,
          callback: Callback | None = None) -> SolveResult:
    """Solve on the host with ``solver``'s method, preconditioner, tolerances and state."""
    start = time.perf_counter()
    system = as_system(A, b)
    x0 = None if x0 is None else as_vector(x0, system.n, "x0").astype(system.dtype)
    custom_pc = solver.pc if callable(solver.pc) else None
    method_name, pc_name = solver.method, "custom" if custom_pc else (solver.pc or "none")
    if method_name == "auto":
        method_name, auto_pc = choose_auto(system)
        pc_name = auto_pc if solver.pc is None else pc_name
    method = solver.component("method", method_name)
    pc = None if pc_name == "none" else (
        _CallablePreconditioner(custom_pc) if custom_pc else solver.component("pc", pc_name))
    if getattr(method, "requires_symmetric", False):
        system.require_symmetric(method_name)
    if pc is not None and getattr(pc, "requires_symmetric", False):
        system.require_symmetric(f"pc={pc_name!r}")
    info = {"backend": "scipy", "method": method_name, "pc": pc_name, "device": "cpu"}
    try:
        M = solver.prepare(system, method_name, method, pc_name, pc)
    except SetupError as exc:
        x = np.zeros_like(system.b) if x0 is None else x0
        return _finish(system, x, Iterate(x, 0, [], Reason(exc.reason), {"error": str(exc)}),
                       solver.stop, start, time.perf_counter(), info)
    setup_done = time.perf_counter()
    _call_hooks("before_solve", (method, pc), system, solver.stop)
    it = method.solve(system, system.b, x0, M, solver.stop, callback)
    if method_name != "direct":
        it = _refine(method, system, M, solver.stop, callback, it)
    result = _finish(system, it.x, it, solver.stop, start, setup_done, info)
    _call_hooks("after_solve", (method, pc), result)
    return result


def _refine(method: Any, system: LinearSystem, M: Any, stop: StoppingRule,
            callback: Callback | None, it: Iterate) -> Iterate:
    """Restart a method that claimed convergence on its own residual estimate while the true
    residual fails the test, from its ``x`` with a 10x tighter tolerance each time."""
    for attempt in range(1, REFINEMENT_RESTARTS + 1):
        if not it.reason.converged or it.iterations == 0:
            break
        rnorm = float(np.linalg.norm(system.b - system.op.matvec(it.x)))
        if rnorm <= stop.threshold(float(np.linalg.norm(system.b))):
            break
        tighter = StoppingRule(stop.rtol * 0.1**attempt, stop.atol * 0.1**attempt,
                               stop.maxiter)
        more = method.solve(system, system.b, it.x, M, tighter, callback)
        it = Iterate(more.x, it.iterations + more.iterations,
                     it.residuals + more.residuals[1:], more.reason, {**it.info, **more.info})
    return it


def _call_hooks(hook: str, components: tuple[Any, ...], *args: Any) -> None:
    """Call the optional hook ``hook(*args)`` (see :mod:`solvers.method`) where defined."""
    for component in components:
        function = getattr(component, hook, None)
        if function is not None:
            function(*args)


def _finish(system: LinearSystem, x: np.ndarray, it: Iterate, stop: StoppingRule,
            start: float, setup_done: float, info: dict[str, Any]) -> SolveResult:
    end = time.perf_counter()
    bnorm = float(np.linalg.norm(system.b))
    rnorm = float(np.linalg.norm(system.b - system.op.matvec(x)))
    timings = {"setup": setup_done - start, "solve": end - setup_done, "total": end - start}
    residuals = it.residuals if it.residuals else [rnorm]
    return make_result(x, rnorm, bnorm, stop, it.reason, it.iterations, residuals, timings,
                       {**info, **it.info})
