"""``solve(A, b)`` and the stateful :class:`Solver` behind it.

Stopping rule everywhere: ``||b - A x||_2 <= max(rtol * ||b||_2, atol)`` on the true residual,
checked once more on return in float64 on the caller's own system (:mod:`solvers.finish`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse.linalg as spla

from solvers import backends, finish, monitor, registry
from solvers.errors import BreakdownError, InvalidOptionError, InvalidSystemError
from solvers.result import SolveResult
from solvers.stopping import StoppingRule
from solvers.system import check_callback, is_problem, preconditioner_argument

#: Keywords of SciPy's solvers that are spelled otherwise here (or that SciPy removed), and
#: what to write instead.
SCIPY_SPELLINGS = {
    "tol": "use rtol= (SciPy removed tol in 1.14; the test is ||b - A x|| <= max(rtol ||b||, "
           "atol))",
    "restrt": "use restart= (SciPy's old GMRES spelling)",
    "callback_type": "callback(xk) receives the current iterate after every iteration (inner "
                     "iterations of GMRES, as SciPy's 'x' does per restart); residual norms "
                     "are in res.residuals, or pass monitor=True",
    "show": "use monitor=True to print one line per iteration",
    "verbose": "use monitor=True to print one line per iteration",
}


@dataclass
class SolverCache:
    """What a :class:`Solver` reuses between solves, apart from carried state.

    ``components``: the method/preconditioner objects, built once with their parameters;
    ``setups``: each component's setup keyed by the matrix fingerprint it was built for;
    ``backends``: each backend's own typed state (PETSc KSPs and matrices, JAX conversions).
    """

    components: dict[tuple[str, str], Any] = field(default_factory=dict)
    setups: dict[tuple[str, str], tuple[tuple, Any]] = field(default_factory=dict)
    backends: dict[str, Any] = field(default_factory=dict)


class Solver:
    """A configured solver that keeps its setup and state across a sequence of systems.

    Parameters
    ----------
    method
        ``"auto"`` or a registered method name (``"cg"``, ``"gmres"``, ``"dcdm"``, ...).
        Names are matched case-insensitively (``"CG"``); an unknown one lists the valid
        names and the nearest match.
    pc
        Preconditioner name (``"none"``, ``"jacobi"``, ``"ilu"``, ``"icc"``, ``"ssor"``,
        ``"amg"``, ...); ``None`` lets ``method="auto"`` choose, and means ``"none"`` otherwise.
        Also what SciPy accepts as ``M``: a sparse matrix or NumPy array, a ``LinearOperator``
        or a callable ``r -> z`` applying ``M ~ A^{-1}`` (host and PETSc backends; on JAX only
        a jittable callable; a nonlinear one needs a flexible method such as ``"fcg"``).
    backend
        ``"auto"`` (from the input types), ``"scipy"``, ``"petsc"`` or ``"jax"``.
    rtol, atol, maxiter
        Stopping rule ``||b - A x|| <= max(rtol ||b||, atol)``; ``maxiter=None`` means 10 n.
        (SciPy's removed ``tol=`` is refused with a pointer to ``rtol=``.)
    M
        SciPy's name for the preconditioner ``M ~ A^{-1}`` (matrix, ``LinearOperator`` or
        callable): the same as ``pc=``; giving both is an error.
    monitor
        Print one line per iteration (iteration, ``||b - A x_k||``, ``||b - A x_k|| / ||b||``)
        and a final line with the verdict, like PETSc's ``-ksp_monitor``
        (:mod:`solvers.monitor`). Host and PETSc backends; refused on JAX.
    options
        PETSc options string or dict (``backend="petsc"`` only).
    raise_on_fail
        Raise :class:`solvers.errors.BreakdownError` instead of returning a non-converged result.
    **params
        Method or preconditioner parameters by keyword (``omega``, ``restart``, ``truncation``,
        ``drop_tol``, ...); each goes to whichever of the two accepts it.

    Notes
    -----
    State kept between ``solve`` calls: the setup of the method and preconditioner (LU
    factors, AMG hierarchy, loaded network; :class:`SolverCache`), rebuilt only when the
    matrix values change, and the *carried state* of components that learn or recycle
    (``states``, keyed by ``(kind, name)``; see :mod:`solvers.method`), updated once per
    ``solve`` call and returned as ``result.state``.

    Examples
    --------
    >>> import operators
    >>> p = operators.poisson((32, 32))
    >>> s = Solver(method="cg", pc="amg", rtol=1e-8)
    >>> s.solve(p, p.b).converged
    True
    """

    def __init__(self, method: str = "auto", pc: str | Callable | None = None, *,
                 backend: str = "auto", rtol: float = 1e-5, atol: float = 0.0,
                 maxiter: int | None = None, M: Any = None, monitor: bool = False,
                 options: str | dict | None = None, raise_on_fail: bool = False,
                 **params: Any) -> None:
        self.stop = StoppingRule(rtol, atol, maxiter)
        if backend != "auto":
            backends.get(backend)
        self.backend = backend
        self.method = _canonical(method, "method")
        self.pc = _canonical(preconditioner_argument(pc, M), "pc")
        self.monitor = bool(monitor)
        self.options = options
        self.raise_on_fail = raise_on_fail
        self.params = params
        self.cache = SolverCache()
        self.states: dict[tuple[str, str], Any] = {}
        self._check_params()

    @property
    def rtol(self) -> float:
        return self.stop.rtol

    @property
    def atol(self) -> float:
        return self.stop.atol

    @property
    def maxiter(self) -> int | None:
        return self.stop.maxiter

    def _check_params(self) -> None:
        """Every keyword parameter must be taken by the method, the preconditioner or the
        backend (:data:`solvers.backends.PARAMS`); SciPy spellings get their fix
        (:data:`SCIPY_SPELLINGS`). With ``method="auto"`` a parameter must be taken by some
        name registered so far."""
        if not self.params:
            return
        if self.method == "auto":  # what auto may pick: built-in names (no plugin import)
            entries = registry.entries(plugins=False)
        else:
            entries = [registry.lookup(self.method, "method")]
            if isinstance(self.pc, str):
                entries.append(registry.lookup(self.pc, "pc"))
        accepted = set().union(*(entry.parameters() for entry in entries))
        accepted |= backends.params(self.backend)
        habits = [name for name in self.params if name in SCIPY_SPELLINGS and name not in accepted]
        unknown = habits or (sorted(set(self.params) - accepted) if "**" not in accepted else [])
        if unknown:
            fixes = "".join(f" {name}: {SCIPY_SPELLINGS[name]}." for name in habits)
            pc = self.pc if self.pc is None or isinstance(self.pc, str) else "custom"
            raise InvalidOptionError(
                f"unknown parameter(s) {', '.join(unknown)} for method={self.method!r}, "
                f"pc={pc!r}.{fixes} Accepted: the keywords of solve(): "
                f"{', '.join(solve_keywords())}; and the parameters of "
                f"{'any method/pc' if self.method == 'auto' else 'this method/pc'}: "
                f"{', '.join(sorted(accepted - {'**'})) or 'none'}"
            )

    def component(self, kind: str, name: str) -> Any:
        """The host method/preconditioner object for ``name``, built once with its parameters."""
        key = (kind, name)
        if key not in self.cache.components:
            factory = registry.lookup(name, kind).factory
            accepted = registry.factory_parameters(factory)
            kwargs = {k: v for k, v in self.params.items() if k in accepted or "**" in accepted}
            if kind == "pc" and "**" in accepted and self.method != "auto":
                kwargs = {k: v for k, v in kwargs.items()
                          if k not in registry.lookup(self.method, "method").parameters()}
            self.cache.components[key] = factory(**kwargs)
        return self.cache.components[key]

    def backend_state(self, name: str, new: Callable[[], Any]) -> Any:
        """Backend ``name``'s own state in this solver (created by ``new()`` on first use)."""
        if name not in self.cache.backends:
            self.cache.backends[name] = new()
        return self.cache.backends[name]

    def solve(self, A: Any, b: Any = None, x0: Any = None,
              callback: Callable[[np.ndarray], Any] | None = None, *,
              state: Any = None) -> SolveResult:
        """Solve ``A x = b``; see :func:`solve` for the arguments and the result.

        ``state`` replaces the carried state of the stateful component for this solve (as
        SciPy's ``gcrotmk(CU=...)`` takes its recycle list); default: what the solver kept.
        """
        check_callback(callback)
        b = _right_hand_side(A, b)
        x0 = _initial_guess(A, x0)
        name = backends.detect(A, b) if self.backend == "auto" else self.backend
        self._check_backend(name, callback)
        result = finish.solve(self, backends.get(name), A, b, x0, callback, state)
        monitor.LOGGER.debug("solve: %r", result)
        if self.monitor:
            monitor.report(result)
        if self.raise_on_fail and not result.converged:
            raise BreakdownError(
                f"solve did not converge: {result.reason.message} "
                f"(iterations={result.iterations}, ||b - A x||={result.residual_norm:.3e}, "
                f"threshold={result.threshold:.3e})", result)
        return result

    def _check_backend(self, backend: str, callback: Callable | None) -> None:
        """Refuse a method or preconditioner that the chosen backend does not run, and what
        the JAX backend's compiled loops cannot do (before any work)."""
        for kind, name in (("method", self.method), ("pc", self.pc)):
            if not isinstance(name, str) or name == "auto":
                continue
            entry = registry.lookup(name, kind)
            if backend not in entry.backends:
                raise InvalidOptionError(
                    f"{kind} {name!r} does not run on the {backend!r} backend; it runs on: "
                    f"{', '.join(entry.backends)}. Pass backend={entry.backends[0]!r}"
                )
        if backend == "jax":
            self._check_jax(callback)

    def _check_jax(self, callback: Callable | None) -> None:
        """On JAX the loop is one compiled program: no per-iteration callback or monitor
        (except for a method that runs through the host pipeline, ``JaxSpec.delegate``), and
        only a jittable function as ``pc`` (not a SciPy matrix or ``LinearOperator``)."""
        entry = None if self.method == "auto" else registry.lookup(self.method, "method")
        delegated = entry is not None and entry.jax is not None and entry.jax.delegate
        for given, what in ((callback is not None, "callback"), (self.monitor, "monitor=True")):
            if given and not delegated:
                raise InvalidOptionError(
                    f"{what} is not supported on backend='jax' (the iteration runs on the "
                    f"device as one compiled loop); read res.residuals afterwards, or use "
                    f"backend='scipy'"
                )
        if isinstance(self.pc, spla.LinearOperator) and not delegated:
            raise InvalidOptionError(
                "a SciPy matrix or LinearOperator as pc/M runs on the host and PETSc backends; "
                "on backend='jax' pass a jittable function r -> z (e.g. lambda r: Mj @ r with "
                "Mj a jax array or BCOO matrix)"
            )

    def __repr__(self) -> str:
        pc = self.pc if self.pc is None or isinstance(self.pc, str) else "custom"
        extra = {"monitor": self.monitor, "options": self.options,
                 "raise_on_fail": self.raise_on_fail}
        shown = "".join(f", {k}={v!r}" for k, v in extra.items() if v)
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return (f"Solver(method={self.method!r}, pc={pc!r}, backend={self.backend!r}, "
                f"rtol={self.rtol}, atol={self.atol}, maxiter={self.maxiter}{shown}{params})")


