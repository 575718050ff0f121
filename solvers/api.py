"""``solve(A, b)`` and the stateful :class:`Solver` behind it.

Stopping rule everywhere: ``||b - A x||_2 <= max(rtol * ||b||_2, atol)`` on the true residual,
checked once more on return (:mod:`solvers.stopping`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from solvers import backends, registry
from solvers.errors import BreakdownError, InvalidOptionError
from solvers.result import SolveResult
from solvers.stopping import StoppingRule
from solvers.system import LinearSystem


class Solver:
    """A configured solver that keeps its setup across a sequence of systems.

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

    State kept between ``solve`` calls: the method and preconditioner objects (bandit weights,
    recycle spaces, loaded networks) and their setup (LU factors, AMG hierarchy), which is
    rebuilt only when the matrix values change.

    Examples
    --------
    >>> import operators
    >>> p = operators.poisson((32, 32))
    >>> s = Solver(method="cg", pc="amg", rtol=1e-8)
    >>> s.solve(p, p.b).converged
    True
    """

    def __init__(self, method: str = "auto", pc: str | None = None, *, backend: str = "auto",
                 rtol: float = 1e-5, atol: float = 0.0, maxiter: int | None = None,
                 options: str | dict | None = None, raise_on_fail: bool = False,
                 **params: Any) -> None:
        self.stop = StoppingRule(rtol, atol, maxiter)
        if backend != "auto":
            backends.get(backend)
        self.backend = backend
        self.method = method
        self.pc = pc
        self.options = options
        self.raise_on_fail = raise_on_fail
        self.params = params
        self.state: dict[str, Any] = {}  # per-backend state (PETSc objects, jit caches, ...)
        self._components: dict[tuple[str, str], Any] = {}
        self._setups: dict[tuple[str, str], tuple[tuple, Any]] = {}
        if method != "auto":
            registry.lookup(method, "method")
        if pc is not None and not callable(pc):
            registry.lookup(pc, "pc")
        self._split_params()

    @property
    def rtol(self) -> float:
        return self.stop.rtol

    @property
    def atol(self) -> float:
        return self.stop.atol

    @property
    def maxiter(self) -> int | None:
        return self.stop.maxiter

    def _split_params(self) -> None:
        """Check every keyword parameter is accepted by the method, the preconditioner or
        the backend (:data:`solvers.backends.PARAMS`)."""
        if not self.params or self.method == "auto":
            return
        accepted = _parameters(registry.lookup(self.method, "method").factory)
        accepted |= backends.params(self.backend)
        if isinstance(self.pc, str):
            accepted |= _parameters(registry.lookup(self.pc, "pc").factory)
        unknown = sorted(set(self.params) - accepted) if "**" not in accepted else []
        if unknown:
            raise InvalidOptionError(
                f"unknown parameter(s) {', '.join(unknown)} for method={self.method!r}, "
                f"pc={self.pc!r}; accepted: {', '.join(sorted(accepted)) or 'none'}"
            )

    def component(self, kind: str, name: str) -> Any:
        """The method/preconditioner object for ``name``, built once with its parameters."""
        key = (kind, name)
        if key not in self._components:
            factory = registry.lookup(name, kind).factory
            accepted = _parameters(factory)
            kwargs = {k: v for k, v in self.params.items() if k in accepted or "**" in accepted}
            if kind == "pc" and "**" in accepted:
                method_params = _parameters(registry.lookup(self.method, "method").factory) \
                    if self.method != "auto" else set()
                kwargs = {k: v for k, v in kwargs.items() if k not in method_params}
            self._components[key] = factory(**kwargs)
        return self._components[key]

    def prepare(self, system: LinearSystem, method_name: str, method: Any,
                pc_name: str, pc: Any) -> Any:
        """Run (or reuse) the setup of the method and the preconditioner; return ``M``."""
        fingerprint = system.fingerprint() if self._setups else None
        M = None
        for kind, name, obj in (("pc", pc_name, pc), ("method", method_name, method)):
            if obj is None:
                continue
            cached = self._setups.get((kind, name))
            if cached is not None and cached[0] == fingerprint:
                value = cached[1]
            else:
                value = obj.setup(system)
                self._setups[(kind, name)] = (fingerprint or system.fingerprint(), value)
            if kind == "pc":
                M = value
        return M

    def solve(self, A: Any, b: Any, x0: Any = None,
              callback: Callable[[np.ndarray], Any] | None = None) -> SolveResult:
        """Solve ``A x = b``; see :func:`solve` for the arguments and the result."""
        name = backends.detect(A, b) if self.backend == "auto" else self.backend
        self._check_backend(name)
        result = backends.get(name).solve(self, A, b, x0, callback)
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
        return (f"Solver(method={self.method!r}, pc={self.pc!r}, backend={self.backend!r}, "
                f"rtol={self.rtol}, atol={self.atol}, maxiter={self.maxiter})")


def _parameters(factory: Callable) -> set[str]:
    """Keyword parameters of a factory; ``"**"`` marks one that takes ``**kwargs``."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return {"**"}
    names = set()
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            names.add("**")
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.add(p.name)
    return names


def solve(A: Any, b: Any, method: str = "auto", pc: str | None = None, *,
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
        returned ``x``.

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
