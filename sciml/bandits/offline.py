r"""Offline baselines for a full cost table, the yardsticks of the bandits' regret.

A cost table :math:`C \in \mathbb{R}^{T \times K}` holds the cost :math:`C_{t,i}` (e.g. SOR
iterations) of arm :math:`i` on instance :math:`t`. Two comparators appear in Khodak et al.
(2024):

* the **best fixed arm** :math:`i^* = \arg\min_i \sum_t C_{t,i}` (what a non-contextual bandit
  competes with), and
* the **instance-optimal** policy :math:`i^*_t = \arg\min_i C_{t,i}` (what a contextual bandit
  approaches when the context determines the best arm).

References
----------
.. [1] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
   Parameters Across a Sequence of Linear System Instances", ICLR 2024.
"""

from __future__ import annotations

import numpy as np

__all__ = ["best_fixed_arm", "cumulative_regret", "instance_optimal"]


def _as_cost_table(cost_table: np.ndarray) -> np.ndarray:
    C = np.asarray(cost_table, dtype=float)
    if C.ndim != 2 or C.shape[0] == 0 or C.shape[1] == 0:
        raise ValueError(
            f"cost_table must be a non-empty 2-d array of shape (T, K), got shape {C.shape}"
        )
    if np.any(np.isnan(C)):
        raise ValueError("cost_table contains NaN; use +inf for a failed solve")
    return C


def best_fixed_arm(cost_table: np.ndarray) -> int:
    r"""Arm with the least total cost, :math:`\arg\min_i \sum_t C_{t,i}`.

    Parameters
    ----------
    cost_table : array_like, shape (T, K)
        Cost of each of the :math:`K` arms on each of the :math:`T` instances.

    Returns
    -------
    int
        The best arm in hindsight; the lowest index on ties.

    Examples
    --------
    >>> best_fixed_arm([[3, 1, 2], [3, 4, 2]])
    2
    """
    C = _as_cost_table(cost_table)
    return int(np.argmin(C.sum(axis=0)))


def instance_optimal(cost_table: np.ndarray) -> np.ndarray:
    r"""Per-instance best arms, :math:`i^*_t = \arg\min_i C_{t,i}`.

    Parameters
    ----------
    cost_table : array_like, shape (T, K)

    Returns
    -------
    ndarray of int, shape (T,)
        The best arm of each instance; the lowest index on ties.

    Examples
    --------
    >>> instance_optimal([[3, 1, 2], [3, 4, 2]])
    array([1, 2])
    """
    C = _as_cost_table(cost_table)
    return np.argmin(C, axis=1).astype(int)


def cumulative_regret(
    cost_table: np.ndarray, arms: np.ndarray, *, comparator: str = "fixed"
) -> np.ndarray:
    r"""Cumulative regret :math:`R_t = \sum_{s \le t} (C_{s, I_s} - C_{s, i^*_s})`.

    Parameters
    ----------
    cost_table : array_like, shape (T, K)
    arms : array_like of int, shape (T,)
        The arms :math:`I_s` a learner played.
    comparator : {"fixed", "instance"}, optional
        ``"fixed"``: :math:`i^*_s` is :func:`best_fixed_arm` for all :math:`s`;
        ``"instance"``: :math:`i^*_s` is :func:`instance_optimal`.

    Returns
    -------
    ndarray, shape (T,)
        :math:`R_1, \dots, R_T`.

    Examples
    --------
    >>> cumulative_regret([[3, 1, 2], [3, 4, 2]], [1, 1])
    array([-1.,  1.])
    """
    C = _as_cost_table(cost_table)
    a = np.asarray(arms)
    if a.shape != (C.shape[0],) or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"arms must be {C.shape[0]} integers (one per row), got {arms!r}")
    if np.any((a < 0) | (a >= C.shape[1])):
        raise ValueError(f"arms must lie in [0, {C.shape[1] - 1}]")
    rows = np.arange(C.shape[0])
    if comparator == "fixed":
        best = C[:, best_fixed_arm(C)]
    elif comparator == "instance":
        best = C.min(axis=1)
    else:
        raise ValueError(f"comparator must be 'fixed' or 'instance', got {comparator!r}")
    return np.cumsum(C[rows, a] - best)
