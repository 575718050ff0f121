"""Jacobi (diagonal) preconditioner ``M^{-1} = D^{-1}``."""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla

from solvers.errors import InvalidSystemError
from solvers.system import LinearSystem


class Jacobi:
    """Scale the residual by the inverse diagonal of ``A``."""

    requires_symmetric = False

    def setup(self, system: LinearSystem) -> spla.LinearOperator:
        diag = system.require_matrix("pc='jacobi'", "its diagonal").diagonal()
        if np.any(diag == 0):
            raise InvalidSystemError(
                f"pc='jacobi' needs a nonzero diagonal; A has {int(np.sum(diag == 0))} zeros "
                f"on it. Use pc='ilu' or pc='amg'"
            )
        inv = 1.0 / diag
        return spla.LinearOperator(system.op.shape, matvec=lambda r: inv * r, dtype=inv.dtype)
