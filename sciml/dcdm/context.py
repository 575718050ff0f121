"""What DCDM needs from a linear system: the grid, the network, ``A`` as a JAX function.

Shared by the method (:mod:`sciml.dcdm.method`) and the preconditioner
(:mod:`sciml.dcdm.preconditioner`). The grid shape comes from the :class:`operators.Problem`
the user passed (``solve(p, p.b, method="dcdm")``) or from the ``shape=`` parameter; the
network from a shipped name, a path, or the default for the problem's kind and dimension.
"""

from __future__ import annotations

import operator
import os
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jax.experimental import sparse as jsparse

from sciml.dcdm import stencil, weights
from sciml.dcdm.families import default_model
from sciml.dcdm.model import DCDMNet
from solvers.backends.jax.cache import enable as enable_compilation_cache
from solvers.errors import InvalidOptionError, InvalidSystemError
from solvers.system import LinearSystem


@dataclass
class Context:
    """A loaded network and the operator of one system, ready to be jitted.

    ``operands`` are the arrays the jitted functions take as arguments (kept out of the
    compiled code as constants): the network's parameters, the stencil bands (or the BCOO
    matrix) and the coefficient channel.
    """

    name: str
    net: DCDMNet
    meta: dict[str, Any]
    shape: tuple[int, ...]
    operands: dict[str, Any]
    static: Any
    stencil: bool

    @property
    def n(self) -> int:
        return int(np.prod(self.shape))


def grid_shape(system: LinearSystem, shape: Any, method: str) -> tuple[int, ...]:
    """The grid shape from ``shape=`` or the Problem; a clear error when neither gives it."""
    if shape is None:
        problem = system.problem
        shape = getattr(problem, "shape", None) if problem is not None else None
    if shape is None:
        raise InvalidOptionError(
            f"{method} needs the grid shape of the unknowns: pass an operators.Problem "
            f"(solve(p, p.b, {method}=...)) or the shape, e.g. shape=(64, 64) or "
            f"shape=(32, 32, 32), with prod(shape) = n = {system.n}")
    try:
        shape = tuple(operator.index(s) for s in np.atleast_1d(shape))
    except TypeError:
        raise InvalidOptionError(f"shape must be a tuple of ints, not {shape!r}") from None
    if int(np.prod(shape)) != system.n or min(shape) < 1:
        raise InvalidOptionError(
            f"shape={shape} has {int(np.prod(shape))} points but A has {system.n} rows")
    return shape


def build(system: LinearSystem, model: str | os.PathLike | None, shape: Any,
          method: str) -> Context:
    """Load the network and express ``A`` on the grid (stencil, else BCOO).

    Turns on JAX's persistent compilation cache first (:mod:`solvers.backends.jax.cache`),
    so a second process loads the network's compiled programs instead of compiling them.
    """
    enable_compilation_cache()
    shape = grid_shape(system, shape, method)
    if system.matrix is None:
        raise InvalidSystemError(
            f"{method} needs an assembled matrix (or an operators.Problem), got a "
            f"LinearOperator; pass the sparse matrix")
    if np.iscomplexobj(system.matrix.data):
        raise InvalidSystemError(f"{method} supports real symmetric matrices only")
    kind = getattr(system.problem, "kind", None)
    name_or_path = model if model is not None else default_model(kind, len(shape))
    varies = kind == "diffusion" or np.ptp(system.matrix.diagonal().real) > 0
    net, meta = weights.load(name_or_path, ndim=len(shape), coefficient=bool(varies))
    name = weights.resolve(name_or_path)[0]
    if net.arch.ndim != len(shape):
        raise InvalidOptionError(
            f"DCDM model {name!r} is for {net.arch.ndim}-D grids but the grid {shape} is "
            f"{len(shape)}-D; pick model='poisson{len(shape)}d'")
    bands = stencil.bands_from_matrix(system.matrix, shape)
    params, static = eqx.partition(net, eqx.is_array)
    operands: dict[str, Any] = {"params": params}
    if bands is not None:
        operands["diagonal"] = np.asarray(bands.diagonal, np.float64)
        operands["upper"] = tuple(np.asarray(u, np.float64) for u in bands.upper)
        diagonal = bands.diagonal
    else:
        operands["matrix"] = sp.csr_matrix(system.matrix, dtype=np.float64)
        diagonal = system.matrix.diagonal().real.reshape(shape)
    if net.arch.coefficient:
        if np.any(diagonal <= 0):
            raise InvalidSystemError(f"{method} with model {name!r} needs a positive diagonal")
        operands["coefficient"] = stencil.coefficient_channel(
            np.asarray(diagonal, np.float32), len(shape))
    return Context(name, net, meta, shape, operands, static, bands is not None)


def device_operands(ctx: Context) -> dict[str, Any]:
    """The operands as JAX arrays (call under ``jax.enable_x64(True)`` for float64 bands).

    A plain transfer (:func:`jax.device_put`): no eager JAX op, so nothing to compile.
    """
    out = dict(ctx.operands)
    if "matrix" in out:
        out["matrix"] = jsparse.BCOO.from_scipy_sparse(out["matrix"])
    return jax.device_put(out)


def apply_matrix(ctx: Context, ops: dict[str, Any]) -> Any:
    """``u -> A u`` on flat vectors, from the traced operands."""
    shape = ctx.shape
    if ctx.stencil:
        def apply_A(u: jax.Array) -> jax.Array:
            return stencil.apply(ops["diagonal"], ops["upper"], u.reshape(shape)).ravel()
    else:
        def apply_A(u: jax.Array) -> jax.Array:
            return ops["matrix"] @ u
    return apply_A


def network_direction(ctx: Context, ops: dict[str, Any]) -> Any:
    """``r -> f(r / rms(r))`` on flat vectors, from the traced operands."""
    net = eqx.combine(ops["params"], ctx.static)
    coefficient = ops.get("coefficient")
    return lambda r: apply_network(net, coefficient, ctx.shape, r)


def apply_network(net: DCDMNet, coefficient: jax.Array | None, shape: tuple[int, ...],
                  r: jax.Array) -> jax.Array:
    """``f(r / rms(r))`` for a flat residual ``r`` on the grid ``shape``.

    The network runs in float32; the result has ``r``'s dtype. The scaling keeps float32 in
    range; for a network linear in ``r`` (the shipped ones are) it only rescales the result.
    """
    rms = jnp.sqrt(jnp.mean(r * r))
    scaled = (r / jnp.where(rms > 0, rms, 1.0)).reshape(shape)
    return net(scaled.astype(jnp.float32), coefficient).astype(r.dtype).ravel()
