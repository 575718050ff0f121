"""The JAX backend: jitted Krylov methods (:mod:`solvers.jaxkrylov`) on a GPU when JAX sees
one, on the CPU otherwise.

``solve(A, b, backend="jax", method=..., pc=...)`` with ``method`` one of ``"cg"``,
``"fcg"``, ``"gmres"``, ``"bicgstab"`` (or ``"auto"``: CG with Jacobi when ``A`` is known or
found to be symmetric with a positive diagonal, GMRES otherwise) and ``pc`` one of ``"none"``,
``"jacobi"`` or a jittable callable ``r -> z`` (a learned preconditioner plugs in here; a
nonlinear one needs ``method="fcg"``).

Operators
    A jax dense array; a ``jax.experimental.sparse.BCOO``; a SciPy sparse matrix (converted
    to BCOO) or a NumPy 2-D array (converted to a dense jax array); an
    :class:`operators.Problem`. A ``Problem`` of kind ``"poisson"`` or ``"diffusion"`` is
    applied **matrix-free** by default, by its stencil (:mod:`operators.stencils`: O(n)
    memory, no assembled matrix on the device); ``matrix_free=False`` uses the BCOO of
    ``p.A`` instead, ``matrix_free=True`` insists on the stencil (an error for other kinds,
    which always use BCOO). Conversions happen once: the :class:`~solvers.Solver` keeps the
    last one in ``solver.state``, keyed by the input object and, for mutable host arrays,
    a checksum of its values, so solving again with the same matrix does not convert again.
Precision
    The system is solved in the common dtype of ``A`` and ``b`` *as JAX holds it*. JAX's
    default (``jax_enable_x64`` off) is 32-bit: float64 input is solved in float32 and ``x``
    comes back as float32. Turn 64-bit on with ``jax.config.update("jax_enable_x64", True)``
    (before creating arrays) to solve in float64. Other dtypes are treated as on every backend
    (:func:`solvers.system.result_dtype`).
Compilation
    One program per (method, static options, preconditioner, operator structure, shape, dtype,
    device), compiled on first use and kept in a module-level cache
    shared by all solvers; ``rtol``, ``atol`` and ``maxiter`` are runtime arguments, so
    changing them does not recompile. :func:`compile_count` counts compilations. Arrays inside
    a pytree preconditioner (an equinox module) are runtime arguments too; any other callable
    is part of the cache key, so a new Python function compiles anew.
Results
    ``x`` is a jax array when ``b`` is one, a NumPy array otherwise; ``residuals`` come from a
    fixed-size buffer (:data:`solvers.jaxkrylov.loop.HISTORY` entries per run); ``timings["setup"]``
    includes conversions and compilation (also ``timings["compile"]`` when it happened),
    ``timings["solve"]`` the run until the result is ready; ``info["device"]`` names the
    device. The stopping rule and final true-residual check are those of every backend; as
    on the host backend, a run whose recurrence residual passed but whose true residual does
    not is restarted from its ``x`` with a tighter tolerance (same compiled program). No
    per-iteration ``callback`` (the loop runs on the device).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from jax.experimental.sparse import BCOO

from operators import stencils
from operators.convert import bcoo_to_scipy, scipy_to_bcoo
from solvers import jaxkrylov
from solvers.backends import scipy as scipy_backend
from solvers.backends.scipy import REFINEMENT_RESTARTS
from solvers.errors import InvalidOptionError, InvalidSystemError
from solvers.jaxkrylov.loop import CONVERGED, reason
from solvers.result import SolveResult, make_result
from solvers.stopping import StoppingRule
from solvers.system import (
    as_operator,
    as_vector,
    check_finite,
    check_square,
    is_problem,
    matrix_fingerprint,
    numerically_hermitian,
    require_symmetric,
    result_dtype,
)

#: Preconditioner names this backend runs (besides a callable).
PCS = ("none", "jacobi")
#: Compiled programs kept (the oldest is dropped first).
CACHE_SIZE = 64
_PROGRAMS: dict[tuple, Any] = {}
_COMPILES = 0


def compile_count() -> int:
    """Number of programs this backend has traced and compiled so far (all solvers)."""
    return _COMPILES


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

    def __call__(self, r: jax.Array) -> jax.Array:
        return self.inverse * r


@dataclass
class Linear:
    """A validated operator: builds its device form per dtype once, learns facts lazily."""

    build: Callable[[np.dtype], Any]
    n: int
    dtype: np.dtype
    kind: str
    host: Callable[[], sp.csr_matrix]
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
        if self.symmetric is None:
            M = self.host()
            self.symmetric = numerically_hermitian(M, spla.aslinearoperator(M))
        return self.symmetric

    def likely_spd(self, dtype: np.dtype) -> bool:
        """The SPD tag if known, else symmetric with a positive real diagonal
        (``method="auto"``)."""
        if self.positive_definite is not None:
            return self.positive_definite
        diagonal = self.operator(dtype).diagonal()
        return self.is_symmetric() and bool(jnp.all(jnp.real(diagonal) > 0))

    def jacobi(self, dtype: np.dtype) -> Jacobi:
        """The Jacobi preconditioner (built once per dtype)."""
        key = ("jacobi", dtype)
        if key not in self.memo:
            diagonal = self.operator(dtype).diagonal()
            zeros = int(jnp.sum(diagonal == 0))
            if zeros:
                raise InvalidSystemError(
                    f"pc='jacobi' needs a nonzero diagonal; A has {zeros} zeros on it. "
                    f"Use pc='none' (or backend='scipy' with pc='ilu' or pc='amg')"
                )
            self.memo[key] = Jacobi(1 / diagonal)
        return self.memo[key]


class Args(NamedTuple):
    """The arguments of a compiled solve."""

    A: Any
    M: Any
    b: jax.Array
    x0: jax.Array
    rtol: jax.Array
    atol: jax.Array
    maxiter: jax.Array


def accepts(A: Any, b: Any) -> bool:
    """Whether the inputs are jax arrays (what ``backend="auto"`` routes here)."""
    return any(_is_jax(obj) for obj in (A, b))


def solve(solver: Any, A: Any, b: Any, x0: Any = None,
          callback: Callable[[Any], Any] | None = None) -> SolveResult:
    """Solve on the default jax device with ``solver``'s method, pc, tolerances and state."""
    start = time.perf_counter()
    if callback is not None:
        raise InvalidOptionError(
            "callback is not supported on backend='jax' (the iteration runs on the device as "
            "one compiled loop); read res.residuals afterwards, or use backend='scipy'"
        )
    if _runs_itself(solver):
        return _delegate(solver, A, b, x0)
    linear = _linear(solver, A)
    device = _device(b)
    bvec = _vector(b, linear.n, "b")
    dtype = jax.dtypes.canonicalize_dtype(result_dtype(linear.dtype, bvec.dtype))
    method, options, pc_name = _method(solver, linear, dtype)
    x0vec = jnp.zeros(linear.n, dtype) if x0 is None else _vector(x0, linear.n, "x0")
    maxiter = min(solver.stop.iterations(linear.n), np.iinfo(np.int32).max)
    args = _on(device, Args(
        linear.operator(dtype), _preconditioner(solver, pc_name, linear, dtype),
        jnp.asarray(bvec.astype(dtype)), x0vec.astype(dtype),
        *_tolerances(solver.stop.rtol, solver.stop.atol, maxiter, dtype)))
    program, dynamic, compile_seconds = _program(method, options, args, device)
    setup_done = time.perf_counter()
    x, k, residuals, code, rnorm, bnorm = _refined(program, dynamic, solver.stop, maxiter)
    end = time.perf_counter()
    timings = {"setup": setup_done - start, "solve": end - setup_done, "total": end - start}
    if compile_seconds:
        timings["compile"] = compile_seconds
    info = {"backend": "jax", "method": method, "pc": pc_name, "device": str(device),
            "platform": device.platform, "dtype": str(dtype), "operator": linear.kind,
            "residuals_truncated": len(residuals) < k + 1, **options}
    return make_result(x if _is_jax(b) else np.asarray(x), rnorm, bnorm, solver.stop,
                       reason(code), k, residuals, timings, info)


