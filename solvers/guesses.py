"""Named initial guesses: ``solve(A, b, x0="fno:darcy")``.

A string ``x0`` is ``"prefix:model"``. The *prefix* chooses a provider, a function
``provider(name, A) -> x0`` registered with :func:`register_guess` and called with the whole
name and the system's ``A`` (typically an :class:`operators.GridProblem`, from which a learned
model predicts the solution). Providers live in the packages that own the models: they are
found through the entry-point group ``solvers.initial_guesses`` (the entry point's *name* is
the prefix, its *value* a zero-argument callable that calls :func:`register_guess`) and
imported the first time their prefix is used, so :mod:`solvers` imports none of them; the
neural operators of :mod:`sciml` register ``"fno"`` and ``"mgno"`` this way. The guess only
changes where the iteration starts: the stopping rule (on the true residual) is unchanged.

Examples
--------
>>> import numpy as np
>>> register_guess("ones", lambda name, A: np.ones(A.shape[0]))
>>> initial_guess("ones:anything", np.eye(3))
array([1., 1., 1.])
>>> unregister_guess("ones")
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from solvers.errors import InvalidOptionError
from solvers.registry import load_plugin

__all__ = ["ENTRY_POINT_GROUP", "initial_guess", "prefixes", "register_guess",
           "unregister_guess"]

ENTRY_POINT_GROUP = "solvers.initial_guesses"

#: ``provider(name, A) -> x0``: ``name`` is the whole string (``"fno:darcy"``).
Provider = Callable[[str, Any], Any]

_PROVIDERS: dict[str, Provider] = {}
_LOADED: set[str] = set()


def register_guess(prefix: str, provider: Provider, *, replace: bool = False) -> None:
    """Make ``x0="<prefix>:<model>"`` call ``provider("<prefix>:<model>", A)``.

    Raises
    ------
    InvalidOptionError
        ``prefix`` is not a non-empty name without ``":"``, ``provider`` is not callable, or
        the prefix is taken by another provider and ``replace`` is False.
    """
    if not isinstance(prefix, str) or not prefix or ":" in prefix:
        raise InvalidOptionError(f"prefix must be a non-empty name without ':', got {prefix!r}")
    if not callable(provider):
        raise InvalidOptionError(f"provider for {prefix!r} must be callable "
                                 f"provider(name, A) -> x0, got {type(provider).__name__}")
    if _PROVIDERS.get(prefix, provider) is not provider and not replace:
        raise InvalidOptionError(f"initial-guess prefix {prefix!r} is already registered; "
                                 f"pass replace=True to override it")
    _PROVIDERS[prefix] = provider


def unregister_guess(prefix: str) -> None:
    """Remove the provider of ``prefix`` (no error if there is none)."""
    _PROVIDERS.pop(prefix, None)


def prefixes() -> list[str]:
    """Every known prefix, registered or declared by an installed entry point, sorted."""
    return sorted(set(_PROVIDERS) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def initial_guess(name: str, A: Any) -> Any:
    """The initial guess named ``name`` (``"prefix:model"``) for the operator ``A``.

    Raises
    ------
    InvalidOptionError
        ``name`` has no registered prefix; the message lists the valid ones.
    SolverError
        The package that declares the prefix failed to import.
    """
    prefix, sep, _ = name.partition(":")
    if sep and prefix not in _PROVIDERS:
        _load_entry_point(prefix)
    if not sep or prefix not in _PROVIDERS:
        valid = ", ".join(f"'{p}:<model>'" for p in prefixes()) or "none installed"
        raise InvalidOptionError(
            f"x0={name!r} is not an initial guess: a string x0 must be 'prefix:model' with a "
            f"registered prefix ({valid}); otherwise pass an array")
    return _PROVIDERS[prefix](name, A)


def _load_entry_point(prefix: str) -> None:
    load_plugin(ENTRY_POINT_GROUP, prefix, _LOADED, f"x0='{prefix}:...'")
