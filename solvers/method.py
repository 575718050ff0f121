"""The protocols a method or preconditioner implements to run on the host backend.

A registered method factory returns an object with ``setup(system)`` (reusable work such as
a factorization; called again only when the matrix changes) and
``solve(system, b, x0, M, stop, callback) -> Iterate``. A preconditioner factory returns an
object with ``setup(system) -> LinearOperator`` applying ``M ~ A^{-1}``.

Carried state (what a method keeps *across* solves: a recycle space, bandit weights) is
explicit, as lineax's ``state=`` and SciPy's ``gcrotmk(CU=...)`` are. A component that carries
state sets ``carries_state = True`` and implements

- ``initial_state() -> S``: the state before the first solve;
- methods: ``solve(..., state=S)`` returning an :class:`Iterate` whose ``state`` is the state
  after this run (may be the same object);
- optionally, on methods and preconditioners alike, two hooks that make one user-visible solve
  one round for a learner:

  - ``before_solve(system, stop, state) -> S`` after setup, before the first run (a bandit
    draws its ``omega`` here);
  - ``after_solve(result, state) -> S`` with the final :class:`solvers.SolveResult` (after
    the true-residual check and any refinement restarts), returning the state to keep.

The :class:`solvers.Solver` holds the state of each component (``solver.states``), passes it
in and stores what comes out **once per** ``Solver.solve`` call: a refinement restart runs the
method again with the state of the previous run, and only the last one is kept; the result
carries it as ``result.state``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeGuard, TypeVar

import numpy as np
import scipy.sparse.linalg as spla

from solvers.reasons import Reason
from solvers.stopping import StoppingRule
from solvers.system import LinearSystem

Callback = Callable[[np.ndarray], Any]
#: The type of an iterate's ``x``: a NumPy array on the host, a ``Vec`` on PETSc, a JAX array.
X = TypeVar("X")


@dataclass
class Iterate(Generic[X]):
    """What a method returns: its ``x``, the iteration count, residual history and reason;
    ``state`` is the carried state after the run (``None`` for stateless methods).

    ``x`` is in the backend's working form: ``Iterate[np.ndarray]`` from a host method, a
    PETSc ``Vec`` or a JAX array from those backends' runs."""

    x: X
    iterations: int
    residuals: list[float]
    reason: Reason
    info: dict[str, Any] = field(default_factory=dict)
    state: Any = None


class Method(Protocol):
    """A solution method on the host backend."""

    def setup(self, system: LinearSystem) -> None: ...

    def solve(self, system: LinearSystem, b: np.ndarray, x0: np.ndarray | None,
              M: spla.LinearOperator | None, stop: StoppingRule,
              callback: Callback | None) -> Iterate[np.ndarray]: ...


class Preconditioner(Protocol):
    """A preconditioner: ``setup`` returns an operator applying ``M ~ A^{-1}``."""

    def setup(self, system: LinearSystem) -> spla.LinearOperator: ...


class CarriesState(Protocol):
    """A method or preconditioner with state across solves (see the module docstring).

    The hooks ``before_solve(system, stop, state) -> S`` and ``after_solve(result, state)
    -> S`` are optional, so not members: :mod:`solvers.finish` calls them where present."""

    carries_state: bool

    def initial_state(self) -> Any: ...


def carries_state(component: object) -> TypeGuard[CarriesState]:
    """Whether ``component`` keeps state across solves (``carries_state = True``)."""
    return bool(getattr(component, "carries_state", False))


def initial_state(matvec: Callable[[np.ndarray], np.ndarray], b: np.ndarray,
                  x0: np.ndarray | None,
                  stop: StoppingRule) -> tuple[np.ndarray, np.ndarray, float, list[float]]:
    """Start of every host iteration: ``(x, r = b - A x, threshold, [||r||])``.

    ``x`` is a fresh copy (zero when ``x0`` is None, saving the first matvec).
    """
    x = np.zeros_like(b) if x0 is None else x0.astype(b.dtype, copy=True)
    r = b - matvec(x) if x0 is not None else b.copy()
    return x, r, stop.threshold(float(np.linalg.norm(b))), [float(np.linalg.norm(r))]
