"""Sparse direct solve by LU factorization (SuperLU via ``scipy.sparse.linalg.splu``).

The factorization is the setup; :class:`solvers.Solver` reuses it for every right-hand side
while the matrix is unchanged. The CSR matrix is factored as the CSC matrix of ``A^T`` (the
same arrays, no conversion, as ``spsolve`` does) and solved with ``trans="T"``.

References
----------
X. S. Li, "An overview of SuperLU", ACM TOMS 31(3), 2005.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from solvers.errors import SetupError
from solvers.method import Callback, Iterate
from solvers.reasons import Reason
from solvers.stopping import StoppingRule
from solvers.system import LinearSystem


class Direct:
    """Sparse LU with column ordering ``permc_spec`` (default COLAMD)."""

    requires_symmetric = False

    def __init__(self, permc_spec: str = "COLAMD") -> None:
        self.permc_spec = permc_spec
        self.lu: spla.SuperLU | None = None

    def setup(self, system: LinearSystem) -> None:
        matrix = system.require_matrix("method='direct'")
        transpose = sp.csc_matrix((matrix.data, matrix.indices, matrix.indptr),
                                  shape=matrix.shape[::-1])
        try:
            self.lu = spla.splu(transpose, permc_spec=self.permc_spec)
        except RuntimeError as exc:  # "Factor is exactly singular"
            raise SetupError(f"LU factorization failed: {exc}", reason="singular") from None

    def solve(self, system: LinearSystem, b: np.ndarray, x0: np.ndarray | None,
              M: spla.LinearOperator | None, stop: StoppingRule,
              callback: Callback | None = None) -> Iterate:
        if self.lu is None:
            self.setup(system)
        assert self.lu is not None  # setup() factors or raises SetupError
        x = self.lu.solve(b, trans="T")
        # One "iteration" as in PETSc's preonly+lu; the caller fills in the true residual.
        bnorm = float(np.linalg.norm(b))
        return Iterate(x, 1, [bnorm, bnorm], Reason.RTOL)
