"""Ritz vectors of a symmetric matrix by the Lanczos process with full reorthogonalisation.

``m`` Lanczos steps from a seeded random start build an orthonormal basis ``Q_m`` of the Krylov
space ``K_m(A, q_1)`` and the tridiagonal ``T_m = Q_m^T A Q_m`` (diagonal ``alpha``,
off-diagonal ``beta``)::

    w = A q_j - alpha_j q_j - beta_{j-1} q_{j-1},   alpha_j = q_j^T A q_j
    w <- w - Q_j (Q_j^T w)      (twice: full reorthogonalisation, keeps Q_m orthonormal)
    beta_j = ||w||,  q_{j+1} = w / beta_j

The Ritz pairs are ``(theta_i, Q_m s_i)`` with ``T_m s_i = theta_i s_i``; the extreme ones
converge first to the extreme eigenpairs of ``A``. DCDM's training data are combinations of
these vectors (Kaneda et al., 2023, sec. 4; :mod:`sciml.dcdm.data`).

References
----------
C. Lanczos, "An iteration method for the solution of the eigenvalue problem of linear
differential and integral operators", J. Res. Nat. Bur. Standards 45, 1950. G. H. Golub and
C. F. Van Loan, *Matrix Computations*, 4th ed., sec. 10.1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla


@dataclass(frozen=True)
class RitzPairs:
    """Ritz values (ascending) and the matching orthonormal Ritz vectors (rows)."""

    values: np.ndarray
    vectors: np.ndarray


def lanczos(matvec: Callable[[np.ndarray], np.ndarray], n: int, m: int,
            seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``m`` Lanczos steps: returns ``(Q, alpha, beta)`` with ``Q`` of shape ``(k, n)``.

    Fewer than ``m`` rows come back (``k < m``) when the Krylov space becomes invariant.
    """
    if not 1 <= m <= n:
        raise ValueError(f"the number of Lanczos steps m must be in [1, n={n}], not {m}")
    rng = np.random.default_rng(seed)
    Q = np.zeros((m, n))
    alpha, beta = np.zeros(m), np.zeros(m)
    q = rng.standard_normal(n)
    Q[0] = q / np.linalg.norm(q)
    for j in range(m):
        w = matvec(Q[j])
        alpha[j] = Q[j] @ w
        for _ in range(2):
            w -= Q[: j + 1].T @ (Q[: j + 1] @ w)
        beta[j] = np.linalg.norm(w)
        if j + 1 == m:
            break
        if beta[j] <= 1e-10 * max(abs(alpha[j]), 1.0):
            return Q[: j + 1], alpha[: j + 1], beta[:j]
        Q[j + 1] = w / beta[j]
    return Q, alpha, beta[: m - 1]


def ritz_pairs(matvec: Callable[[np.ndarray], np.ndarray], n: int, m: int,
               seed: int) -> RitzPairs:
    """The ``m`` Ritz pairs of ``m`` Lanczos steps, values ascending.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(30, 30))
    >>> pairs = ritz_pairs(A.dot, 30, 30, seed=0)
    >>> bool(np.allclose(np.sort(np.linalg.eigvalsh(A.toarray())), pairs.values))
    True
    """
    Q, alpha, beta = lanczos(matvec, n, m, seed)
    values, S = sla.eigh_tridiagonal(alpha, beta)
    return RitzPairs(values, S.T @ Q)
