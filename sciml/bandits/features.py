r"""Cheap scalar features of a matrix, usable as a bandit's context (``context="dominance"``).

The diagonal dominance

.. math:: \delta(A) = \frac{\sum_i \bigl(|a_{ii}| - \sum_{j \ne i} |a_{ij}|\bigr)}
                          {\sum_i |a_{ii}|} \;\in\; (-\infty, 1]

costs one pass over the stored entries (less than one SOR sweep), does not change when
:math:`A` is scaled, and tracks what sets the best SOR :math:`\omega`: the Jacobi iteration
matrix :math:`D^{-1}(L + U)` has spectral radius at most :math:`\max_i \sum_{j \ne i}
|a_{ij}| / |a_{ii}|`, and by Young's theory :math:`\omega^* = 2 / (1 + \sqrt{1 - \rho_J^2})`
for consistently ordered matrices (Saad, *Iterative Methods for Sparse Linear Systems*, 2nd
ed., Sec. 4.2). On the shifted Laplacians :math:`L + cI` it is increasing in :math:`c`; on
implicit heat steps :math:`I + \varepsilon M` decreasing in :math:`\varepsilon`. It is a
proxy, not a formula for :math:`\omega^*`: the bandit learns the map from it to
:math:`\omega`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .learner import BanditError

__all__ = ["FEATURES", "diagonal_dominance"]


def diagonal_dominance(A: Any) -> float:
    r"""The diagonal dominance :math:`\delta(A)` of a SciPy sparse or dense matrix, or of a
    petsc4py ``Mat`` (collective: every rank gets the same value).

    Examples
    --------
    >>> diagonal_dominance(np.array([[4.0, -1.0], [-1.0, 4.0]]))
    0.75
    """
    if type(A).__module__.startswith("petsc4py"):
        return _petsc_dominance(A)
    A = sp.csr_matrix(A)
    diagonal = np.abs(A.diagonal()).sum()
    return _ratio(diagonal, float(abs(A).sum()))


def _ratio(diagonal: float, total: float) -> float:
    if not diagonal > 0:
        raise BanditError("context='dominance' needs a nonzero diagonal (SOR needs one too)")
    return float((2.0 * diagonal - total) / diagonal)


def _petsc_dominance(A: Any) -> float:
    """Local sums of the owned rows, added over the ranks."""
    from mpi4py import MPI

    indptr, indices, values = A.getValuesCSR()
    start = A.getOwnershipRange()[0]
    rows = np.repeat(np.arange(indptr.size - 1) + start, np.diff(indptr))
    sums = np.array([np.abs(values[indices == rows]).sum(), np.abs(values).sum()])
    diagonal, total = A.getComm().tompi4py().allreduce(sums, op=MPI.SUM)
    return _ratio(float(diagonal), float(total))


#: Matrix features by the name ``context=`` accepts.
FEATURES = {"dominance": diagonal_dominance}
