"""``method="dcdm"``: the deep conjugate direction method behind ``solvers.solve``.

>>> import operators
>>> from solvers import solve
>>> p = operators.poisson((32, 32))
>>> res = solve(p, p.b, method="dcdm", rtol=1e-6)
>>> res.converged, res.iterations < 40
(True, True)

The iteration (:mod:`sciml.dcdm.iteration`) runs in float64 on the JAX default device (a GPU
when JAX sees one) as one compiled ``lax.while_loop``, or on CPUs as compiled steps driven
from Python (faster there, see ``loop``); the network runs in float32. ``setup``
loads the network, reads the stencil off ``A`` and compiles the loop for the grid, so a
:class:`solvers.Solver` reuses all of it while the matrix is unchanged; ``solve`` moves ``b``
in and ``x`` out (NumPy in, NumPy out). Stopping rule: the library's,
``||b - A x|| <= max(rtol ||b||, atol)``, tested on the updated residual, which is replaced by
the true ``b - A x`` every ``replace_every`` iterations; the library re-checks the true
residual on return.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sciml.dcdm import context, iteration
from solvers.errors import InvalidOptionError
from solvers.method import Callback, Iterate
from solvers.reasons import Reason
from solvers.stopping import StoppingRule
from solvers.system import LinearSystem

#: Residual norms kept per solve (the iteration count itself is not capped by this).
HISTORY = 5000

_REASONS = {
    iteration.CONVERGED: Reason.RTOL,
    iteration.MAXITER: Reason.MAXITER,
    iteration.BREAKDOWN: Reason.BREAKDOWN,
    iteration.NONFINITE: Reason.DIVERGED_NAN,
    iteration.RUNNING: Reason.MAXITER,
}


class DCDM:
    """Deep conjugate direction method for SPD grid matrices (Kaneda et al., ICML 2023).

    Parameters
    ----------
    model
        ``"poisson2d"``, ``"poisson3d"``, ``"diffusion2d"`` (shipped) or the path of a
        ``.eqx`` weight file; default: chosen from the problem's kind and dimension.
    truncation
        Number of previous directions each new one is A-orthogonalised against (paper: 2).
    replace_every
        Recompute the true residual ``b - A x`` every this many iterations.
    shape
        Grid shape of the unknowns, needed when ``A`` is a plain matrix (a Problem has it).
    record_directions
        Keep the first this many search directions in ``info["directions"]`` (debugging).
    loop
        ``"device"``: the whole iteration is one compiled ``lax.while_loop``; ``"host"``: a
        Python loop over the compiled network and the compiled update (one device sync per
        iteration); ``"auto"``: host on CPUs, where it is faster, device elsewhere.

    Notes
    -----
    ``info`` of the result holds ``model``, ``grid``, ``conjugacy`` (per iteration,
    ``|d_k^T A d_{k-1}| / (||d_k||_A ||d_{k-1}||_A)``) and, if asked, ``directions``.
    """

    requires_symmetric = True

    def __init__(self, model: str | os.PathLike | None = None, truncation: int = 2,
                 replace_every: int = 10, shape: tuple[int, ...] | None = None,
                 record_directions: int = 0, loop: str = "auto") -> None:
        for name, value, low in (("truncation", truncation, 1),
                                 ("replace_every", replace_every, 1),
                                 ("record_directions", record_directions, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InvalidOptionError(f"{name} must be an int >= {low}, not {value!r}")
        if loop not in ("auto", "device", "host"):
            raise InvalidOptionError(f"loop must be 'auto', 'device' or 'host', not {loop!r}")
        self.model = model
        self.truncation = truncation
        self.replace_every = replace_every
        self.shape = shape
        self.record = record_directions
        self.loop = loop
        self.ctx: context.Context | None = None
        self._ops: dict[str, Any] | None = None
        self._compiled: dict[str, Any] = {}

    def setup(self, system: LinearSystem) -> None:
        """Load the network, read the stencil off ``A`` and compile the iteration."""
        self.ctx = context.build(system, self.model, self.shape, "method='dcdm'")
        self._compiled = {}
        with jax.enable_x64(True):
            self._ops = context.device_operands(self.ctx)
            self._compile(self._mode(None))

    def _mode(self, callback: Callback | None) -> str:
        """``"device"``: one ``lax.while_loop``; ``"host"``: jitted pieces driven from Python.

        On XLA's CPU backend the network runs ~1.6x slower when compiled into the same
        program as the float64 vector updates (0.57 s vs 0.35 s per iteration on 128^3), so
        ``"auto"`` drives the loop from the host on CPUs and keeps it on the device elsewhere.
        A ``callback`` needs the host loop.
        """
        if callback is not None:
            return "host"
        if self.loop != "auto":
            return self.loop
        return "host" if jax.devices()[0].platform == "cpu" else "device"

    def _compile(self, mode: str) -> None:
        if mode in self._compiled:
            return
        ctx, ops, n = self.ctx, self._ops, self.ctx.n
        vector = jax.ShapeDtypeStruct((n,), jnp.float64)
        scalar = jax.ShapeDtypeStruct((), jnp.float64)
        count = jax.ShapeDtypeStruct((), jnp.int64)
        options = {"truncation": self.truncation, "history": HISTORY + 1,
                   "record": self.record}
        if mode == "device":
            def run(ops: dict, b: jax.Array, x0: jax.Array, tol: jax.Array,
                    maxiter: jax.Array) -> iteration.State:
                return iteration.run(context.apply_matrix(ctx, ops),
                                     context.network_direction(ctx, ops), b, x0, tol, maxiter,
                                     replace_every=self.replace_every, **options)

            self._compiled[mode] = jax.jit(run).lower(ops, vector, vector, scalar,
                                                      count).compile()
            return

        def start(ops: dict, b: jax.Array, x0: jax.Array, tol: jax.Array,
                  maxiter: jax.Array) -> iteration.State:
            return iteration.start(context.apply_matrix(ctx, ops), b, x0, tol, maxiter,
                                   **options)

        def direction(ops: dict, r: jax.Array) -> jax.Array:
            return context.network_direction(ctx, ops)(r)

        def advance(ops: dict, b: jax.Array, tol: jax.Array, maxiter: jax.Array,
                    state: iteration.State, z: jax.Array) -> iteration.State:
            return iteration.step(context.apply_matrix(ctx, ops), lambda r: z, b, tol,
                                  maxiter, self.replace_every, state)

        state = jax.eval_shape(start, ops, vector, vector, scalar, count)
        self._compiled[mode] = (
            jax.jit(start).lower(ops, vector, vector, scalar, count).compile(),
            jax.jit(direction).lower(ops, vector).compile(),
            jax.jit(advance, donate_argnums=4).lower(ops, vector, scalar, count, state,
                                                     vector).compile())

    def solve(self, system: LinearSystem, b: np.ndarray, x0: np.ndarray | None,
              M: Any, stop: StoppingRule, callback: Callback | None = None) -> Iterate:
        """Run DCDM from ``x0`` (default 0) until the stopping rule holds."""
        if M is not None:
            raise InvalidOptionError(
                "method='dcdm' takes no preconditioner (its network is one); to combine "
                "the network with a Krylov method use method='fcg', pc='dcdm'")
        if self.ctx is None:
            self.setup(system)
        tol = stop.threshold(float(np.linalg.norm(b)))
        maxiter = stop.iterations(system.n)
        x0 = np.zeros(system.n) if x0 is None else x0
        mode = self._mode(callback)
        with jax.enable_x64(True):
            self._compile(mode)
            args = (jnp.asarray(b, jnp.float64), jnp.asarray(x0, jnp.float64),
                    jnp.asarray(tol, jnp.float64), jnp.asarray(maxiter, jnp.int64))
            if mode == "device":
                state = self._compiled[mode](self._ops, *args)
            else:
                state = self._host_loop(args, callback)
            state = jax.device_get(state)
        return self._iterate(state, b.dtype)

    def _host_loop(self, args: tuple, callback: Callback | None) -> iteration.State:
        """Python loop over the compiled pieces; ``callback(x_k)`` after each iteration."""
        b, x0, tol, maxiter = args
        start, direction, advance = self._compiled["host"]
        ops = self._ops
        state = start(ops, b, x0, tol, maxiter)
        while int(state.status) == iteration.RUNNING:
            state = advance(ops, b, tol, maxiter, state, direction(ops, state.r))
            if callback is not None:
                callback(np.asarray(state.x))
        return state

    def _iterate(self, state: iteration.State, dtype: np.dtype) -> Iterate:
        k = int(state.k)
        kept = min(k, HISTORY) + 1
        info: dict[str, Any] = {
            "model": self.ctx.name, "grid": self.ctx.shape,
            "conjugacy": np.asarray(state.conjugacy[1:min(k, HISTORY)]),
            "device": str(jax.devices()[0].platform),
        }
        if self.record:
            info["directions"] = np.asarray(state.recorded[: min(k, self.record)])
        x = np.asarray(state.x).astype(dtype, copy=False)
        residuals = [float(v) for v in np.asarray(state.residuals[:kept])]
        return Iterate(x, k, residuals, _REASONS[int(state.status)], info)
