"""Online learning of solver parameters from iteration counts (Khodak et al., ICLR 2024).

Learners over a finite grid of arms (:class:`UnimodalBandit`, the default: a local search
per quantile bin of a context such as the :func:`diagonal_dominance` of the matrix;
:class:`TsallisINF`, the paper's; the contextual :class:`BinnedContextualBandit` and
:class:`ChebCB`) share one protocol, :class:`Learner`:
``select(context)``, ``update(arm, loss, context)``, ``probabilities(context)``,
``state_dict()``/``from_state``. :class:`CostNormaliser` maps iteration counts to losses.
:class:`BanditSOR`/:class:`BanditSSOR` are ``Solver(method="bandit-sor")`` and
``Solver(method="cg", pc="bandit-ssor")``, a new ω per solve; what they learn is a
:class:`BanditState` (``solver.states``, ``result.state``, ``save``, ``resume=``).
:func:`cost_table` and :func:`best_fixed_omega` tabulate every ω offline; :func:`best_fixed_arm`,
:func:`instance_optimal` and :func:`cumulative_regret` are the yardsticks. Every bad argument
raises :class:`BanditError` (an :class:`~solvers.errors.InvalidOptionError`).

Examples
--------
>>> import numpy as np
>>> from sciml.bandits import CostNormaliser, TsallisINF
>>> omegas = np.linspace(1.0, 1.95, 20)
>>> bandit, to_loss = TsallisINF(omegas.size, seed=0), CostNormaliser(scale=1000)
>>> arm = bandit.select()
>>> iterations = 250                      # run SOR with omega = omegas[arm] here
>>> bandit.update(arm, to_loss(iterations))
"""

from .chebcb import ChebCB, inverse_gap_weighting
from .contextual import BinnedContextualBandit, bin_edges
from .features import diagonal_dominance
from .learner import BanditError, Learner
from .normalise import CostNormaliser
from .offline import (
    CostTable,
    best_fixed_arm,
    best_fixed_omega,
    cost_table,
    cumulative_regret,
    instance_optimal,
)
from .omega import DEFAULT_OMEGAS, PRESETS, BanditState, OmegaBandit, check_omegas
from .sor import BanditSOR, BanditSSOR
from .tsallis import TsallisINF, tsallis_probabilities
from .unimodal import UnimodalBandit

__all__ = ["DEFAULT_OMEGAS", "PRESETS", "BanditError", "BanditSOR", "BanditSSOR", "BanditState",
           "BinnedContextualBandit", "ChebCB", "CostNormaliser", "CostTable", "Learner",
           "OmegaBandit", "TsallisINF", "UnimodalBandit", "best_fixed_arm", "best_fixed_omega",
           "bin_edges", "check_omegas", "cost_table", "cumulative_regret", "diagonal_dominance",
           "instance_optimal", "inverse_gap_weighting", "tsallis_probabilities"]
