"""MINRES for symmetric (Hermitian), possibly indefinite systems (Paige & Saunders, 1975).

Own implementation: SciPy's ``minres`` stops on ``||r|| <= rtol (||A|| ||x|| + ||b||)``,
which is looser than our rule ``||r|| <= max(rtol ||b||, atol)``. Lanczos builds an
orthonormal basis of the Krylov space; Givens rotations keep the least-squares problem
``min ||beta_1 e_1 - T_k y||`` triangular, so ``||r_k||`` is available as ``|phibar_k|``
without forming ``r_k``. With an SPD preconditioner ``M`` the estimate is in the
``M``-norm, so a candidate stop is confirmed on the true residual. The divergence and
stagnation guard (:class:`solvers.stopping.Guard`) sees ``|phibar_k|`` (against
``|phibar_0| = ||r_0||_M``). ``|phibar_k|`` never grows, and with a nonsymmetric ``M`` it
keeps falling while the true residual does not (CG's failure with such an ``M``), so with a
preconditioner a second guard sees the true residual, recomputed every
:data:`TRUE_RESIDUAL_EVERY` iterations (1 % more matrix products) and at each candidate stop.

References
----------
C. C. Paige and M. A. Saunders, "Solution of sparse indefinite systems of linear equations",
SIAM J. Numer. Anal. 12(4), 1975. S.-C. Choi, C. C. Paige, M. A. Saunders, "MINRES-QLP",
SIAM J. Sci. Comput. 33(4), 2011 (the recurrences below follow their Table 2.1).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla

from solvers.method import Callback, Iterate, initial_state
from solvers.reasons import Reason
from solvers.stopping import Guard, StoppingRule, symmetric_hint
from solvers.system import LinearSystem

#: With a preconditioner, the true residual is recomputed for the guard this often.
TRUE_RESIDUAL_EVERY = 100


class MINRES:
    """Minimum-residual Krylov method for Hermitian ``A`` (any inertia), SPD preconditioner."""

    requires_symmetric = True

    def setup(self, system: LinearSystem) -> None:
        """Nothing to prepare."""

    def solve(self, system: LinearSystem, b: np.ndarray, x0: np.ndarray | None,
              M: spla.LinearOperator | None, stop: StoppingRule,
              callback: Callback | None = None) -> Iterate:
        matvec = system.matvec
        precond = (lambda r: r) if M is None else M.matvec
        x, r1, tol, residuals = initial_state(matvec, b, x0, stop)
        y = precond(r1)
        beta1 = np.vdot(r1, y).real
        if residuals[0] <= tol:
            return Iterate(x, 0, residuals, Reason.RTOL)
        if beta1 <= 0:
            return Iterate(x, 0, residuals, Reason.INDEFINITE_PC)
        beta = beta1 = np.sqrt(beta1)
        oldb, dbar, epsln, phibar, cs, sn = 0.0, 0.0, 0.0, beta1, -1.0, 0.0
        w = np.zeros_like(b)
        w2 = np.zeros_like(b)
        r2 = r1
        hint = symmetric_hint("MINRES", M is not None, False)
        guard, confirm = Guard(stop, beta1, hint), Guard(stop, residuals[0], hint)
        for k in range(1, stop.iterations(system.n) + 1):
            # Lanczos step: v_k = y / beta_k, y = A v_k - alpha v_k - beta_k v_{k-1}
            v = y / beta
            y = matvec(v)
            if k >= 2:
                y = y - (beta / oldb) * r1
            alpha = np.vdot(v, y).real
            y = y - (alpha / beta) * r2
            r1, r2 = r2, y
            y = precond(r2)
            oldb, beta = beta, np.vdot(r2, y).real
            if beta < 0:
                return Iterate(x, k - 1, residuals, Reason.INDEFINITE_PC)
            beta = np.sqrt(beta)
            # Apply the previous rotation, then build the new one from (gbar, beta).
            oldeps = epsln
            delta = cs * dbar + sn * alpha
            gbar = sn * dbar - cs * alpha
            epsln = sn * beta
            dbar = -cs * beta
            gamma = max(np.hypot(gbar, beta), np.finfo(float).eps)
            cs, sn = gbar / gamma, beta / gamma
            phi, phibar = cs * phibar, sn * phibar
            # Update the direction and the iterate.
            w1, w2 = w2, w
            w = (v - oldeps * w1 - delta * w2) / gamma
            x += phi * w
            residuals.append(float(abs(phibar)))
            if callback is not None:
                callback(x)
            if not np.isfinite(phibar):
                return Iterate(x, k, residuals, Reason.DIVERGED_NAN)
            rnorm = residuals[-1]
            true: float | None = rnorm
            if M is not None:  # the estimate is in the M-norm: the true residual now and then
                true = float(np.linalg.norm(b - matvec(x))) if (
                    rnorm <= tol or k % TRUE_RESIDUAL_EVERY == 0) else None
            if rnorm <= tol and true is not None and true <= tol:
                return Iterate(x, k, residuals, Reason.RTOL)
            if beta == 0:
                return Iterate(x, k, residuals, Reason.BREAKDOWN)
            stopped = None if rnorm <= tol else guard.update(rnorm)
            if stopped is None and M is not None and true is not None:
                stopped = confirm.update(true, steps=k - confirm.k)
            if stopped is not None:
                return Iterate(x, k, residuals, stopped, guard.info(stopped))
        return Iterate(x, stop.iterations(system.n), residuals, Reason.MAXITER)
