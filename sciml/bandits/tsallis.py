r"""½-Tsallis-INF: a bandit that is optimal in both stochastic and adversarial regimes.

At round :math:`t = 1, 2, \dots` the learner holds cumulative importance-weighted loss
estimates :math:`\hat L_{t-1} \in \mathbb{R}^K` and plays the distribution

.. math::

    p_{t,i} = \frac{4}{\bigl(\eta_t (\hat L_{t-1,i} - x_t)\bigr)^2},
    \qquad \eta_t = \frac{c_\eta}{\sqrt{t}},

where the normaliser :math:`x_t < \min_i \hat L_{t-1,i}` is the unique root of
:math:`\sum_i p_{t,i} = 1` (found by Newton's method; see :func:`tsallis_probabilities`). This is
follow-the-regularised-leader with the ½-Tsallis entropy :math:`-\sum_i 4\sqrt{p_i}/\eta_t`.
After playing :math:`I_t \sim p_t` and observing the loss :math:`\ell_t \in [0, 1]`, the
estimate of the played arm grows by :math:`\ell_t / p_{t, I_t}` (unbiased importance
weighting).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .learner import BanditError, LearnerBase, check_loss, check_positive, draw_arm

__all__ = ["TsallisINF", "tsallis_probabilities"]

_NEWTON_TOL = 1e-13
_NEWTON_MAXITER = 200


def tsallis_probabilities(cum_loss: np.ndarray, eta: float) -> np.ndarray:
    r"""The ½-Tsallis-INF distribution for cumulative loss estimates ``cum_loss``.

    Solves :math:`f(x) = \sum_i 4 / (\eta (\hat L_i - x))^2 = 1` for :math:`x < \min_i \hat L_i`
    and returns :math:`p_i = 4 / (\eta (\hat L_i - x))^2`.

    Newton's method is run in the shifted variable :math:`y = \min_j \hat L_j - x > 0`, starting
    from :math:`y_0 = 2/\eta` (where the leading arm alone has weight 1, so
    :math:`f \ge 1`). As a function of :math:`y`, :math:`f` is convex and decreasing, so the
    Newton iterates increase monotonically towards the root without overshooting it or crossing
    the pole at :math:`y = 0`; working with :math:`\hat L_i - \min_j \hat L_j` avoids
    cancellation when the estimates are large. The result is renormalised to absorb the final
    rounding.

    Parameters
    ----------
    cum_loss : ndarray, shape (K,)
        Cumulative loss estimates :math:`\hat L`; finite.
    eta : float
        Learning rate :math:`\eta > 0`.

    Returns
    -------
    ndarray, shape (K,)
        Probabilities, non-negative and summing to 1.

    Examples
    --------
    >>> tsallis_probabilities(np.zeros(4), eta=1.0)
    array([0.25, 0.25, 0.25, 0.25])
    """
    L = np.asarray(cum_loss, dtype=float)
    if L.ndim != 1 or L.size == 0 or not np.all(np.isfinite(L)):
        raise BanditError(f"cum_loss must be a non-empty finite 1-d array, got {cum_loss!r}")
    eta = check_positive("eta", eta)
    d = L - L.min()  # >= 0, leading arm(s) at 0
    y = 2.0 / eta
    for _ in range(_NEWTON_MAXITER):
        u = 1.0 / (eta * (d + y))  # p_i = 4 u_i^2
        u2 = u * u
        f = 4.0 * u2.sum()
        if f - 1.0 <= _NEWTON_TOL:
            break
        # f'(y) = -8 eta sum u^3 ; Newton: y <- y + (f - 1) / |f'(y)|
        step = (f - 1.0) / (8.0 * eta * (u2 * u).sum())
        y += step
        if step <= 1e-16 * y:
            break
    w = 4.0 / (eta * (d + y)) ** 2
    return w / w.sum()


class TsallisINF(LearnerBase):
    r"""½-Tsallis-INF bandit over ``n_arms`` arms with losses in :math:`[0, 1]`.

    Each round :meth:`select` samples :math:`I_t \sim p_t` (:func:`tsallis_probabilities`,
    :math:`\eta_t = c_\eta/\sqrt{t}`) and :meth:`update` adds :math:`\ell_t / p_{t,I_t}` to
    the played arm's estimate. The expected regret against the best fixed arm is
    :math:`O(\sqrt{KT})` for any (adversarial) loss sequence and
    :math:`O(\sum_{i \ne i^*} \log T / \Delta_i)` for stochastic losses with gaps
    :math:`\Delta_i` [1]_. In [2]_ the arms are SOR relaxation parameters :math:`\omega`
    and the loss is the normalised iteration count. The protocol (no context) is that of
    :mod:`sciml.bandits.learner`.

    Parameters
    ----------
    n_arms : int
        Number of arms :math:`K \ge 1`.
    seed : int
        Non-negative seed of the internal generator (PCG64).
    eta_scale : float, optional
        :math:`c_\eta`; 2 is the adversarial-optimal choice for importance weighting [1]_.

    References
    ----------
    .. [1] J. Zimmert, Y. Seldin, "Tsallis-INF: An Optimal Algorithm for Stochastic and
       Adversarial Bandits", JMLR 22(28), 2021.
    .. [2] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
       Parameters Across a Sequence of Linear System Instances", ICLR 2024.

    Examples
    --------
    >>> bandit = TsallisINF(3, seed=0)
    >>> arm = bandit.select()
    >>> bandit.update(arm, 0.5)
    >>> bandit.t, float(bandit.probabilities().sum())
    (1, 1.0)
    """

    _arrays = ("_cum_loss",)

    def __init__(self, n_arms: int, *, seed: int, eta_scale: float = 2.0) -> None:
        super().__init__(n_arms, seed)
        self.eta_scale = check_positive("eta_scale", eta_scale)
        self._cum_loss = np.zeros(self.n_arms)
        self._memo: tuple[int, np.ndarray] = (-1, self._cum_loss)  # (t, probabilities of t)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "eta_scale": self.eta_scale}

    @property
    def eta(self) -> float:
        r"""Learning rate :math:`\eta_t = c_\eta/\sqrt{t}` of the next round :math:`t`."""
        return self.eta_scale / math.sqrt(self.t + 1)

    @property
    def cumulative_loss_estimates(self) -> np.ndarray:
        r"""Copy of :math:`\hat L_t`, the importance-weighted cumulative losses."""
        return self._cum_loss.copy()

    def probabilities(self, context: float | None = None) -> np.ndarray:
        """Distribution :math:`p_t` of the next round (``context`` is ignored)."""
        if self._memo[0] != self.t:  # the estimates change only in update, with t
            self._memo = (self.t, tsallis_probabilities(self._cum_loss, self.eta))
        return self._memo[1].copy()

    def select(self, context: float | None = None) -> int:
        """Sample an arm from :meth:`probabilities`."""
        return draw_arm(self.probabilities(), self._rng)

    def update(self, arm: int, loss: float, context: float | None = None) -> None:
        r"""Report the loss :math:`\ell_t \in [0, 1]` of the arm drawn by :meth:`select`."""
        arm, loss = self._check_arm(arm), check_loss(loss)
        self._cum_loss[arm] += loss / self.probabilities()[arm]
        self._record(arm, loss, None)
