"""Registry of solution methods and preconditioners, looked up by name.

Built-in methods register themselves when :mod:`solvers` is imported. Packages add their own
through the entry-point group ``solvers.methods``: the entry point's *name* is the method or
preconditioner name users type (``"dcdm"``, ``"bandit-sor"``), its *value* a zero-argument
callable that calls :func:`register`. Such packages are imported lazily, the first time one
of their names is looked up, so ``import solvers`` stays light.

Example
-------
>>> from solvers import registry
>>> "cg" in registry.names("method")
True
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Literal

from solvers.errors import InvalidOptionError, SolverError

Kind = Literal["method", "pc"]
ENTRY_POINT_GROUP = "solvers.methods"


@dataclass(frozen=True)
class Entry:
    """One registered name.

    ``factory(**params)`` builds a fresh object (a method or a preconditioner) that may keep
    state across solves; :class:`solvers.Solver` builds it once and reuses it.
    ``backends`` lists the backends the object runs on; ``summary`` is a one-line description.
    """

    name: str
    kind: Kind
    factory: Callable[..., Any]
    backends: tuple[str, ...]
    summary: str


_ENTRIES: dict[tuple[Kind, str], Entry] = {}
_LOADED_ENTRY_POINTS: set[str] = set()


def register(
    name: str,
    factory: Callable[..., Any],
    kind: Kind = "method",
    *,
    backends: tuple[str, ...] = ("scipy",),
    summary: str = "",
    replace: bool = False,
) -> Entry:
    """Register ``factory`` under ``name`` as a method or a preconditioner (``kind="pc"``)."""
    if kind not in ("method", "pc"):
        raise InvalidOptionError(f"kind must be 'method' or 'pc', not {kind!r}")
    key = (kind, name)
    if key in _ENTRIES and not replace and _ENTRIES[key].factory is not factory:
        raise InvalidOptionError(
            f"{kind} {name!r} is already registered; pass replace=True to override it"
        )
    entry = Entry(name, kind, factory, tuple(backends), summary)
    _ENTRIES[key] = entry
    return entry


def _load_entry_point(name: str) -> None:
    if name in _LOADED_ENTRY_POINTS:
        return
    _LOADED_ENTRY_POINTS.add(name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            try:
                ep.load()()
            except ImportError as exc:
                raise SolverError(
                    f"the plugin that provides {name!r} ({ep.value}) failed to import: {exc}. "
                    f"Reinstall the package: pip install -e ."
                ) from exc


def names(kind: Kind = "method") -> list[str]:
    """All names usable for ``kind``, built-in and from entry points (loaded now), sorted."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            _load_entry_point(ep.name)
        except SolverError as exc:
            warnings.warn(str(exc), stacklevel=2)
    return sorted(n for (k, n) in _ENTRIES if k == kind)


def lookup(name: str, kind: Kind = "method") -> Entry:
    """Return the entry for ``name``; unknown names raise with the valid names and a suggestion."""
    if not isinstance(name, str):
        raise InvalidOptionError(f"{kind} must be a string name, not {type(name).__name__}")
    key = (kind, name)
    if key not in _ENTRIES:
        _load_entry_point(name)
    if key not in _ENTRIES:
        valid = names(kind)
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        argument = "method" if kind == "method" else "pc"
        raise InvalidOptionError(
            f"unknown {argument} {name!r}.{hint} Valid names: {', '.join(valid)}."
        )
    return _ENTRIES[key]
