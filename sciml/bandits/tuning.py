r"""Offline (stateless) tuning of :math:`\omega`: solve every system with every grid value.

The yardsticks of the bandits in Khodak et al. [1]_: the cost table
:math:`C_{t,i}` = iterations of system :math:`t` with :math:`\omega_i`, the **best fixed**
:math:`\omega_{i^*}` with :math:`i^* = \arg\min_i \sum_t C_{t,i}` (found in hindsight) and the
**instance-optimal** :math:`\omega_{i^*_t}` with :math:`i^*_t = \arg\min_i C_{t,i}` (an oracle
per system). Both are computed by :mod:`sciml.bandits.offline`; this module builds the table.

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
from solvers.errors import InvalidOptionError

from .offline import best_fixed_arm, instance_optimal
from .omega import check_omegas

__all__ = ["CostTable", "best_fixed_omega", "cost_table"]


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
            raise InvalidOptionError("concatenate() needs at least one table, all on one grid")
        return cls(tables[0].omegas, *(np.concatenate([getattr(t, k) for t in tables])
                                       for k in ("iterations", "seconds", "converged")))


def _as_pair(system: Any) -> tuple[Any, Any]:
    """``(A, b)`` from an :class:`operators.Problem` or an ``(A, b)`` pair."""
    if isinstance(system, tuple) and len(system) == 2:
        return system
    if hasattr(system, "A") and hasattr(system, "b"):
        return system, system.b
    raise InvalidOptionError(
        f"systems must hold operators.Problem objects or (A, b) pairs, not "
        f"{type(system).__name__}"
    )


def cost_table(systems: Iterable[Any], omegas: Sequence[float] | np.ndarray | None = None, *,
               method: str = "sor", pc: str | None = None, rtol: float = 1e-8,
               atol: float = 0.0, maxiter: int | None = None,
               x0: Sequence[np.ndarray | None] | None = None,
               progress: bool = False) -> CostTable:
    r"""Solve every system with every :math:`\omega` and tabulate the iterations.

    Parameters
    ----------
    systems
        :class:`operators.Problem` objects or ``(A, b)`` pairs, iterated once (a generator
        is fine, e.g. :func:`operators.heat_sequence`).
    omegas
        The grid (default: 20 values in :math:`[1, 1.95]`).
    method, pc
        What runs: ``method="sor"`` (default) or ``"ssor"``; or a Krylov method with
        ``pc="ssor"``. :math:`\omega` goes to whichever takes the ``omega`` parameter.
    rtol, atol, maxiter
        Stopping rule ``||b - A x|| <= max(rtol ||b||, atol)``; ``maxiter=None`` means 10 n.
    x0
        Initial guesses, one per system (``None`` entries: zero); default all zero.
    progress
        Show a progress bar (tqdm) over the systems.

    Returns
    -------
    CostTable

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
        raise InvalidOptionError("systems is empty: nothing to tabulate")
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
