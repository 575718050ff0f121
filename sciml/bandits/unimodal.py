r"""Unimodal local search over an ordered grid of arms, per adaptive bin of a scalar context.

The default learner of ``Solver(method="bandit-sor")``. It uses what the SOR cost has and a
worst-case bandit ignores: as a function of :math:`\omega` the iteration count is unimodal (it
falls to a minimum near the optimal :math:`\omega^*` and rises after it), so the best arm can be
found by comparing each candidate with its two grid neighbours only, as in OSUB (Combes and
Proutière [1]_), whose regret depends on the neighbours of the best arm alone: arms far from
the leader, whose cost is large, are never tried. Round :math:`t` with context :math:`x_t`:

1. **Neighbourhood in context.** The rounds whose context lies in the same bin as
   :math:`x_t`, where the bins are the :math:`m_t`-quantiles of the contexts seen so far,
   :math:`m_t = \min(m_{\max}, \lfloor\sqrt{t / r}\rfloor)` (``rounds_per_bin`` :math:`= r`,
   ``max_bins`` :math:`= m_{\max}`): few wide bins early, more and narrower ones as data
   comes; fixed edges can be given instead; without a context there is one bin. A bin with
   no rounds yet falls back to all rounds.
2. **Leader.** :math:`L` = the arm of least predicted log-loss :math:`\bar\ell_i` in the
   bin: per-arm means of :math:`\log \ell` with one slope in the context common to all arms
   (analysis of covariance), evaluated at :math:`x_t`, so that the spread of the costs over
   the contexts in a bin does not hide the differences between arms.
3. **Local optimism.** Among :math:`\{L-s, L-1, L, L+1, L+s\}` (the grid neighbours and
   the arms a ``jump`` :math:`s` away, default :math:`K/10`, so that a climb from the start
   takes few rounds), an arm never played in the bin is played (the farthest first);
   otherwise the arm of least lower confidence bound

   .. math:: \bar\ell_i - \hat\sigma \sqrt{2 \log N / n_i},

   with :math:`n_i` its plays and :math:`N` the rounds in the bin, and :math:`\hat\sigma^2`
   the pooled residual variance of the candidates' log-losses, shrunk towards
   :math:`0.1^2` (two prior degrees of freedom).

Every quantity is a difference or a spread of log-losses, so multiplying all losses by a
constant changes no choice: the learner's behaviour does not depend on the loss scale (for
SOR, on ``maxiter``). With no rounds at all it plays ``start``. The choice is deterministic
given the history; ``seed`` is kept for the common protocol (:mod:`sciml.bandits.learner`).

References
----------
.. [1] R. Combes, A. Proutière, "Unimodal Bandits: Regret Lower Bounds and Optimal
   Algorithms", ICML 2014.
.. [2] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
   Parameters Across a Sequence of Linear System Instances", ICLR 2024.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .contextual import Bins, bin_edges
from .learner import BanditError, LearnerBase, check_context, check_int, check_loss

__all__ = ["UnimodalBandit"]

#: Prior spread of the log-losses (0.1: 10 % relative).
PRIOR_SPREAD = 0.1
#: Prior degrees of freedom of the pooled variance.
PRIOR_DOF = 2.0


class UnimodalBandit(LearnerBase):
    r"""OSUB-style local search over ordered arms, in quantile bins of a scalar context.

    Parameters
    ----------
    n_arms : int
        Number of arms :math:`K \ge 1`, ordered (e.g. increasing :math:`\omega`).
    seed : int
        Non-negative seed (the policy itself is deterministic; kept for the protocol).
    bins : ``"quantile"``, sequence of float, tuple ``(low, high, n_bins)`` or None
        ``"quantile"`` (default): adaptive bins, the quantiles of the contexts seen so far;
        fixed edges (:func:`~sciml.bandits.contextual.bin_edges`); ``None``: no context, one
        bin.
    rounds_per_bin : int
        :math:`r` in :math:`m_t = \lfloor\sqrt{t/r}\rfloor` quantile bins.
    max_bins : int
        :math:`m_{\max}`, the most quantile bins.
    start : int
        The arm played before any round (e.g. the index of :math:`\omega = 1`).
    jump : int, optional
        :math:`s`, the distance of the far candidates; default ``max(1, round(K / 10))``.

    Examples
    --------
    >>> costs = np.array([5.0, 3.0, 2.0, 4.0, 9.0])        # unimodal, best arm 2
    >>> bandit = UnimodalBandit(5, seed=0, bins=None)
    >>> for _ in range(30):
    ...     arm = bandit.select()
    ...     bandit.update(arm, costs[arm] / 10)
    >>> bandit.best_arm(), sorted({a for a, _ in bandit.history})
    (2, [0, 1, 2, 3])
    """

    def __init__(self, n_arms: int, *, seed: int, bins: Bins | str | None = "quantile",
                 rounds_per_bin: int = 8, max_bins: int = 32, start: int = 0,
                 jump: int | None = None) -> None:
        super().__init__(n_arms, seed)
        if bins is None or (isinstance(bins, str) and bins == "quantile"):
            self.edges = None
        elif isinstance(bins, str):
            raise BanditError(f"bins must be 'quantile' (adaptive), None (no context), bin "
                              f"edges or a tuple (low, high, n_bins), not {bins!r}")
        else:
            self.edges = bin_edges(bins)
        self.bins = bins if self.edges is None else self.edges.tolist()
        self.rounds_per_bin = check_int("rounds_per_bin", rounds_per_bin, 1)
        self.max_bins = check_int("max_bins", max_bins, 1)
        self.start = self._check_arm(start)
        self.jump = max(1, round(self.n_arms / 10)) if jump is None else \
            check_int("jump", jump, 1)
        self._rows = np.empty((0, 3))  # the history as (context, arm, loss) rows

    def config(self) -> dict[str, Any]:
        return {**super().config(), "bins": self.bins, "rounds_per_bin": self.rounds_per_bin,
                "max_bins": self.max_bins, "start": self.start, "jump": self.jump}

    @property
    def contextual(self) -> bool:
        """Whether the learner reads a context (``bins`` is not None)."""
        return self.bins is not None

    def _arrays_of_history(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Contexts, arms and losses of the history as arrays (converted once per row)."""
        done = self._rows.shape[0]
        if done < len(self.history):
            new = np.array(self.history[done:], dtype=float).reshape(
                -1, 3 if self.contextual else 2)
            self._rows = np.concatenate([self._rows, new[:, -3:] if self.contextual else
                                         np.column_stack([np.zeros(len(new)), new])])
        return self._rows[:, 0], self._rows[:, 1].astype(int), self._rows[:, 2]

    def _neighbourhood(self, contexts: np.ndarray, context: float | None) -> np.ndarray:
        """Mask of the earlier rounds in ``context``'s bin (all rounds if it has none)."""
        if context is None or contexts.size == 0:
            return np.ones(contexts.size, dtype=bool)
        x = check_context(context)
        if self.edges is not None:
            edges = self.edges
        else:
            m = min(self.max_bins, int(np.sqrt(contexts.size / self.rounds_per_bin)))
            edges = np.unique(np.quantile(contexts, np.linspace(0, 1, max(m, 1) + 1)))
        inner = edges[1:-1]
        same = np.searchsorted(inner, contexts, side="right") == \
            np.searchsorted(inner, x, side="right")
        return same if same.any() else np.ones(contexts.size, dtype=bool)

    def _statistics(self, context: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Plays, predicted log-losses at ``context`` and residual sums of squares per arm,
        from the rounds of ``context``'s bin (see :meth:`_fit`)."""
        contexts, arms, losses = self._arrays_of_history()
        mask = self._neighbourhood(contexts, context)
        positive = losses[losses > 0]
        floor = positive.min() / 2 if positive.size else 1.0  # a loss of 0: half the least
        y = np.log(np.maximum(losses[mask], floor))
        at = contexts[mask].mean() if context is None else context
        return self._fit(contexts[mask], arms[mask], y, at)

    def _fit(self, x: np.ndarray, arms: np.ndarray, y: np.ndarray,
             at: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""Per-arm means of ``y`` with one common slope in the context (analysis of
        covariance), :math:`y \approx \alpha_i + \beta x`, predicted at ``at``."""
        n = np.bincount(arms, minlength=self.n_arms).astype(float)
        mean_x, mean_y = (np.bincount(arms, v, minlength=self.n_arms) / np.maximum(n, 1)
                          for v in (x, y))
        dx, dy = x - mean_x[arms], y - mean_y[arms]
        sxx = float(dx @ dx)
        slope = float(dx @ dy) / sxx if sxx > 0 else 0.0
        predicted = np.where(n > 0, mean_y + slope * (at - mean_x), np.inf)
        residual = dy - slope * dx
        return n, predicted, np.bincount(arms, residual * residual, minlength=self.n_arms)

    def _choice(self, context: float | None) -> int:
        if not self.history:
            return self.start
        n, mean, squares = self._statistics(context)
        leader = int(np.argmin(mean))
        steps = sorted({-self.jump, -1, 0, 1, self.jump})
        candidates = [leader + d for d in steps if 0 <= leader + d < self.n_arms]
        untried = [a for a in candidates if n[a] == 0]
        if untried:  # the jumps first: a far climb takes few rounds
            return max(untried, key=lambda a: abs(a - leader))
        played = [a for a in candidates if n[a] > 1]
        dof = sum(n[a] - 1 for a in played) + PRIOR_DOF
        sigma = np.sqrt((sum(squares[a] for a in played) + PRIOR_DOF * PRIOR_SPREAD**2) / dof)
        bounds = [mean[a] - sigma * np.sqrt(2 * np.log(n.sum()) / n[a]) for a in candidates]
        best = min(bounds)
        return leader if bounds[candidates.index(leader)] == best else \
            candidates[bounds.index(best)]

    def probabilities(self, context: float | None = None) -> np.ndarray:
        """The (deterministic) choice for ``context`` as a point mass (``None``: all contexts
        pooled)."""
        p = np.zeros(self.n_arms)
        p[self._choice(self._context(context))] = 1.0
        return p

    def select(self, context: float | None = None) -> int:
        """The arm to play for ``context`` (see the module docstring)."""
        return self._choice(self._context(context, required=True))

    def best_arm(self, context: float | None = None) -> int:
        """The leader: least mean loss in ``context``'s bin (``start`` before any round)."""
        if not self.history:
            return self.start
        return int(np.argmin(self._statistics(self._context(context))[1]))

    def update(self, arm: int, loss: float, context: float | None = None) -> None:
        """Record the loss (any scale in [0, 1]) of ``arm`` played for ``context``."""
        arm, loss = self._check_arm(arm), check_loss(loss)
        self._record(arm, loss, self._context(context, required=True))

    def _context(self, context: float | None, required: bool = False) -> float | None:
        """``context`` checked; ``None`` (all contexts pooled) only where not ``required``."""
        if not self.contextual:
            return None
        if context is None and required:
            raise BanditError("this learner bins a context (bins is not None) and got "
                              "context=None; pass the context, or bins=None for none")
        return None if context is None else check_context(context)
