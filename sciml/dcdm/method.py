r"""``method="dcdm"``: the deep conjugate direction method behind ``solvers.solve``.

>>> import operators
>>> from solvers import solve
>>> p = operators.poisson((32, 32))
>>> res = solve(p, p.b, method="dcdm", rtol=1e-6)
>>> res.converged, res.iterations < 40
(True, True)

The iteration (Kaneda et al., 2023, Algorithm 1), given the network ``f ~ A^{-1}`` (up to
scale), ``x_0`` and ``r_0 = b - A x_0``::

    for k = 0, 1, ...:
        z_k = f(r_k / rms(r_k))                                              # network
        d_k = z_k - sum_{j=k-m}^{k-1} (z_k^T A d_j) / (d_j^T A d_j) d_j      # m = truncation
        alpha_k = d_k^T r_k / d_k^T A d_k
        x_{k+1} = x_k + alpha_k d_k;   r_{k+1} = r_k - alpha_k A d_k
        every `replace_every` iterations: r_{k+1} = b - A x_{k+1}           # true residual
    stop when ||r_{k+1}|| <= max(rtol ||b||, atol)   or k + 1 = maxiter

is flexible CG, FCG(m) (Notay 2000), preconditioned by ``r -> f(r / rms(r))``; the scaling
of ``r`` only rescales ``d_k`` and leaves the iterates unchanged. So it runs as the JAX
backend's FCG kernel (:mod:`solvers.jaxkrylov.fcg`) with the network as ``M``, the
kernel's periodic residual replacement, its record of the A-cosine of consecutive
directions (``info["conjugacy"]``, rounding level when the orthogonalisation works) and of
the first directions (``record_directions``), and its status codes
(:mod:`solvers.jaxkrylov.loop`). ``alpha_k`` minimises the A-norm of the error along
``d_k``, so ``||e||_A`` never increases.

Vectors are float64 (under ``jax.enable_x64`` as a context), the network float32, on the
JAX default device (a GPU when JAX sees one): as one compiled ``lax.while_loop``, or on CPUs
as the kernel's compiled ``initial``/``step`` and the compiled network driven from Python
(faster there, see ``loop``). ``setup`` loads the network, reads the stencil off ``A`` and
compiles, so a :class:`solvers.Solver` reuses all of it while the matrix is unchanged;
``solve`` moves ``b`` in and ``x`` out (NumPy in, NumPy out). The compiled programs are
exported once per machine (:mod:`sciml.dcdm.exported`) and the XLA compilation is answered
by JAX's persistent cache, so a second process neither traces nor compiles. Stopping rule:
the library's, tested on the updated residual; the library re-checks the true residual on
return. The host loop also stops with ``reason="stagnation"`` when the best residual norm of
the last 50 iterations is not a relative 1e-6 below that of the 50 before (a nonlinear
network can return a direction with ``f(r)^T r = 0``: a zero step, the same residual, the
same direction); the device loop runs to ``maxiter`` then.

References
----------
A. Kaneda et al., "A Deep Conjugate Direction Method for Iteratively Solving Linear Systems",
ICML 2023. Y. Notay, "Flexible conjugate gradients", SIAM J. Sci. Comput. 22(4), 2000.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sciml.dcdm import context
from sciml.dcdm.exported import compile_program
from sciml.dcdm.register import METHOD_PARAMS, check_arguments
from solvers.errors import InvalidOptionError
from solvers.jaxkrylov.fcg import State
from solvers.jaxkrylov.fcg import initial as fcg_initial
from solvers.jaxkrylov.fcg import run as fcg_run
from solvers.jaxkrylov.fcg import step as fcg_step
from solvers.jaxkrylov.loop import HISTORY, RUNNING, kept, reason
from solvers.method import Callback, Iterate
from solvers.reasons import Reason
from solvers.stopping import StoppingRule
from solvers.system import LinearSystem

#: The largest iteration budget the loop counter holds.
MAXITER_CAP = np.iinfo(np.int32).max
#: Stagnation test of the host loop: stop when the smallest residual norm of the last
#: ``STALL_WINDOW`` iterations is not ``STALL_RTOL`` below the smallest of the window before.
STALL_WINDOW, STALL_RTOL = 50, 1e-6


class DCDM:
    """Deep conjugate direction method for SPD grid matrices (Kaneda et al., ICML 2023).

    Parameters
    ----------
    model
        ``"poisson2d"``, ``"poisson3d"``, ``"diffusion2d"`` (shipped), ``"paper-poisson2d"``
        (the paper's nonlinear network, :mod:`sciml.dcdm.paper_net`), ``"fixed"``,
        ``"contrast2d"`` (a learned correction of black-box multigrid's prolongation for
        sharp high-contrast coefficients, :mod:`sciml.dcdm.learned_prolongation`: the
        direction is one float64 V-cycle), ``"fixed-mg"`` (that V-cycle with the black-box
        weights) or the path of a ``.eqx`` weight file; default: chosen from the problem's
        kind and dimension.
    truncation
        Number of previous directions each new one is A-orthogonalised against (paper: 2),
        in ``[1, 100]`` (each is two stored vectors of length ``n``, and adds to the compile
        time).
    replace_every
        Recompute the true residual ``b - A x`` every this many iterations (``>= 1``).
    shape
        Grid shape of the unknowns, 2 or 3 positive ints, needed when ``A`` is a plain
        matrix (a Problem has it).
    record_directions
        Keep the first this many search directions in ``info["directions"]`` (debugging),
        in ``[0, 1000]``.
    loop
        ``"device"``: the whole iteration is one compiled ``lax.while_loop``; ``"host"``: a
        Python loop over the compiled network and the compiled update (one device sync per
        iteration); ``"auto"``: host on CPUs, where it is faster, device elsewhere.

    Notes
    -----
    The parameters are declared in :data:`sciml.dcdm.register.METHOD_PARAMS` and checked
    there (:class:`~solvers.errors.InvalidOptionError` naming the valid range).
    ``info`` of the result holds ``model``, ``grid``, ``device``, ``loop``, ``conjugacy``
    (per iteration from the second, ``|d_k^T A d_{k-1}| / (||d_k||_A ||d_{k-1}||_A)``) and,
    if asked, ``directions``. The network is per-matrix setup, not state carried across
    solves.
    """

    requires_symmetric = True

    def __init__(self, model: str | os.PathLike | None = None, truncation: int = 2,
                 replace_every: int = 10, shape: tuple[int, ...] | None = None,
                 record_directions: int = 0, loop: str = "auto") -> None:
        check_arguments(METHOD_PARAMS, "method 'dcdm'", {
            "model": model, "truncation": truncation, "replace_every": replace_every,
            "shape": shape, "record_directions": record_directions, "loop": loop})
        self.model = model
        self.truncation = int(truncation)  # a NumPy int too; static in the compiled loop
        self.replace_every = int(replace_every)
        self.shape = shape
        self.record = int(record_directions)
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
        """Compile the FCG kernel with the network as ``M``: whole, or as its pieces."""
        if mode in self._compiled:
            return
        ctx, ops = self.ctx, self._ops
        vector = jax.ShapeDtypeStruct((ctx.n,), jnp.float64)
        scalar = jax.ShapeDtypeStruct((), jnp.float64)
        count = jax.ShapeDtypeStruct((), jnp.int32)
        options = {"truncation": self.truncation, "conjugacy": True, "record": self.record}

        def run(ops: dict, b: jax.Array, x0: jax.Array, tol: jax.Array,
                maxiter: jax.Array) -> State:
            return fcg_run(context.apply_matrix(ctx, ops), b, x0,
                           context.network_direction(ctx, ops), tol, maxiter,
                           replace_every=self.replace_every, **options)

        def initial(ops: dict, b: jax.Array, x0: jax.Array, tol: jax.Array,
                    maxiter: jax.Array) -> State:
            return fcg_initial(context.apply_matrix(ctx, ops), b, x0, tol, maxiter, **options)

        def network(ops: dict, r: jax.Array) -> jax.Array:
            return context.network_direction(ctx, ops)(r)

        def step(ops: dict, b: jax.Array, tol: jax.Array, maxiter: jax.Array,
                 state: State, z: jax.Array) -> State:
            return fcg_step(context.apply_matrix(ctx, ops), b, tol, maxiter, state, z,
                            replace_every=self.replace_every)

        start = (ops, vector, vector, scalar, count)
        state = jax.eval_shape(initial, *start)  # light: no network in `initial`
        states, vectors = jax.tree_util.tree_structure(state), jax.tree_util.tree_structure(0)
        key = ("sciml.dcdm.method", ctx.net.arch, ctx.shape, ctx.stencil, options,
               self.replace_every)
        if mode == "device":
            self._compiled[mode] = compile_program(run, start, states, key + ("run",))
            return
        self._compiled[mode] = (
            compile_program(initial, start, states, key + ("initial",)),
            compile_program(network, (ops, vector), vectors, key + ("network",)),
            compile_program(step, (ops, vector, scalar, count, state, vector), states,
                            key + ("step",)))

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
        maxiter = min(stop.iterations(system.n), MAXITER_CAP)
        x0 = np.zeros(system.n) if x0 is None else x0
        mode = self._mode(callback)
        with jax.enable_x64(True):
            self._compile(mode)
            args = jax.device_put((np.asarray(b, np.float64), np.asarray(x0, np.float64),
                                   np.float64(tol), np.int32(maxiter)))  # no eager op
            stalled = False
            if mode == "device":
                state = self._compiled[mode](self._ops, *args)
            else:
                state, stalled = self._host_loop(args, callback)
            state = jax.device_get(state)
        return self._iterate(state, b.dtype, mode, stalled)

    def _host_loop(self, args: tuple, callback: Callback | None) -> tuple[State, bool]:
        """Python loop over the compiled pieces; ``callback(x_k)`` after each iteration.

        Also returns whether it stopped because the residual stagnated: a network ``f`` with
        ``f(r)^T r = 0`` gives a zero step and the same residual forever (the paper's ReLU
        network can, :mod:`sciml.dcdm.paper_net`), so every ``STALL_WINDOW`` iterations the
        loop stops if the smallest residual norm of the last window is not ``STALL_RTOL``
        (relative) below that of the window before (FCG's residual norm is not monotone).
        """
        b, x0, tol, maxiter = args
        initial, network, step = self._compiled["host"]
        ops = self._ops
        state = initial(ops, b, x0, tol, maxiter)
        while int(state.progress.code) == RUNNING:
            state = step(ops, b, tol, maxiter, state, network(ops, state.r))
            if callback is not None:
                callback(np.asarray(state.x))
            k = int(state.progress.k)
            if k % STALL_WINDOW == 0 and _stalled(state.progress.residuals, k):
                return state, True
        return state, False

    def _iterate(self, state: State, dtype: np.dtype, mode: str,
                 stalled: bool = False) -> Iterate:
        k = int(state.progress.k)
        info: dict[str, Any] = {
            "model": self.ctx.name, "grid": self.ctx.shape, "loop": mode,
            "conjugacy": np.asarray(state.conjugacy[1:min(k, HISTORY)]),
            "device": str(jax.devices()[0].platform),
        }
        if self.record:
            info["directions"] = np.asarray(state.directions[: min(k, self.record)])
        x = np.asarray(state.x).astype(dtype, copy=False)
        residuals = [float(v) for v in kept(state.progress.residuals, k)]
        claimed = Reason.STAGNATION if stalled else reason(state.progress.code)
        return Iterate(x, k, residuals, claimed, info)


def _stalled(residuals: Any, k: int) -> bool:
    """The stagnation test of :meth:`DCDM._host_loop` on the residual-norm buffer."""
    if k < 2 * STALL_WINDOW or k >= HISTORY - 1:
        return False
    norms = kept(residuals, k)
    last, before = norms[-STALL_WINDOW:], norms[-2 * STALL_WINDOW:-STALL_WINDOW]
    return last.min() >= (1 - STALL_RTOL) * before.min()