def _runs_itself(solver: Any) -> bool:
    """Whether a registered component (e.g. DCDM) is asked for that runs its own JAX loop."""
    custom_method = solver.method not in ("auto", *jaxkrylov.METHODS)
    custom_pc = isinstance(solver.pc, str) and solver.pc not in PCS
    return custom_method or custom_pc


def _delegate(solver: Any, A: Any, b: Any, x0: Any) -> SolveResult:
    """Run a learned component that registers ``"jax"`` among its backends (DCDM): it takes
    host arrays and runs its own compiled JAX loop on the default device, through the host
    pipeline (validation, setup caching, hooks, verdict); ``x`` comes back as a jax array on
    the device of ``b`` when ``b`` is one."""
    if isinstance(A, BCOO):
        A = bcoo_to_scipy(A)
    elif _is_jax(A):
        A = np.asarray(A)
    result = scipy_backend.solve(solver, A, np.asarray(b),
                                 None if x0 is None else np.asarray(x0))
    if _is_jax(b):
        result.x = jax.device_put(result.x, _device(b))
    result.info.update(backend="jax", device=str(jax.devices()[0]))
    return result


def _tolerances(rtol: float, atol: float, maxiter: int, dtype: np.dtype) -> tuple:
    """``rtol``, ``atol`` (real dtype) and ``maxiter`` as the runtime arguments they are."""
    real = jnp.zeros((), dtype).real.dtype
    return jnp.asarray(rtol, real), jnp.asarray(atol, real), jnp.asarray(maxiter, jnp.int32)


