"""The default ``Solver``'s reuse rule: factor a matrix that keeps coming back.

``method="auto"`` picks an iterative method for an assembled system with more than
:data:`solvers.auto.AUTO_DIRECT_MAX_N` unknowns (CG + AMG for an SPD matrix). Its setup (the AMG
hierarchy) is kept while the matrix fingerprint is unchanged, but every call still iterates. In a
time loop with a fixed matrix, an LU factorisation made once and reused costs one pair of
triangular solves per step, usually far less. A :class:`solvers.Solver` therefore weighs the two
(a ski-rental rule, at most twice the better of "never factor" and "factor at once"):

1. each call on the same matrix (same fingerprint) adds its wall time to ``spent``;
2. once ``spent >= F``, where ``F`` is an upper bound on the factorisation's cost
   (:func:`factor_estimate`: ``sum_i w_i^2`` flops over the row envelope widths ``w_i`` of the
   reverse Cuthill-McKee ordering, at :data:`FLOP_RATE`) and the envelope fits in
   :data:`MAX_ENTRIES`, the next call factors (``direct``, a *trial*);
3. the trial's triangular solve time is compared with the last iterative call's time on this
   matrix: the cheaper one is kept for every later call with this matrix (``info["auto"]``
   says which and why); a losing factorisation is dropped at once.

A new matrix (another fingerprint) starts the count again; nothing is kept for a one-shot
:func:`solvers.solve`. Only assembled host systems (``backend="scipy"``) are considered.

References
----------
A. R. Karlin, M. S. Manasse, L. Rudolph, D. D. Sleator, "Competitive snoopy caching",
Algorithmica 3, 1988 (the ski-rental argument). A. George, J. W. H. Liu, *Computer Solution of
Large Sparse Positive Definite Systems*, Prentice-Hall, 1981 (envelope methods).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import reverse_cuthill_mckee

from solvers.auto import AUTO_DIRECT_FALLBACK_MAX_N, Choice
from solvers.monitor import LOGGER

#: Flops per second assumed for the factorisation estimate (one core of a 2020s CPU).
FLOP_RATE = 2e9
#: A factorisation whose envelope holds more entries than this is never tried (16 bytes each).
MAX_ENTRIES = 1e8


def factor_estimate(matrix: sp.csr_matrix) -> tuple[float, float]:
    """``(flops, entries)``: an upper bound on an LU factorisation's work and fill.

    With the reverse Cuthill-McKee ordering, row ``i`` of the symmetrised pattern has envelope
    width ``w_i = i - min{j : a_ij != 0}``; a factorisation within the envelope costs at most
    ``sum_i w_i^2`` flops and stores ``sum_i w_i`` entries per factor (George & Liu, ch. 4).
    COLAMD and nested dissection (SuperLU) do better; the bound only errs on the side of
    factoring later.
    """
    pattern = sp.csr_matrix((np.ones(matrix.nnz), matrix.indices, matrix.indptr),
                            shape=matrix.shape)
    pattern = (pattern + pattern.T).tocsr()
    order = reverse_cuthill_mckee(pattern, symmetric_mode=True)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    coo = pattern.tocoo()
    first = np.full(order.size, order.size)
    np.minimum.at(first, rank[coo.row], rank[coo.col])
    width = np.maximum(np.arange(order.size) - first, 0).astype(float)
    return float(np.sum(width**2) + matrix.nnz), float(2 * np.sum(width) + order.size)


@dataclass
class ReuseRule:
    """What a :class:`solvers.Solver` remembers about the last matrix (see module docstring).

    ``fingerprint``: the matrix's; ``calls``: how many calls saw it; ``spent``: their wall time
    while iterating; ``iterative``: the last iterative call's time (setup reused);
    ``estimate``: the factorisation bound in seconds (``inf``: never); ``decided``: ``None``
    (still counting), ``"trial"`` (the next call factors), ``"direct"`` or ``"iterative"``.
    """

    fingerprint: tuple | None = None
    calls: int = 0
    spent: float = 0.0
    iterative: float = float("inf")
    estimate: float | None = None
    decided: str | None = None
    why: str = ""
    _last: Any = None

    def hint(self, A: Any) -> Choice | None:
        """The choice to run on ``A`` without re-planning: ``direct`` while a factorisation of
        the same matrix object is due or kept (a changed matrix is caught by the setup's own
        fingerprint check, and :meth:`observe` then starts counting again)."""
        if self.decided not in ("trial", "direct") or self._last is None or self._last() is not A:
            return None
        return Choice("direct", "none", self.why)

    def wants_direct(self, fingerprint: tuple) -> Choice | None:
        """Like :meth:`hint` for another object holding the same matrix values."""
        if self.decided in ("trial", "direct") and fingerprint == self.fingerprint:
            return Choice("direct", "none", self.why)
        return None

    def observe(self, A: Any, system: Any, ran: str, result: Any) -> None:
        """Account one call that ran ``ran`` (``"direct"`` or an iterative label) on
        ``system`` (a :class:`solvers.system.LinearSystem`) in ``result.timings["total"]``."""
        if system is None or system.matrix is None or system.n > AUTO_DIRECT_FALLBACK_MAX_N:
            return
        fingerprint = system.fingerprint()
        if fingerprint != self.fingerprint:  # a new matrix: start again
            self.calls, self.spent, self.iterative = 0, 0.0, float("inf")
            self.estimate, self.decided, self.why = None, None, ""
            self.fingerprint = fingerprint
        self._remember(A)
        self.calls += 1
        seconds = float(result.timings.get("total", 0.0))
        if ran == "direct":
            self._after_factor(result)
        elif result.converged:
            self._after_iterative(system, seconds, result)

    def _remember(self, A: Any) -> None:
        try:
            self._last = weakref.ref(A)
        except TypeError:
            self._last = None

    def _after_iterative(self, system: Any, seconds: float, result: Any) -> None:
        self.spent += seconds
        self.iterative = seconds
        if self.decided is not None or self.calls < 2:
            return
        if self.estimate is None:
            flops, entries = factor_estimate(system.matrix)
            self.estimate = flops / FLOP_RATE if entries <= MAX_ENTRIES else float("inf")
        if self.spent >= self.estimate:
            self.decided = "trial"
            self.why = (f"the same matrix for {self.calls} calls ({self.spent:.3g} s iterating "
                        f">= {self.estimate:.3g} s, a bound on factoring it): trying its LU")
            LOGGER.info("auto: %s", self.why)

    def _after_factor(self, result: Any) -> None:
        solve = float(result.timings.get("solve", 0.0))
        if self.decided == "trial":
            keep = result.converged and solve < self.iterative
            self.decided = "direct" if keep else "iterative"
            self.why = (f"same matrix: reusing its LU factorisation (a solve {solve:.3g} s < "
                        f"{self.iterative:.3g} s iterating)" if keep else
                        f"same matrix, but its LU solve ({solve:.3g} s) is not cheaper than "
                        f"iterating ({self.iterative:.3g} s): kept iterating")
            LOGGER.info("auto: %s", self.why)
