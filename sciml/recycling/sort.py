r"""Greedy nearest-neighbour ordering of a sequence of systems by their parameter fields.

Krylov recycling gains most when consecutive systems are close. Given parameter fields
``P_0, ..., P_{N-1}`` (and optional scalar parameters ``s_i``), the distance between two systems
is

.. math:: d(i, j) = \|P_i - P_j\|_F + \sum_q |s_{i,q} - s_{j,q}| ,

and the greedy path starts at system ``start`` (the first one by default) and moves each time
to the nearest system not yet visited [1]_. It is the nearest-neighbour heuristic of the
travelling-salesman problem: ``O(N^2 d)`` work (one Gram matrix, ``N^2`` memory) for ``N``
fields of ``d`` values, no guarantee of the shortest path, but in practice a path much shorter
than the identity order. For large ``N`` use :func:`sciml.recycling.fast_order`.

References
----------
.. [1] H. Wang, Z. Hao, Z. Wang, H. Su, J. Zhu, "Accelerating Data Generation for Neural
   Operators via Krylov Subspace Recycling", ICLR 2024, sec. 4.1 (sorting algorithm).

Examples
--------
>>> import numpy as np
>>> fields = np.array([[0.0], [3.0], [1.0], [2.0]])
>>> greedy_order(fields).tolist()
[0, 2, 3, 1]
>>> float(path_length(fields, [0, 2, 3, 1])), float(path_length(fields, [0, 1, 2, 3]))
(3.0, 6.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def as_rows(fields: np.ndarray | Sequence[np.ndarray],
            scalars: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The ``N`` parameter fields as rows ``X`` ``(N, d)`` and the scalars as ``S`` ``(N, q)``
    (``q = 0`` when there are none), checked finite: the input of the sorting distances.

    Raises
    ------
    ValueError
        A field or scalar is NaN or infinite.
    """
    X = np.asarray(fields)
    if X.ndim < 1 or X.shape[0] == 0:
        return X.reshape(0, 0), np.zeros((0, 0))
    X = X.reshape(X.shape[0], -1)
    S = np.zeros((X.shape[0], 0)) if scalars is None else np.asarray(scalars, dtype=float)
    S = S.reshape(X.shape[0], -1)
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(S))):
        raise ValueError("parameter fields and scalars must be finite to be sorted")
    return X, S


def greedy_order(fields: np.ndarray | Sequence[np.ndarray], scalars: np.ndarray | None = None,
                 *, start: int = 0) -> np.ndarray:
    """Greedy nearest-neighbour path through the systems, starting at ``start``.

    Parameters
    ----------
    fields
        ``N`` parameter fields, an array whose first axis indexes the systems (any shape after).
    scalars
        Optional scalar parameters, ``(N,)`` or ``(N, q)``, added to the distance as
        ``sum_q |s_i - s_j|``.
    start
        The first system of the path.

    Returns
    -------
    numpy.ndarray
        A permutation of ``0..N-1`` (int64): the order in which to solve the systems.
    """
    X, S = as_rows(fields, scalars)
    n = X.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if not 0 <= start < n:
        raise ValueError(f"start must index one of the {n} systems, not {start}")
    gram = X @ X.T  # one matrix product: ||x_i - x_j||^2 = G_ii - 2 G_ij + G_jj
    norms = np.diag(gram).copy()
    order = np.empty(n, dtype=np.int64)
    left = np.ones(n, dtype=bool)
    current = start
    for step in range(n):
        order[step] = current
        left[current] = False
        rest = np.flatnonzero(left)
        if rest.size == 0:
            break
        squared = norms[rest] - 2.0 * gram[current, rest] + norms[current]
        dist = np.sqrt(np.maximum(squared, 0.0)) + np.abs(S[rest] - S[current]).sum(axis=1)
        current = int(rest[np.argmin(dist)])
    return order


def path_length(fields: np.ndarray | Sequence[np.ndarray], order: Sequence[int],
                scalars: np.ndarray | None = None) -> float:
    """Total distance ``sum_t d(order[t], order[t+1])`` of a path (the quantity sorting lowers)."""
    X, S = as_rows(fields, scalars)
    order = np.asarray(order, dtype=np.int64)
    if order.size < 2:
        return 0.0
    steps = np.linalg.norm(np.diff(X[order], axis=0), axis=1)
    return float(steps.sum() + np.abs(np.diff(S[order], axis=0)).sum())
