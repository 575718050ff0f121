"""Validation of user input into a :class:`LinearSystem` that every backend can consume.

All checks a user mistake can trip live here, so no backend ever sees malformed input and no
user sees a traceback from deep inside NumPy, SciPy, JAX or PETSc: shape, dtype (checked
before any conversion), NaN/Inf, emptiness, squareness (:func:`as_system`), a non-callable
``callback`` (:func:`check_callback`), a callable ``pc`` or a ``LinearOperator`` whose output
has the wrong shape (:func:`checked_preconditioner`, :class:`CheckedOperator`). Also the one
symmetry rule every backend follows (:func:`symmetric_tag`: a problem's tag when known, else
a numerical test) and the duck-typed recognition of :class:`operators.Problem` inputs
(:func:`is_problem`, :func:`is_grid_problem`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from solvers.errors import InvalidOptionError, InvalidSystemError

_FLOATS = (np.float32, np.float64, np.complex64, np.complex128)
#: How to convert an unsupported float or complex dtype (float16, longdouble, clongdouble).
_DTYPE_FIXES = {"f": "{0}.astype(np.float32) or {0}.astype(np.float64)",
                "c": "{0}.astype(np.complex128)"}


@dataclass
class LinearSystem:
    """A validated system ``A x = b`` on the host (NumPy/SciPy side).

    ``op`` is a SciPy ``LinearOperator`` (always available: for an assembled matrix it is
    made on first use, so a direct solve never pays for it), ``matrix`` the assembled sparse
    CSR matrix when there is one (``None`` for matrix-free input), ``problem`` the
    :class:`operators.Problem` the input came from, if any (a grid problem when it has a
    ``shape``: see :func:`is_grid_problem`). ``symmetric`` and ``positive_definite`` are the
    problem's structure tags, ``None`` when unknown.
    """

    operator: spla.LinearOperator | None
    matrix: sp.csr_matrix | None
    b: np.ndarray
    problem: Any = None
    symmetric: bool | None = None
    positive_definite: bool | None = None
    _fingerprint: tuple | None = None

    @property
    def op(self) -> spla.LinearOperator:
        """``A`` as a ``LinearOperator`` (built from the matrix on first use)."""
        if self.operator is None:
            self.operator = spla.aslinearoperator(self.matrix)
        return self.operator

    @property
    def matvec(self) -> Callable[[np.ndarray], np.ndarray]:
        """``x -> A x``: the CSR product itself for a matrix (half the cost of a
        ``LinearOperator``'s checks at small sizes), else the operator's ``matvec``."""
        return self.matrix.__matmul__ if self.matrix is not None else self.op.matvec

    @property
    def n(self) -> int:
        return (self.matrix if self.matrix is not None else self.op).shape[0]

    @property
    def dtype(self) -> np.dtype:
        return (self.matrix if self.matrix is not None else self.op).dtype

    def is_symmetric(self, tol: float = 1e-12) -> bool:
        """Symmetric (Hermitian) test: the structure tag if known, else a numerical test.

        Matrix-free operators are tested on a random probe: ``|y^T A x - x^T A y|`` small.
        """
        self.symmetric = symmetric_tag(self.symmetric, self.matrix, self.op, tol)
        return self.symmetric

    def require_matrix(self, what: str, part: str = "") -> sp.csr_matrix:
        """The assembled CSR matrix, or :class:`InvalidSystemError` saying that ``what``
        (e.g. ``"pc='ilu'"``) needs one (``part``: which part it reads, e.g. its diagonal)."""
        if self.matrix is None:
            needs = f" ({part})" if part else ""
            raise InvalidSystemError(
                f"{what} needs an assembled matrix{needs}, not a matrix-free LinearOperator; "
                f"pass a SciPy sparse matrix or NumPy array, or use method='cg'/'gmres' with "
                f"pc='none' or a callable pc"
            )
        return self.matrix

    def fingerprint(self) -> tuple:
        """A cheap key that changes when the matrix values change (for reusing setups and
        the symmetry verdict); computed once per system."""
        if self._fingerprint is None:
            self._fingerprint = (
                (id(getattr(self.op, "user", self.op)),) if self.matrix is None
                else matrix_fingerprint(self.matrix))
        return self._fingerprint


def matrix_fingerprint(M: sp.csr_matrix) -> tuple:
    """A cheap key of a CSR matrix that changes when its values or pattern change."""
    return (M.shape, M.nnz, zlib.crc32(M.data.view(np.uint8)), zlib.crc32(M.indices))


_PROBLEM_FIELDS = ("A", "b", "symmetric", "positive_definite")
_GRID_FIELDS = ("shape", "spacing", "kind")


def is_problem(A: Any) -> bool:
    """Whether ``A`` is an :class:`operators.Problem`: a system with structure tags.

    Duck-typed on ``A``, ``b``, ``symmetric`` and ``positive_definite`` (``solvers`` does not
    import ``operators``); any object with those fields is solved as its ``A``, its tags
    trusted (``None`` = unknown, then tested).
    """
    return all(hasattr(A, name) for name in _PROBLEM_FIELDS)


def is_grid_problem(A: Any) -> bool:
    """Whether ``A`` is an :class:`operators.GridProblem`: a problem that also has a grid
    (``shape``, ``spacing``, ``kind``), which matrix-free stencils and DCDM need."""
    return is_problem(A) and all(hasattr(A, name) for name in _GRID_FIELDS)


#: Problem kinds with a matrix-free stencil (:data:`operators.stencils.STENCILS`, which
#: imports JAX; ``tests/solvers/test_auto_grid.py`` checks that the two agree).
STENCIL_KINDS = ("poisson", "diffusion")


def has_stencil(A: Any) -> bool:
    """Whether ``A`` is a grid problem with a matrix-free stencil (``pc="mg"`` on JAX)."""
    return is_grid_problem(A) and A.kind in STENCIL_KINDS


def symmetric_tag(tag: bool | None, matrix: Any = None, op: spla.LinearOperator | None = None,
                  tol: float = 1e-12) -> bool:
    """Whether to treat ``A`` as symmetric (Hermitian): the structure tag when known, else a
    numerical test.

    The one symmetry rule of every backend. ``tag`` is a problem's ``symmetric`` field (or
    ``None``); ``matrix`` a SciPy sparse matrix or a petsc4py ``Mat`` (tested collectively
    on its communicator by ``MatIsHermitian``, else ``MatIsSymmetric``, the same test for
    PETSc's default real scalars; a matrix type with neither counts as not symmetric);
    ``op`` a matrix-free ``LinearOperator`` when ``matrix`` is ``None``. See
    :func:`numerically_hermitian` for the host test.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> symmetric_tag(None, sp.csr_matrix(np.array([[2.0, 1.0], [1.0, 2.0]])))
    True
    >>> symmetric_tag(False, sp.identity(2, format="csr"))     # the tag wins
    False
    """
    if tag is not None:
        return bool(tag)
    if hasattr(matrix, "isHermitian"):  # petsc4py Mat
        for test in (matrix.isHermitian, matrix.isSymmetric):
            try:
                return bool(test(tol))
            except RuntimeError:  # PETSc.Error: this matrix type lacks the test
                continue
        return False
    return bool(numerically_hermitian(matrix, op, tol))


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


def check_dtype(dtype: Any, name: str = "A") -> np.dtype:
    """Raise :class:`InvalidSystemError` unless ``dtype`` is float32/64 or complex64/128.

    Called before any conversion (SciPy sparse cannot even hold float16, so a dense float16
    ``A`` must be refused before it is turned into CSR).

    Examples
    --------
    >>> check_dtype(np.float16)
    Traceback (most recent call last):
    ...
    solvers.errors.InvalidSystemError: A has dtype float16, ... or A.astype(np.float64)
    """
    dtype = np.dtype(dtype)
    if dtype.kind not in "biufc":
        raise InvalidSystemError(f"{name} must hold numbers, not dtype {dtype}")
    if dtype not in _FLOATS:
        fix = _DTYPE_FIXES.get(dtype.kind, "{0}.astype(float)").format(name)
        raise InvalidSystemError(
            f"{name} has dtype {dtype}, which the solvers do not support (A and b must be "
            f"floating point: float32, float64, complex64 or complex128); convert it with {fix}"
        )
    return dtype


def result_dtype(*dtypes: np.dtype) -> np.dtype:
    """The common floating dtype of ``A`` and ``b``; other dtypes refused by
    :func:`check_dtype`."""
    for dtype, name in zip(dtypes, ("A", "b"), strict=False):
        check_dtype(dtype, name)
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


class CheckedOperator(spla.LinearOperator):
    """A user's ``LinearOperator`` whose products are checked for length.

    SciPy reshapes what a ``matvec`` returns and fails with a bare ``ValueError`` deep inside
    a Krylov loop when the length is wrong; this wrapper raises an
    :class:`InvalidSystemError` that names the shapes instead. Exceptions raised by the
    user's own code pass through unchanged.

    Examples
    --------
    >>> import numpy as np, scipy.sparse.linalg as spla
    >>> bad = spla.LinearOperator((2, 2), matvec=lambda x: np.ones(3), dtype=float)
    >>> CheckedOperator(bad).matvec(np.ones(2))
    Traceback (most recent call last):
    ...
    solvers.errors.InvalidSystemError: A's matvec returned an array of shape (3,) ...
    """

    def __init__(self, user: spla.LinearOperator) -> None:
        super().__init__(user.dtype, user.shape)
        self.user = user

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        return self._checked(self.user._matvec(x), x, "matvec", self.shape[0])

    def _rmatvec(self, x: np.ndarray) -> np.ndarray:
        return self._checked(self.user._rmatvec(x), x, "rmatvec", self.shape[1])

    def _checked(self, y: Any, x: np.ndarray, name: str, m: int) -> np.ndarray:
        y = np.asarray(y)
        if y.size != m:
            raise InvalidSystemError(
                f"A's {name} returned an array of shape {y.shape} for an input of shape "
                f"{x.shape}; a LinearOperator of shape {self.shape} must return {m} values. "
                f"Fix the function passed as {name}= (or the operator's shape)"
            )
        return y


def as_operator(A: Any) -> tuple[spla.LinearOperator | None, sp.csr_matrix | None]:
    """``(LinearOperator, None)`` for a matrix-free ``A`` (a user's ``LinearOperator``,
    wrapped in a :class:`CheckedOperator`), ``(None, CSR matrix)`` for a matrix (a
    ``csr_matrix`` as given, other formats converted); dtype and 2-D checked."""
    if type(A) is sp.csr_matrix:  # as given: no copy, no wrapper (small systems' fast path)
        check_dtype(A.dtype)
        return None, A
    if sp.issparse(A):
        check_dtype(A.dtype)
        M = sp.csr_matrix(A)
        return None, M
    if isinstance(A, spla.LinearOperator):
        check_dtype(A.dtype)
        return CheckedOperator(A), None
    if isinstance(A, np.ndarray | list | tuple) or hasattr(A, "__array__"):
        try:
            arr = np.asarray(A)
        except Exception as exc:
            raise InvalidSystemError(f"A must be a 2-D array of numbers: {exc}") from None
        if arr.ndim != 2:
            raise InvalidSystemError(f"A must be 2-D (a matrix), got shape {arr.shape}")
        check_dtype(arr.dtype)
        M = sp.csr_matrix(arr)
        return None, M
    raise InvalidSystemError(
        f"A must be a scipy sparse matrix, numpy array, LinearOperator, petsc4py Mat, jax array "
        f"or operators.Problem, not {type(A).__name__}"
    )


def check_callback(callback: Any) -> Callable[[np.ndarray], Any] | None:
    """``callback`` itself if it is ``None`` or callable; else :class:`InvalidOptionError`.

    Examples
    --------
    >>> check_callback(3)
    Traceback (most recent call last):
    ...
    solvers.errors.InvalidOptionError: callback must be a function callback(xk) or None, ...
    """
    if callback is not None and not callable(callback):
        raise InvalidOptionError(
            f"callback must be a function callback(xk) or None, not {type(callback).__name__} "
            f"{callback!r}; it is called with the current iterate after each iteration"
        )
    return callback


def preconditioner_argument(pc: Any, M: Any = None) -> Any:
    """The preconditioner a user passed as ``pc=`` or as SciPy's ``M=``, in one form.

    A name (``str``) or ``None`` is returned as is; a SciPy sparse matrix or a 2-D NumPy
    array ``M ~ A^{-1}`` becomes a ``LinearOperator`` (as SciPy's Krylov methods take ``M``);
    a ``LinearOperator`` or a function ``r -> z`` is returned as is. Both ``pc`` and ``M``,
    or anything else, is an :class:`InvalidOptionError`.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> preconditioner_argument(None, sp.identity(3)).shape
    (3, 3)
    >>> preconditioner_argument("ilu", sp.identity(3))
    Traceback (most recent call last):
    ...
    solvers.errors.InvalidOptionError: pass the preconditioner once: pc='ilu' and M=...
    """
    if M is not None and pc is not None:
        raise InvalidOptionError(
            f"pass the preconditioner once: pc={_name(pc)!r} and M={_name(M)!r} were both "
            f"given; M= (SciPy's name) takes a matrix, LinearOperator or function applying "
            f"M ~ A^-1, pc= also takes a name such as 'ilu'"
        )
    value = M if M is not None else pc
    if sp.issparse(value) or isinstance(value, np.ndarray):
        if value.ndim != 2 or value.shape[0] != value.shape[1]:
            raise InvalidOptionError(f"a matrix preconditioner must be square and 2-D, not of "
                                     f"shape {value.shape}")
        check_dtype(value.dtype, "M")
        return spla.aslinearoperator(value)
    if value is None or isinstance(value, str) or callable(value):
        return value
    raise InvalidOptionError(
        f"pc must be a name such as 'ilu' (see solvers.registry.names('pc')), a SciPy sparse "
        f"matrix or NumPy array, a LinearOperator or a function r -> z applying M ~ A^-1; "
        f"not {type(value).__name__}"
    )


def _name(function: Any) -> str:
    if isinstance(function, str):
        return function
    return getattr(function, "__name__", type(function).__name__)


def checked_preconditioner(function: Callable[[np.ndarray], Any], n: int,
                           dtype: np.dtype) -> spla.LinearOperator:
    """A user's function ``r -> z`` (``z ~ A^{-1} r``) or ``LinearOperator`` as a
    ``LinearOperator`` whose every application is checked.

    ``z`` must have the shape of ``r`` (``(n,)``, or ``(n, 1)``), hold numbers, and be finite
    whenever ``r`` is; otherwise :class:`InvalidOptionError` names the pc and the shapes.
    Exceptions raised inside ``function`` pass through unchanged (they are the user's).

    Examples
    --------
    >>> import numpy as np
    >>> M = checked_preconditioner(lambda r: r / 2, 3, np.dtype(np.float64))
    >>> M.matvec(np.ones(3))
    array([0.5, 0.5, 0.5])
    >>> checked_preconditioner(lambda r: r[:2], 3, np.dtype(np.float64)).matvec(np.ones(3))
    Traceback (most recent call last):
    ...
    solvers.errors.InvalidOptionError: the preconditioner pc=<lambda> returned ... shape (2,) ...
    """

    shape = getattr(function, "shape", None)
    if shape is not None and tuple(shape) != (n, n):
        raise InvalidOptionError(
            f"the preconditioner pc={_name(function)} has shape {tuple(shape)} but A is "
            f"{n} x {n}; M must have A's shape"
        )

    def apply(r: np.ndarray) -> np.ndarray:
        z = np.asarray(function(r))
        if z.shape not in ((n,), (n, 1)):
            raise InvalidOptionError(
                f"the preconditioner pc={_name(function)} returned an array of shape {z.shape} "
                f"for a residual of shape ({n},); a callable pc must map r to z ~ A^-1 r of "
                f"the same shape ({n},)"
            )
        if z.dtype.kind not in "biufc":
            raise InvalidOptionError(
                f"the preconditioner pc={_name(function)} returned "
                f"dtype {z.dtype}; it must return numbers ({dtype})"
            )
        if not np.all(np.isfinite(z)) and np.all(np.isfinite(r)):
            raise InvalidOptionError(
                f"the preconditioner pc={_name(function)} returned "
                f"NaN or Inf for a finite residual; check that it is defined for this A"
            )
        return z

    return spla.LinearOperator((n, n), matvec=apply, dtype=dtype)


def as_system(A: Any, b: Any) -> LinearSystem:
    """Validate ``(A, b)`` and return a :class:`LinearSystem` with a common floating dtype."""
    problem = None
    symmetric = positive_definite = None
    if is_problem(A):
        problem, A = A, A.A
        symmetric, positive_definite = problem.symmetric, problem.positive_definite
    op, matrix = as_operator(A)
    given = matrix if matrix is not None else op
    assert given is not None  # as_operator returns the operator or the matrix
    n = check_square(given.shape)
    vec = as_vector(b, n)
    dtype = result_dtype(given.dtype, vec.dtype)
    if matrix is not None:
        check_finite(matrix.data)
        if matrix.dtype != dtype:
            matrix = matrix.astype(dtype)
    vec = vec.astype(dtype, copy=False)
    return LinearSystem(op, matrix, vec, problem, symmetric, positive_definite)
