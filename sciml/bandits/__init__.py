"""Online learning of solver parameters from iteration counts (Khodak et al., ICLR 2024).

Pure-numpy bandits over a finite grid of arms (e.g. SOR relaxation parameters ω); the solver
integration maps arm indices to parameters and iteration counts to losses.

- :class:`TsallisINF`: ½-Tsallis-INF over :math:`K` arms, losses in [0, 1].
- :class:`BinnedContextualBandit`: one TsallisINF per bin of a scalar context.
- :class:`ChebCB`: SquareCB with per-arm Chebyshev regression on a scalar context.
- :class:`CostNormaliser`: iteration counts -> losses in [0, 1].
- :func:`best_fixed_arm`, :func:`instance_optimal`, :func:`cumulative_regret`: offline yardsticks.
- :class:`BanditSOR` / :class:`BanditSSOR`: ``Solver(method="bandit-sor")`` and
  ``Solver(method="cg", pc="bandit-ssor")``, a new ω per solve (:class:`OmegaBandit` holds the
  grid, learner, losses and state, with ``save``/``load``).
- :func:`cost_table`, :func:`best_fixed_omega`: every system with every ω, offline (stateless).

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
from .normalise import CostNormaliser
from .offline import best_fixed_arm, cumulative_regret, instance_optimal
from .omega import DEFAULT_OMEGAS, OmegaBandit, check_omegas
from .sor import BanditSOR, BanditSSOR
from .tsallis import TsallisINF, tsallis_probabilities
from .tuning import CostTable, best_fixed_omega, cost_table

__all__ = [
    "BanditSOR",
    "BanditSSOR",
    "BinnedContextualBandit",
    "ChebCB",
    "CostNormaliser",
    "CostTable",
    "DEFAULT_OMEGAS",
    "OmegaBandit",
    "TsallisINF",
    "best_fixed_arm",
    "best_fixed_omega",
    "bin_edges",
    "check_omegas",
    "cost_table",
    "cumulative_regret",
    "instance_optimal",
    "inverse_gap_weighting",
    "tsallis_probabilities",
]
