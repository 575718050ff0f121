"""Helpers every backend uses on a host (NumPy/SciPy) system: ``auto``'s facts and the
float64 residual of the verdict (``||b - A x||`` on the caller's own ``A`` and ``b``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse.linalg as spla

from solvers import auto
from solvers.system import LinearSystem, has_stencil


def facts(system: LinearSystem, symmetric: Callable[[], bool] | None = None) -> auto.Facts:
    """What ``auto`` needs to know about a host system; the symmetry test (``symmetric``,
    default ``system.is_symmetric``) and the diagonal are read only if the plan needs them
    (a small assembled system, solved directly, never does)."""
    return auto.Facts(system.n, system.matrix is not None, symmetric or system.is_symmetric,
                      lambda: positive_diagonal(system), system.positive_definite,
                      stencil=has_stencil(system.problem))


def positive_diagonal(system: LinearSystem) -> bool | None:
    """Whether the diagonal is real and positive (``None`` for a matrix-free system)."""
    if system.matrix is None:
        return None
    diagonal = system.matrix.diagonal()
    return bool(np.all(diagonal.real > 0) and not np.any(diagonal.imag))


def symmetry(system: LinearSystem, known: dict[tuple, bool]) -> Callable[[], bool]:
    """``system``'s symmetry test, remembered in ``known`` by matrix fingerprint, so that a
    :class:`solvers.Solver` tests each matrix once, not on every call."""

    def symmetric() -> bool:
        if system.symmetric is None:
            key = system.fingerprint()
            if key not in known:
                if len(known) >= 8:
                    known.clear()
                known[key] = system.is_symmetric()
            system.symmetric = known[key]
        return bool(system.symmetric)

    return symmetric


def float64_residual(system: LinearSystem) -> Callable[[Any], float]:
    """``x -> ||b - A x||`` in float64/complex128 on the caller's system (upcast once:
    the validated system holds the caller's values, at most widened to a common dtype)."""
    return residual64(system.op if system.matrix is None else system.matrix, system.b)


def residual64(A: Any, b: np.ndarray) -> Callable[[Any], float]:
    """``x -> ||b - A x||`` in float64/complex128 for a SciPy matrix or ``LinearOperator``."""
    wide = np.result_type(A.dtype, b.dtype, np.float64)
    b = np.asarray(b).astype(wide, copy=False)
    if isinstance(A, spla.LinearOperator):
        return lambda x: float(np.linalg.norm(b - A.matvec(np.asarray(x, wide)).ravel()))
    A = A.astype(wide, copy=False)
    return lambda x: float(np.linalg.norm(b - A @ np.asarray(x, wide)))


def norm64(b: np.ndarray) -> float:
    """``||b||`` in float64 (complex128)."""
    return float(np.linalg.norm(b.astype(np.result_type(b.dtype, np.float64), copy=False)))
