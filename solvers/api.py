"""``solve(A, b)`` and the stateful :class:`Solver` behind it.

Stopping rule everywhere: ``||b - A x||_2 <= max(rtol * ||b||_2, atol)`` on the true residual,
checked once more on return in float64 on the caller's own system (:mod:`solvers.finish`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers import backends, finish, registry
from solvers.errors import BreakdownError, InvalidOptionError
from solvers.result import SolveResult
from solvers.stopping import StoppingRule
from solvers.system import check_callback


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
    pc
        Preconditioner name (``"none"``, ``"jacobi"``, ``"ilu"``, ``"icc"``, ``"ssor"``,
        ``"amg"``, ...); ``None`` lets ``method="auto"`` choose, and means ``"none"`` otherwise.
        A callable ``r -> z`` applying ``M ~ A^{-1}`` is accepted too (jittable on the JAX
        backend; a nonlinear one needs a flexible method such as ``"fcg"``).
    backend
        ``"auto"`` (from the input types), ``"scipy"``, ``"petsc"`` or ``"jax"``.
    rtol, atol, maxiter
        Stopping rule ``||b - A x|| <= max(rtol ||b||, atol)``; ``maxiter=None`` means 10 n.
    options
        PETSc options string or dict (``backend="petsc"`` only).
    raise_on_fail
        Raise :class:`solvers.errors.BreakdownError` instead of returning a non-converged result.
    **params
        Method or preconditioner parameters by keyword (``omega``, ``restart``, ``truncation``,
        ``drop_tol``, ...); each goes to whichever of the two accepts it.

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
                 maxiter: int | None = None, options: str | dict | None = None,
                 raise_on_fail: bool = False, **params: Any) -> None:
        self.stop = StoppingRule(rtol, atol, maxiter)
        if backend != "auto":
            backends.get(backend)
        self.backend = backend
        self.method = method
        self.pc = pc
        self.options = options
        self.raise_on_fail = raise_on_fail
        self.params = params
        self.cache = SolverCache()
        self.states: dict[tuple[str, str], Any] = {}
        if method != "auto":
            registry.lookup(method, "method")
        if pc is not None and not callable(pc):
            registry.lookup(pc, "pc")
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
        backend (:data:`solvers.backends.PARAMS`)."""
        if not self.params or self.method == "auto":
            return
        accepted = registry.lookup(self.method, "method").parameters()
        accepted |= backends.params(self.backend)
        if isinstance(self.pc, str):
            accepted |= registry.lookup(self.pc, "pc").parameters()
        unknown = sorted(set(self.params) - accepted) if "**" not in accepted else []
        if unknown:
            raise InvalidOptionError(
                f"unknown parameter(s) {', '.join(unknown)} for method={self.method!r}, "
                f"pc={self.pc!r}; accepted: {', '.join(sorted(accepted)) or 'none'}"
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

    def solve(self, A: Any, b: Any, x0: Any = None,
              callback: Callable[[np.ndarray], Any] | None = None, *,
              state: Any = None) -> SolveResult:
        """Solve ``A x = b``; see :func:`solve` for the arguments and the result.

        ``state`` replaces the carried state of the stateful component for this solve (as
        SciPy's ``gcrotmk(CU=...)`` takes its recycle list); default: what the solver kept.
        """
        check_callback(callback)
        name = backends.detect(A, b) if self.backend == "auto" else self.backend
        self._check_backend(name)
        result = finish.solve(self, backends.get(name), A, b, x0, callback, state)
        if self.raise_on_fail and not result.converged:
            raise BreakdownError(
                f"solve did not converge: {result.reason.message} "
                f"(iterations={result.iterations}, ||b - A x||={result.residual_norm:.3e}, "
                f"threshold={result.threshold:.3e})", result)
        return result

    def _check_backend(self, backend: str) -> None:
        """Refuse a method or preconditioner that the chosen backend does not run."""
        for kind, name in (("method", self.method), ("pc", self.pc)):
            if not isinstance(name, str) or name == "auto":
                continue
            entry = registry.lookup(name, kind)
            if backend not in entry.backends:
                raise InvalidOptionError(
                    f"{kind} {name!r} does not run on the {backend!r} backend; it runs on: "
                    f"{', '.join(entry.backends)}. Pass backend={entry.backends[0]!r}"
                )

    def __repr__(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return (f"Solver(method={self.method!r}, pc={self.pc!r}, backend={self.backend!r}, "
                f"rtol={self.rtol}, atol={self.atol}, maxiter={self.maxiter}{params})")


def solve(A: Any, b: Any, method: str = "auto", pc: str | Callable | None = None, *,
          backend: str = "auto", rtol: float = 1e-5, atol: float = 0.0,
          maxiter: int | None = None, x0: Any = None,
          callback: Callable[[np.ndarray], Any] | None = None,
          options: str | dict | None = None, raise_on_fail: bool = False,
          **params: Any) -> SolveResult:
    """Solve the linear system ``A x = b``.

    Parameters
    ----------
    A
        SciPy sparse matrix/array, dense ndarray, ``scipy.sparse.linalg.LinearOperator``,
        petsc4py ``Mat``, jax array or BCOO, or an :class:`operators.Problem`.
    b
        Right-hand side (ndarray, jax array or petsc4py ``Vec``); ``x`` comes back in the same
        family.
    method, pc, backend, rtol, atol, maxiter, options, raise_on_fail, **params
        As for :class:`Solver`.
    x0
        Initial guess (default zero).
    callback
        ``callback(xk)`` after each iteration (host and PETSc backends).

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
    solver = Solver(method, pc, backend=backend, rtol=rtol, atol=atol, maxiter=maxiter,
                    options=options, raise_on_fail=raise_on_fail, **params)
    return solver.solve(A, b, x0=x0, callback=callback)
