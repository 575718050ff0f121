"""The small-system fast path of :func:`solvers.solve`: one sparse LU, nothing else.

``solve(A, b)`` with ``method="auto"`` (or ``"direct"``) on an assembled CSR matrix with at
most :data:`solvers.auto.AUTO_DIRECT_MAX_N` unknowns is a sparse LU solve whatever else is
known about ``A`` (:mod:`solvers.auto`, rule 1). A simulation that solves many such systems
would pay the general pipeline's fixed cost (backend dispatch, component objects, hooks and
carried state, refinement bookkeeping) on every call; this path does only what the result
needs:

1. the same input checks as :func:`solvers.system.as_system` (square, shapes, floating
   dtype, finite entries), in a few vectorised tests;
2. ``spsolve`` (SuperLU's one-call factor-and-solve, reading the CSR arrays as the CSC
   matrix of ``A^T``; the factors are not kept, as nothing will reuse them);
3. the verdict: ``converged`` iff ``||b - A x|| <= max(rtol ||b||, atol)`` in float64 on the
   caller's ``A`` and ``b`` (:func:`solvers.result.make_result`), as on every path.

Anything outside that case (other formats, a ``Problem``, ``x0``, a callback, parameters,
``monitor``, another dtype, a singular matrix) returns ``None`` and the general pipeline
runs, so results never depend on which path ran; ``info["path"] = "small"`` says it was
this one.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from solvers import auto
from solvers.reasons import Reason
from solvers.request import Request
from solvers.result import SolveResult, make_result

_DTYPES = {np.dtype(np.float64): "float64", np.dtype(np.complex128): "complex128"}
_INFO = {"backend": "scipy", "method": "direct", "pc": "none", "device": "cpu"}


def applies(request: Request, A: Any, b: Any) -> bool:
    """Whether ``solve(A, b)`` under ``request`` is the plain small sparse-LU case."""
    method = request.method
    return (type(A) is sp.csr_matrix and type(b) is np.ndarray
            and request.backend in ("auto", "scipy") and request.user_pc is None
            and not request.params and not request.monitor
            and (method is None or method.name == "direct")
            and (request.pc is None or request.pc.name == "none")
            and A.dtype in _DTYPES and b.dtype == A.dtype and b.ndim == 1
            and A.shape[0] == A.shape[1] == b.shape[0] and 0 < b.shape[0] <= auto.AUTO_DIRECT_MAX_N
            and bool(np.isfinite(A.data).all()) and bool(np.isfinite(b).all()))


def solve(request: Request, A: sp.csr_matrix, b: np.ndarray) -> SolveResult | None:
    """Factor, solve and judge; ``None`` when SuperLU finds ``A`` singular (the general
    path then reports why)."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error", spla.MatrixRankWarning)
        try:
            x = spla.spsolve(A, b)
        except spla.MatrixRankWarning:  # singular: the general path says reason="singular"
            return None
    rnorm = float(np.linalg.norm(b - A @ x))
    bnorm = float(np.linalg.norm(b))
    end = time.perf_counter()
    info: dict[str, Any] = {**_INFO, "dtype": _DTYPES[A.dtype], "path": "small"}
    if request.method is None:
        info["auto"] = auto.direct_first().report([])
    timings = {"setup": 0.0, "solve": end - start, "total": end - start}
    return make_result(x, rnorm, bnorm, request.stop, Reason.RTOL, 1, [bnorm, rnorm],
                       timings, info)
