"""The typed seam between :class:`solvers.Solver` and the backends.

:class:`solvers.Solver` resolves its method and preconditioner entries, validates every
keyword parameter against their declarations (:mod:`solvers.params`) and builds the stopping
rule **once**, into a frozen :class:`Request`. A backend's ``prepare(request, store, ...)``
(:class:`solvers.backends.Backend`) reads the request and keeps what it builds in the
:class:`Store`; it never sees the ``Solver``.

Decided here, once, for every backend: which ``(method, pc)`` a solve runs
(:meth:`Request.names`, ``auto``'s choice included), which parameters each component gets
(:meth:`Store.component`), and the symmetry requirement (:func:`check_symmetry`).

Examples
--------
>>> from solvers.stopping import StoppingRule
>>> r = Request.build("GMRES", "ilu", None, StoppingRule(1e-8), {"restart": 50}, "scipy")
>>> r.method.name, r.pc.name, r.params
('gmres', 'ilu', {'restart': 50})
>>> Request.build("gmres", None, None, StoppingRule(), {"restart": 10**12}, "scipy")
Traceback (most recent call last):
...
solvers.errors.InvalidOptionError: method 'gmres': restart=1000000000000 is invalid; ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from solvers import auto, registry
from solvers.auto import Choice
from solvers.errors import InvalidOptionError, NotSymmetricError
from solvers.params import ANY_NAME, Param
from solvers.registry import Entry
from solvers.reuse import ReuseRule
from solvers.stopping import StoppingRule

if TYPE_CHECKING:
    from solvers.method import Method, Preconditioner

#: Keywords of SciPy's solvers that are spelled otherwise here (or that SciPy removed), and
#: what to write instead.
SCIPY_SPELLINGS = {
    "tol": "use rtol= (SciPy removed tol in 1.14; the test is ||b - A x|| <= max(rtol ||b||, "
           "atol))",
    "restrt": "use restart= (SciPy's old GMRES spelling)",
    "maxit": "use maxiter= (SciPy's name for the iteration limit)",
    "callback_type": "callback(xk) receives the current iterate after every iteration (inner "
                     "iterations of GMRES, as SciPy's 'x' does per restart); residual norms "
                     "are in res.residuals, or pass monitor=True",
    "show": "use monitor=True to print one line per iteration",
    "verbose": "use monitor=True to print one line per iteration",
}

#: Keyword parameters a backend reads itself (not a method's or a preconditioner's).
BACKEND_PARAMS: dict[str, tuple[Param, ...]] = {
    "scipy": (), "petsc": (),
    "jax": (Param("matrix_free", "bool", None, none_ok=True,
                  doc="apply a grid Problem's stencil instead of its matrix"),),
}

#: The label of a preconditioner the caller passed as a function or matrix (``pc=``/``M=``).
CUSTOM = "custom"


@dataclass(frozen=True)
class Request:
    """What a backend needs from the caller, resolved and validated.

    ``method``: the method's registry entry (``None``: ``method="auto"``); ``pc``: the named
    preconditioner's entry (``None``: not named, so ``auto`` chooses, or none);
    ``user_pc``: a preconditioner given as a function, matrix or ``LinearOperator``;
    ``params``: the validated keyword parameters; ``options``: PETSc options as given.
    """

    method: Entry | None
    pc: Entry | None
    user_pc: Any
    stop: StoppingRule
    params: Mapping[str, Any]
    backend: str = "auto"
    options: str | dict | None = None
    monitor: bool = False

    @classmethod
    def build(cls, method: str, pc: Any, user_pc: Any, stop: StoppingRule,
              params: Mapping[str, Any], backend: str, options: str | dict | None = None,
              monitor: bool = False) -> Request:
        """Resolve the names (case-insensitively) and validate ``params`` against what the
        method, the pc and the backend declare (for ``"auto"``: what auto may pick)."""
        method_entry = None if method.lower() == "auto" else registry.lookup(method, "method")
        pc_entry = None if pc is None else registry.lookup(pc, "pc")
        request = cls(method_entry, pc_entry, user_pc, stop, dict(params), backend, options,
                      monitor)
        request.check_params()
        return request

    @property
    def auto(self) -> bool:
        return self.method is None

    @property
    def method_name(self) -> str:
        return "auto" if self.method is None else self.method.name

    @property
    def pc_label(self) -> str | None:
        """The pc as named: its name, ``"custom"`` for a function/matrix, ``None`` if unset."""
        if self.user_pc is not None:
            return CUSTOM
        return None if self.pc is None else self.pc.name

    def candidates(self) -> list[Entry]:
        """The entries whose parameters this request may pass: the method and pc, or for
        ``auto`` every entry its plan may pick (:data:`solvers.auto.CANDIDATES`)."""
        named = [entry for entry in (self.method, self.pc) if entry is not None]
        if self.method is not None:
            return named
        return named + [registry.lookup(name, kind) for kind, name in auto.CANDIDATES]

    def check_params(self) -> None:
        """Every parameter declared by a candidate (or the backend) and valid for each
        candidate declaring it; else :class:`InvalidOptionError` with the accepted names."""
        if not self.params:
            return
        declared: dict[str, list[tuple[Param, str]]] = {}
        for entry in self.candidates():
            for param in entry.params:
                declared.setdefault(param.name, []).append((param, entry.label()))
        backends = BACKEND_PARAMS if self.backend == "auto" else {
            self.backend: BACKEND_PARAMS.get(self.backend, ())}
        for name, params in backends.items():
            for param in params:
                declared.setdefault(param.name, []).append((param, f"backend {name!r}"))
        unknown = sorted(set(self.params) - declared.keys())
        if unknown and ANY_NAME not in declared:
            raise InvalidOptionError(self._unknown(unknown, declared))
        for name, value in self.params.items():
            for param, owner in declared.get(name, ()):
                param.check(value, owner)

    def _unknown(self, unknown: list[str], declared: Mapping[str, Any]) -> str:
        from solvers.api import solve_keywords  # the signature of solve(); api imports this

        fixes = "".join(f" {name}: {SCIPY_SPELLINGS[name]}." for name in unknown
                        if name in SCIPY_SPELLINGS)
        which = "any method/pc auto may pick" if self.auto else "this method/pc"
        names = sorted(set(declared) - {ANY_NAME})
        return (f"unknown parameter(s) {', '.join(unknown)} for method={self.method_name!r}, "
                f"pc={self.pc_label!r}.{fixes} Accepted: the keywords of solve() "
                f"({', '.join(solve_keywords())}) and the parameters of {which}: "
                f"{', '.join(names) or 'none'}")

    def names(self, choice: Choice | None) -> tuple[Entry, Entry | None]:
        """``(method, pc)`` entries for this solve; ``pc`` is ``None`` for a custom pc
        (``user_pc``). With ``choice`` (``auto``'s), a pc the caller named is kept for every
        iterative choice."""
        if choice is None:
            if self.method is None:
                raise InvalidOptionError("method='auto' needs auto's choice here")
            method = self.method
        else:
            method = registry.lookup(choice.method)
            if _brings_pc(method) or (self.pc is None and self.user_pc is None):
                return method, registry.lookup(choice.pc, "pc")
        if self.user_pc is not None:
            return method, None
        return method, self.pc if self.pc is not None else registry.lookup("none", "pc")

    def component_params(self, entry: Entry) -> dict[str, Any]:
        """The parameters ``entry`` declares, out of this request's."""
        names = entry.parameters()
        return {k: v for k, v in self.params.items() if k in names or ANY_NAME in names}


def _brings_pc(method: Entry) -> bool:
    """A direct solve (or a method with its own pc) ignores the caller's pc under ``auto``."""
    return not method.refine or (method.petsc is not None and method.petsc.pc is not None)


@dataclass
class Store:
    """What a :class:`solvers.Solver` keeps between solves.

    ``components``: host method/pc objects, built once with their parameters; ``setups``:
    each component's setup keyed by the matrix fingerprint it was built for; ``backends``:
    each backend's own typed state (PETSc KSPs and matrices, JAX conversions); ``states``:
    the carried state of components that learn or recycle, keyed by ``(kind, name)``;
    ``symmetric``: the symmetry verdict of the matrices seen, by fingerprint; ``reuse``: the
    default ``Solver``'s rule for a matrix that keeps coming back (:mod:`solvers.reuse`).
    ``keeps_setups=False`` (one-shot :func:`solvers.solve`): setups are not kept, so no
    fingerprint is computed for them.
    """

    components: dict[tuple[str, str], Method | Preconditioner] = field(default_factory=dict)
    setups: dict[tuple[str, str], tuple[tuple, Any]] = field(default_factory=dict)
    backends: dict[str, Any] = field(default_factory=dict)
    states: dict[tuple[str, str], Any] = field(default_factory=dict)
    symmetric: dict[tuple, bool] = field(default_factory=dict)
    keeps_setups: bool = True
    reuse: ReuseRule = field(default_factory=ReuseRule)

    def component(self, entry: Entry, request: Request) -> Method | Preconditioner:
        """The host object for ``entry``, built once with the parameters it declares: a
        :class:`solvers.method.Method` for a method entry, a
        :class:`solvers.method.Preconditioner` for a pc."""
        key = (entry.kind, entry.name)
        if key not in self.components:
            if entry.factory is None:
                raise InvalidOptionError(
                    f"{entry.label()} does not run on the host; it runs on "
                    f"{', '.join(entry.backends)}")
            kwargs = request.component_params(entry)
            taken = registry.factory_parameters(entry.factory)
            if "**" not in taken:
                kwargs = {k: v for k, v in kwargs.items() if k in taken}
            self.components[key] = entry.factory(**kwargs)
        return self.components[key]

    def drop(self, kind: str, name: str) -> None:
        """Forget component ``(kind, name)`` and its setup (e.g. an LU that lost to
        iterating, :mod:`solvers.reuse`), so its memory is freed."""
        self.components.pop((kind, name), None)
        self.setups.pop((kind, name), None)

    def backend_state(self, name: str, new: Callable[[], Any]) -> Any:
        """Backend ``name``'s own state (created by ``new()`` on first use)."""
        if name not in self.backends:
            self.backends[name] = new()
        return self.backends[name]


def check_symmetry(entries: list[Entry | None], symmetric: Callable[[], bool]) -> None:
    """The one symmetry requirement: if a method or pc in ``entries`` needs a symmetric
    (Hermitian) operator, ``symmetric()`` (the backend's test, or a problem's tag) must hold,
    else :class:`NotSymmetricError` naming it. ``symmetric`` is only called when needed."""
    for entry in entries:
        if entry is not None and entry.requires_symmetric and not symmetric():
            what = entry.name if entry.kind == "method" else f"pc={entry.name!r}"
            raise NotSymmetricError(
                f"method {what!r} needs a symmetric (Hermitian) matrix, and A is not "
                f"symmetric. Use method='gmres' or method='bicgstab' for nonsymmetric systems."
            )
