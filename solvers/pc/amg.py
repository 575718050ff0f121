"""Smoothed-aggregation algebraic multigrid (pyamg) as a preconditioner: one V-cycle.

References
----------
P. Vanek, J. Mandel and M. Brezina, "Algebraic multigrid by smoothed aggregation for second
and fourth order elliptic problems", Computing 56, 1996. Implementation: pyamg
(``smoothed_aggregation_solver``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyamg
import scipy.sparse.linalg as spla

from solvers.system import LinearSystem


class AMG:
    """pyamg smoothed aggregation; ``cycle`` is ``"V"``, ``"W"`` or ``"F"``; ``seed`` seeds
    pyamg's random start vectors so that the hierarchy is reproducible.

    Extra keyword arguments go to ``pyamg.smoothed_aggregation_solver``; which ones, and
    their valid values, are declared in :data:`solvers.builtins.AMG_PARAMS` and checked
    before this object is built. The hierarchy is the setup cost; :class:`solvers.Solver`
    keeps it while the matrix is unchanged. The V-cycle is applied in the matrix's dtype
    (a float64 residual given to a float32 hierarchy is rounded first, and ``z`` comes
    back in the residual's dtype), as pyamg needs one dtype throughout.
    """

    requires_symmetric = False

    def __init__(self, cycle: str = "V", seed: int = 0, **amg_options: Any) -> None:
        self.cycle = cycle
        self.seed = seed
        self.amg_options = amg_options
        self.hierarchy: pyamg.MultilevelSolver | None = None

    def setup(self, system: LinearSystem) -> spla.LinearOperator:
        matrix = system.require_matrix("pc='amg'")
        # pyamg draws random vectors from NumPy's global generator (spectral radius
        # estimates); seed it for the setup so hierarchies are reproducible, then restore it.
        saved = np.random.get_state()
        np.random.seed(self.seed)
        try:
            self.hierarchy = pyamg.smoothed_aggregation_solver(matrix,
                                                               **self.amg_options)
        finally:
            np.random.set_state(saved)
        cycle = self.hierarchy.aspreconditioner(cycle=self.cycle)
        dtype = matrix.dtype

        def apply(r: np.ndarray) -> np.ndarray:
            z = cycle.matvec(np.asarray(r, dtype))
            if np.iscomplexobj(z) and not np.iscomplexobj(r):
                z = z.real  # a complex hierarchy on a real system: the real part, r -> Re(M r)
            return z.astype(r.dtype, copy=False)

        return spla.LinearOperator(matrix.shape, matvec=apply, dtype=dtype)
