"""Validation of user input into a :class:`LinearSystem` that every backend can consume.

All checks a user mistake can trip (shape, dtype, NaN/Inf, emptiness, squareness) live here,
so no backend ever sees malformed input and no user sees a traceback from deep inside numpy,
SciPy or PETSc.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from solvers.errors import InvalidSystemError, NotSymmetricError

_FLOATS = (np.float32, np.float64, np.complex64, np.complex128)


@dataclass
class LinearSystem:
    """A validated system ``A x = b`` on the host (NumPy/SciPy side).

    ``op`` is a SciPy ``LinearOperator`` (always available), ``matrix`` the assembled sparse
    CSR matrix when there is one (``None`` for matrix-free input), ``problem`` the
    :class:`operators.Problem` the input came from, if any.
    """

    op: spla.LinearOperator
    matrix: sp.csr_matrix | None
    b: np.ndarray
    problem: Any = None
    symmetric: bool | None = None
    positive_definite: bool | None = None

    @property
    def n(self) -> int:
        return self.op.shape[0]

    @property
    def dtype(self) -> np.dtype:
        return self.op.dtype

    def is_symmetric(self, tol: float = 1e-12) -> bool:
        """Symmetric (Hermitian) test: the structure tag if known, else a numerical test.

        Matrix-free operators are tested on a random probe: ``|y^T A x - x^T A y|`` small.
        """
        if self.symmetric is None:
            self.symmetric = numerically_hermitian(self.matrix, self.op, tol)
        return self.symmetric

    def require_symmetric(self, method: str) -> None:
        """Raise :class:`NotSymmetricError` if the operator is found not symmetric."""
        require_symmetric(self.is_symmetric(), method)

    def fingerprint(self) -> tuple:
        """A cheap key that changes when the matrix values change (for reusing setups)."""
        if self.matrix is None:
            return (id(self.op),)
        return matrix_fingerprint(self.matrix)


def require_symmetric(symmetric: bool, method: str) -> None:
    """Raise :class:`NotSymmetricError` for ``method`` unless ``symmetric``."""
    if not symmetric:
        raise NotSymmetricError(
            f"method {method!r} needs a symmetric (Hermitian) matrix, and A is not "
            f"symmetric. Use method='gmres' or method='bicgstab' for nonsymmetric systems."
        )


def matrix_fingerprint(M: sp.csr_matrix) -> tuple:
    """A cheap key of a CSR matrix that changes when its values or pattern change."""
    return (M.shape, M.nnz, zlib.crc32(M.data.view(np.uint8)), zlib.crc32(M.indices))


def is_problem(A: Any) -> bool:
    """Whether ``A`` is an :class:`operators.Problem` (duck-typed: ``A``, ``shape``, ``kind``)."""
    return hasattr(A, "A") and hasattr(A, "shape") and hasattr(A, "kind")


def numerically_hermitian(matrix: sp.csr_matrix | None, op: spla.LinearOperator,
                          tol: float = 1e-12) -> bool:
    """``A == A^H`` to ``tol`` relative to ``max|A|`` for a matrix; for a matrix-free ``op``
    (``matrix=None``), ``|y^H A x - (A y)^H x|`` small on random probes ``x``, ``y``."""
    if matrix is not None:
        diff = matrix - matrix.conj().T
        scale = abs(matrix).max() if matrix.nnz else 1.0
        return diff.nnz == 0 or abs(diff).max() <= tol * scale
    rng = np.random.default_rng(0)
    x = rng.standard_normal(op.shape[0])
    y = rng.standard_normal(op.shape[0])
    lhs, rhs = np.vdot(y, op.matvec(x)), np.vdot(op.matvec(y), x)
    return abs(lhs - rhs) <= 1e-8 * max(abs(lhs), abs(rhs), 1e-300)


def result_dtype(*dtypes: np.dtype) -> np.dtype:
    """The common floating dtype of the inputs; integer, bool or object dtypes are refused."""
    for dtype in dtypes:
        if dtype not in _FLOATS:
            raise InvalidSystemError(
                f"unsupported dtype {dtype}: A and b must be floating point (float32, float64, "
                f"complex64 or complex128); convert with .astype(float)"
            )
    return np.result_type(*dtypes)


def as_vector(b: Any, n: int | None = None, name: str = "b", xp: Any = np) -> Any:
    """Validate a right-hand side (or ``x0``): 1-D (or (n,1)), finite, numeric.

    ``xp`` is the array namespace the vector is converted with and checked in: ``numpy``
    (the default, returns an ndarray) or ``jax.numpy`` (returns a jax array and checks it on
    its device, without a copy to the host).
    """
    try:
        arr = xp.asarray(b)
    except Exception as exc:  # e.g. ragged lists
        raise InvalidSystemError(f"{name} must be a 1-D array of numbers: {exc}") from None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InvalidSystemError(
            f"{name} must be a 1-D vector, got an array of shape {arr.shape}; "
            f"flatten it with {name}.ravel() (one right-hand side per solve)"
        )
    if arr.dtype.kind not in "biufc":
        raise InvalidSystemError(f"{name} must hold numbers, not dtype {arr.dtype}")
    if arr.size == 0:
        raise InvalidSystemError(f"{name} is empty: the system has no unknowns")
    if n is not None and arr.shape[0] != n:
        raise InvalidSystemError(
            f"{name} has {arr.shape[0]} entries but A has {n} rows; they must match"
        )
    check_finite(arr, name, xp)
    return arr


def check_finite(values: Any, name: str = "A", xp: Any = np) -> None:
    """Raise :class:`InvalidSystemError` if ``values`` (an array in namespace ``xp``) has
    NaN or Inf entries."""
    finite = xp.isfinite(values)
    if not bool(xp.all(finite)):
        bad = int(finite.size - int(xp.count_nonzero(finite)))
        raise InvalidSystemError(f"{name} contains {bad} NaN or Inf entries; fix the input")


def check_square(shape: tuple[int, ...], name: str = "A") -> int:
    """Raise :class:`InvalidSystemError` unless ``shape`` is that of a non-empty square
    matrix; return its order ``n``."""
    n, m = shape
    if n == 0 or m == 0:
        raise InvalidSystemError(f"{name} is empty (shape {shape}); the system has no unknowns")
    if n != m:
        raise InvalidSystemError(
            f"{name} must be square, got shape {shape}; for least-squares problems use "
            f"scipy.sparse.linalg.lsqr"
        )
    return n


def as_operator(A: Any) -> tuple[spla.LinearOperator, sp.csr_matrix | None]:
    """``(LinearOperator, CSR matrix or None)`` for a host matrix; dtype and 2-D checked."""
    if sp.issparse(A):
        if A.dtype.kind not in "biufc":
            raise InvalidSystemError(f"A must hold numbers, not dtype {A.dtype}")
        M = sp.csr_matrix(A)
        return spla.aslinearoperator(M), M
    if isinstance(A, spla.LinearOperator):
        return A, None
    if isinstance(A, np.ndarray | list | tuple) or hasattr(A, "__array__"):
        try:
            arr = np.asarray(A)
        except Exception as exc:
            raise InvalidSystemError(f"A must be a 2-D array of numbers: {exc}") from None
        if arr.dtype.kind not in "biufc":
            raise InvalidSystemError(f"A must hold numbers, not dtype {arr.dtype}")
        if arr.ndim != 2:
            raise InvalidSystemError(f"A must be 2-D (a matrix), got shape {arr.shape}")
        M = sp.csr_matrix(arr)
        return spla.aslinearoperator(M), M
    raise InvalidSystemError(
        f"A must be a scipy sparse matrix, numpy array, LinearOperator, petsc4py Mat, jax array "
        f"or operators.Problem, not {type(A).__name__}"
    )


def as_system(A: Any, b: Any) -> LinearSystem:
    """Validate ``(A, b)`` and return a :class:`LinearSystem` with a common floating dtype."""
    problem = None
    symmetric = positive_definite = None
    if is_problem(A):
        problem = A
        symmetric, positive_definite = A.symmetric, A.positive_definite
        A = A.A
    op, matrix = as_operator(A)
    n = check_square(op.shape)
    vec = as_vector(b, n)
    dtype = result_dtype(op.dtype, vec.dtype)
    if matrix is not None:
        check_finite(matrix.data)
        if matrix.dtype != dtype:
            matrix = matrix.astype(dtype)
        op = spla.aslinearoperator(matrix)
    vec = vec.astype(dtype, copy=False)
    return LinearSystem(op, matrix, vec, problem, symmetric, positive_definite)
