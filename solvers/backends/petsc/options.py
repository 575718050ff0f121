"""PETSc options: parsing ``"-ksp_type cg -pc_type gamg"`` (or a dict), and putting them into
PETSc's options database under a solver's prefix only while PETSc reads them."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from petsc4py import PETSc

from solvers.errors import InvalidOptionError


def parse_options(options: str | dict | None) -> dict[str, str | None]:
    """``"-ksp_type cg -ksp_monitor"`` or ``{"ksp_type": "cg"}`` -> ``{name: value or None}``.

    Examples
    --------
    >>> parse_options("-ksp_type cg -ksp_monitor -pc_sor_omega 1.5")
    {'ksp_type': 'cg', 'ksp_monitor': None, 'pc_sor_omega': '1.5'}
    """
    if options is None:
        return {}
    if isinstance(options, dict):
        return {str(k).lstrip("-"): _option_value(v) for k, v in options.items()}
    if not isinstance(options, str):
        raise InvalidOptionError(
            f"options must be a string like '-ksp_type cg' or a dict, not {type(options).__name__}"
        )
    parsed: dict[str, str | None] = {}
    name = None
    for token in shlex.split(options):
        if token.startswith("-") and len(token) > 1 and (token[1].isalpha() or token[1] == "_"):
            name = token[1:]
            parsed[name] = None
        elif name is not None and parsed[name] is None:
            parsed[name] = token
        else:
            raise InvalidOptionError(
                f"options: {token!r} does not follow an option name; write options as "
                f"'-name value -flag ...', e.g. '-ksp_type cg -pc_type gamg'"
            )
    return parsed


def _option_value(value: Any) -> str | None:
    if value is None or value is True:
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


@contextmanager
def options_inserted(prefix: str, options: dict[str, str | None]) -> Iterator[None]:
    """Put ``options`` into PETSc's options database under ``prefix``; remove them after."""
    db = PETSc.Options(prefix)
    for name, value in options.items():
        db.setValue(name, value)
    try:
        yield
    finally:
        for name in options:
            db.delValue(name)