def _refined(program: Callable, dynamic: Args, stop: StoppingRule, maxiter: int) -> tuple:
    """Run the program; if it claims convergence but the true residual fails the test (the
    recurrence drifted), restart from its ``x`` with a tighter tolerance, as the host
    backend does (at most ``REFINEMENT_RESTARTS`` times, within ``maxiter`` in all)."""
    x, k, residuals, code, rnorm, bnorm = _execute(program, dynamic)
    for attempt in range(1, REFINEMENT_RESTARTS + 1):
        if code != CONVERGED or k == 0 or k >= maxiter or rnorm <= stop.threshold(bnorm):
            break
        scale = 0.1**attempt
        rtol, atol, budget = _on(next(iter(x.devices())), _tolerances(
            stop.rtol * scale, stop.atol * scale, maxiter - k, x.dtype))
        again = dynamic._replace(x0=x, rtol=rtol, atol=atol, maxiter=budget)
        x, more, history, code, rnorm, _ = _execute(program, again)
        k, residuals = k + more, np.concatenate([residuals, history[1:]])
    return x, k, residuals, code, rnorm, bnorm


def _execute(program: Callable, dynamic: Args) -> tuple:
    """One run until the result is ready: ``x`` (on the device) and host scalars/history."""
    x, k, residuals, code, rnorm, bnorm = jax.block_until_ready(program(dynamic))
    k = int(k)
    recorded = np.asarray(residuals)[: min(k, residuals.shape[0] - 1) + 1]
    return x, k, recorded, int(code), float(rnorm), float(bnorm)


def _is_jax(obj: Any) -> bool:
    return isinstance(obj, jax.Array | BCOO)


def _device(b: Any) -> jax.Device:
    """The device of a jax ``b`` (when on one device), else JAX's default (GPU if any)."""
    devices = b.devices() if isinstance(b, jax.Array) else ()
    return next(iter(devices)) if len(devices) == 1 else jax.devices()[0]


def _on(device: jax.Device, tree: Any) -> Any:
    """``tree`` with its arrays on ``device`` (other leaves, e.g. a pc function, as they are)."""
    return jax.tree_util.tree_map(
        lambda leaf: jax.device_put(leaf, device) if eqx.is_array(leaf) else leaf, tree)


def _vector(v: Any, n: int, name: str) -> Any:
    """``b`` or ``x0`` validated where it lives: on its device if a jax array, else on the host."""
    return as_vector(v, n, name, jnp if _is_jax(v) else np)


# --- operators: conversion once per input object --------------------------------------------


def _linear(solver: Any, A: Any) -> Linear:
    """The :class:`Linear` for ``A``, reused from ``solver.state`` when ``A`` is unchanged."""
    matrix_free = solver.params.get("matrix_free")
    if matrix_free not in (None, True, False):
        raise InvalidOptionError(f"matrix_free must be True, False or None, not {matrix_free!r}")
    key, make = _recipe(A, matrix_free)
    cached = solver.state.get("jax_linear")
    if cached is not None and cached[0] is A and cached[1] == key:
        return cached[2]
    linear = make()
    solver.state["jax_linear"] = (A, key, linear)
    return linear


