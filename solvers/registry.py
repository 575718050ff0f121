"""Registry of solution methods and preconditioners: one spec per name, every backend in it.

An :class:`Entry` says how its name runs on each backend, in the spirit of PETSc's
``KSPRegister``: a host factory (the object the ``"scipy"`` backend runs), a :class:`JaxSpec`
(a jitted kernel, or a declared delegation to a component that runs its own JAX loop) and a
:class:`PetscSpec` (KSP/PC type, option mapping, preconditioning side, or a Python context).
The backends read the entry; they keep no tables of their own. ``Entry.backends`` is derived
from the specs, and :func:`check` verifies that every declared backend resolves.

Built-in names (:mod:`solvers.builtins`) register the first time the registry is used. Packages
add their own through the entry-point group ``solvers.methods``: the entry point's *name* is
the name users type (``"dcdm"``, ``"bandit-sor"``), its *value* a zero-argument callable that
calls :func:`register`. Such packages are imported lazily, the first time one of their names
is looked up, so ``import solvers`` stays light.

Example
-------
>>> from solvers import registry
>>> "cg" in registry.names("method")
True
>>> registry.lookup("cg").backends
('scipy', 'petsc', 'jax')
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal

from solvers.errors import InvalidOptionError, SolverError
from solvers.params import Param, by_name

Kind = Literal["method", "pc"]
ENTRY_POINT_GROUP = "solvers.methods"
BACKENDS = ("scipy", "petsc", "jax")


@dataclass(frozen=True)
class JaxSpec:
    """How a name runs on the JAX backend.

    ``kernel`` is the import path ``"module:function"`` of a jitted Krylov kernel
    (:mod:`solvers.jaxkrylov` signature) for a method, or of a pytree preconditioner factory
    ``f(linear, dtype) -> callable`` for a pc; ``options`` are the static keyword options the
    kernel takes, read from the validated host component (``restart``, ``truncation``).
    ``delegate=True`` declares a component that runs its own compiled JAX loop through the
    host pipeline (a learned method such as DCDM); the result says so in
    ``info["delegated"]``.
    """

    kernel: str | None = None
    options: tuple[str, ...] = ()
    delegate: bool = False

    def resolve(self) -> Callable[..., Any] | None:
        """Import the kernel (``None`` for a delegating spec or ``pc="none"``)."""
        return None if self.kernel is None else resolve(self.kernel)


@dataclass(frozen=True)
class PetscSpec:
    """How a name runs on the PETSc backend.

    For a method: ``ksp_type`` (a ``KSPType`` name), ``side`` (``"left"``/``"right"``: the
    preconditioning side under which the KSP iterates on the unpreconditioned residual norm;
    ``None`` if it cannot), ``pc`` (the name of the preconditioner the method brings, e.g.
    SOR's sweeps, which then may not be combined with another). For a preconditioner:
    ``pc_type`` and, for a serial-only type, ``parallel`` (the type used on more than one
    rank instead). Both: ``options`` set as defaults (``{"pc_sor_symmetric": None}``),
    ``parallel_options`` replacing them on more than one rank, ``params`` mapping our keyword
    parameters to PETSc options (``{"restart": "ksp_gmres_restart"}``), ``context``
    (``"module:Class"`` of a ``KSPPYTHON``/``PCPYTHON`` context, with ``ksp_type``/``pc_type``
    ``"python"``) and ``requires_package`` (an external package PETSc must have, e.g. hypre).
    """

    ksp_type: str | None = None
    pc_type: str | None = None
    side: Literal["left", "right"] | None = None
    pc: str | None = None
    parallel: str | None = None
    parallel_options: dict[str, str | None] = field(default_factory=dict)
    options: dict[str, str | None] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    context: str | None = None
    requires_package: str | None = None


@dataclass(frozen=True)
class Entry:
    """One registered name and how it runs on each backend.

    ``factory(**params)`` builds the host object (a method or a preconditioner; ``None`` for a
    name only PETSc runs); :class:`solvers.Solver` builds it once and reuses it.
    ``params``: the declared keyword parameters (:class:`solvers.params.Param`), checked
    before anything is built. ``requires_symmetric``: the method/pc needs a symmetric
    (Hermitian) operator, checked once before setup (:func:`solvers.request.check_symmetry`).
    ``refine``: a run that met its own test while the float64 residual fails may be
    restarted from its ``x`` (``False`` for a direct solve, which a restart cannot improve).
    ``summary`` is a one-line description.
    """

    name: str
    kind: Kind
    factory: Callable[..., Any] | None
    summary: str = ""
    jax: JaxSpec | None = None
    petsc: PetscSpec | None = None
    requires_symmetric: bool = False
    params: tuple[Param, ...] = ()
    refine: bool = True

    @property
    def backends(self) -> tuple[str, ...]:
        """The backends this name runs on, derived from its specs."""
        specs = {"scipy": self.factory, "petsc": self.petsc, "jax": self.jax}
        return tuple(name for name in BACKENDS if specs[name] is not None)

    def parameters(self) -> set[str]:
        """The names of the declared keyword parameters (``"**"``: any name)."""
        return {param.name for param in self.params}

    def label(self) -> str:
        """``"method 'gmres'"`` / ``"pc 'ilu'"``, as error messages name the entry."""
        return f"{self.kind} {self.name!r}"


_ENTRIES: dict[tuple[Kind, str], Entry] = {}
_LOADED_ENTRY_POINTS: set[str] = set()
_GENERATION = [0]


def generation() -> int:
    """A counter that changes whenever an entry is registered (keys of cached lookups)."""
    return _GENERATION[0]


_BUILTINS_REGISTERED = False


def _ensure_builtins() -> None:
    """Register the built-in names on first use of the registry (``import solvers`` stays
    free of SciPy/pyamg). Called before ``_ENTRIES`` is read or written."""
    global _BUILTINS_REGISTERED
    if _BUILTINS_REGISTERED:
        return
    _BUILTINS_REGISTERED = True  # set first: register_builtins() calls register()
    try:
        from solvers.builtins import register_builtins  # imports this module

        register_builtins()
    except BaseException:
        _BUILTINS_REGISTERED = False
        raise


def register(
    name: str,
    factory: Callable[..., Any] | None,
    kind: Kind = "method",
    *,
    jax: JaxSpec | None = None,
    petsc: PetscSpec | None = None,
    requires_symmetric: bool | None = None,
    summary: str = "",
    replace: bool = False,
    params: tuple[Param, ...] | None = None,
    refine: bool = True,
) -> Entry:
    """Register ``name`` as a method or a preconditioner (``kind="pc"``).

    ``params`` declares the keyword parameters (:class:`solvers.params.Param`); without it
    they are read off the factory's signature and the PETSc option mapping, as ``"any"``
    (accepted by name, values unchecked: declare them to have them checked; a factory that
    takes ``**kwargs`` then accepts every name, as :data:`solvers.params.ANY_NAME`).
    ``requires_symmetric`` defaults to the factory's ``requires_symmetric`` attribute.
    """
    _ensure_builtins()
    if kind not in ("method", "pc"):
        raise InvalidOptionError(f"kind must be 'method' or 'pc', not {kind!r}")
    key = (kind, name)
    if key in _ENTRIES and not replace and _ENTRIES[key].factory is not factory:
        raise InvalidOptionError(
            f"{kind} {name!r} is already registered; pass replace=True to override it"
        )
    if requires_symmetric is None:
        requires_symmetric = bool(getattr(factory, "requires_symmetric", False))
    if params is None:
        params = _signature_params(factory, petsc)
    by_name(params)  # a name declared twice is an error
    _GENERATION[0] += 1
    _ENTRIES[key] = Entry(name, kind, factory, summary, jax, petsc, requires_symmetric,
                          tuple(params), refine)
    return _ENTRIES[key]


def _signature_params(factory: Callable[..., Any] | None,
                      petsc: PetscSpec | None) -> tuple[Param, ...]:
    """Undeclared parameters: the factory's keywords and the PETSc-mapped names, unchecked."""
    names = set(petsc.params) if petsc is not None else set()
    names |= factory_parameters(factory) if factory is not None else set()
    return tuple(Param(name, "any") for name in sorted(names))


def resolve(path: str) -> Any:
    """Import ``"module:attribute"``."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


@functools.lru_cache(maxsize=256)
def factory_parameters(factory: Callable[..., Any]) -> frozenset[str]:
    """Keyword parameters of a factory; ``"**"`` marks one that takes ``**kwargs``."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return frozenset({"**"})
    names = set()
    for p in signature.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            names.add("**")
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            names.add(p.name)
    return frozenset(names)


def load_plugin(group: str, name: str, loaded: set[str], what: str) -> None:
    """Call the ``register()`` of the entry point ``name`` in ``group`` once (``loaded``
    remembers the names tried); an import failure is a :class:`SolverError` naming ``what``
    the plugin provides and its entry point."""
    if name in loaded:
        return
    loaded.add(name)
    for ep in entry_points(group=group, name=name):
        try:
            ep.load()()
        except ImportError as exc:
            raise SolverError(
                f"the plugin that provides {what} ({ep.value}) failed to import: {exc}. "
                f"Reinstall the package: pip install -e ."
            ) from exc


def _load_entry_point(name: str) -> None:
    load_plugin(ENTRY_POINT_GROUP, name, _LOADED_ENTRY_POINTS, repr(name))


def names(kind: Kind = "method") -> list[str]:
    """The registered names of one ``kind``, built-in and from entry points (loaded now),
    sorted: ``names()`` lists the methods, ``names("pc")`` the preconditioners (a name such
    as ``"ssor"`` can be both, so there is no single list).

    Examples
    --------
    >>> "gmres" in names() and "ilu" in names("pc") and "ilu" not in names()
    True
    """
    _ensure_builtins()
    load_all()
    return sorted(n for (k, n) in _ENTRIES if k == kind)


def entries(plugins: bool = True) -> list[Entry]:
    """Every registered entry (methods, then preconditioners); ``plugins=False`` lists only
    those registered so far, without importing the entry-point plugins."""
    _ensure_builtins()
    if plugins:
        load_all()
    return [_ENTRIES[key] for key in sorted(_ENTRIES)]


def load_all() -> None:
    """Load every plugin of the entry-point group (a broken one is skipped with a warning)."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            _load_entry_point(ep.name)
        except SolverError as exc:
            warnings.warn(str(exc), stacklevel=3)


def lookup(name: str, kind: Kind = "method") -> Entry:
    """Return the entry for ``name``, matched case-insensitively (``"CG"``, ``"ILU"``);
    unknown names raise with the valid names and the nearest match (a PETSc type name such
    as ``"bcgs"`` or ``"gamg"`` is answered with ours)."""
    if not isinstance(name, str):
        raise InvalidOptionError(f"{kind} must be a string name, not {type(name).__name__}")
    _ensure_builtins()
    for key in ((kind, name), (kind, name.lower())):
        if key not in _ENTRIES:
            _load_entry_point(key[1])
        if key in _ENTRIES:
            return _ENTRIES[key]
    valid = names(kind)
    raise InvalidOptionError(
        f"unknown {kind} {name!r}.{_suggestion(name, kind, valid)} Valid names: "
        f"{', '.join(valid)}."
    )


def _suggestion(name: str, kind: Kind, valid: list[str]) -> str:
    """" Did you mean 'x'?" for the PETSc type named ``name`` or the closest valid name."""
    for entry in entries():
        spec = entry.petsc
        petsc_type = None if spec is None else (spec.ksp_type if kind == "method"
                                                else spec.pc_type)
        if entry.kind == kind and petsc_type == name.lower() and petsc_type != entry.name:
            return f" Did you mean {entry.name!r} (PETSc's {petsc_type})?"
    close = difflib.get_close_matches(name.lower(), valid, n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def check(entry: Entry) -> list[str]:
    """Problems with ``entry``'s specs: every declared backend must resolve.

    The JAX kernel and the PETSc Python context must import; the PETSc KSP/PC types are
    checked against petsc4py when it is installed. Returns a list of messages (empty: fine).
    """
    problems = _undeclared(entry)
    if entry.jax is not None and not entry.jax.delegate:
        if entry.jax.kernel is None and not (entry.kind == "pc" and entry.name == "none"):
            problems.append(f"{entry.name}: jax spec without a kernel or delegate=True")
        elif entry.jax.kernel is not None:
            problems += _importable(entry.name, entry.jax.kernel)
    if entry.jax is not None and entry.jax.delegate and entry.factory is None:
        problems.append(f"{entry.name}: jax delegate=True needs a host factory")
    if entry.petsc is not None:
        spec = entry.petsc
        wanted = spec.ksp_type if entry.kind == "method" else spec.pc_type
        if wanted is None:
            problems.append(f"{entry.name}: petsc spec without a {entry.kind} type")
        if spec.context is not None:
            problems += _importable(entry.name, spec.context)
        problems += _petsc_types(entry.name, spec)
    return problems


def _undeclared(entry: Entry) -> list[str]:
    """Declared parameters that neither the factory nor the PETSc mapping takes (accepted,
    then silently dropped). A factory keyword left undeclared is fine: it is never passed."""
    taken = set(entry.petsc.params) if entry.petsc is not None else set()
    keywords = factory_parameters(entry.factory) if entry.factory is not None else set()
    if entry.kind == "pc" and entry.jax is not None and entry.jax.kernel is not None:
        keywords = set(keywords) | factory_parameters(resolve(entry.jax.kernel))  # JAX pc kwargs
    if "**" in keywords:
        return []
    return [f"{entry.name}: declared parameter {name!r} is taken by nothing"
            for name in sorted(entry.parameters() - taken - keywords)]


def _importable(name: str, path: str) -> list[str]:
    try:
        resolve(path)
    except (ImportError, AttributeError) as exc:
        return [f"{name}: {path} does not resolve ({exc})"]
    return []


def _petsc_types(name: str, spec: PetscSpec) -> list[str]:
    try:
        from petsc4py import PETSc
    except ImportError:
        return []
    known_ksp = {v for k, v in vars(PETSc.KSP.Type).items() if not k.startswith("_")}
    known_pc = {v for k, v in vars(PETSc.PC.Type).items() if not k.startswith("_")}
    problems = []
    if spec.ksp_type is not None and spec.ksp_type not in known_ksp:
        problems.append(f"{name}: unknown KSP type {spec.ksp_type!r}")
    pc_types = [spec.pc_type, spec.parallel]
    problems += [f"{name}: unknown PC type {t!r}" for t in pc_types
                 if t is not None and t not in known_pc]
    return problems
