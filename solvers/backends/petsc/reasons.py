"""PETSc's ``KSPConvergedReason`` and errors as the library's :class:`solvers.reasons.Reason`."""

from __future__ import annotations

from typing import Any

from petsc4py import PETSc

from solvers.backends.petsc.typed import failed_reason
from solvers.reasons import Reason

_REASONS = {
    "CONVERGED_RTOL": Reason.RTOL, "CONVERGED_RTOL_NORMAL_EQUATIONS": Reason.RTOL,
    "CONVERGED_ATOL": Reason.ATOL, "CONVERGED_ATOL_NORMAL_EQUATIONS": Reason.ATOL,
    "CONVERGED_ITS": Reason.RTOL, "CONVERGED_HAPPY_BREAKDOWN": Reason.RTOL,
    "CONVERGED_USER": Reason.RTOL, "CONVERGED_NEG_CURVE": Reason.BREAKDOWN,
    "CONVERGED_STEP_LENGTH": Reason.BREAKDOWN,
    "DIVERGED_NULL": Reason.BREAKDOWN, "DIVERGED_MAX_IT": Reason.MAXITER,
    "DIVERGED_DTOL": Reason.DIVERGED_DTOL, "DIVERGED_BREAKDOWN": Reason.BREAKDOWN,
    "DIVERGED_BREAKDOWN_BICG": Reason.BREAKDOWN, "DIVERGED_NONSYMMETRIC": Reason.BREAKDOWN,
    "DIVERGED_INDEFINITE_PC": Reason.INDEFINITE_PC, "DIVERGED_NANORINF": Reason.DIVERGED_NAN,
    "DIVERGED_INDEFINITE_MAT": Reason.INDEFINITE_MAT, "DIVERGED_PCSETUP_FAILED": Reason.PC_FAILED,
    "DIVERGED_USER": Reason.BREAKDOWN, "DIVERGED_INNER_SOLVE_FAILED": Reason.PC_FAILED,
}
#: KSPConvergedReason value -> its name.
_REASON_NAMES = {getattr(PETSc.KSP.ConvergedReason, name): name for name in _REASONS
                 if hasattr(PETSc.KSP.ConvergedReason, name)}


def reason(ksp: PETSc.KSP, method: str, setup_error: PETSc.Error | None,
           solve_error: PETSc.Error | None) -> tuple[Reason, dict[str, Any]]:
    """Our :class:`Reason` for the KSP's converged reason, or for a PETSc error.

    An error in ``KSPSetUp`` is a failed preconditioner setup (e.g. a missing diagonal
    entry for a factorization); a failed LU of ``method="direct"`` is ``singular``.
    """
    pc = ksp.getPC()
    details: dict[str, Any] = {"ksp_type": ksp.getType(), "pc_type": pc.getType()}
    if failed_reason(pc):
        details["pc_failed_reason"] = int(failed_reason(pc))
    error = setup_error or solve_error
    if error:
        details["error"] = message(error)
        failed = setup_error is not None or "pc_failed_reason" in details
        result = Reason.PC_FAILED if failed else Reason.BACKEND_ERROR
    else:
        name = _REASON_NAMES.get(ksp.getConvergedReason(), "unknown")
        details["petsc_reason"] = name
        result = _REASONS.get(name, Reason.BACKEND_ERROR)
    if method == "direct" and result is Reason.PC_FAILED:
        result = Reason.SINGULAR
    return result, details


def message(error: PETSc.Error) -> str:
    """PETSc's own explanation from the error text, without the call-stack lines, and the
    Python exception behind it when a Python context (``PCPYTHON``, ``KSPPYTHON``) raised."""
    lines = [line.split("] ", 1)[-1] for line in str(error).splitlines()[1:]
             if "() at " not in line]
    code = error.ierr  # type: ignore[attr-defined]  # set by Error.__init__; the stub omits it
    cause = [f"raised in Python: {error.__cause__}"] if error.__cause__ is not None else []
    return "; ".join(lines + cause + [f"PETSc error code {code}"])
