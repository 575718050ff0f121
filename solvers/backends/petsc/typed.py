"""The petsc4py calls whose type stubs are narrower than what petsc4py does, typed once here.

petsc4py's ``PETSc.pyi`` declares ``KSP.ConvergedReason``, ``PC.Side``, ``KSP.NormType`` and
``PC.FailedReason`` as classes whose members are ``int`` (as they are at run time), while the
setters and getters use the class; ``Vec.norm()`` as ``float | tuple[float, float]`` (the
pair only for ``NORM_1_AND_2``); ``Vec.setArray`` as taking a ``Sequence``, where any NumPy
array works; ``KSP.getWorkVecs`` and ``Mat.createVecs`` as unions over their arguments. These
wrappers say what the run time returns, so the backend type-checks without a cast per call.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from petsc4py import PETSc


def norm(vec: PETSc.Vec) -> float:
    """``||vec||_2`` (``VecNorm`` with ``NORM_2``, a float)."""
    return cast(float, vec.norm())


def set_array(vec: PETSc.Vec, values: np.ndarray) -> None:
    """Copy ``values`` (this rank's entries) into ``vec``."""
    vec.setArray(cast(Any, values))


def set_reason(ksp: PETSc.KSP, reason: int) -> None:
    """``KSPSetConvergedReason`` with a ``KSP.ConvergedReason`` member (an ``int``)."""
    ksp.setConvergedReason(cast(PETSc.KSP.ConvergedReason, reason))


def convergence_test(ksp: PETSc.KSP, its: int, rnorm: float) -> int:
    """The KSP's convergence test at iteration ``its``: a ``ConvergedReason`` (0: go on)."""
    return cast(int, ksp.callConvergenceTest(its, rnorm))


def failed_reason(pc: PETSc.PC) -> int:
    """``PCGetFailedReason``: a ``PC.FailedReason`` member (0: no failure)."""
    return cast(int, pc.getFailedReason())


def set_side(ksp: PETSc.KSP, side: int) -> None:
    """``KSPSetPCSide`` with a ``PC.Side`` member."""
    ksp.setPCSide(cast(PETSc.PC.Side, side))


def set_norm_type(ksp: PETSc.KSP, norm_type: int) -> None:
    """``KSPSetNormType`` with a ``KSP.NormType`` member."""
    ksp.setNormType(cast(PETSc.KSP.NormType, norm_type))


def work_vecs(ksp: PETSc.KSP, count: int) -> list[PETSc.Vec]:
    """``count`` work vectors laid out like the solution (``KSPCreateVecs``, right side)."""
    return cast(list[PETSc.Vec], ksp.getWorkVecs(right=count))


def left_vector(matrix: PETSc.Mat) -> PETSc.Vec:
    """A vector laid out like ``matrix``'s rows (``MatCreateVecs``, left side)."""
    return cast(PETSc.Vec, matrix.createVecs("left"))
