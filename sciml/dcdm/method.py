"""``method="dcdm"``: the deep conjugate direction method behind ``solvers.solve``.

>>> import operators
>>> from solvers import solve
>>> p = operators.poisson((32, 32))
>>> res = solve(p, p.b, method="dcdm", rtol=1e-6)
>>> res.converged, res.iterations < 40
(True, True)

The iteration (:mod:`sciml.dcdm.iteration`) runs as one jitted ``lax.while_loop`` in float64
on the JAX default device (a GPU when JAX sees one); the network runs in float32. ``setup``
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

    Notes
    -----
    ``info`` of the result holds ``model``, ``grid``, ``conjugacy`` (per iteration,
    ``|d_k^T A d_{k-1}| / (||d_k||_A ||d_{k-1}||_A)``) and, if asked, ``directions``.
    """

    requires_symmetric = True

    def __init__(self, model: str | os.PathLike | None = None, truncation: int = 2,
                 replace_every: int = 10, shape: tuple[int, ...] | None = None,
                 record_directions: int = 0) -> None:
        for name, value, low in (("truncation", truncation, 1),
                                 ("replace_every", replace_every, 1),
                                 ("record_directions", record_directions, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InvalidOptionError(f"{name} must be an int >= {low}, not {value!r}")
        self.model = model
        self.truncation = truncation
        self.replace_every = replace_every
        self.shape = shape
        self.record = record_directions
        self.ctx: context.Context | None = None
        self._ops: dict[str, Any] | None = None
        self._run: Any = None
        self._step: Any = None

    def setup(self, system: LinearSystem) -> None:
        """Load the network, read the stencil off ``A`` and compile the loop."""
        self.ctx = context.build(system, self.model, self.shape, "method='dcdm'")
        n = self.ctx.n
        with jax.enable_x64(True):
            self._ops = context.device_operands(self.ctx)
            vector = jax.ShapeDtypeStruct((n,), jnp.float64)
            scalar = jax.ShapeDtypeStruct((), jnp.float64)
            count = jax.ShapeDtypeStruct((), jnp.int64)
            self._run = jax.jit(self._loop).lower(
                self._ops, vector, vector, scalar, count).compile()
        self._step = None

    def _loop(self, ops: dict[str, Any], b: jax.Array, x0: jax.Array, tol: jax.Array,
              maxiter: jax.Array) -> iteration.State:
        return iteration.run(
            context.apply_matrix(self.ctx, ops), context.network_direction(self.ctx, ops),
            b, x0, tol, maxiter, truncation=self.truncation, replace_every=self.replace_every,
            history=HISTORY + 1, record=self.record)

    def solve(self, system: LinearSystem, b: np.ndarray, x0: np.ndarray | None,
              M: Any, stop: StoppingRule, callback: Callback | None = None) -> Iterate:
        """Run DCDM from ``x0`` (default 0) until the stopping rule holds."""
        if M is not None:
            raise InvalidOptionError(
                "method='dcdm' takes no preconditioner (its network is one); to combine "
                "the network with a Krylov method use method='fcg', pc='dcdm'")
        if self._run is None:
            self.setup(system)
        tol = stop.threshold(float(np.linalg.norm(b)))
        maxiter = stop.iterations(system.n)
        x0 = np.zeros(system.n) if x0 is None else x0
        with jax.enable_x64(True):
            args = (jnp.asarray(b, jnp.float64), jnp.asarray(x0, jnp.float64),
                    jnp.asarray(tol, jnp.float64), jnp.asarray(maxiter, jnp.int64))
            if callback is None:
                state = self._run(self._ops, *args)
            else:
                state = self._iterate_with_callback(args, callback)
            state = jax.device_get(state)
        return self._iterate(state, b.dtype)

    def _iterate_with_callback(self, args: tuple, callback: Callback) -> iteration.State:
        """Python loop over the jitted step, calling ``callback(x_k)`` after each one."""
        b, x0, tol, maxiter = args
        ctx, ops = self.ctx, self._ops
        if self._step is None:
            def init(ops: dict, b: jax.Array, x0: jax.Array, tol: jax.Array,
                     maxiter: jax.Array) -> iteration.State:
                state = iteration.initial_state(context.apply_matrix(ctx, ops), b, x0,
                                                self.truncation, HISTORY + 1, self.record)
                return state._replace(status=jnp.where(
                    state.rnorm <= tol, iteration.CONVERGED,
                    jnp.where(maxiter <= 0, iteration.MAXITER, iteration.RUNNING)))

            def advance(ops: dict, b: jax.Array, tol: jax.Array, maxiter: jax.Array,
                        state: iteration.State) -> iteration.State:
                return iteration.step(context.apply_matrix(ctx, ops),
                                      context.network_direction(ctx, ops), b, tol, maxiter,
                                      self.replace_every, state)

            self._step = (jax.jit(init), jax.jit(advance))
        init, advance = self._step
        state = init(ops, b, x0, tol, maxiter)
        while int(state.status) == iteration.RUNNING:
            state = advance(ops, b, tol, maxiter, state)
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
