"""Operators of the JAX backend: the input converted once into a jittable ``x -> A x``.

A jax dense array or ``BCOO`` is used where it lives; a SciPy sparse matrix becomes a BCOO, a
NumPy 2-D array a dense jax array; an :class:`operators.Problem` with a stencil
(:mod:`operators.stencils`, kinds ``poisson``/``diffusion``) is applied matrix-free unless
``matrix_free=False``. A :class:`Linear` builds its device form per dtype once; the solver
keeps the last one (:class:`JaxState`), keyed by the input object and, for mutable host
arrays, a checksum of the values.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from jax.experimental.sparse import BCOO

from operators import stencils
from operators.convert import bcoo_to_scipy, scipy_to_bcoo
from solvers.errors import InvalidOptionError, InvalidSystemError
from solvers.multigrid import Multigrid, multigrid
from solvers.system import (
    as_operator,
    check_finite,
    check_square,
    is_grid_problem,
    is_problem,
    matrix_fingerprint,
    symmetric_tag,
)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class MatrixOperator:
    """``x -> A x`` for a dense jax array or a ``BCOO`` matrix, as a pytree."""

    matrix: Any

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.matrix @ x

    def diagonal(self) -> jax.Array:
        A = self.matrix
        if not isinstance(A, BCOO):
            return jnp.diagonal(A)
        rows, cols = A.indices[:, 0], A.indices[:, 1]
        values = jnp.where(rows == cols, A.data, 0)
        return jnp.zeros(A.shape[0], A.dtype).at[rows].add(values, mode="drop")


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Jacobi:
    """``r -> r / diag(A)``, as a pytree."""

    inverse: jax.Array

    #: A diagonal scaling is its own transpose.
    symmetric = True

    def __call__(self, r: jax.Array) -> jax.Array:
        return self.inverse * r


@dataclass
class Linear:
    """A validated operator: builds its device form per dtype once, learns facts lazily.

    ``host()`` gives the caller's matrix as SciPy CSR (for the float64 verdict and the
    symmetry test); ``on_device`` says whether the caller's ``A`` is a jax array.
    """

    build: Callable[[np.dtype], Any]
    n: int
    dtype: np.dtype
    kind: str
    host: Callable[[], sp.csr_matrix]
    on_device: bool = False
    symmetric: bool | None = None
    positive_definite: bool | None = None
    memo: dict = field(default_factory=dict)

    def operator(self, dtype: np.dtype) -> Any:
        """The jittable ``x -> A x`` in ``dtype`` (a pytree)."""
        if dtype not in self.memo:
            self.memo[dtype] = self.build(dtype)
        return self.memo[dtype]

    def is_symmetric(self) -> bool:
        """The structure tag if known, else a numerical test on a host copy (once)."""
        self.symmetric = symmetric_tag(self.symmetric, self.host())
        return self.symmetric

    def positive_diagonal(self, dtype: np.dtype) -> bool:
        """Whether the diagonal is real and positive."""
        diagonal = self.operator(dtype).diagonal()
        return bool(jnp.all(jnp.real(diagonal) > 0) & jnp.all(jnp.imag(diagonal) == 0))


def jacobi(linear: Linear, dtype: np.dtype) -> Jacobi:
    """The Jacobi preconditioner of ``linear`` in ``dtype`` (built once per dtype)."""
    key = ("jacobi", dtype)
    if key not in linear.memo:
        diagonal = linear.operator(dtype).diagonal()
        zeros = int(jnp.sum(diagonal == 0))
        if zeros:
            raise InvalidSystemError(
                f"pc='jacobi' needs a nonzero diagonal; A has {zeros} zeros on it. "
                f"Use pc='none' (or backend='scipy' with pc='ilu' or pc='amg')"
            )
        linear.memo[key] = Jacobi(1 / diagonal)
    return linear.memo[key]


def mg(linear: Linear, dtype: np.dtype, coarsening: str = "galerkin") -> Multigrid:
    """The multigrid V-cycle of a matrix-free stencil (built once per dtype and coarsening;
    :func:`solvers.multigrid.multigrid`)."""
    if linear.kind != "stencil":
        raise InvalidOptionError(
            f"pc='mg' needs a matrix-free stencil: an operators.GridProblem of kind "
            f"{' or '.join(map(repr, stencils.STENCILS))} (not matrix_free=False); this A is "
            f"a {linear.kind} matrix. Use pc='jacobi', or pc='amg' on backend='scipy'"
        )
    key = ("mg", dtype, coarsening)
    if key not in linear.memo:
        linear.memo[key] = _multigrid(linear.operator(dtype), coarsening=coarsening)
    return linear.memo[key]


_multigrid = jax.jit(multigrid, static_argnames=("coarsening",))


@dataclass
class JaxState:
    """What the JAX backend keeps in a :class:`solvers.Solver`: the last conversion."""

    source: Any = None
    key: tuple | None = None
    linear: Linear | None = None


def is_jax(obj: Any) -> bool:
    return isinstance(obj, jax.Array | BCOO)


def linear_of(state: JaxState, A: Any, matrix_free: bool | None) -> Linear:
    """The :class:`Linear` for ``A``, reused from ``state`` when ``A`` is unchanged."""
    if matrix_free not in (None, True, False):
        raise InvalidOptionError(f"matrix_free must be True, False or None, not {matrix_free!r}")
    key, make = _recipe(A, matrix_free)
    if state.linear is not None and state.source is A and state.key == key:
        return state.linear
    state.source, state.key, state.linear = A, key, make()
    return state.linear


def _recipe(A: Any, matrix_free: bool | None) -> tuple[tuple, Callable[[], Linear]]:
    """``(key, make)``: a key that changes with ``A``'s values and a builder of its Linear."""
    if matrix_free is not None and not is_problem(A):
        raise InvalidOptionError(
            f"matrix_free={matrix_free} needs an operators.GridProblem (kinds "
            f"{', '.join(map(repr, stencils.STENCILS))}), not {type(A).__name__}"
        )
    if is_problem(A):
        return _problem_recipe(A, matrix_free)
    if isinstance(A, BCOO):
        return ("bcoo",), partial(_device_linear, A, "bcoo")
    if isinstance(A, jax.Array):
        return ("dense",), partial(_device_linear, A, "dense")
    if isinstance(A, spla.LinearOperator):
        raise InvalidSystemError(
            "backend='jax' needs a matrix (jax array, BCOO, SciPy sparse, NumPy) or an "
            "operators.Problem; a SciPy LinearOperator runs on the host: use backend='scipy'"
        )
    return _host_recipe(A)


