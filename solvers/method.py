"""The protocols a method or preconditioner implements to run on the host (SciPy) backend.

A registered method factory returns an object with ``setup(system)`` (reusable work such as
a factorization; called again only when the matrix changes) and
``solve(system, b, x0, M, stop, callback) -> Iterate``. A preconditioner factory returns an
object with ``setup(system) -> LinearOperator`` applying ``M ~ A^{-1}``. Objects may keep
state across solves (bandit weights, recycle spaces, loaded networks): :class:`solvers.Solver`
builds them once.

Optional hooks, on methods and preconditioners alike, for objects that learn from each solve
(the bandit-tuned SSOR preconditioner picks its ``omega`` per solve, while its ``setup`` stays
cached for the unchanged matrix). The host backend calls them when defined:

- ``before_solve(system, stop)`` after setup, just before the method's ``solve``;
- ``after_solve(result)`` with the final :class:`solvers.result.SolveResult` (after the
  true-residual check and any refinement restarts), just before it is returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import scipy.sparse.linalg as spla

from solvers.reasons import Reason
from solvers.stopping import StoppingRule
from solvers.system import LinearSystem

Callback = Callable[[np.ndarray], Any]


@dataclass
class Iterate:
    """What a method returns: its ``x``, the iteration count, residual history and reason."""

    x: np.ndarray
    iterations: int
    residuals: list[float]
    reason: Reason
    info: dict[str, Any] = field(default_factory=dict)


class Method(Protocol):
    """A solution method on the host backend."""

    #: Needs a symmetric (Hermitian) operator; checked before ``setup``.
    requires_symmetric: bool

    def setup(self, system: LinearSystem) -> None: ...

    def solve(self, system: LinearSystem, b: np.ndarray, x0: np.ndarray | None,
              M: spla.LinearOperator | None, stop: StoppingRule,
              callback: Callback | None) -> Iterate: ...


class Preconditioner(Protocol):
    """A preconditioner: ``setup`` returns an operator applying ``M ~ A^{-1}``."""

    requires_symmetric: bool

    def setup(self, system: LinearSystem) -> spla.LinearOperator: ...


class SolveHooks(Protocol):
    """Optional hooks of a method or preconditioner, called by the host backend per solve."""

    def before_solve(self, system: LinearSystem, stop: StoppingRule) -> None: ...

    def after_solve(self, result: Any) -> None: ...


def initial_state(matvec: Callable[[np.ndarray], np.ndarray], b: np.ndarray,
                  x0: np.ndarray | None,
                  stop: StoppingRule) -> tuple[np.ndarray, np.ndarray, float, list[float]]:
    """Start of every host iteration: ``(x, r = b - A x, threshold, [||r||])``.

    ``x`` is a fresh copy (zero when ``x0`` is None, saving the first matvec).
    """
    x = np.zeros_like(b) if x0 is None else x0.astype(b.dtype, copy=True)
    r = b - matvec(x) if x0 is not None else b.copy()
    return x, r, stop.threshold(float(np.linalg.norm(b))), [float(np.linalg.norm(r))]
