"""BiCGStab through ``scipy.sparse.linalg.bicgstab`` (argument names translated here).

Stopping rule: SciPy's ``||r|| <= max(rtol ||b||, atol)`` with ``rtol`` chosen so that the
threshold is the library's ``max(rtol ||b||, atol)``; the true residual is checked on return.
The divergence and stagnation guard (:class:`solvers.stopping.Guard`) sees the true residual
recorded after every iteration and ends SciPy's loop from the callback.

References
----------
H. A. van der Vorst, "Bi-CGSTAB: a fast and smoothly converging variant of Bi-CG for the
solution of nonsymmetric linear systems", SIAM J. Sci. Stat. Comput. 13(2), 1992.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla

from solvers.method import Callback, Iterate
from solvers.reasons import Reason
from solvers.stopping import Guard, StoppingRule
from solvers.system import LinearSystem

#: The likely cause named in ``info["message"]`` when the guard stops a run.
HINT = ("BiCGStab's residual is erratic, and it can stall, on strongly nonsymmetric or "
        "indefinite systems; try method='gmres' with a larger restart= or a stronger pc")


class _GuardStopError(Exception):
    """Raised from SciPy's callback to end the iteration early; carries the reason."""

    def __init__(self, reason: Reason, x: np.ndarray) -> None:
        super().__init__(reason.value)
        self.reason, self.x = reason, x


class BiCGStab:
    """Adapter for ``scipy.sparse.linalg.bicgstab``.

    Residual history: SciPy's callback gives only the iterate, so the true residual is
    computed there, at the cost of one extra matvec per iteration (BiCGStab does two).
    """

    requires_symmetric = False

    def setup(self, system: LinearSystem) -> None:
        """Nothing to prepare."""

    def solve(self, system: LinearSystem, b: np.ndarray, x0: np.ndarray | None,
              M: spla.LinearOperator | None, stop: StoppingRule,
              callback: Callback | None = None) -> Iterate:
        bnorm = float(np.linalg.norm(b))
        r0 = bnorm if x0 is None else float(np.linalg.norm(b - system.matvec(x0)))
        residuals = [r0]
        tol = stop.threshold(bnorm)
        guard = Guard(stop, r0, HINT)

        def record(xk: np.ndarray) -> None:
            rnorm = float(np.linalg.norm(b - system.matvec(xk)))
            residuals.append(rnorm)
            if callback is not None:
                callback(xk)
            stopped = guard.update(rnorm) if rnorm > tol else None
            if stopped is not None:
                raise _GuardStopError(stopped, xk.copy())

        rtol = tol / bnorm if bnorm > 0 else 0.0
        try:
            x, info = spla.bicgstab(system.op, b, x0=x0, M=M, rtol=rtol, atol=stop.atol,
                                    maxiter=stop.iterations(system.n), callback=record)
        except _GuardStopError as stopped:
            return Iterate(stopped.x, len(residuals) - 1, residuals, stopped.reason,
                           guard.info(stopped.reason))
        if not np.all(np.isfinite(x)):
            reason = Reason.DIVERGED_NAN
        elif info == 0:
            reason = Reason.RTOL
        else:
            reason = Reason.MAXITER if info > 0 else Reason.BREAKDOWN
        return Iterate(np.asarray(x), len(residuals) - 1, residuals, reason)