def _canonical(name: Any, kind: registry.Kind) -> Any:
    """A method/pc name as registered (``"CG"`` -> ``"cg"``); other values unchanged."""
    if not isinstance(name, str):
        if kind == "method":
            registry.lookup(name, kind)  # raises: a method is a name
        return name
    if kind == "method" and name.lower() == "auto":
        return "auto"
    return registry.lookup(name, kind).name


def _right_hand_side(A: Any, b: Any) -> Any:
    """``b``, or the problem's own ``A.b`` when ``b`` is omitted for a Problem."""
    if isinstance(b, str):
        raise InvalidSystemError(
            f"b is the string {b!r}; name the method by keyword when b is omitted: "
            f"solve(p, method={b!r})"
        )
    if b is not None:
        return b
    if is_problem(A):
        return A.b
    raise InvalidSystemError(
        "b is missing: solve(A, b) needs a right-hand side (b may be omitted only for an "
        "operators.Problem, whose p.b is then used)"
    )


def solve_keywords() -> list[str]:
    """The keyword arguments of :func:`solve` (method/pc parameters come on top)."""
    return [name for name, p in inspect.signature(solve).parameters.items()
            if name not in ("A", "b") and p.kind is not p.VAR_KEYWORD]


def solve(A: Any, b: Any = None, method: str = "auto", pc: str | Callable | None = None, *,
          backend: str = "auto", rtol: float = 1e-5, atol: float = 0.0,
          maxiter: int | None = None, x0: Any = None,
          callback: Callable[[np.ndarray], Any] | None = None, M: Any = None,
          monitor: bool = False, options: str | dict | None = None,
          raise_on_fail: bool = False, **params: Any) -> SolveResult:
    """Solve the linear system ``A x = b``.

    Parameters
    ----------
    A
        SciPy sparse matrix/array, dense ndarray, ``scipy.sparse.linalg.LinearOperator``,
        petsc4py ``Mat``, jax array or BCOO, or an :class:`operators.Problem`.
    b
        Right-hand side (ndarray, jax array or petsc4py ``Vec``); ``x`` comes back in the same
        family. May be omitted when ``A`` is an :class:`operators.Problem` (its ``p.b``).
    method, pc, backend, rtol, atol, maxiter, M, monitor, options, raise_on_fail, **params
        As for :class:`Solver`.
    x0
        Initial guess (default zero), or the name of a trained neural operator
        (``"fno:darcy"``) whose prediction for the :class:`operators.GridProblem` ``A`` is the
        guess (:func:`sciml.neural_operators.initial_guess`); the stopping rule is unchanged.
    callback
        ``callback(xk)`` with the current iterate after each iteration: every inner
        iteration of GMRES/FGMRES (what SciPy's ``callback_type="x"`` gives once per restart);
        not called by ``direct``. Host and PETSc backends (on JAX only for methods that run
        through the host, such as ``dcdm``; refused otherwise).

    Returns
    -------
    SolveResult
        ``x``, ``converged``, ``reason``, ``iterations``, ``residuals``, ``timings``, ``info``.
        ``converged`` is True only if ``||b - A x|| <= max(rtol ||b||, atol)`` holds for the
        returned ``x`` in float64 on the caller's ``A`` and ``b``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(50, 50), format="csr")
    >>> res = solve(A, np.ones(50), method="cg", rtol=1e-10)
    >>> res.converged, res.reason
    (True, <Reason.RTOL: 'rtol'>)
    """
    solver = Solver(method, pc, backend=backend, rtol=rtol, atol=atol, maxiter=maxiter, M=M,
                    monitor=monitor, options=options, raise_on_fail=raise_on_fail, **params)
    return solver.solve(A, b, x0=x0, callback=callback)


def _initial_guess(A: Any, x0: Any) -> Any:
    """``x0`` as given, or a trained operator's prediction when ``x0`` names one."""
    if not isinstance(x0, str):
        return x0
    from sciml.neural_operators import initial_guess  # a learned component: import on use

    return initial_guess(x0, A)
