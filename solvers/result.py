"""The one return type of :func:`solvers.solve`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solvers.reasons import Reason
from solvers.stopping import StoppingRule, verdict


@dataclass
class SolveResult:
    """Outcome of a linear solve.

    Attributes
    ----------
    x
        The solution, in the same array family as ``b`` (numpy, jax or petsc4py ``Vec``).
    converged
        ``True`` only if the *true* residual satisfies
        ``||b - A x|| <= max(rtol * ||b||, atol)`` (checked on return, whatever the method said).
    reason
        Why the solve stopped, a :class:`solvers.reasons.Reason` (compares equal to its string).
    iterations
        Iterations performed (0 for a direct solve).
    residuals
        Residual 2-norms per iteration, ``residuals[0] = ||b - A x0||``, as the method tracked
        them (recurrence residuals for most Krylov methods); the last entry is replaced by
        the true residual norm.
    residual_norm
        The true residual norm ``||b - A x||`` of the returned ``x``.
    threshold
        ``max(rtol * ||b||, atol)``, the value ``residual_norm`` was compared with.
    timings
        Seconds: ``setup`` (factorizations, hierarchies, conversions), ``solve`` and ``total``.
    info
        Backend, method, preconditioner, device and method-specific details.
    """

    x: Any
    converged: bool
    reason: Reason
    iterations: int
    residuals: np.ndarray
    residual_norm: float
    threshold: float
    timings: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"SolveResult(converged={self.converged}, reason={self.reason.value!r}, "
            f"iterations={self.iterations}, residual_norm={self.residual_norm:.3e}, "
            f"threshold={self.threshold:.3e}, method={self.info.get('method')!r}, "
            f"backend={self.info.get('backend')!r})"
        )


def make_result(x: Any, residual_norm: float, bnorm: float, stop: StoppingRule,
                claimed: Reason, iterations: int, residuals: Any,
                timings: dict[str, float], info: dict[str, Any]) -> SolveResult:
    """Build a :class:`SolveResult` after the final true-residual check (every backend)."""
    converged, reason = verdict(residual_norm, bnorm, stop, claimed)
    history = np.array(residuals, dtype=float)  # a copy: the last entry is replaced
    if history.size:
        history[-1] = residual_norm
    return SolveResult(x, converged, reason, int(iterations), history, float(residual_norm),
                       float(stop.threshold(bnorm)), timings, info)
