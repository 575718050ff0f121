"""BiCGStab through ``scipy.sparse.linalg.bicgstab`` (argument names translated here).

Stopping rule: SciPy's ``||r|| <= max(rtol ||b||, atol)`` with ``rtol`` chosen so that the
threshold is the library's ``max(rtol ||b||, atol)``; the true residual is checked on return.

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
from solvers.stopping import StoppingRule
from solvers.system import LinearSystem


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
        r0 = bnorm if x0 is None else float(np.linalg.norm(b - system.op.matvec(x0)))
        residuals = [r0]

        def record(xk: np.ndarray) -> None:
            residuals.append(float(np.linalg.norm(b - system.op.matvec(xk))))
            if callback is not None:
                callback(xk)

        rtol = stop.threshold(bnorm) / bnorm if bnorm > 0 else 0.0
        x, info = spla.bicgstab(system.op, b, x0=x0, M=M, rtol=rtol, atol=stop.atol,
                                maxiter=stop.iterations(system.n), callback=record)
        if not np.all(np.isfinite(x)):
            reason = Reason.DIVERGED_NAN
        elif info == 0:
            reason = Reason.RTOL
        else:
            reason = Reason.MAXITER if info > 0 else Reason.BREAKDOWN
        return Iterate(np.asarray(x), len(residuals) - 1, residuals, reason)
