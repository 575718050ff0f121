"""``solve(A, b)`` and the stateful :class:`Solver` behind it.

Stopping rule everywhere: ``||b - A x||_2 <= max(rtol * ||b||_2, atol)`` on the true residual,
checked once more on return in float64 on the caller's own system (:mod:`solvers.finish`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse.linalg as spla

from solvers import backends, finish, monitor, registry, small
from solvers import learned as learned_module
from solvers.errors import BreakdownError, InvalidOptionError, InvalidSystemError
from solvers.method import Method, Preconditioner
from solvers.request import SCIPY_SPELLINGS, Request, Store
from solvers.result import SolveResult
from solvers.stopping import DTOL, STAGNATION_WINDOW, StoppingRule
from solvers.system import check_callback, is_problem, preconditioner_argument

__all__ = ["SCIPY_SPELLINGS", "Solver", "solve", "solve_keywords"]

#: ``solve()``'s validated requests by their arguments (hashable ones only), so a simulation
#: that calls ``solve(A, b, method="cg")`` every step validates its options once.
_REQUESTS: dict[tuple, Request] = {}
_REQUESTS_MAX = 256
_PLAIN = (str, int, float, bool)


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
    dtol, stagnation
        Divergence tolerance, PETSc's meaning: stop with ``reason="diverged_dtol"`` when
        ``||r_k|| > dtol ||r_0||`` (default 1e5; ``math.inf`` switches it off); stop with
        ``reason="stagnation"`` after ``max(stagnation, 4 k_best)`` iterations without a new
        best residual (default 1000; ``None`` switches it off). Host iterative methods and
        PETSc (``-ksp_divtol``); see :mod:`solvers.stopping`.
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
    learn
        ``method="auto"`` only: ``True``, or a dict of learner options (``seed``,
        ``explore``, ``budget``, ``penalty``, ``memory``, ``share``:
        :data:`solvers.selection.LEARN_PARAMS`), lets an online learner choose the method
        and pc on each call from the candidates that fit the system, by their measured wall
        time over this solver's calls (:mod:`solvers.learned`);
        ``res.info["auto"]["learned"]`` holds its estimates and ``res.state`` its state.
    **params
        Method or preconditioner parameters by keyword (``omega``, ``restart``, ``truncation``,
        ``drop_tol``, ...), each declared by the method or pc with its valid range
        (``solvers.registry.lookup(name).params``) and checked here, before anything is built;
        each goes to whichever of the two declares it.

    Notes
    -----
    State kept between ``solve`` calls (:class:`solvers.request.Store`, ``solver.cache``): the
    setup of the method and preconditioner (LU factors, AMG hierarchy, loaded network),
    rebuilt only when the matrix values change, and the *carried state* of components that
    learn or recycle (``states``, keyed by ``(kind, name)``; see :mod:`solvers.method`),
    updated once per ``solve`` call and returned as ``result.state``. With ``method="auto"``
    a matrix that keeps coming back is factored once its iterations have cost about as much as
    a factorisation, and solved by that LU while it is cheaper (:mod:`solvers.reuse`;
    ``info["auto"]["why"]`` says so).

    Examples
    --------
    >>> import operators
    >>> p = operators.poisson((32, 32))
    >>> s = Solver(method="cg", pc="amg", rtol=1e-8)
    >>> s.solve(p, p.b).converged
    True
    """

    #: The learning driver (``learn=True``), else ``None``.
    learned: learned_module.LearnedAuto | None = None

    def __init__(self, method: str = "auto", pc: str | Callable | None = None, *,
                 backend: str = "auto", rtol: float = 1e-5, atol: float = 0.0,
                 maxiter: int | None = None, M: Any = None, monitor: bool = False,
                 options: str | dict | None = None, raise_on_fail: bool = False,
                 dtol: float = DTOL, stagnation: int | None = STAGNATION_WINDOW,
                 learn: bool | dict = False, **params: Any) -> None:
        self.request = _request(method, pc, backend, rtol, atol, maxiter, M, monitor, options,
                                raise_on_fail, dtol, stagnation, params)
        self.raise_on_fail = raise_on_fail
        self.cache = Store()
        options_ = learned_module.learn_options(learn)
        if options_ is not None:
            self.learned = learned_module.LearnedAuto(self.request, options_)

    @classmethod
    def _one_shot(cls, request: Request, raise_on_fail: bool) -> Solver:
        """The Solver behind one :func:`solve` call: nothing is kept for a next call."""
        solver = cls.__new__(cls)
        solver.request, solver.raise_on_fail = request, raise_on_fail
        solver.cache = Store(keeps_setups=False)
        return solver

    @property
    def method(self) -> str:
        return self.request.method_name

    @property
    def pc(self) -> Any:
        """The pc as given: its registered name, the caller's function/matrix, or ``None``."""
        request = self.request
        return request.user_pc if request.user_pc is not None else (
            None if request.pc is None else request.pc.name)

    @property
    def backend(self) -> str:
        return self.request.backend

    @property
    def stop(self) -> StoppingRule:
        return self.request.stop

    @property
    def rtol(self) -> float:
        return self.stop.rtol

    @property
    def atol(self) -> float:
        return self.stop.atol

    @property
    def maxiter(self) -> int | None:
        return self.stop.maxiter

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.request.params)

    @property
    def monitor(self) -> bool:
        return self.request.monitor

    @property
    def options(self) -> str | dict | None:
        return self.request.options

    @property
    def states(self) -> dict[tuple[str, str], Any]:
        """Carried state of each stateful component, keyed by ``(kind, name)``."""
        return self.cache.states

    def component(self, kind: registry.Kind, name: str) -> Method | Preconditioner:
        """The host method/preconditioner object for ``name``, built once with its parameters."""
        return self.cache.component(registry.lookup(name, kind), self.request)

    def solve(self, A: Any, b: Any = None, x0: Any = None,
              callback: Callable[[np.ndarray], Any] | None = None, *,
              state: Any = None) -> SolveResult:
        """Solve ``A x = b``; see :func:`solve` for the arguments and the result.

        ``state`` replaces the carried state of the stateful component for this solve (as
        SciPy's ``gcrotmk(CU=...)`` takes its recycle list); default: what the solver kept.
        """
        check_callback(callback)
        if b is None or isinstance(b, str):
            b = _right_hand_side(A, b)
        if isinstance(x0, str):
            x0 = _initial_guess(A, x0)
        request = self.request
        name = backends.detect(A, b, request) if request.backend == "auto" else request.backend
        _check_backend(request, name, callback)
        if self.learned is not None:
            result = self.learned.solve(name, A, b, x0, callback, state)
        else:
            result = finish.solve(request, self.cache, backends.get(name), A, b, x0, callback,
                                  state)
        if monitor.LOGGER.isEnabledFor(10):
            monitor.LOGGER.debug("solve: %r", result)
        if request.monitor:
            monitor.report(result)
        if self.raise_on_fail and not result.converged:
            raise BreakdownError(
                f"solve did not converge: {result.reason.message} "
                f"(iterations={result.iterations}, ||b - A x||={result.residual_norm:.3e}, "
                f"threshold={result.threshold:.3e})", result)
        return result

    def __repr__(self) -> str:
        request = self.request
        extra = {"monitor": request.monitor, "options": request.options,
                 "raise_on_fail": self.raise_on_fail,
                 "learn": self.learned.options if self.learned is not None else None}
        shown = "".join(f", {k}={v!r}" for k, v in extra.items() if v)
        params = "".join(f", {k}={v!r}" for k, v in request.params.items())
        return (f"Solver(method={self.method!r}, pc={request.pc_label!r}, "
                f"backend={self.backend!r}, rtol={self.rtol}, atol={self.atol}, "
                f"maxiter={self.maxiter}{shown}{params})")


