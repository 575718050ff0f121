"""The protocols a method or preconditioner implements to run on the host (SciPy) backend.

A registered method factory returns an object with ``setup(system)`` (reusable work such as
a factorization; called again only when the matrix changes) and
``solve(system, b, x0, M, stop, callback) -> Iterate``. A preconditioner factory returns an
object with ``setup(system) -> LinearOperator`` applying ``M ~ A^{-1}``. Objects may keep
state across solves (bandit weights, recycle spaces, loaded networks): :class:`solvers.Solver`
builds them once.
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
