"""Restarted GMRES(m) with right preconditioning, and its flexible variant FGMRES(m).

Own implementation so that the residual history is the true residual norm (with right
preconditioning the Arnoldi least-squares residual ``|g_{j+1}|`` equals ``||b - A x_j||``
in exact arithmetic), and so that a preconditioner that changes between iterations (a
network, an inner solve) can be used: FGMRES stores ``z_j = M(v_j)`` and updates
``x += Z y`` (Saad, 1993).

Arnoldi with classical Gram-Schmidt applied twice (CGS2, as stable as modified GS and
vectorised), complex Givens rotations for the Hessenberg least-squares problem::

    A M v_j = sum_{i <= j+1} h_{ij} v_i,   y = argmin ||beta e_1 - H_j y||,   x = x_0 + M V y

Stopping rule: the Arnoldi residual ``|g_{j+1}| <= max(rtol ||b||, atol)``, then the true
residual is recomputed at each restart (and checked in float64 by :mod:`solvers.finish`).
The divergence and stagnation guard (:class:`solvers.stopping.Guard`) sees the recomputed
residual at every restart, not the Arnoldi estimate: the estimate never grows within a cycle,
and where the two part (a preconditioner that changes between applications, a singular or
nearly singular one) the estimate keeps falling while ``||b - A x||`` grows or stays.

``callback(x_j)`` is called after every *inner* iteration with the current iterate ``x_j``
(SciPy's ``gmres`` calls ``callback_type="x"`` once per restart and ``"pr_norm"`` per inner
iteration with a residual norm instead). Forming ``x_j`` costs a small triangular solve, one
preconditioner application (none for FGMRES) and ``O(n j)`` flops, paid only when a callback
(or ``monitor=True``) is given; the residual norms are in the result's ``residuals``.

References
----------
Y. Saad and M. H. Schultz, "GMRES", SIAM J. Sci. Stat. Comput. 7(3), 1986.
Y. Saad, "A flexible inner-outer preconditioned GMRES algorithm", SIAM J. Sci. Comput.
14(2), 1993.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
import scipy.sparse.linalg as spla

from solvers.errors import InvalidOptionError
from solvers.method import Callback, Iterate, initial_state
from solvers.reasons import Reason
from solvers.stopping import Guard, StoppingRule
from solvers.system import LinearSystem

#: The likely causes named in ``info["message"]`` when the guard stops a run.
HINTS = {
    Reason.STAGNATION: "a singular preconditioner or a restart too small; increase restart= "
    "(or use a stronger pc)",
    Reason.DIVERGED_DTOL: "the recomputed residual grew at a restart: a preconditioner that "
    "changes between applications needs method='fgmres'; otherwise M may be nearly singular",
}


def givens(a: complex, b: float) -> tuple[float, complex, complex]:
    """``(c, s, r)`` with ``[[c, s], [-conj(s), c]] @ [a, b] = [r, 0]`` (``b`` real >= 0)."""
    if a == 0:
        return 0.0, 1.0, b
    t = np.hypot(abs(a), b)
    phase = a / abs(a)
    return abs(a) / t, phase * b / t, phase * t


class GMRES:
    """GMRES(``restart``), right-preconditioned; ``flexible=True`` gives FGMRES."""

    requires_symmetric = False

    def __init__(self, restart: int = 30, flexible: bool = False) -> None:
        if not isinstance(restart, int) or restart < 1:
            raise InvalidOptionError(f"restart must be an int >= 1, not {restart!r}")
        self.restart = restart
        self.flexible = flexible

    def setup(self, system: LinearSystem) -> None:
        """Nothing to prepare."""

    def solve(self, system: LinearSystem, b: np.ndarray, x0: np.ndarray | None,
              M: spla.LinearOperator | None, stop: StoppingRule,
              callback: Callback | None = None) -> Iterate:
        precond = (lambda v: v) if M is None else getattr(M, "matvec", M)
        x, r, tol, residuals = initial_state(system.matvec, b, x0, stop)
        budget = stop.iterations(system.n)
        guard = Guard(stop, residuals[0], HINTS)
        iterations = 0
        while residuals[-1] > tol and iterations < budget:
            steps = min(self.restart, budget - iterations)
            x, done, reason = self._cycle(system, x, r, residuals, steps, tol, precond,
                                          callback)
            iterations += done
            r = b - system.matvec(x)
            residuals[-1] = float(np.linalg.norm(r))  # true residual at each restart
            if reason is None and residuals[-1] > tol:
                reason = guard.update(residuals[-1], steps=done)
            if reason is not None:
                info = guard.info(reason) if reason in HINTS else {}
                return Iterate(x, iterations, residuals, reason, info)
        reason = Reason.RTOL if residuals[-1] <= tol else Reason.MAXITER
        return Iterate(x, iterations, residuals, reason)

    def _cycle(self, system: LinearSystem, x: np.ndarray, r: np.ndarray,
               residuals: list[float], steps: int, tol: float, precond,
               callback: Callback | None = None) -> tuple[np.ndarray, int, Reason | None]:
        """One Arnoldi cycle of at most ``steps`` iterations: ``(x, steps done, reason)``;
        ``callback`` receives the iterate after each of them."""
        n, dtype = r.size, np.result_type(r.dtype, np.float32)
        V = np.zeros((steps + 1, n), dtype=dtype)
        Z = np.zeros((steps, n), dtype=dtype) if self.flexible else None
        H = np.zeros((steps + 1, steps), dtype=dtype)
        rotations: list[tuple[float, complex]] = []
        g = np.zeros(steps + 1, dtype=dtype)
        g[0] = residuals[-1]
        V[0] = r / residuals[-1]
        j = 0
        for j in range(steps):
            z = precond(V[j])
            if Z is not None:
                Z[j] = z
            w = system.matvec(z)
            for _ in range(2):  # CGS2
                h = V[: j + 1].conj() @ w
                w = w - V[: j + 1].T @ h
                H[: j + 1, j] += h
            H[j + 1, j] = np.linalg.norm(w)
            if not np.all(np.isfinite(H[:, j])):
                return x, j, Reason.DIVERGED_NAN
            for i, (c, s) in enumerate(rotations):
                H[i, j], H[i + 1, j] = c * H[i, j] + s * H[i + 1, j], \
                    -np.conj(s) * H[i, j] + c * H[i + 1, j]
            happy = H[j + 1, j].real <= 1e-14 * abs(H[j, j])
            if not happy:
                V[j + 1] = w / H[j + 1, j]
            c, s, H[j, j] = givens(H[j, j], H[j + 1, j].real)
            H[j + 1, j] = 0
            rotations.append((c, s))
            g[j + 1], g[j] = -np.conj(s) * g[j], c * g[j]
            residuals.append(float(abs(g[j + 1])))
            done = residuals[-1] <= tol or happy
            if callback is not None and not done and j + 1 < steps and H[j, j] != 0:
                callback(self._update(x, H, g, V, Z, j + 1, precond))
            if done:
                break
        k = j + 1
        if abs(H[k - 1, k - 1]) == 0:
            return x, k, Reason.BREAKDOWN
        x = self._update(x, H, g, V, Z, k, precond)
        if callback is not None:
            callback(x)
        return x, k, None

    @staticmethod
    def _update(x: np.ndarray, H: np.ndarray, g: np.ndarray, V: np.ndarray,
                Z: np.ndarray | None, k: int, precond) -> np.ndarray:
        """``x + M V_k y`` (``x + Z_k y`` for FGMRES) with ``y = H_k^{-1} g_k`` (the rotated
        Hessenberg matrix is upper triangular)."""
        y = sla.solve_triangular(H[:k, :k], g[:k])
        return x + (Z[:k].T @ y if Z is not None else precond(V[:k].T @ y))