def _request(method: Any, pc: Any, backend: Any, rtol: Any, atol: Any, maxiter: Any, M: Any,
             monitor: Any, options: Any, raise_on_fail: Any, dtol: Any, stagnation: Any,
             params: dict[str, Any]) -> Request:
    """Validate every argument of :class:`Solver` into a :class:`Request` (nothing built)."""
    for name, value in (("monitor", monitor), ("raise_on_fail", raise_on_fail)):
        if not isinstance(value, bool | np.bool_):
            raise InvalidOptionError(f"{name} must be True or False, not {value!r}")
    if not isinstance(method, str):
        raise InvalidOptionError(f"method must be a string name such as 'cg', not "
                                 f"{type(method).__name__}")
    if not isinstance(backend, str):
        raise InvalidOptionError(f"backend must be a string ('auto', 'scipy', 'petsc', "
                                 f"'jax'), not {type(backend).__name__}")
    backend = backend.lower()
    if backend != "auto":
        backends.get(backend)  # unknown -> InvalidOptionError; not installed -> says how
    _check_options(options)
    stop = StoppingRule(rtol, atol, maxiter, dtol, stagnation)
    given = preconditioner_argument(pc, M)
    user_pc = None if given is None or isinstance(given, str) else given
    pc_name = given if isinstance(given, str) else None
    return Request.build(method, pc_name, user_pc, stop, params, backend, options, bool(monitor))


def _check_options(options: Any) -> None:
    """PETSc options: a string ``"-ksp_type cg"``, a dict, or ``None``."""
    if options is not None and not isinstance(options, str | dict):
        raise InvalidOptionError(f"options must be a string like '-ksp_type cg' or a dict, "
                                 f"not {type(options).__name__}")


