r"""Offline (stateless) yardsticks of the bandits: cost tables, best fixed arm, regret.

A cost table :math:`C \in \mathbb{R}^{T \times K}` holds the cost :math:`C_{t,i}` (e.g. SOR
iterations) of arm :math:`i` (a relaxation parameter :math:`\omega_i`) on instance :math:`t`.
Two comparators appear in Khodak et al. [1]_: the **best fixed arm**
:math:`i^* = \arg\min_i \sum_t C_{t,i}` (what a non-contextual bandit competes with), and the
**instance-optimal** policy :math:`i^*_t = \arg\min_i C_{t,i}` (an oracle per instance, what a
contextual bandit approaches). :func:`cost_table` builds the table by solving every system with
every :math:`\omega`.

References
----------
.. [1] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
   Parameters Across a Sequence of Linear System Instances", ICLR 2024.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from solvers import Solver

from .learner import BanditError
from .omega import check_omegas

__all__ = ["CostTable", "best_fixed_arm", "best_fixed_omega", "cost_table", "cumulative_regret",
           "instance_optimal"]


def _as_cost_table(cost_table: np.ndarray) -> np.ndarray:
    C = np.asarray(cost_table, dtype=float)
    if C.ndim != 2 or 0 in C.shape:
        raise BanditError(f"cost_table must be a non-empty 2-d array of shape (T, K), got "
                          f"shape {C.shape}")
    if np.any(np.isnan(C)):
        raise BanditError("cost_table contains NaN; use +inf for a failed solve")
    return C


def best_fixed_arm(cost_table: np.ndarray) -> int:
    r"""The best arm in hindsight, :math:`\arg\min_i \sum_t C_{t,i}` (lowest index on ties).

    Examples
    --------
    >>> best_fixed_arm([[3, 1, 2], [3, 4, 2]])
    2
    """
    return int(np.argmin(_as_cost_table(cost_table).sum(axis=0)))


def instance_optimal(cost_table: np.ndarray) -> np.ndarray:
    r"""The best arm of each instance, :math:`i^*_t = \arg\min_i C_{t,i}` (lowest on ties).

    Examples
    --------
    >>> instance_optimal([[3, 1, 2], [3, 4, 2]])
    array([1, 2])
    """
    return np.argmin(_as_cost_table(cost_table), axis=1).astype(int)


def cumulative_regret(cost_table: np.ndarray, arms: np.ndarray, *,
                      comparator: str = "fixed") -> np.ndarray:
    r"""Cumulative regret :math:`R_t = \sum_{s \le t} (C_{s, I_s} - C_{s, i^*_s})` of the
    played ``arms`` :math:`I_s`, with :math:`i^*_s` the :func:`best_fixed_arm`
    (``comparator="fixed"``) or the :func:`instance_optimal` arm (``"instance"``).

    Examples
    --------
    >>> cumulative_regret([[3, 1, 2], [3, 4, 2]], [1, 1])
    array([-1.,  1.])
    """
    C = _as_cost_table(cost_table)
    a = np.asarray(arms)
    if a.shape != (C.shape[0],) or not np.issubdtype(a.dtype, np.integer) \
            or np.any((a < 0) | (a >= C.shape[1])):
        raise BanditError(f"arms must be {C.shape[0]} integers (one per row) in "
                          f"[0, {C.shape[1] - 1}], got {arms!r}")
    best = {"fixed": lambda: C[:, best_fixed_arm(C)], "instance": lambda: C.min(axis=1)}
    if comparator not in best:
        raise BanditError(f"comparator must be 'fixed' or 'instance', got {comparator!r}")
    return np.cumsum(C[np.arange(C.shape[0]), a] - best[comparator]())


@dataclass(frozen=True)
class CostTable:
    r"""Iterations and wall time of every system (rows) with every :math:`\omega` (columns).

    A solve that did not converge is charged its whole iteration budget (``maxiter``), the
    cost behind the bandit's loss of 1.

    Attributes
    ----------
    omegas : ndarray, shape (K,)
    iterations : ndarray of int, shape (T, K)
    seconds : ndarray, shape (T, K)
        Wall time of each ``Solver.solve`` call.
    converged : ndarray of bool, shape (T, K)
    """

    omegas: np.ndarray
    iterations: np.ndarray
    seconds: np.ndarray
    converged: np.ndarray

    @property
    def best_fixed(self) -> int:
        """Index of the best fixed :math:`\\omega` in hindsight (least total iterations)."""
        return best_fixed_arm(self.iterations)

    @property
    def instance_optimal(self) -> np.ndarray:
        """Index of the best :math:`\\omega` of each system (the per-system oracle)."""
        return instance_optimal(self.iterations)

    def pick(self, arms: int | Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Iterations and seconds per system of a policy playing ``arms`` (one or per row)."""
        rows = np.arange(self.iterations.shape[0])
        cols = np.broadcast_to(np.asarray(arms, dtype=int), rows.shape)
        return self.iterations[rows, cols], self.seconds[rows, cols]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the table to ``path`` (``.npz``)."""
        np.savez(path, omegas=self.omegas, iterations=self.iterations, seconds=self.seconds,
                 converged=self.converged)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CostTable:
        """Read a table written by :meth:`save`."""
        with np.load(path) as data:
            return cls(*(data[k] for k in ("omegas", "iterations", "seconds", "converged")))

    @classmethod
    def concatenate(cls, tables: Sequence[CostTable]) -> CostTable:
        """Stack the rows of tables built on the same grid."""
        if not tables or any(not np.array_equal(t.omegas, tables[0].omegas) for t in tables):
            raise BanditError("concatenate() needs at least one table, all on one grid")
        return cls(tables[0].omegas, *(np.concatenate([getattr(t, k) for t in tables])
                                       for k in ("iterations", "seconds", "converged")))


def _as_pair(system: Any) -> tuple[Any, Any]:
    """``(A, b)`` from an :class:`operators.Problem` or an ``(A, b)`` pair."""
    if isinstance(system, tuple) and len(system) == 2:
        return system
    if hasattr(system, "A") and hasattr(system, "b"):
        return system, system.b
    raise BanditError(f"systems must hold operators.Problem objects or (A, b) pairs, not "
                      f"{type(system).__name__}")


def cost_table(systems: Iterable[Any], omegas: Sequence[float] | np.ndarray | None = None, *,
               method: str = "sor", pc: str | None = None, rtol: float = 1e-8,
               atol: float = 0.0, maxiter: int | None = None,
               x0: Sequence[np.ndarray | None] | None = None,
               progress: bool = False) -> CostTable:
    r"""Solve every system with every :math:`\omega` and tabulate the iterations.

    ``systems`` holds :class:`operators.Problem` objects or ``(A, b)`` pairs and is iterated
    once (a generator is fine); ``omegas`` is the grid (default: 20 values in [1, 1.95]).
    What runs: ``method="sor"`` (default) or ``"ssor"``, or a Krylov method with
    ``pc="ssor"``; :math:`\omega` goes to whichever takes it. Stopping rule
    ``||b - A x|| <= max(rtol ||b||, atol)`` (``maxiter=None``: 10 n); ``x0`` holds one
    initial guess per system (default zero); ``progress`` shows a tqdm bar.

    Examples
    --------
    >>> import operators
    >>> table = cost_table(operators.shifted_laplacian_sequence(3, seed=0), [1.0, 1.5])
    >>> table.iterations.shape, bool(table.converged.all())
    ((3, 2), True)
    """
    grid = check_omegas(omegas)
    solvers = [Solver(method, pc, rtol=rtol, atol=atol, maxiter=maxiter, omega=float(w))
               for w in grid]
    rows: list[list[tuple[int, float, bool]]] = []
    for t, system in enumerate(tqdm(systems, disable=not progress, desc="cost table")):
        A, b = _as_pair(system)
        start = None if x0 is None else x0[t]
        rows.append([_cost(s, A, b, start) for s in solvers])
    if not rows:
        raise BanditError("systems is empty: nothing to tabulate")
    table = np.array(rows, dtype=object)
    return CostTable(grid, table[..., 0].astype(int), table[..., 1].astype(float),
                     table[..., 2].astype(bool))


def _cost(solver: Solver, A: Any, b: Any, x0: np.ndarray | None) -> tuple[int, float, bool]:
    """``(iterations, seconds, converged)``; a failed solve costs the iteration budget."""
    start = time.perf_counter()
    result = solver.solve(A, b, x0=x0)
    seconds = time.perf_counter() - start
    budget = solver.stop.iterations(int(np.size(b)))
    return (result.iterations if result.converged else budget), seconds, result.converged


def best_fixed_omega(systems: Iterable[Any],
                     omegas: Sequence[float] | np.ndarray | None = None,
                     **options: Any) -> tuple[float, CostTable]:
    r"""The :math:`\omega` of the grid with the least total iterations over ``systems``.

    Stateless: solves every system with every :math:`\omega` (:func:`cost_table`, which takes
    the ``options``) and returns :math:`\omega_{i^*}`,
    :math:`i^* = \arg\min_i \sum_t C_{t,i}`, with the table; ``table.instance_optimal`` holds
    the per-system oracle.

    Examples
    --------
    >>> import operators
    >>> omega, table = best_fixed_omega(operators.shifted_laplacian_sequence(5, seed=0),
    ...                                 [1.0, 1.5, 1.9])
    >>> omega
    1.5
    """
    table = cost_table(systems, omegas, **options)
    return float(table.omegas[table.best_fixed]), table
