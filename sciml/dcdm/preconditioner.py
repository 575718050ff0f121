"""``pc="dcdm"``: the DCDM network as a nonlinear preconditioner ``z = f(r / rms(r))``.

The network is not linear (ReLU), so it belongs inside a *flexible* method that
A-orthogonalises each new direction explicitly: ``method="fcg"`` (FCG(m), Notay 2000), which
with ``truncation=2`` is DCDM itself with the host backend's vectors.

>>> import operators
>>> from solvers import solve
>>> p = operators.poisson((32, 32))
>>> solve(p, p.b, method="fcg", pc="dcdm", rtol=1e-6).converged
True
"""

from __future__ import annotations

import os
import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse.linalg as spla

from sciml.dcdm import context
from solvers.system import LinearSystem


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
        self.model = model
        self.shape = shape
        self.ctx: context.Context | None = None

    def setup(self, system: LinearSystem) -> spla.LinearOperator:
        """Load and jit the network for the grid; the operator maps NumPy to NumPy."""
        self.ctx = context.build(system, self.model, self.shape, "pc='dcdm'")
        ops = {k: jnp.asarray(v) if k == "coefficient" else v
               for k, v in self.ctx.operands.items() if k in ("params", "coefficient")}
        direction = jax.jit(lambda ops, r: context.network_direction(self.ctx, ops)(r))
        n = self.ctx.n
        direction(ops, jnp.ones(n, jnp.float32)).block_until_ready()  # compile now

        def apply(r: np.ndarray) -> np.ndarray:
            z = direction(ops, jnp.asarray(np.ravel(r), jnp.float32))
            return np.asarray(z, dtype=np.float64)

        return spla.LinearOperator((n, n), matvec=apply, dtype=np.float64)

    def __repr__(self) -> str:
        return f"DCDMPreconditioner(model={self.model!r})"
