"""SSOR preconditioner: one symmetric SOR sweep (forward + backward); see solvers.stationary.sor."""

from __future__ import annotations

import scipy.sparse.linalg as spla

from solvers.stationary.sor import SORSplitting, check_omega
from solvers.system import LinearSystem


class SSORPreconditioner:
    """``M^{-1}`` of SSOR with relaxation ``omega``; SPD when ``A`` is and ``0 < omega < 2``."""

    requires_symmetric = False

    def __init__(self, omega: float = 1.0) -> None:
        self.omega = check_omega(omega)

    def setup(self, system: LinearSystem) -> spla.LinearOperator:
        return SORSplitting(system.require_matrix("pc='ssor'", "its triangular parts"),
                            self.omega).as_operator()
