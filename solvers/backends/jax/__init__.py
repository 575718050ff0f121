"""The JAX backend: jitted Krylov methods (:mod:`solvers.jaxkrylov`) on a GPU when JAX sees
one, on the CPU otherwise.

``solve(A, b, backend="jax", method=..., pc=...)``: the methods whose registry entry has a
JAX kernel (``cg``, ``fcg``, ``gmres``, ``bicgstab``; ``auto``: CG with Jacobi when ``A`` is
known or likely SPD, GMRES otherwise) and the preconditioners ``none``, ``jacobi`` or a
jittable callable ``r -> z`` (a nonlinear one needs ``method="fcg"``). Learned components
that run their own compiled JAX loop (DCDM) declare ``JaxSpec(delegate=True)``: they run
through the host pipeline on JAX's default device, and ``info["delegated"]`` says so.

Operators: see :mod:`solvers.backends.jax.operators` (matrix-free stencils for grid
Problems, BCOO, dense; converted once per Solver). Compilation: see
:mod:`solvers.backends.jax.compile` (``rtol``, ``atol``, ``maxiter`` are runtime arguments).

Precision. NumPy/SciPy float64 (complex128) input is solved in float64 (complex128) whatever
JAX's global ``jax_enable_x64`` says, by running conversion, compilation and the loop under
``jax.enable_x64(True)`` as a context; ``x`` comes back as NumPy float64. Jax arrays are
solved in their own precision: float32 jax arrays stay float32 (an operator held in higher
precision is used in ``b``'s). Whatever the working precision, the verdict is computed in
float64 on the caller's ``A`` and ``b``: a float32 solve asked for ``rtol`` below what
float32 can reach ends ``converged=False`` with reason ``precision``.

Results: ``x`` is a jax array when ``b`` is one (on ``b``'s device), NumPy otherwise;
``residuals`` come from a fixed-size buffer (:data:`solvers.jaxkrylov.loop.HISTORY`);
``timings["setup"]`` includes conversions and compilation (also ``timings["compile"]``).
No per-iteration ``callback`` (the loop runs on the device as one program).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental.sparse import BCOO

from operators.convert import bcoo_to_scipy
from solvers import auto
from solvers.backends import Prepared
from solvers.backends import host as host_backend
from solvers.backends.common import residual64
from solvers.backends.jax.cache import enable as enable_compilation_cache
from solvers.backends.jax.compile import Args, compile_count, program, tolerances
from solvers.backends.jax.operators import JaxState, Linear, is_jax, linear_of
from solvers.errors import InvalidOptionError
from solvers.jaxkrylov.loop import kept, reason
from solvers.method import Callback, Iterate
from solvers.registry import Entry
from solvers.request import CUSTOM, Request, Store, check_symmetry
from solvers.system import as_vector, result_dtype

__all__ = ["compile_count", "prepare"]

enable_compilation_cache()  # JAX's persistent compilation cache, per user (see cache.py)


def prepare(request: Request, store: Store, A: Any, b: Any, x0: Any,
            callback: Callback | None, choice: auto.Choice | None) -> Prepared:
    """Convert (once), choose, compile (once per structure); ``run`` executes the program."""
    if _delegated(request):
        return _delegate(request, store, A, b, x0, callback, choice)
    if callback is not None:
        raise InvalidOptionError(
            "callback is not supported on backend='jax' (the iteration runs on the device as "
            "one compiled loop); read res.residuals afterwards, or use backend='scipy'"
        )
    state = store.backend_state("jax", JaxState)
    linear = linear_of(state, A, request.params.get("matrix_free"))
    bvec = _vector(b, linear.n, "b")
    dtype = _working_dtype(linear, bvec)
    with _precision(dtype):
        device = _device(b)
        choices = _plan(linear, dtype) if request.auto and choice is None else []
        method_entry, pc_entry = request.names(choice or (choices[0] if choices else None))
        method, pc_name = method_entry.name, CUSTOM if pc_entry is None else pc_entry.name
        options = _options(request, store, method_entry, linear)
        x0vec = None if x0 is None else jnp.asarray(_vector(x0, linear.n, "x0"), dtype)
        pc = (request.user_pc if pc_entry is None
              else _preconditioner(pc_entry, linear, dtype, request.component_params(pc_entry)))
        args = _on(device, Args(linear.operator(dtype), pc,
                                jnp.asarray(bvec, dtype), jnp.zeros(linear.n, dtype),
                                *tolerances(request.stop.rtol, request.stop.atol, 1, dtype)))
        compiled, dynamic, seconds = program(method, options, args, device)
    info = {"backend": "jax", "method": method, "pc": pc_name, "device": str(device),
            "platform": device.platform, "operator": linear.kind, **options}
    return Prepared(_runner(compiled, dynamic, dtype, linear.n), _residual(A, linear, bvec),
                    _norm64(bvec), _output(b), linear.n, np.dtype(dtype), method, pc_name,
                    x0vec, info, {"compile": seconds} if seconds else {}, choices=choices)


def _runner(compiled: Callable, dynamic: Args, dtype: np.dtype, n: int) -> Callable:
    """``run(x0, stop, state)``: the compiled program with this start and these tolerances."""

    def run(x0: Any, stop: Any, state: Any) -> Iterate:
        maxiter = min(stop.iterations(n), np.iinfo(np.int32).max)
        with _precision(dtype):
            device = next(iter(dynamic.b.devices()))
            start = dynamic.x0 if x0 is None else jax.device_put(x0, device)
            limits = jax.device_put(tolerances(stop.rtol, stop.atol, maxiter, dtype), device)
            x, k, residuals, code = jax.block_until_ready(
                compiled(dynamic._replace(x0=start, rtol=limits[0], atol=limits[1],
                                          maxiter=limits[2])))
        k = int(k)
        recorded = [float(v) for v in kept(residuals, k)]
        info = {"residuals_truncated": len(recorded) < k + 1}
        return Iterate(x, k, recorded, reason(int(code)), info, state)

    return run


def _delegated(request: Request) -> bool:
    """Whether a component that declares ``JaxSpec(delegate=True)`` is asked for."""
    return any(entry is not None and entry.jax is not None and entry.jax.delegate
               for entry in (request.method, request.pc))


def _delegate(request: Request, store: Store, A: Any, b: Any, x0: Any,
              callback: Callback | None, choice: auto.Choice | None) -> Prepared:
    """Run a declared delegate (e.g. DCDM, whose own loop is compiled JAX on the default
    device) through the host pipeline; ``x`` comes back on ``b``'s device if ``b`` is jax."""
    host_A = bcoo_to_scipy(A) if isinstance(A, BCOO) else (np.asarray(A) if is_jax(A) else A)
    host_x0 = None if x0 is None else np.asarray(x0)
    prepared = host_backend.prepare(request, store, host_A, np.asarray(b), host_x0, callback,
                                    choice)
    if is_jax(b):
        device = _device(b)
        prepared.output = lambda x: jax.device_put(x, device)
    prepared.info.update(backend="jax", delegated=True, device=str(jax.devices()[0]))
    return prepared


