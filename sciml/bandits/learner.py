"""The learner protocol every bandit in :mod:`sciml.bandits` follows, and its shared plumbing.

A round of a learner over ``n_arms`` arms: ``arm = select(context)`` samples an arm,
the caller plays it and reports ``update(arm, loss, context)`` with ``loss`` in
:math:`[0, 1]` (map iteration counts there with :class:`~sciml.bandits.CostNormaliser`).
``context`` is a finite float for the contextual learners and ``None`` for the others.
Nothing is pending between the two calls: ``update`` recomputes what it needs (the
probability of the arm) from the unchanged state, so a learner saved between ``select`` and
``update`` continues exactly. ``state_dict()`` is plain JSON and ``from_state`` rebuilds the
learner from it, generator included.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any, Protocol, runtime_checkable

import numpy as np

from solvers.errors import InvalidOptionError

__all__ = ["BanditError", "Learner", "LearnerBase", "draw_arm"]


class BanditError(InvalidOptionError):
    """A bad argument to a bandit: an option, a loss, an arm, a context or a state dict."""


@runtime_checkable
class Learner(Protocol):
    """What :class:`~sciml.bandits.BanditSOR` needs of a learner (see the module docstring)."""

    n_arms: int

    def select(self, context: float | None = None) -> int: ...

    def update(self, arm: int, loss: float, context: float | None = None) -> None: ...

    def probabilities(self, context: float | None = None) -> np.ndarray: ...

    def state_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Learner: ...


def check_int(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int ``>= minimum``, or :class:`BanditError`."""
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < minimum:
        raise BanditError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_positive(name: str, value: Any) -> float:
    """``value`` as a finite float ``> 0``, or :class:`BanditError`."""
    if isinstance(value, bool) or not isinstance(value, Real) or not (
            math.isfinite(value) and value > 0):
        raise BanditError(f"{name} must be a finite positive number, got {value!r}")
    return float(value)


def check_context(context: Any) -> float:
    """``context`` as a finite float, or :class:`BanditError`."""
    if isinstance(context, bool) or not isinstance(context, Real) or not math.isfinite(context):
        raise BanditError(f"context must be a finite real number, got {context!r}")
    return float(context)


def check_loss(loss: Any) -> float:
    """``loss`` as a float in :math:`[0, 1]`, or :class:`BanditError`."""
    if isinstance(loss, bool) or not isinstance(loss, Real) or not 0.0 <= loss <= 1.0:
        raise BanditError(f"loss must be a real number in [0, 1], got {loss!r}; map iteration "
                          f"counts to [0, 1] with CostNormaliser")
    return float(loss)


def draw_arm(p: np.ndarray, rng: np.random.Generator) -> int:
    """Sample an arm from the distribution ``p`` by inverse CDF with one uniform draw (one
    RNG call per round, so a saved generator state replays the same choices)."""
    cdf = np.cumsum(p)
    arm = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    return min(arm, p.size - 1)


class LearnerBase:
    """Shared by the learners: arm count, seeded PCG64 generator, rounds, history, state.

    Subclasses list their array attributes in ``_arrays`` and their constructor arguments in
    :meth:`config`; :meth:`state_dict` and :meth:`from_state` do the rest.
    """

    _arrays: tuple[str, ...] = ()

    def __init__(self, n_arms: int, seed: int) -> None:
        self.n_arms = check_int("n_arms", n_arms, 1)
        self.seed = check_int("seed", seed, 0)
        self._rng = np.random.default_rng(self.seed)
        self.t = 0  #: completed rounds
        self.history: list[tuple] = []  #: ``(arm, loss)``, or ``(context, arm, loss)``

    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments (JSON-serialisable)."""
        return {"n_arms": self.n_arms, "seed": self.seed}

    def best_arm(self, context: float | None = None) -> int:
        """The most probable arm now (the greedy choice; lowest index on ties)."""
        return int(np.argmax(self.probabilities(context)))

    def _check_arm(self, arm: Any) -> int:
        if isinstance(arm, bool) or not isinstance(arm, Integral) or not 0 <= arm < self.n_arms:
            raise BanditError(f"arm must be an integer in [0, {self.n_arms - 1}], got {arm!r}")
        return int(arm)

    def _record(self, arm: int, loss: float, context: float | None) -> None:
        self.t += 1
        self.history.append((arm, loss) if context is None else (context, arm, loss))

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable state: configuration, arrays, rounds and generator."""
        return {"kind": type(self).__name__, "config": self.config(), "t": self.t,
                "history": [list(h) for h in self.history],
                "rng": self._rng.bit_generator.state,
                **{k.lstrip("_"): getattr(self, k).tolist() for k in self._arrays}}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Any:
        """Rebuild a learner from :meth:`state_dict` output (e.g. after a JSON round trip)."""
        if not isinstance(state, Mapping) or state.get("kind") != cls.__name__:
            kind = state.get("kind") if isinstance(state, Mapping) else type(state).__name__
            raise BanditError(f"not a {cls.__name__} state dict (kind={kind!r}); pass the "
                              f"output of {cls.__name__}.state_dict()")
        obj = cls(**state["config"])
        for name in cls._arrays:
            value = np.asarray(state[name.lstrip("_")], dtype=float)
            if value.shape != getattr(obj, name).shape:
                raise BanditError(f"{name.lstrip('_')} has shape {value.shape}, expected "
                                  f"{getattr(obj, name).shape} for this configuration")
            setattr(obj, name, value)
        obj.t = check_int("t", state["t"], 0)
        obj.history = [tuple(h) for h in state["history"]]
        if state["rng"].get("bit_generator") != "PCG64":
            raise BanditError(f"unsupported RNG state {state['rng'].get('bit_generator')!r}; "
                              f"expected 'PCG64' as written by state_dict()")
        obj._rng.bit_generator.state = state["rng"]
        return obj

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({options}, t={self.t})"
