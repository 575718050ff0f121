"""Turn solver costs (iteration counts) into bandit losses in :math:`[0, 1]`.

Every bandit in :mod:`sciml.bandits` expects losses in :math:`[0, 1]`; this module is the one
place where raw costs are mapped there, so the bandits and the solver integration agree.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["CostNormaliser"]


class CostNormaliser:
    r"""Map non-negative costs (e.g. SOR iteration counts) to losses in :math:`[0, 1]`.

    Two modes:

    * **budget** (``scale`` given; the setting of Khodak et al. 2024, where SOR is stopped
      after at most :math:`m` iterations): :math:`\ell_t = \min(c_t / m, 1)`. Stationary, so
      losses from different rounds are comparable; this is the recommended mode, with
      ``scale = maxiter``.
    * **running max** (``scale=None``): :math:`\ell_t = c_t / \max_{s \le t} c_s`, i.e. each
      cost is divided by the largest cost seen so far *including itself*. Needs no budget, but
      the scale drifts upwards, so earlier losses are not rescaled and the first cost always
      maps to 1 (an all-zero history maps to 0).

    A cost of ``+inf`` (a solve that did not converge) maps to the worst loss, 1. A negative or
    NaN cost raises ``ValueError``.

    Parameters
    ----------
    scale : float or None, optional
        The budget :math:`m > 0` (typically the solver's ``maxiter``). ``None`` selects the
        running-max mode.

    References
    ----------
    .. [1] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
       Parameters Across a Sequence of Linear System Instances", ICLR 2024.

    Examples
    --------
    >>> norm = CostNormaliser(scale=200)
    >>> norm(50)
    0.25
    >>> norm(float("inf"))
    1.0
    >>> running = CostNormaliser()
    >>> running(10), running(5), running(40)
    (1.0, 0.5, 1.0)
    """

    def __init__(self, scale: float | None = None) -> None:
        if scale is not None:
            scale = float(scale)
            if not (math.isfinite(scale) and scale > 0):
                raise ValueError(
                    f"scale must be a finite positive number such as the solver's maxiter, "
                    f"or None for the running-max mode (got {scale!r})"
                )
        self._scale = scale
        self._running_max = 0.0

    @property
    def scale(self) -> float | None:
        """The fixed budget, or ``None`` in running-max mode."""
        return self._scale

    @property
    def running_max(self) -> float:
        """Largest finite cost seen so far (0 before the first call)."""
        return self._running_max

    def __call__(self, cost: float) -> float:
        """Return the loss in :math:`[0, 1]` of one ``cost`` (and update the running max)."""
        try:
            c = float(cost)
        except (TypeError, ValueError) as err:
            raise ValueError(f"cost must be a real number, got {cost!r}") from err
        if math.isnan(c) or c < 0:
            raise ValueError(
                f"cost must be a non-negative number such as an iteration count (got {cost!r}); "
                f"report a failed solve as float('inf'), which maps to loss 1"
            )
        if math.isinf(c):
            return 1.0
        self._running_max = max(self._running_max, c)
        if self._scale is not None:
            return min(c / self._scale, 1.0)
        if self._running_max == 0.0:
            return 0.0
        return c / self._running_max

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable state."""
        return {"kind": "CostNormaliser", "scale": self._scale, "running_max": self._running_max}

    @classmethod
    def from_state_dict(cls, d: dict[str, Any]) -> CostNormaliser:
        """Rebuild from :meth:`state_dict` output."""
        if d.get("kind") != "CostNormaliser":
            raise ValueError(f"not a CostNormaliser state dict (kind={d.get('kind')!r})")
        obj = cls(d["scale"])
        obj._running_max = float(d["running_max"])
        return obj

    def __repr__(self) -> str:
        return f"CostNormaliser(scale={self._scale!r})"
