"""Preconditioned conjugate gradients (Hestenes & Stiefel, 1952).

Own implementation rather than ``scipy.sparse.linalg.cg`` because SciPy's does not expose the
residual norm per iteration; this one records it at no extra cost and is as fast (same
operations per iteration: one matvec, one preconditioner apply, two dots, three axpys).

Algorithm (Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed., Alg. 9.1)::

    r = b - A x;  z = M r;  p = z
    repeat:  q = A p;  alpha = (r, z) / (p, q)
             x += alpha p;  r -= alpha q;  stop if ||r|| <= max(rtol ||b||, atol)
             or the divergence/stagnation guard trips (:class:`solvers.stopping.Guard`)
             z_new = M r;  beta = (r, z_new) / (r_old, z_old);  p = z_new + beta p
"""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla

from solvers.method import Callback, Iterate, initial_state
from solvers.reasons import Reason
from solvers.stopping import Guard, StoppingRule, symmetric_hint
from solvers.system import LinearSystem


class CG:
    """Conjugate gradients for Hermitian positive definite ``A`` (and HPD preconditioner)."""

    requires_symmetric = True

    def setup(self, system: LinearSystem) -> None:
        """Nothing to prepare."""

    def solve(self, system: LinearSystem, b: np.ndarray, x0: np.ndarray | None,
              M: spla.LinearOperator | None, stop: StoppingRule,
              callback: Callback | None = None) -> Iterate:
        matvec = system.matvec
        x, r, tol, residuals = initial_state(matvec, b, x0, stop)
        rnorm = residuals[0]
        if rnorm <= tol:
            return Iterate(x, 0, residuals, Reason.RTOL)
        z = r if M is None else M.matvec(r)
        rho = np.vdot(r, z)
        p = z.copy()
        guard = Guard(stop, rnorm, symmetric_hint("CG", M is not None))
        k = 0
        for k in range(1, stop.iterations(system.n) + 1):
            q = matvec(p)
            pq = np.vdot(p, q)
            if pq.real <= 0 or rho.real <= 0:
                reason = Reason.INDEFINITE_MAT if pq.real <= 0 else Reason.INDEFINITE_PC
                return Iterate(x, k - 1, residuals, reason)
            alpha = rho / pq
            x += alpha * p
            r -= alpha * q
            rnorm = float(np.linalg.norm(r))
            residuals.append(rnorm)
            if callback is not None:
                callback(x)
            if not np.isfinite(rnorm):
                return Iterate(x, k, residuals, Reason.DIVERGED_NAN)
            if rnorm <= tol:
                return Iterate(x, k, residuals, Reason.RTOL)
            stopped = guard.update(rnorm)
            if stopped is not None:
                return Iterate(x, k, residuals, stopped, guard.info(stopped))
            z = r if M is None else M.matvec(r)
            rho_new = np.vdot(r, z)
            p *= rho_new / rho
            p += z
            rho = rho_new
        return Iterate(x, k, residuals, Reason.MAXITER)