def _working_dtype(linear: Linear, b: Any) -> np.dtype:
    """``b``'s precision for jax ``b`` (with a jax ``A``'s); NumPy's promotion otherwise."""
    if is_jax(b):
        return result_dtype(np.dtype(b.dtype), *([linear.dtype] if linear.on_device else []))
    return result_dtype(linear.dtype, np.dtype(b.dtype))


def _precision(dtype: np.dtype) -> Any:
    """``jax.enable_x64(True)`` for a 64-bit working dtype, else nothing."""
    wide = np.dtype(dtype) in (np.float64, np.complex128)
    return jax.enable_x64(True) if wide else contextlib.nullcontext()


def _plan(linear: Linear, dtype: np.dtype) -> list[auto.Choice]:
    facts = auto.Facts(linear.n, True, linear.is_symmetric(), linear.positive_diagonal(dtype),
                       linear.positive_definite, stencil=linear.kind == "stencil")
    return auto.plan(facts, "jax")


def _options(request: Request, store: Store, entry: Entry, linear: Linear) -> dict[str, Any]:
    """The kernel's static options, read from the host component (built with the validated
    parameters)."""
    if entry.jax is None:
        raise InvalidOptionError(
            f"method {entry.name!r} does not run on backend='jax'; it runs on "
            f"{', '.join(entry.backends)}")
    check_symmetry([entry], linear.is_symmetric)
    host = store.component(entry, request)
    return {option: getattr(host, option) for option in entry.jax.options}


def _preconditioner(entry: Entry, linear: Linear, dtype: np.dtype,
                    params: dict[str, Any]) -> Any:
    """The pc's JAX kernel applied to this operator with its declared parameters (validated
    by the request), ``None`` for ``pc="none"``. Only pcs that run on JAX get here: a named
    one is refused before (``api._check_backend``), and ``auto`` plans with them only."""
    assert entry.jax is not None, f"pc {entry.name!r} has no JAX spec"
    kernel = entry.jax.resolve()
    return None if kernel is None else kernel(linear, dtype, **params)


def _residual(A: Any, linear: Linear, b: Any) -> Callable[[Any], float]:
    """``x -> ||b - A x||`` in float64 on the caller's system: on the host for host input
    (the caller's matrix, or a Problem's ``A``), on the device for jax matrices."""
    if not linear.on_device:
        return residual64(linear.host(), np.asarray(b))
    matrix = A

    def on_device(x: Any) -> float:
        with jax.enable_x64(True):
            wide = jnp.result_type(matrix.dtype, jnp.float64)
            r = jnp.asarray(b, wide) - matrix.astype(wide) @ jnp.asarray(x, wide)
            return float(jnp.linalg.norm(r))

    return on_device


def _norm64(b: Any) -> float:
    with jax.enable_x64(True):
        return float(jnp.linalg.norm(jnp.asarray(b, jnp.result_type(b.dtype, jnp.float64))))


def _output(b: Any) -> Callable[[Any], Any]:
    return (lambda x: x) if is_jax(b) else np.asarray


def _device(b: Any) -> jax.Device:
    """The device of a jax ``b`` (when on one device), else JAX's default (GPU if any)."""
    devices = b.devices() if isinstance(b, jax.Array) else ()
    return next(iter(devices)) if len(devices) == 1 else jax.devices()[0]


def _on(device: jax.Device, tree: Any) -> Any:
    """``tree`` with its arrays on ``device`` (other leaves, e.g. a pc function, as they are)."""
    return jax.tree_util.tree_map(
        lambda leaf: jax.device_put(leaf, device) if isinstance(leaf, jax.Array) else leaf, tree)


def _vector(v: Any, n: int, name: str) -> Any:
    """``b`` or ``x0`` validated where it lives: on its device if a jax array, else on the host."""
    return as_vector(v, n, name, jnp if is_jax(v) else np)

