r"""Binned contextual bandit: one ½-Tsallis-INF learner per interval of a scalar context.

When each instance comes with a scalar context :math:`c_t` (in Khodak et al. 2024 the diagonal
shift :math:`c` of :math:`A + cI`) and the best arm varies smoothly with it, discretising the
context range into bins :math:`B_1, \dots, B_m` and running an independent
:class:`~sciml.bandits.tsallis.TsallisINF` in each bin competes with the best *piecewise
constant* policy :math:`c \mapsto \omega_{b(c)}`; with Lipschitz costs and :math:`m` growing
with :math:`T` this approaches the instance-optimal policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from .learner import BanditError, LearnerBase, check_context, check_int, check_positive
from .tsallis import TsallisINF

__all__ = ["BinnedContextualBandit", "bin_edges"]

Bins = Sequence[float] | np.ndarray | tuple[float, float, int]


def bin_edges(bins: Bins) -> np.ndarray:
    """Normalise a ``bins`` argument to an increasing array of edges.

    ``bins`` is either the edges :math:`e_0 < \\dots < e_m` (at least two, finite, strictly
    increasing) or a **tuple** ``(low, high, n_bins)`` with an integer ``n_bins >= 1``, meaning
    ``numpy.linspace(low, high, n_bins + 1)``. A 3-element *list* is always read as edges.

    Examples
    --------
    >>> bin_edges((0.0, 1.0, 4))
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    >>> bin_edges([0.0, 0.1, 1.0])
    array([0. , 0.1, 1. ])
    """
    if isinstance(bins, tuple) and len(bins) == 3 and isinstance(bins[2], Integral) \
            and not isinstance(bins[2], bool):
        n_bins = check_int("n_bins (third entry of bins=(low, high, n_bins))", bins[2], 1)
        low, high = (float(v) if isinstance(v, Real) else np.nan for v in bins[:2])
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise BanditError(f"bins=(low, high, n_bins) needs finite low < high, got {bins!r}")
        return np.linspace(low, high, n_bins + 1)
    try:
        edges = np.asarray(bins, dtype=float)
    except (TypeError, ValueError):
        edges = np.empty(0)
    if edges.ndim != 1 or edges.size < 2:
        raise BanditError(
            f"bins must be at least two bin edges or a tuple (low, high, n_bins), got {bins!r}")
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise BanditError(f"bin edges must be finite and strictly increasing, got {bins!r}")
    return edges


class BinnedContextualBandit(LearnerBase):
    r"""One :class:`~sciml.bandits.tsallis.TsallisINF` per bin of a scalar context.

    A context :math:`c` falls in bin :math:`b` with :math:`e_b \le c < e_{b+1}` (the last bin
    also holds :math:`e_m`; contexts outside :math:`[e_0, e_m]` are clipped into the first or
    last bin). The learner of bin :math:`b` is created on the bin's first context, seeded from
    ``SeedSequence(seed, spawn_key=(b,))``, so results do not depend on the order in which bins
    are visited; its :math:`\eta_t = c_\eta/\sqrt{t}` counts the rounds *of that bin*.

    Parameters
    ----------
    n_arms : int
        Number of arms :math:`K \ge 1` (shared by all bins).
    bins : sequence of float, ndarray, or tuple ``(low, high, n_bins)``
        Bin edges (see :func:`bin_edges`).
    seed : int
        Non-negative master seed.
    eta_scale : float, optional
        :math:`c_\eta` of each bin's learner.

    References
    ----------
    .. [1] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
       Parameters Across a Sequence of Linear System Instances", ICLR 2024.

    Examples
    --------
    >>> cb = BinnedContextualBandit(5, (0.0, 1.0, 4), seed=0)
    >>> arm = cb.select(0.3)
    >>> cb.update(arm, 0.2, 0.3)
    >>> cb.bin_index(0.3), cb.history[0][0]
    (1, 0.3)
    """

    def __init__(self, n_arms: int, bins: Bins, *, seed: int, eta_scale: float = 2.0) -> None:
        super().__init__(n_arms, seed)
        self.edges = bin_edges(bins)
        self.eta_scale = check_positive("eta_scale", eta_scale)
        self.learners: dict[int, TsallisINF] = {}  #: per visited bin

    def config(self) -> dict[str, Any]:
        return {**super().config(), "bins": self.edges.tolist(), "eta_scale": self.eta_scale}

    @property
    def n_bins(self) -> int:
        """Number of context bins :math:`m`."""
        return self.edges.size - 1

    def bin_index(self, context: float) -> int:
        """Bin of ``context`` (clipped into ``[0, n_bins - 1]``)."""
        b = int(np.searchsorted(self.edges, check_context(context), side="right")) - 1
        return min(max(b, 0), self.n_bins - 1)

    def _learner(self, context: float) -> TsallisINF:
        b = self.bin_index(context)
        if b not in self.learners:
            seed = np.random.SeedSequence(self.seed, spawn_key=(b,)).generate_state(1, np.uint64)
            self.learners[b] = TsallisINF(self.n_arms, seed=int(seed[0]),
                                          eta_scale=self.eta_scale)
        return self.learners[b]

    def probabilities(self, context: float | None = None) -> np.ndarray:
        """Distribution of ``context``'s bin (uniform for an unseen bin)."""
        learner = self.learners.get(self.bin_index(context))
        return np.full(self.n_arms, 1 / self.n_arms) if learner is None else \
            learner.probabilities()

    def select(self, context: float | None = None) -> int:
        """Sample an arm for ``context`` from its bin's learner."""
        return self._learner(context).select()

    def update(self, arm: int, loss: float, context: float | None = None) -> None:
        """Report the loss in :math:`[0, 1]` of ``arm``, drawn for ``context``."""
        self._learner(context).update(arm, loss)  # validates all three
        self._record(int(arm), float(loss), float(context))

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable state (learners keyed by the bin index as a string)."""
        return {**super().state_dict(),
                "learners": {str(b): lr.state_dict() for b, lr in sorted(self.learners.items())}}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> BinnedContextualBandit:
        obj = super().from_state(state)
        obj.learners = {int(b): TsallisINF.from_state(s) for b, s in state["learners"].items()}
        return obj
