"""The stopping rule shared by every method and backend.

A solve has converged when the **true** residual satisfies

    ||b - A x||_2 <= max(rtol * ||b||_2, atol).

Methods stop on their own (often recurrence) residual estimate; :func:`verdict` re-checks the
returned ``x`` against the true residual, so ``converged`` is never reported for an ``x``
that fails the rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from solvers.errors import InvalidOptionError
from solvers.reasons import Reason


@dataclass(frozen=True)
class StoppingRule:
    """``rtol``, ``atol`` and ``maxiter`` (``None``: decided per method, 10 n by default)."""

    rtol: float = 1e-5
    atol: float = 0.0
    maxiter: int | None = None

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise InvalidOptionError(f"{name} must be a finite number >= 0, not {value!r}")
        if self.rtol == 0 and self.atol == 0:
            raise InvalidOptionError("rtol and atol are both 0: no solve can meet that; set one")
        if self.maxiter is not None and (
            not isinstance(self.maxiter, int) or isinstance(self.maxiter, bool) or self.maxiter < 0
        ):
            raise InvalidOptionError(f"maxiter must be an int >= 0 or None, not {self.maxiter!r}")

    def threshold(self, bnorm: float) -> float:
        """``max(rtol * ||b||, atol)``."""
        return max(self.rtol * bnorm, self.atol)

    def iterations(self, n: int) -> int:
        """The iteration budget for a system with ``n`` unknowns."""
        return self.maxiter if self.maxiter is not None else 10 * n


def verdict(residual_norm: float, bnorm: float, stop: StoppingRule,
            claimed: Reason) -> tuple[bool, Reason]:
    """Decide ``(converged, reason)`` from the true residual norm of the returned ``x``.

    A method that claimed convergence but fails the true-residual test gets
    :attr:`Reason.INACCURATE`; one that gave up but whose ``x`` passes is converged after all.
    """
    if not math.isfinite(residual_norm):
        return False, Reason.DIVERGED_NAN
    if residual_norm <= stop.threshold(bnorm):
        return True, Reason.RTOL if residual_norm <= stop.rtol * bnorm else Reason.ATOL
    if claimed.converged:
        return False, Reason.INACCURATE
    return False, claimed
