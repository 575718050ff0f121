r"""Bandit-tuned SOR and SSOR-preconditioned Krylov methods: a new :math:`\omega` per solve.

``Solver(method="bandit-sor")`` runs SOR (:class:`solvers.stationary.sor.SOR`) on each system of
a sequence with a relaxation parameter :math:`\omega_{I_t}` drawn by a bandit, and feeds the
iteration count back as the bandit's loss (Khodak et al. [1]_, Sec. 3-4).
``Solver(method="cg", pc="bandit-ssor")`` does the same for the SSOR preconditioner
:math:`M_\omega = \frac{\omega}{2-\omega}(D/\omega + L)(D/\omega)^{-1}(D/\omega + U)` inside
CG (or any Krylov method). The round (draw, then learn) is driven by the hooks of
:class:`~sciml.bandits.omega.OmegaBandit`; the learned state is ``solver.states[(kind, name)]``
and ``result.state`` (a :class:`~sciml.bandits.omega.BanditState`).

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
>>> state = s.states[("method", "bandit-sor")]
>>> len(state.records), round(float(state.probabilities().sum()), 12)
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

from solvers.method import Callback, Iterate
from solvers.stationary.sor import SOR, SORSplitting
from solvers.stopping import StoppingRule
from solvers.system import LinearSystem

from .learner import BanditError
from .omega import BanditState, OmegaBandit

__all__ = ["BanditSOR", "BanditSSOR"]


class BanditSOR(OmegaBandit):
    r"""Method ``"bandit-sor"``: SOR with the :math:`\omega` the bandit drew for this solve.

    :meth:`solve` only runs SOR with the pending arm of ``state`` (drawn by
    :meth:`~sciml.bandits.omega.OmegaBandit.before_solve`), so a refinement restart reuses it
    and the round is learned once, in ``after_solve``. The per-:math:`\omega` triangular
    factors are kept until the matrix changes (:meth:`setup`). ``result.info`` gets ``omega``,
    ``arm`` and ``context``. Parameters: those of :class:`~sciml.bandits.omega.OmegaBandit`.
    """

    _sor: dict[int, SOR] | None = None

    def setup(self, system: LinearSystem) -> None:
        """Forget the SOR factors of the previous matrix (built lazily per arm)."""
        system.require_matrix("method='bandit-sor'", "its triangular parts")
        self._sor = {}

    def solve(self, system: LinearSystem, b: np.ndarray, x0: np.ndarray | None,
              M: spla.LinearOperator | None, stop: StoppingRule,
              callback: Callback | None = None, state: BanditState | None = None) -> Iterate:
        """SOR with the pending :math:`\\omega` of ``state``; ``M`` is ignored, as by SOR."""
        if state is None or state.pending is None:
            raise BanditError("bandit-sor has no omega drawn for this solve: call "
                              "before_solve(system, stop, state) first, as Solver does")
        if self._sor is None:
            self.setup(system)
        arm = state.pending["arm"]
        if arm not in self._sor:
            self._sor[arm] = SOR(float(self.omegas[arm]))
            self._sor[arm].setup(system)
        it = self._sor[arm].solve(system, b, x0, None, stop, callback)
        it.info.update(arm=arm, context=state.pending["context"])
        it.state = state
        return it


class BanditSSOR(OmegaBandit):
    r"""Preconditioner ``"bandit-ssor"``: SSOR with :math:`\omega` chosen per solve.

    :meth:`setup` returns one ``LinearOperator`` per matrix applying :math:`M_\omega^{-1}` for
    the :math:`\omega` of the solve in progress (set by :meth:`before_solve`), so it can stay
    cached while the matrix is unchanged; outside a solve it applies the last drawn
    :math:`\omega` (``omegas[0]`` before the first). Host (``"scipy"``) backend only.
    """

    _arm = 0  # the arm whose omega the operator applies

    def setup(self, system: LinearSystem) -> spla.LinearOperator:
        """Return the operator applying :math:`M_\\omega^{-1}` for this matrix."""
        self._matrix: sp.csr_matrix = system.require_matrix("pc='bandit-ssor'",
                                                            "its triangular parts")
        self._splittings: dict[int, SORSplitting] = {}
        return spla.LinearOperator((system.n,) * 2, matvec=self._apply, dtype=system.dtype)

    def before_solve(self, system: LinearSystem, stop: StoppingRule,
                     state: BanditState) -> BanditState:
        """Hook: draw :math:`\\omega` for this solve and point the operator at it."""
        state = super().before_solve(system, stop, state)
        self._arm = state.pending["arm"]
        return state

    def _apply(self, r: np.ndarray) -> np.ndarray:
        if self._arm not in self._splittings:
            self._splittings[self._arm] = SORSplitting(self._matrix, self.omegas[self._arm])
        return self._splittings[self._arm].ssor(np.asarray(r).ravel())
