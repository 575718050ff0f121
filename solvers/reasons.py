"""Why a solve stopped: one enumeration shared by every backend and method.

In PETSc's spirit (``KSPConvergedReason``) a solve always reports a reason instead of a
boolean. The string values are what ``SolveResult.reason`` holds.
"""

from __future__ import annotations

from enum import Enum


class Reason(str, Enum):
    """Stop reason; ``Reason.RTOL == "rtol"`` so results compare with plain strings."""

    RTOL = "rtol"
    ATOL = "atol"
    MAXITER = "maxiter"
    BREAKDOWN = "breakdown"
    STAGNATION = "stagnation"
    DIVERGED_NAN = "diverged_nan"
    DIVERGED_DTOL = "diverged_dtol"
    PC_FAILED = "pc_failed"
    INDEFINITE_PC = "indefinite_pc"
    INDEFINITE_MAT = "indefinite_mat"
    SINGULAR = "singular"
    INACCURATE = "inaccurate"
    PRECISION = "precision"
    BACKEND_ERROR = "backend_error"

    @property
    def converged(self) -> bool:
        """True for the reasons that mean the stopping test was met."""
        return self in (Reason.RTOL, Reason.ATOL)

    @property
    def message(self) -> str:
        """A one-line explanation for humans."""
        return _MESSAGES[self]

    def __str__(self) -> str:
        return self.value


_MESSAGES = {
    Reason.RTOL: "converged: ||b - A x|| <= rtol * ||b||",
    Reason.ATOL: "converged: ||b - A x|| <= atol",
    Reason.MAXITER: "not converged: maxiter reached",
    Reason.BREAKDOWN: "not converged: the method broke down (division by ~0 in the recurrence)",
    Reason.STAGNATION: "not converged: the residual stopped decreasing (no new smallest "
    "residual, 0.1% below the last, over the stagnation window)",
    Reason.DIVERGED_NAN: "not converged: NaN or Inf appeared in the iteration",
    Reason.DIVERGED_DTOL: "not converged: the residual grew beyond dtol times its initial norm "
    "(dtol = 1e5 unless set; PETSc's -ksp_divtol)",
    Reason.PC_FAILED: "not converged: the preconditioner setup failed (zero pivot?)",
    Reason.INDEFINITE_PC: "not converged: the preconditioner is not positive definite",
    Reason.INDEFINITE_MAT: "not converged: the matrix is not positive definite (p^T A p <= 0)",
    Reason.SINGULAR: "not converged: the matrix is singular (zero pivot in the factorization)",
    Reason.INACCURATE: "not converged: the method claimed convergence but the true residual "
    "||b - A x|| fails the stopping test",
    Reason.PRECISION: "not converged: the working precision (single: float32/complex64) "
    "cannot reach the tolerance, judged in float64 on your A and b; solve in float64 (pass "
    "float64 arrays; for jax arrays enable jax_enable_x64) or loosen rtol",
    Reason.BACKEND_ERROR: "not converged: the backend reported an error (see info['error'])",
}
