"""Declared parameters of methods and preconditioners: type, valid range, default.

Each registered name declares the keyword parameters it takes as a tuple of :class:`Param`
(next to its registration, like PETSc's options table or lineax's ``__check_init__``).
:class:`solvers.Solver` checks every keyword against them **before anything is built**:
an unknown name or a bad value raises :class:`solvers.errors.InvalidOptionError` naming the
parameter, the value, the valid range and the accepted names. Parameters that could exhaust
memory or time (a restart length, a sweep count, a fill factor) have an upper bound.

Examples
--------
>>> restart = Param("restart", "int", 30, low=1, high=1000, doc="Krylov vectors per cycle")
>>> restart.check(40, "method 'gmres'")
40
>>> restart.check(-5, "method 'gmres'")
Traceback (most recent call last):
...
solvers.errors.InvalidOptionError: method 'gmres': restart=-5 is invalid; restart must be ...
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from solvers.errors import InvalidOptionError

Kind = Literal["int", "float", "bool", "choice", "any"]

#: The name of the parameter that an undeclared ``**kwargs`` factory stands for: any keyword
#: is accepted (unchecked) by such an entry.
ANY_NAME = "**"


@dataclass(frozen=True)
class Param:
    """One keyword parameter of a method or preconditioner.

    ``kind``: ``"int"``/``"float"`` (a real number in ``[low, high]``; ``open_low`` /
    ``open_high`` exclude an end; NaN and, unless ``high`` is ``inf``, infinity refused),
    ``"bool"``, ``"choice"`` (one of ``choices``, strings matched case-sensitively as the
    backends take them), ``"any"`` (checked by ``check_value`` only). ``none_ok``: ``None``
    is a valid value (meaning the default behaviour). ``check_value(value)`` returns an error
    text for values the kind alone cannot judge (a list of omegas, a grid shape), ``None`` if
    fine. ``doc`` says what the parameter does, in the error message and the docs table.
    """

    name: str
    kind: Kind
    default: Any = None
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[Any, ...] = ()
    none_ok: bool = False
    check_value: Callable[[Any], str | None] | None = None
    doc: str = ""

    def describe(self) -> str:
        """The valid values in words: ``"an int in [1, 1000]"``."""
        if self.kind == "choice":
            text = f"one of {', '.join(map(repr, self.choices))}"
        elif self.kind == "bool":
            text = "True or False"
        elif self.kind in ("int", "float"):
            text = f"{'an int' if self.kind == 'int' else 'a real number'} in {self._interval()}"
        else:
            text = self.doc or "a valid value"
        return text + (" or None" if self.none_ok else "")

    def _interval(self) -> str:
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{'(' if self.open_low else '['}{low}, {high}{')' if self.open_high else ']'}"

    def check(self, value: Any, owner: str) -> Any:
        """``value`` if valid for this parameter, else :class:`InvalidOptionError`."""
        problem = self._problem(value)
        if problem is None:
            return value
        doc = f" ({self.doc})" if self.doc and self.kind != "any" else ""
        raise InvalidOptionError(f"{owner}: {self.name}={_show(value)} is invalid; {self.name} "
                                 f"must be {problem or self.describe()}{doc}")

    def _problem(self, value: Any) -> str | None:
        """``None`` if valid; ``""`` for "not of this kind"; a specific text otherwise."""
        if value is None:
            return None if self.none_ok else ""
        if self.kind == "choice":
            return None if _hashable(value) and value in self.choices else ""
        if self.kind == "bool":
            return None if isinstance(value, bool) else ""
        if self.kind in ("int", "float"):
            return self._number(value)
        if self.check_value is not None:
            return self.check_value(value)
        return None

    def _number(self, value: Any) -> str | None:
        integral = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        real = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not (integral if self.kind == "int" else real):
            return ""
        number = float(value)
        if math.isnan(number) or (math.isinf(number) and self.high != math.inf):
            return ""
        low_bad = self.low is not None and (number <= self.low if self.open_low
                                            else number < self.low)
        high_bad = self.high is not None and (number >= self.high if self.open_high
                                              else number > self.high)
        return "" if low_bad or high_bad else None


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _show(value: Any) -> str:
    """``repr`` cut to a readable length (a huge list is not echoed whole)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def by_name(params: Iterable[Param]) -> dict[str, Param]:
    """``{name: Param}``; a name declared twice is a registration error."""
    table: dict[str, Param] = {}
    for param in params:
        if param.name in table:
            raise InvalidOptionError(f"parameter {param.name!r} is declared twice")
        table[param.name] = param
    return table


def positive_int(name: str, default: int, high: int, doc: str, low: int = 1) -> Param:
    """An int parameter in ``[low, high]`` (the common case: counts, lengths, sweeps)."""
    return Param(name, "int", default, low=low, high=high, doc=doc)


def seed(default: int | None = 0) -> Param:
    """A random seed: an int in ``[0, 2**32 - 1]`` (NumPy's range)."""
    return Param("seed", "int", default, low=0, high=2**32 - 1, none_ok=default is None,
                 doc="random seed")


def omega(default: float = 1.0) -> Param:
    """SOR's relaxation factor, in the open interval ``(0, 2)``."""
    return Param("omega", "float", default, low=0.0, high=2.0, open_low=True, open_high=True,
                 doc="SOR relaxation factor")