def _problem_recipe(problem: Any, matrix_free: bool | None) -> tuple[tuple,
                                                                       Callable[[], Linear]]:
    has_stencil = is_grid_problem(problem) and problem.kind in stencils.STENCILS
    if matrix_free and not has_stencil:
        raise InvalidOptionError(
            f"matrix_free=True: no stencil for problem kind {problem.kind!r}; kinds with one: "
            f"{', '.join(map(repr, stencils.STENCILS))}. Use matrix_free=False (BCOO of p.A)"
        )
    tags = {"symmetric": problem.symmetric, "positive_definite": problem.positive_definite}
    if matrix_free is False or not has_stencil:
        key, make = _host_recipe(problem.A)
        return key, lambda: _tagged(make(), **tags)
    coefficient = problem.coefficient
    # numpy declares ndarray.__buffer__ (the Buffer protocol) only for Python >= 3.12
    checksum = None if coefficient is None else zlib.crc32(
        np.ascontiguousarray(coefficient))  # type: ignore[arg-type]
    key = ("stencil", problem.kind, problem.shape, problem.spacing, checksum)
    return key, lambda: Linear(partial(stencils.stencil, problem), problem.n,
                               np.dtype(np.float64), "stencil", lambda: problem.A, **tags)


def _tagged(linear: Linear, symmetric: bool | None, positive_definite: bool | None) -> Linear:
    linear.symmetric, linear.positive_definite = symmetric, positive_definite
    return linear


def _host_recipe(A: Any) -> tuple[tuple, Callable[[], Linear]]:
    """Validate a host matrix (as every backend does) and key it by its values."""
    op, M = as_operator(A)
    if M is None:
        raise InvalidSystemError(
            f"backend='jax' needs a matrix (SciPy sparse, NumPy, jax array or BCOO) or a grid "
            f"Problem, not a matrix-free {type(op).__name__}; use backend='scipy'")
    n = check_square(M.shape)
    check_finite(M.data)
    if sp.issparse(A):
        build, kind = partial(_to_bcoo, M), "bcoo"
    else:
        build, kind = partial(_to_dense, np.asarray(A)), "dense"
    key = ("host", kind, matrix_fingerprint(M))
    return key, lambda: Linear(build, n, M.dtype, kind, lambda: M)


def _to_bcoo(M: sp.csr_matrix, dtype: np.dtype) -> MatrixOperator:
    return MatrixOperator(scipy_to_bcoo(M, dtype))


def _to_dense(A: np.ndarray, dtype: np.dtype) -> MatrixOperator:
    return MatrixOperator(jnp.asarray(A.astype(dtype)))


def _device_linear(A: Any, kind: str) -> Linear:
    """Validate a jax matrix on its device (as every backend validates its input)."""
    if isinstance(A, BCOO) and (A.n_batch or A.n_dense):
        raise InvalidSystemError(
            f"A must be a 2-D BCOO without batch or dense dimensions, got n_batch={A.n_batch}, "
            f"n_dense={A.n_dense}"
        )
    if A.ndim != 2:
        raise InvalidSystemError(f"A must be 2-D (a matrix), got shape {A.shape}")
    if A.dtype.kind not in "biufc":
        raise InvalidSystemError(f"A must hold numbers, not dtype {A.dtype}")
    n = check_square(A.shape)
    check_finite(A.data if kind == "bcoo" else A, "A", jnp)
    host = partial(bcoo_to_scipy, A) if kind == "bcoo" else lambda: sp.csr_matrix(np.asarray(A))
    return Linear(lambda dtype: MatrixOperator(A.astype(dtype)), n, np.dtype(A.dtype), kind,
                  host, on_device=True)
