r"""Choosing the SOR relaxation parameter :math:`\omega` per solve with a bandit.

:class:`OmegaBandit` holds what the ``bandit-sor`` method and the ``bandit-ssor``
preconditioner (:mod:`sciml.bandits.sor`) share: the grid :math:`\omega_1 < \dots < \omega_K`
of arms, the learner (:class:`~sciml.bandits.tsallis.TsallisINF`, or a contextual one), the
map from iteration counts to losses, the log of past rounds, and their persistence. One round
per linear system, as in Khodak et al. [1]_:

1. read the context :math:`c_t` of system :math:`t` (contextual variants only);
2. draw arm :math:`I_t` from the learner and solve with :math:`\omega_{I_t}`;
3. report the loss :math:`\ell_t = \min(k_t / m, 1)`, with :math:`k_t` the iterations and
   :math:`m` the iteration budget (``maxiter``); a solve that did not converge (budget
   exhausted, divergence, breakdown) costs :math:`\ell_t = 1`.

References
----------
.. [1] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
   Parameters Across a Sequence of Linear System Instances", ICLR 2024.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np

from solvers.errors import InvalidOptionError
from solvers.krylov.sor import check_omega
from solvers.system import LinearSystem

from .chebcb import ChebCB
from .contextual import BinnedContextualBandit, bin_edges
from .normalise import CostNormaliser
from .tsallis import TsallisINF, _load_json, _save_json

__all__ = ["DEFAULT_OMEGAS", "LEARNERS", "OmegaBandit", "check_omegas"]

#: The default grid of the paper: 20 equispaced values in [1, 1.95].
DEFAULT_OMEGAS = np.linspace(1.0, 1.95, 20)
#: Learner names accepted by ``contextual=``: ``"binned"`` and ``"chebcb"`` use a context.
LEARNERS = {"tsallis": TsallisINF, "binned": BinnedContextualBandit, "chebcb": ChebCB}
#: ``cost_scale`` values that are not a number.
COST_SCALES = ("maxiter", "running", "mean")
#: ``cost_scale="mean"`` divides by this multiple of the mean iteration count so far.
MEAN_SCALE_FACTOR = 2.0

_STATE_VERSION = 1

ContextSpec = str | Callable[[Any], float] | None
Learner = TsallisINF | BinnedContextualBandit | ChebCB


def check_omegas(omegas: Sequence[float] | np.ndarray | None) -> np.ndarray:
    """Validate a grid of relaxation parameters: non-empty, finite, distinct, in (0, 2).

    ``None`` gives :data:`DEFAULT_OMEGAS`. Raises
    :class:`~solvers.errors.InvalidOptionError` naming the offending value otherwise.

    Examples
    --------
    >>> check_omegas([1.0, 1.5])
    array([1. , 1.5])
    """
    if omegas is None:
        return DEFAULT_OMEGAS.copy()
    try:
        grid = np.asarray(omegas, dtype=float)
    except (TypeError, ValueError):
        raise InvalidOptionError(
            f"omegas must be a 1-d sequence of numbers in (0, 2), not {omegas!r}"
        ) from None
    if grid.ndim != 1 or grid.size == 0:
        raise InvalidOptionError(
            f"omegas must be a non-empty 1-d sequence of numbers in (0, 2), got shape "
            f"{grid.shape}; e.g. omegas=numpy.linspace(1.0, 1.95, 20)"
        )
    if not np.all(np.isfinite(grid)):
        raise InvalidOptionError(f"omegas must be finite, got {grid.tolist()}")
    for omega in grid:
        check_omega(float(omega))
    if np.unique(grid).size != grid.size:
        raise InvalidOptionError(f"omegas must be distinct, got {grid.tolist()}")
    return grid


def _check_cost_scale(cost_scale: str | float) -> str | float:
    if isinstance(cost_scale, str) and cost_scale in COST_SCALES:
        return cost_scale
    if isinstance(cost_scale, Real) and not isinstance(cost_scale, bool) \
            and math.isfinite(cost_scale) and cost_scale > 0:
        return float(cost_scale)
    raise InvalidOptionError(
        f"cost_scale must be 'maxiter' (loss = iterations / maxiter, as in Khodak et al.), "
        f"'mean' (divide by twice the mean count so far), 'running' (divide by the largest "
        f"count so far) or a positive number, "
        f"not {cost_scale!r}"
    )


def _normaliser(cost_scale: str | float) -> CostNormaliser | None:
    """The fixed or running-max normaliser; ``None`` where it depends on each solve."""
    if cost_scale in ("maxiter", "mean"):
        return None
    return CostNormaliser(None if cost_scale == "running" else cost_scale)


def _learner_kind(contextual: bool | str | None, context: ContextSpec) -> str:
    """``"tsallis"``, ``"binned"`` or ``"chebcb"`` from the ``contextual``/``context`` pair."""
    if contextual is None:
        return "tsallis" if context is None else "binned"
    if contextual is False:
        if context is not None:
            raise InvalidOptionError(
                f"context={context!r} was given but contextual=False; drop one of the two"
            )
        return "tsallis"
    if contextual is True:
        return "binned"
    if isinstance(contextual, str) and contextual in ("binned", "chebcb"):
        return contextual
    raise InvalidOptionError(
        f"contextual must be None, False, True, 'binned' or 'chebcb', not {contextual!r}"
    )


def _context_name(context: ContextSpec) -> str | None:
    """How ``context`` is recorded in a state file (a callable is only checked by kind)."""
    if context is None or isinstance(context, str):
        return context
    if callable(context):
        return "<callable>"
    raise InvalidOptionError(
        f"context must be the name of an operators.Problem parameter (e.g. 'shift', "
        f"'context') or a callable returning a float, not {context!r}"
    )


def _make_learner(kind: str, n_arms: int, seed: int, bins: Any,
                  options: Mapping[str, Any]) -> tuple[Learner, np.ndarray | None]:
    """Build the learner and return it with the validated bin edges (``None`` for tsallis)."""
    if kind == "tsallis":
        if bins is not None:
            raise InvalidOptionError("bins were given but no context: pass context=... too")
        return _construct(LEARNERS[kind], n_arms, seed=seed, **options), None
    if bins is None:
        raise InvalidOptionError(
            f"the {kind} contextual bandit needs bins: the bin edges of the context, or a "
            f"tuple (low, high, n_bins) such as bins=(-0.15, 0.45, 12)"
        )
    try:
        edges = bin_edges(bins)
    except (TypeError, ValueError) as exc:
        raise InvalidOptionError(f"invalid bins={bins!r}: {exc}") from None
    domain = edges if kind == "binned" else (edges[0], edges[-1])
    return _construct(LEARNERS[kind], n_arms, domain, seed=seed, **options), edges


def _construct(cls: type, *args: Any, **kwargs: Any) -> Learner:
    try:
        return cls(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise InvalidOptionError(f"invalid option for {cls.__name__}: {exc}") from None


class OmegaBandit:
    r"""A bandit over a grid of relaxation parameters, fed with iteration counts.

    Parameters
    ----------
    omegas
        Grid of :math:`\omega` values, each in :math:`(0, 2)`; default
        :data:`DEFAULT_OMEGAS` (20 values in :math:`[1, 1.95]`).
    seed
        Seed of the learner's generator. Defaults to 0, so that a sequence of solves is
        reproducible out of the box; pass different seeds for independent runs.
    context
        Contextual variants only: where the scalar context :math:`c_t` of a system comes
        from. A string names a parameter of the :class:`operators.Problem` being solved
        (``"context"``, the default, and ``"shift"`` are set by
        :mod:`operators.sequences`); a callable receives the ``Problem`` when one was
        passed, otherwise the assembled CSR matrix (or the ``LinearOperator``), and
        returns a float.
    bins
        Contextual variants only, required: bin edges of the context or a tuple
        ``(low, high, n_bins)`` (see :func:`~sciml.bandits.contextual.bin_edges`). For
        ``"chebcb"`` only the outer edges matter: they are the context range.
    contextual
        ``None`` (default): contextual (``"binned"``) exactly when ``context`` is given.
        ``False``: :class:`~sciml.bandits.tsallis.TsallisINF`. ``True`` or ``"binned"``:
        one Tsallis-INF per context bin. ``"chebcb"``: Chebyshev-regression SquareCB.
    cost_scale
        Loss of a converged solve with :math:`k_t` iterations: ``"maxiter"`` (default, as in
        [1]_) :math:`\min(k_t/m, 1)` with :math:`m` the iteration budget of the solve;
        ``"mean"`` :math:`\min(k_t / (2 \bar k_{t-1}), 1)` with :math:`\bar k_{t-1}` the mean
        iteration count of the earlier converged solves (:math:`m` before the first);
        ``"running"`` :math:`k_t / \max_{s \le t} k_s`; a number :math:`m` fixes the scale.
        Non-converged solves always cost 1. ``"maxiter"`` keeps the losses stationary, which
        the regret bounds assume, but when :math:`m` is far above the typical count the
        losses are all small and learning is slow; ``"mean"`` adapts the scale to the counts
        seen (it changes slowly, so the bounds do not strictly apply); on 5000 shifted
        Laplacians (``benchmarks/bench_bandit_sor.py``) it cut Tsallis-INF's total from
        1.56x to 1.25x that of the best fixed :math:`\omega`.
    learner_options
        Extra keyword arguments of the learner (``eta_scale``; ``degree``,
        ``gamma_scale``, ``ridge`` for ChebCB).
    resume
        Path of a state file written by :meth:`save`: continue that sequence. The file must
        have been written with the same ``omegas``, learner, ``bins``, ``cost_scale`` and
        ``context``.

    Attributes
    ----------
    bandit
        The learner; ``bandit.probabilities()`` (``probabilities(context)`` for the contextual
        ones) gives its current weights over ``omegas``, ``bandit.history`` its rounds.
    records
        One dict per completed round: ``arm``, ``omega``, ``context``, ``iterations``,
        ``converged``, ``loss``.

    References
    ----------
    .. [1] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
       Parameters Across a Sequence of Linear System Instances", ICLR 2024.
    """

    def __init__(self, omegas: Sequence[float] | np.ndarray | None = None, *, seed: int = 0,
                 context: ContextSpec = None, bins: Any = None,
                 contextual: bool | str | None = None, cost_scale: str | float = "maxiter",
                 learner_options: Mapping[str, Any] | None = None,
                 resume: str | os.PathLike[str] | None = None) -> None:
        self.omegas = check_omegas(omegas)
        self.learner = _learner_kind(contextual, context)
        if self.learner != "tsallis" and context is None:
            context = "context"
        self._context_name = _context_name(context)
        self.context = context
        self.cost_scale = _check_cost_scale(cost_scale)
        self.bandit, self.edges = _make_learner(self.learner, self.omegas.size, seed, bins,
                                                dict(learner_options or {}))
        self.seed = seed
        self.records: list[dict[str, Any]] = []
        self._normaliser = _normaliser(self.cost_scale)
        self._pending: tuple[int, float | None] | None = None
        self._converged_sum = 0  # iterations of the converged solves so far ("mean" scale)
        self._converged_count = 0
        if resume is not None:
            self.load(resume)

    # ------------------------------------------------------------------ one round
    def context_of(self, system: LinearSystem) -> float | None:
        """The context of ``system`` (``None`` for the non-contextual learner)."""
        if self.learner == "tsallis":
            return None
        source = system.problem if system.problem is not None else (
            system.matrix if system.matrix is not None else system.op)
        if isinstance(self.context, str):
            params = getattr(system.problem, "params", None)
            if not isinstance(params, Mapping) or self.context not in params:
                raise InvalidOptionError(
                    f"context={self.context!r} names a parameter of an operators.Problem, "
                    f"but the system solved has none by that name; pass a Problem from "
                    f"operators.sequences or a callable context=lambda A: ..."
                )
            value = params[self.context]
        else:
            value = self.context(source)
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise InvalidOptionError(f"the context must be a finite real number, got {value!r}")
        return float(value)

    def select(self, system: LinearSystem) -> int:
        """Start a round for ``system``: draw and return the arm (an index into ``omegas``).

        A selection left pending by an interrupted solve is dropped first.
        """
        if self._pending is not None:
            self.bandit.cancel()
        context = self.context_of(system)
        arm = self.bandit.select() if context is None else self.bandit.select(context)
        self._pending = (arm, context)
        return arm

    def update(self, iterations: int, converged: bool, budget: int) -> float:
        r"""End the round: report the cost of the pending solve; return its loss in [0, 1].

        ``budget`` is the iteration budget :math:`m` of that solve (``maxiter``).
        """
        if self._pending is None:
            raise InvalidOptionError("update() without a pending selection; call select() first")
        arm, context = self._pending
        loss = self._loss(iterations, converged, budget)
        self.bandit.update(arm, loss)
        self._pending = None
        self.records.append({
            "arm": int(arm), "omega": float(self.omegas[arm]), "context": context,
            "iterations": int(iterations), "converged": bool(converged), "loss": loss,
        })
        return loss

    def _loss(self, iterations: int, converged: bool, budget: int) -> float:
        loss = self._scaled(iterations, budget) if converged else 1.0
        if converged:
            self._converged_sum += int(iterations)
            self._converged_count += 1
        return loss

    def _scaled(self, iterations: int, budget: int) -> float:
        """Loss of a converged solve under :attr:`cost_scale`."""
        if self.cost_scale == "mean":
            mean = self._converged_sum / max(self._converged_count, 1)
            scale = MEAN_SCALE_FACTOR * mean if mean > 0 else max(budget, 1)
            return min(iterations / scale, 1.0)
        if self.cost_scale == "maxiter" and (
                self._normaliser is None or self._normaliser.scale != budget):
            self._normaliser = CostNormaliser(max(budget, 1))
        return self._normaliser(iterations)

    @property
    def pending(self) -> int | None:
        """Arm of the round in progress, or ``None``."""
        return None if self._pending is None else self._pending[0]

    @property
    def omega(self) -> float | None:
        """:math:`\\omega` of the round in progress, or ``None``."""
        return None if self._pending is None else float(self.omegas[self._pending[0]])

    # ------------------------------------------------------------------ inspection
    def probabilities(self, context: float | None = None) -> np.ndarray:
        """The learner's current distribution over ``omegas`` (for ``context`` if contextual)."""
        if self.learner == "tsallis":
            return self.bandit.probabilities()
        if context is None:
            raise InvalidOptionError(f"the {self.learner} learner needs a context= value")
        return self.bandit.probabilities(context)

    def best_omega(self, context: float | None = None) -> float:
        """The most probable :math:`\\omega` now (the greedy choice)."""
        return float(self.omegas[int(np.argmax(self.probabilities(context)))])

    @property
    def chosen_omegas(self) -> np.ndarray:
        """:math:`\\omega` of every completed round, in order."""
        return np.array([r["omega"] for r in self.records])

    @property
    def iterations(self) -> np.ndarray:
        """Iterations of every completed round, in order."""
        return np.array([r["iterations"] for r in self.records], dtype=int)

    # ------------------------------------------------------------------ persistence
    def _config(self) -> dict[str, Any]:
        return {
            "omegas": [float(w) for w in self.omegas],
            "learner": self.learner,
            "edges": None if self.edges is None else [float(e) for e in self.edges],
            "cost_scale": self.cost_scale,
            "context": self._context_name,
        }

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable state: configuration, learner, normaliser and records."""
        return {
            "kind": "OmegaBandit",
            "version": _STATE_VERSION,
            "config": self._config(),
            "bandit": self.bandit.state_dict(),
            "normaliser": None if self._normaliser is None else self._normaliser.state_dict(),
            "records": list(self.records),
            "pending": None if self._pending is None else list(self._pending),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output in place; the configuration must match."""
        if state.get("kind") != "OmegaBandit" or state.get("version") != _STATE_VERSION:
            raise InvalidOptionError(
                f"not an OmegaBandit state (version {_STATE_VERSION}): kind="
                f"{state.get('kind')!r}, version={state.get('version')!r}"
            )
        saved, mine = state["config"], self._config()
        differ = [k for k in mine if saved.get(k) != mine[k]]
        if differ:
            detail = "; ".join(f"{k}: saved {saved.get(k)!r}, now {mine[k]!r}" for k in differ)
            raise InvalidOptionError(
                f"the saved bandit state was made with other options ({detail}); construct "
                f"the solver with the options it was saved with"
            )
        self.bandit = type(self.bandit).from_state_dict(state["bandit"])
        normaliser = state["normaliser"]
        self._normaliser = None if normaliser is None else \
            CostNormaliser.from_state_dict(normaliser)
        self.records = [dict(r) for r in state["records"]]
        done = [r["iterations"] for r in self.records if r["converged"]]
        self._converged_sum, self._converged_count = int(sum(done)), len(done)
        pending = state["pending"]
        self._pending = None if pending is None else (int(pending[0]), pending[1])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state to ``path`` (JSON, atomically); continue it with :meth:`load`."""
        _save_json(path, self.state_dict())

    def load(self, path: str | os.PathLike[str]) -> OmegaBandit:
        """Restore the state written by :meth:`save` into this object; return ``self``."""
        if not Path(path).is_file():
            raise InvalidOptionError(f"no bandit state file at {os.fspath(path)!r}")
        self.load_state_dict(_load_json(path))
        return self

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(omegas=[{self.omegas[0]:g}..{self.omegas[-1]:g}] "
                f"({self.omegas.size}), learner={self.learner!r}, rounds={len(self.records)})")
