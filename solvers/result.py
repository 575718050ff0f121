"""The one return type of :func:`solvers.solve`, and the verdict that fills it."""

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
        ``||b - A x|| <= max(rtol * ||b||, atol)``, computed in float64 (complex128) on the
        caller's own ``A`` and ``b`` whatever precision the solve ran in.
    reason
        Why the solve stopped, a :class:`solvers.reasons.Reason` (compares equal to its string).
    iterations
        Iterations performed (1 for a direct solve, as PETSc's ``preonly`` counts it).
    residuals
        Residual 2-norms per iteration, ``residuals[0] = ||b - A x0||``, as the method tracked
        them (recurrence residuals for most Krylov methods); the last entry is replaced by
        the true residual norm.
    residual_norm
        The true residual norm ``||b - A x||`` of the returned ``x`` (float64).
    threshold
        ``max(rtol * ||b||, atol)``, the value ``residual_norm`` was compared with.
    timings
        Seconds: ``setup`` (factorizations, hierarchies, conversions, compilation), ``solve``
        and ``total``.
    info
        Backend, method, preconditioner, device, working ``dtype``, what ``auto`` chose and
        why (``info["auto"]``), and method-specific details; ``method``, ``pc`` and
        ``backend`` are also read-only attributes (``res.method``).
    state
        The carried state of a method or preconditioner that keeps one across solves (a
        bandit's learner), as it is after this solve; ``None`` otherwise.
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
    state: Any = None

    @property
    def method(self) -> str | None:
        """The method that ran (``info["method"]``): what ``auto`` chose, not ``"auto"``."""
        return self.info.get("method")

    @property
    def pc(self) -> str | None:
        """The preconditioner that ran (``info["pc"]``)."""
        return self.info.get("pc")

    @property
    def backend(self) -> str | None:
        """The backend that ran the solve (``info["backend"]``: scipy, petsc or jax)."""
        return self.info.get("backend")

    def __repr__(self) -> str:
        auto = self.info.get("auto")
        chose = f", auto={auto['chose']!r}" if auto else ""
        return (
            f"SolveResult(converged={self.converged}, reason={self.reason.value!r}, "
            f"iterations={self.iterations}, residual_norm={self.residual_norm:.3e}, "
            f"threshold={self.threshold:.3e}, method={self.method!r}, pc={self.pc!r}, "
            f"backend={self.backend!r}{chose})"
        )


def make_result(x: Any, residual_norm: float, bnorm: float, stop: StoppingRule,
                claimed: Reason, iterations: int, residuals: Any,
                timings: dict[str, float], info: dict[str, Any],
                dtype: np.dtype | None = None) -> SolveResult:
    """Build a :class:`SolveResult` after the final float64 true-residual check.

    ``dtype`` is the working precision: a single-precision run whose own test passed but whose
    float64 residual fails gets :attr:`Reason.PRECISION` instead of ``inaccurate``.
    """
    converged, reason = verdict(residual_norm, bnorm, stop, claimed)
    if reason is Reason.INACCURATE and dtype is not None and is_single(dtype):
        reason = Reason.PRECISION
    history = np.array(residuals, dtype=float)  # a copy: the last entry is replaced
    if history.size:
        history[-1] = residual_norm
    return SolveResult(x, converged, reason, int(iterations), history, float(residual_norm),
                       float(stop.threshold(bnorm)), timings, info)


def is_single(dtype: np.dtype) -> bool:
    """Whether ``dtype`` is a single-precision (or lower) floating type."""
    return np.finfo(np.dtype(dtype)).bits <= 32 if np.dtype(dtype).kind in "fc" else False
