"""Turn solver costs (iteration counts) into bandit losses in :math:`[0, 1]`: the one place
where raw costs are mapped there, so the learners and the solver integration agree."""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real
from typing import Any

from .learner import BanditError

__all__ = ["CostNormaliser"]

#: ``scale="mean"`` divides by this multiple of the mean cost so far.
MEAN_SCALE_FACTOR = 2.0


class CostNormaliser:
    r"""Map non-negative costs :math:`c_t` (e.g. SOR iteration counts) to losses in [0, 1].

    ``scale`` selects the map:

    * a number :math:`m > 0`, a fixed budget: :math:`\ell_t = \min(c_t / m, 1)`;
    * ``"maxiter"``: the same with :math:`m` the ``budget`` of each call (the solve's
      ``maxiter``), the setting of Khodak et al. [1]_; stationary, as the regret bounds assume,
      but when :math:`m` is far above the typical cost all losses are small;
    * ``"mean"``: :math:`\ell_t = \min(c_t / (2 \bar c_{t-1}), 1)` with :math:`\bar c_{t-1}`
      the mean of the earlier finite costs (the budget before the first non-zero mean);
      adapts to the costs seen, changing slowly;
    * ``None`` or ``"running"``: :math:`\ell_t = c_t / \max_{s \le t} c_s` (the first cost
      maps to 1, an all-zero history to 0).

    A cost of ``+inf`` (a solve that did not converge) maps to the worst loss, 1, and does not
    enter the mean or the maximum.

    References
    ----------
    .. [1] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
       Parameters Across a Sequence of Linear System Instances", ICLR 2024.

    Examples
    --------
    >>> norm = CostNormaliser(scale=200)
    >>> norm(50), norm(float("inf"))
    (0.25, 1.0)
    >>> running = CostNormaliser()
    >>> running(10), running(5), running(40)
    (1.0, 0.5, 1.0)
    """

    def __init__(self, scale: float | str | None = None) -> None:
        if scale == "running":
            scale = None
        elif isinstance(scale, Real) and not isinstance(scale, bool) and math.isfinite(scale) \
                and scale > 0:
            scale = float(scale)
        elif scale not in (None, "maxiter", "mean"):
            raise BanditError(
                f"scale must be a finite positive number such as the solver's maxiter, "
                f"'maxiter' (the budget of each solve), 'mean' (twice the mean cost so far), "
                f"'running' or None (the largest cost so far), not {scale!r}")
        self.scale = scale
        self.running_max = 0.0  #: largest finite cost so far
        self.total = 0.0  #: sum of the finite costs so far
        self.count = 0  #: number of finite costs so far

    def __call__(self, cost: float, budget: int | None = None) -> float:
        """The loss of one ``cost``; ``budget`` (the solve's ``maxiter``) is needed by
        ``"maxiter"`` and by ``"mean"`` before the first non-zero cost."""
        if isinstance(cost, bool) or not isinstance(cost, Real) or not cost >= 0:
            raise BanditError(
                f"cost must be a non-negative number such as an iteration count (got {cost!r});"
                f" report a failed solve as float('inf'), which maps to loss 1")
        if math.isinf(cost):
            return 1.0
        loss = self._scaled(float(cost), budget)
        self.running_max = max(self.running_max, cost)
        self.total += cost
        self.count += 1
        return loss

    def _scaled(self, cost: float, budget: int | None) -> float:
        if isinstance(self.scale, float):
            return min(cost / self.scale, 1.0)
        if self.scale is None:
            top = max(self.running_max, cost)
            return cost / top if top > 0 else 0.0
        mean = self.total / self.count if self.count else 0.0
        if self.scale == "mean" and mean > 0:
            return min(cost / (MEAN_SCALE_FACTOR * mean), 1.0)
        if budget is None:
            raise BanditError(f"scale={self.scale!r} needs the iteration budget: "
                              f"call normaliser(cost, budget=maxiter)")
        return min(cost / max(budget, 1), 1.0)

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable state."""
        return {"kind": "CostNormaliser", "scale": self.scale, "running_max": self.running_max,
                "total": self.total, "count": self.count}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> CostNormaliser:
        """Rebuild from :meth:`state_dict` output."""
        if state.get("kind") != "CostNormaliser":
            raise BanditError(f"not a CostNormaliser state dict (kind={state.get('kind')!r})")
        obj = cls(state["scale"])
        obj.running_max, obj.total, obj.count = (state["running_max"], state["total"],
                                                 state["count"])
        return obj

    def __repr__(self) -> str:
        return f"CostNormaliser(scale={self.scale!r})"