def _recipe(A: Any, matrix_free: bool | None) -> tuple[tuple, Callable[[], Linear]]:
    """``(key, make)``: a key that changes with ``A``'s values and a builder of its Linear."""
    if matrix_free is not None and not is_problem(A):
        raise InvalidOptionError(
            f"matrix_free={matrix_free} needs an operators.Problem (kinds "
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
    has_stencil = problem.kind in stencils.STENCILS
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
    checksum = None if coefficient is None else zlib.crc32(np.ascontiguousarray(coefficient))
    key = ("stencil", problem.kind, problem.shape, problem.spacing, checksum)
    return key, lambda: Linear(partial(stencils.stencil, problem), problem.n,
                               np.dtype(np.float64), "stencil", lambda: problem.A, **tags)


def _tagged(linear: Linear, symmetric: bool, positive_definite: bool) -> Linear:
    linear.symmetric, linear.positive_definite = symmetric, positive_definite
    return linear


def _host_recipe(A: Any) -> tuple[tuple, Callable[[], Linear]]:
    """Validate a host matrix (as every backend does) and key it by its values."""
    op, M = as_operator(A)
    n = check_square(op.shape)
    check_finite(M.data)
    if sp.issparse(A):
        build = partial(_to_bcoo, M)
        kind = "bcoo"
    else:
        build = partial(_to_dense, np.asarray(A))
        kind = "dense"
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
    return Linear(lambda dtype: MatrixOperator(A.astype(dtype)), n, A.dtype, kind, host)


# --- method and preconditioner ---------------------------------------------------------------


def _method(solver: Any, linear: Linear, dtype: np.dtype) -> tuple[str, dict, str]:
    """``(method, static options, pc name)``, checked as on every backend."""
    name = solver.method
    if name == "auto":
        name = "cg" if linear.likely_spd(dtype) else "gmres"
    if name not in jaxkrylov.METHODS:
        raise InvalidOptionError(
            f"method {name!r} is not available on backend='jax'; supported: "
            f"{', '.join(map(repr, jaxkrylov.METHODS))} (or use backend='scipy')"
        )
    host = solver.component("method", name)  # validates restart/truncation as on the host
    if getattr(host, "requires_symmetric", False):
        require_symmetric(linear.is_symmetric(), name)
    options = {option: getattr(host, option) for option in jaxkrylov.OPTIONS[name]}
    if callable(solver.pc):
        pc_name = "custom"
    elif solver.pc is None and solver.method == "auto":
        pc_name = "jacobi" if name == "cg" else "none"
    else:
        pc_name = solver.pc or "none"
    if pc_name not in (*PCS, "custom"):
        raise InvalidOptionError(
            f"pc {pc_name!r} is not available on backend='jax'; supported: "
            f"{', '.join(map(repr, PCS))} or a jittable callable r -> z "
            f"(or use backend='scipy')"
        )
    return name, options, pc_name


def _preconditioner(solver: Any, pc_name: str, linear: Linear, dtype: np.dtype) -> Any:
    if pc_name == "custom":
        return solver.pc
    return linear.jacobi(dtype) if pc_name == "jacobi" else None


# --- compilation -----------------------------------------------------------------------------


def _program(method: str, options: dict, args: Args,
             device: jax.Device) -> tuple[Callable, Any, float]:
    """The compiled solve for these arguments' structure, its runtime arguments, and the
    seconds spent compiling it now (0.0 when it came from the cache)."""
    dynamic, static = eqx.partition(args, eqx.is_array)
    leaves, treedef = jax.tree_util.tree_flatten(dynamic)
    static_leaves, static_def = jax.tree_util.tree_flatten(static)
    key = (method, tuple(options.items()), treedef,
           tuple((x.shape, x.dtype, getattr(x, "weak_type", False)) for x in leaves),
           static_def, tuple(static_leaves), str(device), jax.config.jax_enable_x64)
    try:
        program = _PROGRAMS.get(key)
    except TypeError:
        raise InvalidOptionError(
            "pc must be a hashable callable or a pytree of arrays (e.g. an equinox Module)"
        ) from None
    if program is not None:
        return program, dynamic, 0.0
    if args.M is not None:
        _check_preconditioner(args.M, args.b)
    start = time.perf_counter()
    program = jax.jit(partial(_run, method, options, static)).lower(dynamic).compile()
    if len(_PROGRAMS) >= CACHE_SIZE:
        _PROGRAMS.pop(next(iter(_PROGRAMS)))
    _PROGRAMS[key] = program
    return program, dynamic, time.perf_counter() - start


def _check_preconditioner(M: Any, b: jax.Array) -> None:
    """A user preconditioner must trace under jit and map a vector to one of the same shape."""
    try:
        out = jax.eval_shape(M, jax.ShapeDtypeStruct(b.shape, b.dtype))
    except Exception as exc:
        raise InvalidOptionError(
            f"on backend='jax' the preconditioner must be a jittable function r -> z of jax "
            f"arrays; tracing it failed with {type(exc).__name__}: {exc}"
        ) from None
    if getattr(out, "shape", None) != b.shape:
        raise InvalidOptionError(
            f"the preconditioner must return a vector of shape {b.shape} like its input, "
            f"not {getattr(out, 'shape', type(out).__name__)}"
        )


def _run(method: str, options: dict, static: Args, dynamic: Args) -> tuple:
    """The traced body: the Krylov loop, then the true residual norm and ``||b||``."""
    global _COMPILES
    _COMPILES += 1
    A, M, b, x0, rtol, atol, maxiter = eqx.combine(dynamic, static)
    x, k, residuals, code = jaxkrylov.METHODS[method](
        A, b, x0, M, rtol, atol, maxiter, **options)
    return x, k, residuals, code, jnp.linalg.norm(b - A(x)), jnp.linalg.norm(b)
