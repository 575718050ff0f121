"""The stopping rule shared by every method and backend.

A solve has converged when the **true** residual satisfies

    ||b - A x||_2 <= max(rtol * ||b||_2, atol).

Methods stop on their own (often recurrence) residual estimate; :func:`verdict` re-checks the
returned ``x`` against the true residual, so ``converged`` is never reported for an ``x``
that fails the rule.

Two more tests end a run that is not going anywhere, checked by every host iterative method
through one :class:`Guard` on a residual norm it already computes (no extra work but for
MINRES with a preconditioner: one matrix product per 100 iterations):

- **divergence**, PETSc's ``-ksp_divtol``: ``||r_k|| > dtol * ||r_0||`` stops with
  :attr:`Reason.DIVERGED_DTOL` (``dtol = 1e5`` by default, ``math.inf`` switches it off);
- **stagnation**: no new smallest residual norm, :data:`STAGNATION_REDUCTION` (0.1 %) below
  the previous one, for ``max(stagnation, STAGNATION_GROWTH * k_best)`` iterations, where
  ``k_best`` is the iteration of that previous best, stops with :attr:`Reason.STAGNATION`
  (``stagnation = None`` switches it off). The first best is ``||r_1||``, not ``||r_0||``: one
  CG step can raise the residual 2-norm by up to ``sqrt(cond(A))`` (70x on the 1D Poisson
  matrix with 10^4 unknowns, which then falls steadily).

Why these values (:data:`STAGNATION_WINDOW` = 1000, :data:`STAGNATION_GROWTH` = 4): a run that
trips the test gained less than 0.1 % in 1000 iterations, a rate at which ``rtol = 1e-5`` takes
more than 10^7 iterations, and a run with a bad preconditioner stops in about 1000 iterations:
seconds (CG with SciPy's ``spilu(A).solve``, nonsymmetric, as ``M`` on the 2D Poisson matrix
with 200^2 unknowns: ``||r||`` climbs from 2e2 to 5e3 and the run stops after 1001 iterations,
5 to 10 s on a shared 2-core machine). Longest stretches without such a new best, measured on
healthy runs to ``rtol = 1e-8`` (the worst of ``b`` from the gallery and random): CG, CG +
Jacobi and MINRES on 2D Poisson 200^2 and 3D 40^3: at most 16 iterations; GMRES(10), GMRES(30)
(with and without Jacobi) and GCRO-DR on convection-diffusion 100^2 (velocities 1 to 200): 0;
BiCGStab there: 110 (after 8), but its residual also peaks at 1.5e5 ``||r_0||`` with velocity
(200, 50) before converging: past the default ``dtol``, as in PETSc; SOR/SSOR on Poisson 60^2
(6870 iterations for omega = 1): 0. CG on the 1D Poisson matrix (condition number ~ n^2, which
needs ~ n iterations) is the hard case: with a random ``b`` and n = 10^4, 2557 iterations after
a best at iteration 789 and, with Jacobi, 575 after iteration 5: both pass (``4 k_best`` covers
the first, 1000 the second); with n >= 3 * 10^4 such plateaus reach n / 2 and the test can stop
a run that would converge near iteration n: pass ``stagnation=None`` there.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

from solvers.errors import InvalidOptionError
from solvers.reasons import Reason

#: Default ``dtol`` (PETSc's ``-ksp_divtol``): a residual norm above ``dtol * ||r_0||`` stops.
DTOL = 1e5
#: Default stagnation window, in iterations (see the module docstring for the measurements).
STAGNATION_WINDOW = 1000
#: The window grows to this many times the iteration of the best residual so far.
STAGNATION_GROWTH = 4
#: The relative fall of the best residual norm that counts as progress.
STAGNATION_REDUCTION = 1e-3


@dataclass(frozen=True)
class StoppingRule:
    """``rtol``, ``atol`` and ``maxiter`` (``None``: decided per method, 10 n by default);
    ``dtol`` and ``stagnation``: the divergence and stagnation stops of :class:`Guard`."""

    rtol: float = 1e-5
    atol: float = 0.0
    maxiter: int | None = None
    dtol: float = DTOL
    stagnation: int | None = STAGNATION_WINDOW

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
        if (isinstance(self.dtol, bool) or not isinstance(self.dtol, numbers.Real)
                or not float(self.dtol) >= 1):
            raise InvalidOptionError(
                f"dtol must be a number >= 1 (the solve stops with diverged_dtol once "
                f"||r_k|| > dtol * ||r_0||; math.inf switches the test off), not {self.dtol!r}")
        object.__setattr__(self, "dtol", float(self.dtol))
        if self.stagnation is not None and (
            not isinstance(self.stagnation, int) or isinstance(self.stagnation, bool)
            or self.stagnation < 1
        ):
            raise InvalidOptionError(
                f"stagnation must be an int >= 1 (iterations without a 0.1% fall of the best "
                f"residual) or None (no stagnation stop), not {self.stagnation!r}")

    def threshold(self, bnorm: float) -> float:
        """``max(rtol * ||b||, atol)``."""
        return max(self.rtol * bnorm, self.atol)

    def iterations(self, n: int) -> int:
        """The iteration budget for a system with ``n`` unknowns."""
        return self.maxiter if self.maxiter is not None else 10 * n


class Guard:
    """The divergence and stagnation stops of one run, O(1) per iteration.

    ``update(rnorm)`` takes the residual norm the method already has (recurrence or
    least-squares estimate, or a recomputed one) and returns :attr:`Reason.DIVERGED_DTOL`
    if ``rnorm > dtol * ||r_0||``; :attr:`Reason.STAGNATION` once
    ``max(stop.stagnation, STAGNATION_GROWTH * k_best)`` updates passed since the update
    ``k_best`` that last brought the best norm more than ``STAGNATION_REDUCTION`` below its
    previous value; else ``None`` (the module docstring says why). ``update(rnorm, steps)``
    counts ``steps`` iterations since the previous update: ``0`` tests a second norm of the
    same iteration (a residual recomputed at a restart), more than 1 a norm computed only now
    and then (``k`` holds the iterations counted so far). A NaN counts as no progress;
    methods test for it first.

    ``hint`` names the likely cause for the person reading the result (one text, or one per
    reason): :meth:`info` returns ``{"message": reason.message + "; " + hint}`` for the run's
    :class:`solvers.method.Iterate`, which :mod:`solvers.finish` merges into
    ``SolveResult.info``.

    Examples
    --------
    >>> guard = Guard(StoppingRule(stagnation=3), 1.0)  # best at k = 1: window max(3, 4)
    >>> [guard.update(r) for r in (0.5, 0.6, 0.5, 0.4999, 0.7)]
    [None, None, None, None, <Reason.STAGNATION: 'stagnation'>]
    >>> Guard(StoppingRule(dtol=10), 1.0).update(11.0)
    <Reason.DIVERGED_DTOL: 'diverged_dtol'>
    """

    __slots__ = ("limit", "mark", "window", "deadline", "k", "hint")

    def __init__(self, stop: StoppingRule, r0: float,
                 hint: str | Mapping[Reason, str] = "") -> None:
        self.limit = stop.dtol * r0 if r0 > 0 else math.inf
        self.mark = math.inf  # the first update sets the best (see the module docstring)
        self.window = math.inf if stop.stagnation is None else stop.stagnation
        self.deadline = math.inf
        self.k = 0
        self.hint = hint

    def update(self, rnorm: float, steps: int = 1) -> Reason | None:
        """The reason to stop after an iteration with residual norm ``rnorm``, or ``None``."""
        self.k += steps
        if rnorm > self.limit:
            return Reason.DIVERGED_DTOL
        if rnorm < self.mark:
            self.mark = rnorm * (1 - STAGNATION_REDUCTION)
            self.deadline = self.k + max(self.window, STAGNATION_GROWTH * self.k)
            return None
        return Reason.STAGNATION if self.k >= self.deadline else None

    def info(self, reason: Reason) -> dict[str, str]:
        """``{"message": ...}``: the reason's explanation and the hint for it."""
        hint = self.hint if isinstance(self.hint, str) else self.hint.get(reason, "")
        return {"message": f"{reason.message}; {hint}" if hint else reason.message}


def symmetric_hint(method: str, preconditioned: bool, definite: bool = True) -> str:
    """The likely cause when a method for symmetric systems (CG, FCG: ``definite``; MINRES)
    diverges or stagnates: the preconditioner, or the matrix when there is none."""
    kind = "SPD" if definite else "symmetric"
    indefinite = " or indefinite" if definite else ""
    if preconditioned:
        return (f"the preconditioner M may be nonsymmetric{indefinite} ({method} needs an SPD "
                f"M); try method='gmres' or 'fgmres'")
    return (f"A may be nonsymmetric{indefinite} ({method} needs a {kind} A), or rtol is below "
            f"what rounding allows; try method='gmres'")


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
