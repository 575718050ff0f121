"""``pc="dcdm"``: the DCDM network as a preconditioner ``z = f(r / rms(r))``.

The shipped networks are symmetric positive definite linear maps (:mod:`sciml.dcdm.model`),
so the network is a valid CG preconditioner; a network in general need not be, so the
intended host is a *flexible* method that A-orthogonalises each new direction explicitly,
``method="fcg"`` (FCG(m), Notay 2000), which with ``truncation=2`` is DCDM itself with the
host backend's vectors.

>>> import operators
>>> from solvers import solve
>>> p = operators.poisson((32, 32))
>>> solve(p, p.b, method="fcg", pc="dcdm", rtol=1e-6).converged
True

On ``backend="jax"`` (whose Krylov loops run compiled on the device and take a jittable
``pc`` callable) use :func:`jax_preconditioner`, an equinox module whose weights travel as
runtime arguments:

>>> import jax.numpy as jnp
>>> M = jax_preconditioner(p)
>>> solve(p, jnp.asarray(p.b), method="fcg", pc=M, backend="jax", rtol=1e-5).converged
True
"""

from __future__ import annotations

import os
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse.linalg as spla

from sciml.dcdm import context
from sciml.dcdm.exported import compile_program
from sciml.dcdm.model import DCDMNet
from sciml.dcdm.register import PC_PARAMS, check_arguments
from solvers.system import LinearSystem, as_system


class DCDMPreconditioner:
    """Apply the DCDM network to a residual; ``setup`` returns a ``LinearOperator``.

    Parameters
    ----------
    model
        Shipped name or ``.eqx`` path; default from the problem's kind and dimension.
    shape
        Grid shape, needed when ``A`` is a plain matrix.
    """

    requires_symmetric = True

    def __init__(self, model: str | os.PathLike | None = None,
                 shape: tuple[int, ...] | None = None) -> None:
        check_arguments(PC_PARAMS, "pc 'dcdm'", {"model": model, "shape": shape})
        self.model = model
        self.shape = shape
        self.ctx: context.Context | None = None

    def setup(self, system: LinearSystem) -> spla.LinearOperator:
        """Load and jit the network for the grid; the operator maps NumPy to NumPy."""
        self.ctx = context.build(system, self.model, self.shape, "pc='dcdm'")
        # a learned-mg model's V-cycle runs in float64, a network in float32
        dtype = np.float64 if "hierarchy" in self.ctx.operands else np.float32
        with jax.enable_x64(dtype == np.float64):
            ops = jax.device_put({k: v for k, v in self.ctx.operands.items()
                                  if k in ("params", "coefficient", "hierarchy")})
            n = self.ctx.n
            vector = jax.ShapeDtypeStruct((n,), dtype)
            direction = compile_program(
                lambda ops, r: context.network_direction(self.ctx, ops)(r), (ops, vector),
                jax.tree_util.tree_structure(0),
                ("sciml.dcdm.preconditioner", self.ctx.net.arch, self.ctx.shape))

        def apply(r: np.ndarray) -> np.ndarray:
            with jax.enable_x64(dtype == np.float64):
                z = direction(ops, jax.device_put(np.asarray(np.ravel(r), dtype)))
                return np.asarray(z, dtype=np.float64)

        return spla.LinearOperator((n, n), matvec=apply, dtype=np.float64)

    def __repr__(self) -> str:
        return f"DCDMPreconditioner(model={self.model!r})"


class NetworkPreconditioner(eqx.Module):
    """``r -> f(r / rms(r))`` on flat jax vectors: a jittable ``pc`` for ``backend="jax"``.

    The network runs in float32; the result has the dtype of ``r``.
    """

    net: DCDMNet
    coefficient: jax.Array | None
    shape: tuple[int, ...] = eqx.field(static=True)

    def __call__(self, r: jax.Array) -> jax.Array:
        return context.apply_network(self.net, self.coefficient, self.shape, r)


def jax_preconditioner(A: Any, model: str | os.PathLike | None = None,
                       shape: tuple[int, ...] | None = None) -> NetworkPreconditioner | Any:
    """The DCDM network for ``A`` (a Problem, or a matrix with ``shape``) as a jax ``pc``
    (for a ``learned-mg`` model: its float64 V-cycle, a :class:`solvers.multigrid.Multigrid`)."""
    n = A.A.shape[0] if hasattr(A, "kind") else A.shape[0]
    system = as_system(A, np.zeros(n))
    ctx = context.build(system, model, shape, "jax_preconditioner")
    if "hierarchy" in ctx.operands:
        return ctx.operands["hierarchy"]
    coefficient = ctx.operands.get("coefficient")
    return NetworkPreconditioner(
        ctx.net, None if coefficient is None else jnp.asarray(coefficient), ctx.shape)
