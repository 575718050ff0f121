"""Input of the PETSc backend: validated ``Mat``/``Vec`` (SciPy input converted once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from petsc4py import PETSc

from operators.convert import petsc_to_numpy, scipy_to_petsc
from solvers.backends.petsc.typed import left_vector, norm, set_array
from solvers.errors import InvalidSystemError
from solvers.system import LinearSystem, as_system, as_vector, check_square, is_problem


@dataclass
class PetscSystem:
    """A validated system on PETSc objects; ``host`` is the SciPy system it came from, if any."""

    A: PETSc.Mat
    b: PETSc.Vec
    bnorm: float
    host: LinearSystem | None
    symmetric: bool | None
    positive_definite: bool | None
    numpy_output: bool
    dtype: np.dtype

    @property
    def n(self) -> int:
        return self.A.getSize()[0]


@dataclass
class Converted:
    """The solver's cache of the last conversion and the last checked ``Mat`` state."""

    matrix: tuple[tuple, PETSc.Mat] | None = None
    checked: tuple | None = None


def petsc_system(cache: Converted, A: Any, b: Any) -> PetscSystem:
    """Validate the input and bring it onto PETSc objects (SciPy matrices converted once)."""
    symmetric, positive_definite = ((A.symmetric, A.positive_definite) if is_problem(A)
                                    else (None, None))
    matrix = A.A if is_problem(A) else A
    if isinstance(matrix, PETSc.Mat):
        checked = (matrix.getId(), matrix.stateGet())  # changes when the values change
        if cache.checked != checked:
            _check_matrix(matrix)
            cache.checked = checked
        vec = b if isinstance(b, PETSc.Vec) else vector(b, matrix)
        return PetscSystem(matrix, vec, _checked_norm(matrix, vec), None, symmetric,
                           positive_definite, not isinstance(b, PETSc.Vec),
                           np.dtype(PETSc.ScalarType))
    host = as_system(A, petsc_to_numpy(b) if isinstance(b, PETSc.Vec) else b)
    _check_convertible(host)
    like = b if isinstance(b, PETSc.Vec) else None
    fingerprint = (host.fingerprint(), None if like is None else like.getOwnershipRange())
    if cache.matrix is not None and cache.matrix[0] == fingerprint:
        mat = cache.matrix[1]
    else:
        layout = like or PETSc.Vec().createMPI(host.n, comm=PETSc.COMM_WORLD)
        mat = scipy_to_petsc(host.matrix, layout)
        cache.matrix = (fingerprint, mat)
    vec = like if like is not None else vector(host.b, mat)
    return PetscSystem(mat, vec, norm(vec), host, host.symmetric, host.positive_definite,
                       like is None, host.dtype)


def _check_convertible(host: LinearSystem) -> None:
    if host.matrix is None:
        raise InvalidSystemError(
            "the PETSc backend needs an assembled matrix, not a matrix-free LinearOperator; "
            "pass a scipy sparse matrix or a petsc4py Mat, or use backend='scipy'"
        )
    if np.iscomplexobj(host.b) and not np.iscomplexobj(np.zeros(1, PETSc.ScalarType)):
        raise InvalidSystemError(
            "this PETSc is built with real scalars and the system is complex; use "
            "backend='scipy', or a PETSc configured with --with-scalar-type=complex"
        )


def vector(values: Any, like: PETSc.Mat, name: str = "b") -> PETSc.Vec:
    """A NumPy vector (the whole of it, on every rank) in the row layout of ``like``."""
    arr = as_vector(values, like.getSize()[0], name)
    vec = left_vector(like)
    set_array(vec, arr[slice(*vec.getOwnershipRange())])
    return vec


def _check_matrix(A: PETSc.Mat) -> None:
    """Squareness, assembly and NaN/Inf checks for a petsc4py matrix."""
    check_square(A.getSize())
    if not A.assembled:
        raise InvalidSystemError("A is not assembled; call A.assemble() after setting values")
    if not np.isfinite(_matrix_norm(A)):
        raise InvalidSystemError("A contains NaN or Inf entries; fix the input")


def _checked_norm(A: PETSc.Mat, b: PETSc.Vec) -> float:
    """``||b||`` after checking that ``b`` matches ``A``'s rows and is finite."""
    n = A.getSize()[0]
    if b.getSize() != n:
        raise InvalidSystemError(f"b has {b.getSize()} entries but A has {n} rows; they must match")
    if b.getLocalSize() != A.getLocalSize()[0]:
        raise InvalidSystemError(
            f"b is distributed differently from A's rows ({b.getLocalSize()} vs "
            f"{A.getLocalSize()[0]} local entries); create b with A.createVecs('left')"
        )
    bnorm = norm(b)
    if not np.isfinite(bnorm):
        raise InvalidSystemError("b contains NaN or Inf entries; fix the input")
    return bnorm


def _matrix_norm(A: PETSc.Mat) -> float:
    """Frobenius norm, or 0 for matrix types that cannot compute one (shells)."""
    try:
        return cast(float, A.norm(PETSc.NormType.FROBENIUS))  # a float but for NORM_1_AND_2
    except PETSc.Error:
        return 0.0


def initial_guess(system: PetscSystem, x0: Any) -> PETSc.Vec | None:
    """``x0`` as a ``Vec`` laid out like ``b`` (validated), or ``None`` for zero."""
    if x0 is None:
        return None
    if isinstance(x0, PETSc.Vec):
        if x0.getSize() != system.n or x0.getLocalSize() != system.b.getLocalSize():
            raise InvalidSystemError("x0 must have the size and the parallel layout of b")
        if not np.isfinite(x0.norm()):
            raise InvalidSystemError("x0 contains NaN or Inf entries; fix the input")
        return x0.copy()
    return vector(x0, system.A, "x0")


def residual_norm(A: PETSc.Mat, b: PETSc.Vec, x: PETSc.Vec) -> float:
    """``||b - A x||_2`` in PETSc's scalar type (collective)."""
    r = b.duplicate()
    A.mult(x, r)
    r.aypx(-1.0, b)
    return norm(r)


def output(x: PETSc.Vec, system: PetscSystem) -> Any:
    """``x`` in the family of ``b``: the ``Vec`` itself, or the whole NumPy vector."""
    if not system.numpy_output:
        return x
    return petsc_to_numpy(x).astype(system.dtype, copy=False)
