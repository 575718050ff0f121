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

from operators import stencils
from sciml.dcdm import stencil, weights
from sciml.dcdm.exported import compile_program, register_tree
from sciml.dcdm.families import default_model
from sciml.dcdm.learned_prolongation import ProlongationNet
from sciml.dcdm.model import DCDMNet
from solvers.backends.jax.cache import enable as enable_compilation_cache
from solvers.errors import InvalidOptionError, InvalidSystemError
from solvers.multigrid import Multigrid
from solvers.multigrid.blackbox import Interpolation
from solvers.multigrid.galerkin import BoxStencil
from solvers.system import LinearSystem


@dataclass
class Context:
    """A loaded network and the operator of one system, ready to be jitted.

    ``operands`` are the arrays the jitted functions take as arguments (kept out of the
    compiled code as constants): the network's parameters, the stencil bands (or the BCOO
    matrix) and the coefficient channel; for a ``learned-mg`` model
    (:mod:`sciml.dcdm.learned_prolongation`) the bands and the V-cycle ``hierarchy`` (a
    :class:`solvers.multigrid.Multigrid`, built once here, float64), which is the direction.
    """

    name: str
    net: DCDMNet | ProlongationNet
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
    if isinstance(net, ProlongationNet):
        return _multigrid_context(system, net, meta, name, shape, bands, method)
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


def _multigrid_context(system: LinearSystem, net: ProlongationNet, meta: dict[str, Any],
                       name: str, shape: tuple[int, ...], bands: stencil.Bands | None,
                       method: str) -> Context:
    """The context of a ``learned-mg`` model: the bands and the V-cycle, built here."""
    if bands is None:
        raise InvalidSystemError(
            f"{method} with the learned multigrid model {name!r} needs a symmetric "
            f"(2d+1)-point grid stencil (a Poisson or diffusion matrix on the grid {shape})")
    with jax.enable_x64(True):
        A = _grid_stencil(system.problem, bands)
        hierarchy = _build_hierarchy(net, A)
    operands = {"diagonal": np.asarray(bands.diagonal, np.float64),
                "upper": tuple(np.asarray(u, np.float64) for u in bands.upper),
                "hierarchy": hierarchy}
    return Context(name, net, meta, shape, operands, None, True)


def _build_hierarchy(net: ProlongationNet, A: stencils.Stencil) -> Multigrid:
    """``net.hierarchy(A)``, compiled and exported once per machine
    (:mod:`sciml.dcdm.exported`): a second process reads the program back instead of
    tracing the Galerkin hierarchy and the network again."""
    register_tree(Multigrid, Interpolation, BoxStencil, stencils.Stencil)
    params, static = eqx.partition(net, eqx.is_array)
    leaves, tree = jax.tree_util.tree_flatten((params, A))
    memo = (net.arch, tree, tuple((np.shape(x), str(x.dtype)) for x in leaves))
    if memo not in _HIERARCHY_PROGRAMS:  # a new Solver in this process: no file read
        _HIERARCHY_PROGRAMS[memo] = compile_program(
            lambda params, A: eqx.combine(params, static).hierarchy(A), (params, A), None,
            ("sciml.dcdm.context.hierarchy", net.arch))
    return _HIERARCHY_PROGRAMS[memo](params, A)


#: The compiled hierarchy builders of this process, by architecture and operand shapes.
_HIERARCHY_PROGRAMS: dict[tuple, Any] = {}


def _grid_stencil(problem: Any, bands: stencil.Bands) -> stencils.Stencil:
    """The float64 stencil of the Problem (its boundary faces as built), or one read off the
    bands, each boundary face copying its neighbour (the V-cycle's interpolation next to the
    boundary reads them; ``A u`` does not)."""
    if getattr(problem, "kind", None) in stencils.STENCILS and \
            tuple(getattr(problem, "shape", ())) == bands.shape:
        return stencils.stencil(problem, np.float64)
    faces = []
    for axis, upper in enumerate(bands.upper):
        n = bands.shape[axis]
        inner = -np.take(upper, range(n - 1), axis=axis)
        edge = [np.take(inner, [0], axis=axis), inner, np.take(inner, [-1], axis=axis)] \
            if n > 1 else [np.take(bands.diagonal, [0], axis=axis) / 2] * 2
        faces.append(jnp.asarray(np.concatenate(edge, axis=axis), jnp.float64))
    return stencils.Stencil(tuple(faces), jnp.asarray(bands.diagonal, jnp.float64),
                            bands.shape)


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
    """``r -> f(r / rms(r))`` on flat vectors, from the traced operands (for a
    ``learned-mg`` model: one V-cycle, linear, in the dtype of ``r``)."""
    if "hierarchy" in ops:
        return ops["hierarchy"]
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
