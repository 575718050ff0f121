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

References
----------
.. [1] J. Zimmert, Y. Seldin, "Tsallis-INF: An Optimal Algorithm for Stochastic and
   Adversarial Bandits", JMLR 22(28), 2021.
.. [2] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
   Parameters Across a Sequence of Linear System Instances", ICLR 2024.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TsallisINF", "tsallis_probabilities"]

_NEWTON_TOL = 1e-13
_NEWTON_MAXITER = 200
_STATE_VERSION = 1


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
    if L.ndim != 1 or L.size == 0:
        raise ValueError(f"cum_loss must be a non-empty 1-d array, got shape {L.shape}")
    if not np.all(np.isfinite(L)):
        raise ValueError("cum_loss must be finite")
    if not (math.isfinite(eta) and eta > 0):
        raise ValueError(f"eta must be a finite positive number, got {eta!r}")
    d = L - L.min()  # >= 0, leading arm(s) at 0
    y = 2.0 / eta
    for _ in range(_NEWTON_MAXITER):
        u = 1.0 / (eta * (d + y))  # p_i = 4 u_i^2
        f = 4.0 * np.sum(u * u)
        if f - 1.0 <= _NEWTON_TOL:
            break
        # f'(y) = -8 eta sum u^3 ; Newton: y <- y + (f - 1) / |f'(y)|
        step = (f - 1.0) / (8.0 * eta * np.sum(u * u * u))
        y += step
        if step <= 1e-16 * y:
            break
    w = 4.0 / (eta * (d + y)) ** 2
    return w / w.sum()


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_eta_scale(eta_scale: Any) -> float:
    if isinstance(eta_scale, bool) or not isinstance(eta_scale, Real):
        raise ValueError(f"eta_scale must be a finite positive number, got {eta_scale!r}")
    eta_scale = float(eta_scale)
    if not (math.isfinite(eta_scale) and eta_scale > 0):
        raise ValueError(f"eta_scale must be a finite positive number, got {eta_scale!r}")
    return eta_scale


def _check_loss(loss: Any) -> float:
    if isinstance(loss, bool) or not isinstance(loss, Real):
        raise ValueError(
            f"loss must be a real number in [0, 1], got {loss!r}; "
            f"map iteration counts to [0, 1] with CostNormaliser"
        )
    value = float(loss)
    if not (0.0 <= value <= 1.0):  # also rejects NaN
        raise ValueError(
            f"loss must be in [0, 1], got {loss!r}; "
            f"map iteration counts to [0, 1] with CostNormaliser"
        )
    return value


