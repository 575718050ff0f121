"""Incomplete LU preconditioner (SuperLU's threshold ILU, ``scipy.sparse.linalg.spilu``).

References
----------
X. S. Li and M. Shao, "A supernodal approach to incomplete LU factorization with partial
pivoting", ACM TOMS 37(4), 2011.
"""

from __future__ import annotations

import scipy.sparse.linalg as spla

from solvers.errors import SetupError
from solvers.system import LinearSystem


class ILU:
    """Threshold ILU with ``drop_tol`` and ``fill_factor`` as in ``spilu``.

    Defaults differ from ``spilu``'s: a minimum-degree ordering of ``A^T + A`` and no
    partial pivoting (``diag_pivot_thresh=0``) give a far better factor for PDE matrices
    than SciPy's COLAMD + threshold pivoting (GMRES iterations on 2D convection-diffusion
    128^2 drop from about 300 to about 30).
    """

    requires_symmetric = False

    def __init__(self, drop_tol: float = 1e-4, fill_factor: float = 10.0,
                 permc_spec: str = "MMD_AT_PLUS_A", diag_pivot_thresh: float = 0.0) -> None:
        self.drop_tol = drop_tol
        self.fill_factor = fill_factor
        self.permc_spec = permc_spec
        self.diag_pivot_thresh = diag_pivot_thresh

    def setup(self, system: LinearSystem) -> spla.LinearOperator:
        matrix = system.require_matrix("pc='ilu'")
        try:
            ilu = spla.spilu(matrix.tocsc(), drop_tol=self.drop_tol,
                             fill_factor=self.fill_factor, permc_spec=self.permc_spec,
                             diag_pivot_thresh=self.diag_pivot_thresh)
        except RuntimeError as exc:  # "Factor is exactly singular"
            raise SetupError(f"ILU factorization failed: {exc}") from None
        return spla.LinearOperator(system.op.shape, matvec=ilu.solve, dtype=system.dtype)
