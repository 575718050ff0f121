"""Compiled JAX solves, cached across solvers.

One program per (method, static options, operator/preconditioner pytree structure, shapes,
dtypes, static leaves such as a plain-function pc, device, x64 mode), compiled ahead of time
on first use. Arrays inside pytree operators and preconditioners (an equinox module) are
runtime arguments, as are ``rtol``, ``atol`` and ``maxiter``: new values reuse the program.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from solvers import registry
from solvers.errors import InvalidOptionError

#: Compiled programs kept (the oldest is dropped first).
CACHE_SIZE = 64
_PROGRAMS: dict[tuple, Any] = {}
_COMPILES = 0


def compile_count() -> int:
    """Number of programs traced so far: the JAX backend's (all solvers) and those of
    :func:`solvers.linear_solve` (one per structure, shapes and static options)."""
    return _COMPILES


def traced() -> None:
    """Count one trace of a solve program (called from inside the traced function)."""
    global _COMPILES
    _COMPILES += 1


class Args(NamedTuple):
    """The arguments of a compiled solve."""

    A: Any
    M: Any
    b: jax.Array
    x0: jax.Array
    rtol: jax.Array
    atol: jax.Array
    maxiter: jax.Array


def tolerances(rtol: float, atol: float, maxiter: int, dtype: Any) -> tuple:
    """``rtol``, ``atol`` (real dtype) and ``maxiter`` as the runtime arguments they are."""
    real = jnp.zeros((), dtype).real.dtype
    return jnp.asarray(rtol, real), jnp.asarray(atol, real), jnp.asarray(maxiter, jnp.int32)


def program(method: str, options: dict, args: Args,
            device: jax.Device) -> tuple[Callable, Any, float]:
    """The compiled solve for these arguments' structure, its runtime arguments, and the
    seconds spent compiling it now (0.0 when it came from the cache)."""
    dynamic, static = eqx.partition(args, eqx.is_array)
    leaves, treedef = jax.tree_util.tree_flatten(dynamic)
    static_leaves, static_def = jax.tree_util.tree_flatten(static)
    key = (method, tuple(options.items()), treedef,
           tuple((x.shape, x.dtype, getattr(x, "weak_type", False)) for x in leaves),
           static_def, tuple(static_leaves), str(device),
           jax.config.jax_enable_x64)  # type: ignore[attr-defined]  # flags are set at run time
    try:
        compiled = _PROGRAMS.get(key)
    except TypeError:
        raise InvalidOptionError(
            "pc must be a hashable callable or a pytree of arrays (e.g. an equinox Module)"
        ) from None
    if compiled is not None:
        return compiled, dynamic, 0.0
    if args.M is not None:
        _check_preconditioner(args.M, args.b)
    start = time.perf_counter()
    compiled = jax.jit(partial(_run, method, options, static)).lower(dynamic).compile()
    if len(_PROGRAMS) >= CACHE_SIZE:
        _PROGRAMS.pop(next(iter(_PROGRAMS)))
    _PROGRAMS[key] = compiled
    return compiled, dynamic, time.perf_counter() - start


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
    """The traced body: the registered Krylov kernel of ``method``."""
    traced()
    A, M, b, x0, rtol, atol, maxiter = eqx.combine(dynamic, static)
    spec = registry.lookup(method, "method").jax
    assert spec is not None and spec.kernel is not None  # only kernels compile (not delegates)
    kernel = registry.resolve(spec.kernel)
    return kernel(A, b, x0, M, rtol, atol, maxiter, **options)