def _save_json(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write ``state`` as JSON atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _rng_from_state(state: dict[str, Any]) -> np.random.Generator:
    if state.get("bit_generator") != "PCG64":
        raise ValueError(
            f"unsupported RNG state (bit_generator={state.get('bit_generator')!r}); "
            f"expected 'PCG64' as written by state_dict()"
        )
    bit_generator = np.random.PCG64()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def draw_arm(p: np.ndarray, rng: np.random.Generator) -> int:
    """Sample an arm from the distribution ``p`` by inverse CDF with one uniform draw (one
    RNG call per round, so a saved generator state replays the same choices)."""
    cdf = np.cumsum(p)
    arm = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    return min(arm, p.size - 1)


class TsallisINF:
    r"""½-Tsallis-INF bandit over ``n_arms`` arms with losses in :math:`[0, 1]`.

    Each round: :meth:`select` samples an arm :math:`I_t \sim p_t` (see
    :func:`tsallis_probabilities`) with learning rate :math:`\eta_t = c_\eta/\sqrt{t}`, the
    caller runs it and reports :meth:`update` ``(I_t, loss)``; the played arm's cumulative
    estimate grows by :math:`\ell_t / p_{t,I_t}`. The expected regret against the best fixed arm
    is :math:`O(\sqrt{KT})` for any (adversarial) loss sequence and :math:`O(\sum_{i \ne i^*}
    \log T / \Delta_i)` for stochastic losses with gaps :math:`\Delta_i` [1]_.

    In the solver setting of [2]_ the arms are a grid of SOR relaxation parameters
    :math:`\omega` and the loss is the normalised iteration count (see
    :class:`~sciml.bandits.normalise.CostNormaliser`).

    Parameters
    ----------
    n_arms : int
        Number of arms :math:`K \ge 1`.
    seed : int
        Non-negative seed of the internal :class:`numpy.random.Generator` (PCG64).
    eta_scale : float, optional
        :math:`c_\eta` in :math:`\eta_t = c_\eta/\sqrt{t}`; 2 is the adversarial-optimal choice
        for importance-weighted estimates [1]_.

    Notes
    -----
    Only one selection may be pending at a time: :meth:`update` must name the arm returned
    by the last :meth:`select`, and :meth:`select` refuses to run again before that update
    (use :meth:`cancel` to drop a selection whose solve failed without a cost). The whole state,
    including the pending selection and the RNG, round-trips through :meth:`state_dict` /
    :meth:`save`, so a resumed run continues exactly as an uninterrupted one.

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
    >>> len(bandit.history), float(bandit.probabilities().sum())
    (1, 1.0)
    """

    def __init__(self, n_arms: int, *, seed: int, eta_scale: float = 2.0) -> None:
        self._n_arms = _check_int("n_arms", n_arms, 1)
        self._seed = _check_int("seed", seed, 0)
        self._eta_scale = _check_eta_scale(eta_scale)
        self._rng = np.random.default_rng(self._seed)
        self._cum_loss = np.zeros(self._n_arms)
        self._t = 0  # completed rounds
        self._history: list[tuple[int, float]] = []
        self._pending: tuple[int, float] | None = None  # (arm, probability when selected)

    # ------------------------------------------------------------------ properties
    @property
    def n_arms(self) -> int:
        """Number of arms :math:`K`."""
        return self._n_arms

    @property
    def seed(self) -> int:
        """Seed the generator was created from."""
        return self._seed

    @property
    def eta_scale(self) -> float:
        r""":math:`c_\eta` in :math:`\eta_t = c_\eta/\sqrt{t}`."""
        return self._eta_scale

    @property
    def t(self) -> int:
        """Number of completed rounds (updates)."""
        return self._t

    @property
    def eta(self) -> float:
        r"""Learning rate :math:`\eta_t = c_\eta/\sqrt{t}` of the next round :math:`t`."""
        return self._eta_scale / math.sqrt(self._t + 1)

    @property
    def cumulative_loss_estimates(self) -> np.ndarray:
        r"""Copy of :math:`\hat L_t`, the importance-weighted cumulative losses."""
        return self._cum_loss.copy()

    @property
    def history(self) -> list[tuple[int, float]]:
        """Copy of the completed rounds as ``(arm, loss)`` pairs."""
        return list(self._history)

    @property
    def pending(self) -> int | None:
        """Arm returned by :meth:`select` and not yet updated, or ``None``."""
        return None if self._pending is None else self._pending[0]

    # ------------------------------------------------------------------ the algorithm
    def probabilities(self) -> np.ndarray:
        """Distribution :math:`p_t` of the current round (a fresh array).

        Before :meth:`select` it is the distribution the next selection samples from; while a
        selection is pending it is the one that selection was sampled from.
        """
        return tsallis_probabilities(self._cum_loss, self.eta)

    def select(self) -> int:
        """Sample an arm from :meth:`probabilities` and remember it as pending.

        Raises
        ------
        ValueError
            If a previous selection is still pending (call :meth:`update` or :meth:`cancel`).
        """
        if self._pending is not None:
            raise ValueError(
                f"select() called while arm {self._pending[0]} is still pending; report its "
                f"loss with update({self._pending[0]}, loss) or drop it with cancel()"
            )
        p = self.probabilities()
        arm = draw_arm(p, self._rng)
        self._pending = (arm, float(p[arm]))
        return arm

    def update(self, arm: int, loss: float) -> None:
        r"""Report the loss :math:`\ell_t \in [0, 1]` of the pending arm and end the round.

        Raises
        ------
        ValueError
            If no selection is pending, ``arm`` is not the pending selection, or ``loss`` is
            not a number in :math:`[0, 1]`.
        """
        if self._pending is None:
            raise ValueError("update() called without a pending selection; call select() first")
        pending_arm, prob = self._pending
        if isinstance(arm, bool) or not isinstance(arm, Integral) or int(arm) != pending_arm:
            raise ValueError(
                f"update() got arm={arm!r}, but the pending selection from select() is arm "
                f"{pending_arm}"
            )
        value = _check_loss(loss)
        self._cum_loss[pending_arm] += value / prob
        self._t += 1
        self._history.append((pending_arm, value))
        self._pending = None

    def cancel(self) -> None:
        """Drop the pending selection without an update (e.g. the solve raised).

        The RNG draw is not undone, so the next :meth:`select` uses a fresh draw.
        """
        self._pending = None

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable state (lists, floats, ints, strings, ``None``)."""
        return {
            "kind": "TsallisINF",
            "version": _STATE_VERSION,
            "n_arms": self._n_arms,
            "seed": self._seed,
            "eta_scale": self._eta_scale,
            "t": self._t,
            "cum_loss_estimates": [float(v) for v in self._cum_loss],
            "history": [[a, ell] for a, ell in self._history],
            "pending": None if self._pending is None else list(self._pending),
            "rng_state": self._rng.bit_generator.state,
        }

    @classmethod
    def from_state_dict(cls, d: dict[str, Any]) -> TsallisINF:
        """Rebuild a bandit from :meth:`state_dict` output (e.g. after a JSON round-trip)."""
        if d.get("kind") != "TsallisINF":
            raise ValueError(f"not a TsallisINF state dict (kind={d.get('kind')!r})")
        if d.get("version") != _STATE_VERSION:
            raise ValueError(
                f"unsupported TsallisINF state version {d.get('version')!r}; "
                f"this code reads version {_STATE_VERSION}"
            )
        obj = cls(d["n_arms"], seed=d["seed"], eta_scale=d["eta_scale"])
        cum = np.asarray(d["cum_loss_estimates"], dtype=float)
        if cum.shape != (obj._n_arms,):
            raise ValueError(f"cum_loss_estimates has shape {cum.shape}, expected ({obj._n_arms},)")
        obj._cum_loss = cum
        obj._t = _check_int("t", d["t"], 0)
        obj._history = [(int(a), float(ell)) for a, ell in d["history"]]
        pending = d.get("pending")
        obj._pending = None if pending is None else (int(pending[0]), float(pending[1]))
        obj._rng = _rng_from_state(d["rng_state"])
        return obj

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`state_dict` to ``path`` as JSON (atomically)."""
        _save_json(path, self.state_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TsallisINF:
        """Read a bandit written by :meth:`save`."""
        return cls.from_state_dict(_load_json(path))

    def __repr__(self) -> str:
        return (
            f"TsallisINF(n_arms={self._n_arms}, seed={self._seed}, "
            f"eta_scale={self._eta_scale}, t={self._t})"
        )
