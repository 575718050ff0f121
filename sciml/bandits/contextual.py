r"""Binned contextual bandit: one ½-Tsallis-INF learner per interval of a scalar context.

When each instance comes with a scalar context :math:`c_t` (in Khodak et al. 2024 the diagonal
shift :math:`c` of :math:`A + cI`) and the best arm varies smoothly with it, discretising the
context range into bins :math:`B_1, \dots, B_m` and running an independent
:class:`~sciml.bandits.tsallis.TsallisINF` in each bin competes with the best *piecewise
constant* policy :math:`c \mapsto \omega_{b(c)}`; with Lipschitz costs and :math:`m` growing
with :math:`T` this approaches the instance-optimal policy.

References
----------
.. [1] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
   Parameters Across a Sequence of Linear System Instances", ICLR 2024.
.. [2] J. Zimmert, Y. Seldin, "Tsallis-INF: An Optimal Algorithm for Stochastic and
   Adversarial Bandits", JMLR 22(28), 2021.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from .tsallis import (
    TsallisINF,
    _check_eta_scale,
    _check_int,
    _load_json,
    _save_json,
)

__all__ = ["BinnedContextualBandit", "bin_edges"]

_STATE_VERSION = 1


def bin_edges(bins: Sequence[float] | np.ndarray | tuple[float, float, int]) -> np.ndarray:
    """Normalise a ``bins`` argument to an increasing array of edges.

    Parameters
    ----------
    bins : sequence of float, ndarray, or tuple ``(low, high, n_bins)``
        Either the bin edges :math:`e_0 < e_1 < \\dots < e_m` (at least two, finite, strictly
        increasing), or a **tuple** ``(low, high, n_bins)`` with an integer ``n_bins >= 1``,
        meaning ``numpy.linspace(low, high, n_bins + 1)``. A 3-element *list* or array is
        always read as edges; pass a list to avoid the ambiguity.

    Returns
    -------
    ndarray, shape (m + 1,)

    Examples
    --------
    >>> bin_edges((0.0, 1.0, 4))
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    >>> bin_edges([0.0, 0.1, 1.0])
    array([0. , 0.1, 1. ])
    """
    if (
        isinstance(bins, tuple)
        and len(bins) == 3
        and isinstance(bins[2], Integral)
        and not isinstance(bins[2], bool)
    ):
        low, high, n_bins = bins
        n_bins = _check_int("n_bins (third entry of bins=(low, high, n_bins))", n_bins, 1)
        if not (
            isinstance(low, Real)
            and isinstance(high, Real)
            and math.isfinite(low)
            and math.isfinite(high)
            and low < high
        ):
            raise ValueError(f"bins=(low, high, n_bins) needs finite low < high, got {bins!r}")
        return np.linspace(float(low), float(high), n_bins + 1)
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(
            f"bins must be at least two bin edges or a tuple (low, high, n_bins), got {bins!r}"
        )
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise ValueError(f"bin edges must be finite and strictly increasing, got {bins!r}")
    return edges


def _child_seed(seed: int, bin_index: int) -> int:
    """Deterministic, well-mixed seed for the learner of bin ``bin_index``."""
    ss = np.random.SeedSequence(seed, spawn_key=(bin_index,))
    return int(ss.generate_state(1, dtype=np.uint64)[0])


class BinnedContextualBandit:
    r"""One :class:`~sciml.bandits.tsallis.TsallisINF` per bin of a scalar context.

    A context :math:`c` falls in bin :math:`b` with :math:`e_b \le c < e_{b+1}`; the last bin
    also holds :math:`c = e_m`, and contexts outside :math:`[e_0, e_m]` are clipped into the
    first or last bin. Learners are created lazily on a bin's first context, each seeded from
    ``SeedSequence(seed, spawn_key=(b,))``, so the result does not depend on the order in which
    bins are first visited.

    Parameters
    ----------
    n_arms : int
        Number of arms :math:`K \ge 1` (shared by all bins).
    bins : sequence of float, ndarray, or tuple ``(low, high, n_bins)``
        Bin edges, or a tuple for ``n_bins`` equal bins on ``[low, high]``
        (see :func:`bin_edges`).
    seed : int
        Non-negative master seed.
    eta_scale : float, optional
        :math:`c_\eta` of each learner's :math:`\eta_t = c_\eta / \sqrt{t}`, where :math:`t`
        counts the rounds *of that bin*.

    References
    ----------
    .. [1] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
       Parameters Across a Sequence of Linear System Instances", ICLR 2024.

    Examples
    --------
    >>> cb = BinnedContextualBandit(5, (0.0, 1.0, 4), seed=0)
    >>> arm = cb.select(0.3)
    >>> cb.update(arm, 0.2)
    >>> cb.bin_index(0.3), cb.history[0][0]
    (1, 0.3)
    """

    def __init__(
        self,
        n_arms: int,
        bins: Sequence[float] | np.ndarray | tuple[float, float, int],
        *,
        seed: int,
        eta_scale: float = 2.0,
    ) -> None:
        self._n_arms = _check_int("n_arms", n_arms, 1)
        self._edges = bin_edges(bins)
        self._seed = _check_int("seed", seed, 0)
        self._eta_scale = _check_eta_scale(eta_scale)
        self._learners: dict[int, TsallisINF] = {}
        self._history: list[tuple[float, int, float]] = []
        self._pending: tuple[float, int] | None = None  # (context, bin)

    # ------------------------------------------------------------------ properties
    @property
    def n_arms(self) -> int:
        """Number of arms :math:`K`."""
        return self._n_arms

    @property
    def n_bins(self) -> int:
        """Number of context bins :math:`m`."""
        return self._edges.size - 1

    @property
    def edges(self) -> np.ndarray:
        """Copy of the bin edges."""
        return self._edges.copy()

    @property
    def history(self) -> list[tuple[float, int, float]]:
        """Completed rounds as ``(context, arm, loss)`` triples."""
        return list(self._history)

    @property
    def learners(self) -> dict[int, TsallisINF]:
        """The per-bin learners created so far, keyed by bin index (a shallow copy)."""
        return dict(self._learners)

    @property
    def pending(self) -> int | None:
        """Arm returned by :meth:`select` and not yet updated, or ``None``."""
        if self._pending is None:
            return None
        return self._learners[self._pending[1]].pending

    # ------------------------------------------------------------------ the algorithm
    def bin_index(self, context: float) -> int:
        """Bin of ``context`` (clipped into ``[0, n_bins - 1]``)."""
        if isinstance(context, bool) or not isinstance(context, Real):
            raise ValueError(f"context must be a finite real number, got {context!r}")
        c = float(context)
        if not math.isfinite(c):
            raise ValueError(f"context must be a finite real number, got {context!r}")
        b = int(np.searchsorted(self._edges, c, side="right")) - 1
        return min(max(b, 0), self.n_bins - 1)

    def _learner(self, b: int) -> TsallisINF:
        learner = self._learners.get(b)
        if learner is None:
            learner = TsallisINF(
                self._n_arms, seed=_child_seed(self._seed, b), eta_scale=self._eta_scale
            )
            self._learners[b] = learner
        return learner

    def probabilities(self, context: float) -> np.ndarray:
        """Distribution the learner of ``context``'s bin plays (uniform for an unseen bin)."""
        b = self.bin_index(context)
        learner = self._learners.get(b)
        if learner is None:
            return np.full(self._n_arms, 1.0 / self._n_arms)
        return learner.probabilities()

    def best_arm(self, context: float) -> int:
        """Most probable arm for ``context`` (the greedy choice; lowest index on ties)."""
        return int(np.argmax(self.probabilities(context)))

    def select(self, context: float) -> int:
        """Sample an arm for ``context`` from its bin's learner and remember it as pending.

        Raises
        ------
        ValueError
            If ``context`` is not finite, or a selection is still pending.
        """
        b = self.bin_index(context)
        if self._pending is not None:
            raise ValueError(
                f"select() called while arm {self.pending} (context {self._pending[0]!r}) is "
                f"still pending; report its loss with update() or drop it with cancel()"
            )
        arm = self._learner(b).select()
        self._pending = (float(context), b)
        return arm

    def update(self, arm: int, loss: float) -> None:
        """Report the loss in :math:`[0, 1]` of the pending arm.

        Raises
        ------
        ValueError
            If no selection is pending, ``arm`` differs from it, or ``loss`` is not in
            :math:`[0, 1]`.
        """
        if self._pending is None:
            raise ValueError("update() called without a pending selection; call select() first")
        context, b = self._pending
        self._learners[b].update(arm, loss)  # validates arm and loss
        self._history.append((context, int(arm), float(loss)))
        self._pending = None

    def cancel(self) -> None:
        """Drop the pending selection without an update."""
        if self._pending is not None:
            self._learners[self._pending[1]].cancel()
        self._pending = None

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable state (learners keyed by the bin index as a string)."""
        return {
            "kind": "BinnedContextualBandit",
            "version": _STATE_VERSION,
            "n_arms": self._n_arms,
            "edges": [float(e) for e in self._edges],
            "seed": self._seed,
            "eta_scale": self._eta_scale,
            "learners": {str(b): lr.state_dict() for b, lr in sorted(self._learners.items())},
            "history": [[c, a, ell] for c, a, ell in self._history],
            "pending": None if self._pending is None else list(self._pending),
        }

    @classmethod
    def from_state_dict(cls, d: dict[str, Any]) -> BinnedContextualBandit:
        """Rebuild from :meth:`state_dict` output."""
        if d.get("kind") != "BinnedContextualBandit":
            raise ValueError(f"not a BinnedContextualBandit state dict (kind={d.get('kind')!r})")
        if d.get("version") != _STATE_VERSION:
            raise ValueError(
                f"unsupported BinnedContextualBandit state version {d.get('version')!r}; "
                f"this code reads version {_STATE_VERSION}"
            )
        obj = cls(d["n_arms"], list(d["edges"]), seed=d["seed"], eta_scale=d["eta_scale"])
        obj._learners = {int(b): TsallisINF.from_state_dict(s) for b, s in d["learners"].items()}
        obj._history = [(float(c), int(a), float(ell)) for c, a, ell in d["history"]]
        pending = d.get("pending")
        obj._pending = None if pending is None else (float(pending[0]), int(pending[1]))
        return obj

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`state_dict` to ``path`` as JSON (atomically)."""
        _save_json(path, self.state_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BinnedContextualBandit:
        """Read a bandit written by :meth:`save`."""
        return cls.from_state_dict(_load_json(path))

    def __repr__(self) -> str:
        return (
            f"BinnedContextualBandit(n_arms={self._n_arms}, n_bins={self.n_bins}, "
            f"seed={self._seed}, eta_scale={self._eta_scale})"
        )
