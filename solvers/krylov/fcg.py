"""Flexible conjugate gradients, FCG(m) (Notay, 2000).

For a preconditioner that changes from one iteration to the next (a nonlinear one such as a
neural network, or an inner iterative solve), the new direction is explicitly
A-orthogonalised against the last ``m`` directions instead of relying on the short recurrence
of CG::

    z_k = M(r_k)
    d_k = z_k - sum_{j=k-m}^{k-1} (z_k^H A d_j) / (d_j^H A d_j) d_j
    alpha_k = (d_k^H r_k) / (d_k^H A d_k);  x += alpha_k d_k;  r -= alpha_k A d_k

References
----------
Y. Notay, "Flexible conjugate gradients", SIAM J. Sci. Comput. 22(4), 2000.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np
import scipy.sparse.linalg as spla

from solvers.errors import InvalidOptionError
from solvers.method import Callback, Iterate, initial_state
from solvers.reasons import Reason
from solvers.stopping import Guard, StoppingRule, symmetric_hint
from solvers.system import LinearSystem


class FCG:
    """Flexible CG keeping ``truncation`` previous directions (FCG(m)); SPD ``A``."""

    requires_symmetric = True

    def __init__(self, truncation: int = 2) -> None:
        if not isinstance(truncation, int) or truncation < 1:
            raise InvalidOptionError(f"truncation must be an int >= 1, not {truncation!r}")
        self.truncation = truncation

    def setup(self, system: LinearSystem) -> None:
        """Nothing to prepare."""

    def solve(self, system: LinearSystem, b: np.ndarray, x0: np.ndarray | None,
              M: spla.LinearOperator | Callable | None, stop: StoppingRule,
              callback: Callback | None = None) -> Iterate:
        matvec = system.matvec
        apply_pc = (lambda r: r) if M is None else getattr(M, "matvec", M)
        x, r, tol, residuals = initial_state(matvec, b, x0, stop)
        guard = Guard(stop, residuals[0], symmetric_hint("FCG", M is not None))
        history: deque[tuple[np.ndarray, np.ndarray, complex]] = deque(maxlen=self.truncation)
        k = 0
        while residuals[-1] > tol:
            if k == stop.iterations(system.n):
                return Iterate(x, k, residuals, Reason.MAXITER)
            k += 1
            d = np.array(apply_pc(r), dtype=b.dtype, copy=True)
            for dj, Adj, dAdj in history:
                d -= (np.vdot(Adj, d) / dAdj) * dj
            Ad = matvec(d)
            dAd = np.vdot(d, Ad)
            if not np.isfinite(dAd) or dAd.real <= 0:
                reason = Reason.DIVERGED_NAN if not np.isfinite(dAd) else Reason.BREAKDOWN
                return Iterate(x, k - 1, residuals, reason)
            alpha = np.vdot(d, r) / dAd
            x += alpha * d
            r -= alpha * Ad
            history.append((d, Ad, dAd))
            rnorm = float(np.linalg.norm(r))
            residuals.append(rnorm)
            if callback is not None:
                callback(x)
            if not np.isfinite(rnorm):
                return Iterate(x, k, residuals, Reason.DIVERGED_NAN)
            stopped = None if rnorm <= tol else guard.update(rnorm)
            if stopped is not None:
                return Iterate(x, k, residuals, stopped, guard.info(stopped))
        return Iterate(x, k, residuals, Reason.RTOL)
