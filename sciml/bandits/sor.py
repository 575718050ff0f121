r"""Bandit-tuned SOR and SSOR-preconditioned Krylov methods: a new :math:`\omega` per solve.

``Solver(method="bandit-sor")`` runs SOR (:class:`solvers.krylov.sor.SOR`) on each system of a
sequence with a relaxation parameter :math:`\omega_{I_t}` drawn by a bandit, and feeds the
iteration count back as the bandit's loss (Khodak et al. [1]_, Sec. 3-4).
``Solver(method="cg", pc="bandit-ssor")`` does the same for the SSOR preconditioner
:math:`M_\omega = \frac{\omega}{2-\omega}(D/\omega + L)(D/\omega)^{-1}(D/\omega + U)` inside
CG (or any Krylov method). The sweeps are :class:`solvers.krylov.sor.SORSplitting`'s.

Stopping rule: that of the solve, ``||b - A x|| <= max(rtol ||b||, atol)`` on the true
residual; a solve that stops for any other reason costs the learner a loss of 1.

Examples
--------
>>> import operators
>>> from solvers import Solver
>>> seq = operators.shifted_laplacian_sequence(20, seed=0)
>>> s = Solver(method="bandit-sor", rtol=1e-8, seed=0)
>>> all(s.solve(p, p.b).converged for p in seq)
True
>>> bandit = s.component("method", "bandit-sor")
>>> len(bandit.records), round(float(bandit.bandit.probabilities().sum()), 12)
(20, 1.0)

References
----------
.. [1] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
   Parameters Across a Sequence of Linear System Instances", ICLR 2024.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from solvers.krylov.sor import SOR, SORSplitting, _require_matrix
from solvers.method import Callback, Iterate
from solvers.result import SolveResult
from solvers.stopping import StoppingRule
from solvers.system import LinearSystem

from .omega import OmegaBandit

__all__ = ["BanditSOR", "BanditSSOR"]


class BanditSOR(OmegaBandit):
    r"""Method ``"bandit-sor"``: SOR with :math:`\omega` chosen per solve by a bandit.

    Each :meth:`solve` is one bandit round: select :math:`\omega`, run SOR from ``x0``,
    report the iteration count (see :class:`~sciml.bandits.omega.OmegaBandit` for the
    parameters, the loss and the state). The per-:math:`\omega` triangular factors are kept
    until the matrix changes (:meth:`setup`). ``result.info`` gets ``omega``, ``arm``,
    ``context`` and ``loss``.
    """

    requires_symmetric = False
    _sor: dict[int, SOR] | None = None

    def setup(self, system: LinearSystem) -> None:
        """Forget the SOR factors of the previous matrix (built lazily per arm)."""
        _require_matrix(system, "method='bandit-sor'")
        self._sor = {}

    def solve(self, system: LinearSystem, b: np.ndarray, x0: np.ndarray | None,
              M: spla.LinearOperator | None, stop: StoppingRule,
              callback: Callback | None = None) -> Iterate:
        """One round: SOR with the drawn :math:`\\omega`; ``M`` is ignored, as by SOR."""
        if self._sor is None:
            self.setup(system)
        arm = self.select(system)
        sor = self._sor.get(arm)
        if sor is None:
            sor = self._sor[arm] = SOR(float(self.omegas[arm]))
            sor.setup(system)
        it = sor.solve(system, b, x0, None, stop, callback)
        self.update(it.iterations, it.reason.converged, stop.iterations(system.n))
        record = self.records[-1]
        it.info.update(arm=arm, context=record["context"], loss=record["loss"])
        return it


class BanditSSOR(OmegaBandit):
    r"""Preconditioner ``"bandit-ssor"``: SSOR with :math:`\omega` chosen per solve.

    :meth:`setup` returns one ``LinearOperator`` for the matrix; it applies
    :math:`M_\omega^{-1}` for the :math:`\omega` of the solve in progress, so the operator can
    stay cached while the matrix is unchanged. The round is driven by the host backend's
    optional hooks (:mod:`solvers.method`): :meth:`before_solve` draws :math:`\omega`,
    :meth:`after_solve` reports the iteration count of the Krylov method. Outside a solve the
    operator applies the most recently drawn :math:`\omega` (``omegas[0]`` before the first).
    The bandit needs the host (``"scipy"``) backend for these hooks.
    """

    requires_symmetric = False
    _arm = 0  # the arm whose omega the operator applies

    def setup(self, system: LinearSystem) -> spla.LinearOperator:
        """Return the operator applying :math:`M_\\omega^{-1}` for this matrix."""
        self._matrix: sp.csr_matrix = _require_matrix(system, "pc='bandit-ssor'")
        self._splittings: dict[int, SORSplitting] = {}
        n = system.n
        return spla.LinearOperator((n, n), matvec=self._apply, dtype=system.dtype)

    def before_solve(self, system: LinearSystem, stop: StoppingRule) -> None:
        """Hook: draw :math:`\\omega` for the solve about to start."""
        self._arm = self.select(system)
        self._budget = stop.iterations(system.n)

    def after_solve(self, result: SolveResult) -> None:
        """Hook: report the solve's iterations (and whether it converged) to the bandit."""
        if self.pending is not None:
            self.update(result.iterations, result.converged, self._budget)

    def _apply(self, r: np.ndarray) -> np.ndarray:
        splitting = self._splittings.get(self._arm)
        if splitting is None:
            splitting = SORSplitting(self._matrix, self.omegas[self._arm])
            self._splittings[self._arm] = splitting
        return splitting.ssor(np.asarray(r).ravel())