def _check_backend(request: Request, backend: str, callback: Callable | None) -> None:
    """Refuse a method or preconditioner that the chosen backend does not run, and what
    the JAX backend's compiled loops cannot do (before any work)."""
    for entry in (request.method, request.pc):
        if entry is not None and backend not in entry.backends:
            raise InvalidOptionError(
                f"{entry.label()} does not run on the {backend!r} backend; it runs on: "
                f"{', '.join(entry.backends)}. Pass backend={entry.backends[0]!r}"
            )
    if backend == "jax":
        _check_jax(request, callback)


def _check_jax(request: Request, callback: Callable | None) -> None:
    """On JAX the loop is one compiled program: no per-iteration callback or monitor
    (except for a method that runs through the host pipeline, ``JaxSpec.delegate``), and
    only a jittable function as ``pc`` (not a SciPy matrix or ``LinearOperator``)."""
    entry = request.method
    delegated = entry is not None and entry.jax is not None and entry.jax.delegate
    for given, what in ((callback is not None, "callback"), (request.monitor, "monitor=True")):
        if given and not delegated:
            raise InvalidOptionError(
                f"{what} is not supported on backend='jax' (the iteration runs on the "
                f"device as one compiled loop); read res.residuals afterwards, or use "
                f"backend='scipy'"
            )
    if isinstance(request.user_pc, spla.LinearOperator) and not delegated:
        raise InvalidOptionError(
            "a SciPy matrix or LinearOperator as pc/M runs on the host and PETSc backends; "
            "on backend='jax' pass a jittable function r -> z (e.g. lambda r: Mj @ r with "
            "Mj a jax array or BCOO matrix)"
        )


def _right_hand_side(A: Any, b: str | None) -> Any:
    """The problem's own ``A.b`` when ``b`` is omitted for a Problem; a string ``b`` (a
    method name given positionally) is refused."""
    if isinstance(b, str):
        raise InvalidSystemError(
            f"b is the string {b!r}; name the method by keyword when b is omitted: "
            f"solve(p, method={b!r})"
        )
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
          raise_on_fail: bool = False, dtol: float = DTOL,
          stagnation: int | None = STAGNATION_WINDOW,
          **params: Any) -> SolveResult:
    """Solve the linear system ``A x = b``.

    Parameters
    ----------
    A
        SciPy sparse matrix/array, dense ndarray, ``scipy.sparse.linalg.LinearOperator``,
        petsc4py ``Mat``, jax array or BCOO, or an :class:`operators.Problem`.
    b
        Right-hand side (ndarray, jax array or petsc4py ``Vec``); ``x`` comes back in the same
        family. May be omitted when ``A`` is an :class:`operators.Problem` (its ``p.b``).
    method, pc, backend, rtol, atol, maxiter, dtol, stagnation, M, monitor, options,
    raise_on_fail, **params
        As for :class:`Solver`.
    x0
        Initial guess (default zero), or the name of a trained neural operator
        (``"fno:darcy"``) whose prediction for the :class:`operators.GridProblem` ``A`` is the
        guess (a provider registered by name, :func:`solvers.guesses.initial_guess`); the
        stopping rule is unchanged.
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
    key = _request_key(method, pc, backend, rtol, atol, maxiter, M, monitor, options,
                       raise_on_fail, dtol, stagnation, params)
    request = _REQUESTS.get(key) if key is not None else None
    if request is None:
        request = _request(method, pc, backend, rtol, atol, maxiter, M, monitor, options,
                           raise_on_fail, dtol, stagnation, params)
        if key is not None:
            if len(_REQUESTS) >= _REQUESTS_MAX:
                _REQUESTS.clear()
            _REQUESTS[key] = request
    if x0 is None and callback is None and small.applies(request, A, b):
        result = small.solve(request, A, b)
        if result is not None and (result.converged or not raise_on_fail):
            return result
    solver = Solver._one_shot(request, raise_on_fail)
    return solver.solve(A, b, x0=x0, callback=callback)


def _request_key(*args: Any) -> tuple | None:
    """A key for :data:`_REQUESTS`: the arguments with their types, when all are plain
    (names, numbers, ``None``); ``None`` (no caching) for a function, matrix or list."""
    *plain, params = args
    values = (*plain, *params.keys(), *params.values())
    if not all(v is None or type(v) in _PLAIN for v in values):
        return None
    return (registry.generation(), *map(type, values), *plain, *sorted(params.items()))


def _initial_guess(A: Any, x0: str) -> Any:
    """The registered provider's guess for the ``x0`` it names (``"fno:darcy"``:
    :func:`solvers.guesses.initial_guess`)."""
    from solvers.guesses import initial_guess

    return initial_guess(x0, A)
