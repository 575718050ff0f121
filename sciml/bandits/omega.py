r"""A bandit over a grid of relaxation parameters :math:`\omega`: options and carried state.

:class:`OmegaBandit` is what the ``bandit-sor`` method and the ``bandit-ssor`` preconditioner
(:mod:`sciml.bandits.sor`) share: their hyperparameters (the grid
:math:`\omega_1 < \dots < \omega_K`, the learner, the context, the cost scale) and the
carried-state protocol of :mod:`solvers.method`. What is learned lives in a
:class:`BanditState` that the :class:`solvers.Solver` passes in and keeps (``solver.states``,
``result.state``). One round per user-visible solve, as in Khodak et al. (ICLR 2024):

1. :meth:`~OmegaBandit.before_solve`: read the context :math:`c_t` of system :math:`t`
   (contextual learners only), draw arm :math:`I_t` and record it as pending in the state;
2. the solve runs with :math:`\omega_{I_t}` (a refinement restart reuses it);
3. :meth:`~OmegaBandit.after_solve`: report the loss :math:`\ell_t` of the whole solve, its
   iteration count :math:`k_t` mapped to :math:`[0, 1]` by the
   :class:`~sciml.bandits.normalise.CostNormaliser` (default :math:`\min(k_t/m, 1)` with
   :math:`m` the solve's ``maxiter``); a solve that did not converge costs :math:`1`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sciml.persist import check_resume, read_state, write_state
from solvers.stopping import StoppingRule
from solvers.system import LinearSystem

from .chebcb import ChebCB
from .contextual import BinnedContextualBandit, bin_edges
from .learner import BanditError, Learner, check_context
from .normalise import CostNormaliser
from .tsallis import TsallisINF

__all__ = ["DEFAULT_OMEGAS", "LEARNERS", "BanditState", "OmegaBandit", "check_omegas"]

#: The default grid of the paper: 20 equispaced values in [1, 1.95].
DEFAULT_OMEGAS = np.linspace(1.0, 1.95, 20)
#: Learners by name; ``"binned"`` and ``"chebcb"`` use a context.
LEARNERS = {"tsallis": TsallisINF, "binned": BinnedContextualBandit, "chebcb": ChebCB}
#: ``kind`` and ``version`` of the state files (:mod:`sciml.persist`).
STATE_KIND, STATE_VERSION = "omega-bandit", 2

Context = str | Callable[[Any], float] | None


def check_omegas(omegas: Sequence[float] | np.ndarray | None) -> np.ndarray:
    """Validate a grid of relaxation parameters: non-empty, finite, distinct, in (0, 2).

    ``None`` gives :data:`DEFAULT_OMEGAS`; otherwise :class:`BanditError` says what is wrong.

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
        grid = np.empty(0)
    if grid.ndim != 1 or grid.size == 0 or not np.all((grid > 0) & (grid < 2)):
        raise BanditError(f"omegas must be a non-empty 1-d sequence of numbers in the open "
                          f"interval (0, 2), where SOR converges, e.g. numpy.linspace(1.0, 1.95, "
                          f"20), not {omegas!r}")
    if np.unique(grid).size != grid.size:
        raise BanditError(f"omegas must be distinct, got {grid.tolist()}")
    return grid


@dataclass(repr=False)
class BanditState:
    """What a bandit carries across solves; mutable, updated in place by the hooks.

    ``learner`` (its ``probabilities(context)`` are the current weights over the grid),
    ``normaliser`` (iteration counts to losses), ``config`` (the options it was made with,
    checked on resume), ``records`` (one dict per completed round: ``arm``, ``omega``,
    ``context``, ``iterations``, ``converged``, ``loss``) and ``pending`` (the round in
    progress: ``arm``, ``context``, ``budget``; ``None`` between solves).
    """

    learner: Learner
    normaliser: CostNormaliser
    config: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[str, Any] | None = None

    @property
    def omegas(self) -> np.ndarray:
        """The grid."""
        return np.asarray(self.config["omegas"])

    @property
    def omega(self) -> float | None:
        r""":math:`\omega` of the round in progress, or ``None``."""
        return None if self.pending is None else float(self.omegas[self.pending["arm"]])

    @property
    def chosen_omegas(self) -> np.ndarray:
        r""":math:`\omega` of every completed round, in order."""
        return np.array([r["omega"] for r in self.records])

    @property
    def iterations(self) -> np.ndarray:
        """Iterations of every completed round, in order."""
        return np.array([r["iterations"] for r in self.records], dtype=int)

    def probabilities(self, context: float | None = None) -> np.ndarray:
        """The learner's distribution over the grid now (for ``context`` if contextual)."""
        return self.learner.probabilities(context)

    def best_omega(self, context: float | None = None) -> float:
        r"""The most probable :math:`\omega` now (the greedy choice)."""
        return float(self.omegas[int(np.argmax(self.probabilities(context)))])

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable state."""
        return {"config": self.config, "learner": self.learner.state_dict(),
                "normaliser": self.normaliser.state_dict(), "records": self.records,
                "pending": self.pending}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the state to ``path`` atomically (continue it with ``resume=path``)."""
        return write_state(path, STATE_KIND, STATE_VERSION, self.state_dict())

    def __repr__(self) -> str:
        return f"BanditState({type(self.learner).__name__}, rounds={len(self.records)})"


class OmegaBandit:
    r"""Hyperparameters and per-solve hooks of a bandit over a grid of :math:`\omega`.

    Parameters
    ----------
    omegas
        Grid of :math:`\omega` values in :math:`(0, 2)`; default :data:`DEFAULT_OMEGAS`.
    learner
        ``"tsallis"`` (:class:`~sciml.bandits.tsallis.TsallisINF`, no context; the default
        without ``context``), ``"binned"`` (one Tsallis-INF per context bin; the default with
        ``context``), ``"chebcb"`` (Chebyshev-regression SquareCB), or a
        :class:`~sciml.bandits.learner.Learner` instance over ``len(omegas)`` arms, copied as
        the initial state.
    seed
        Seed of a learner made by name; default 0, so sequences are reproducible.
    context
        Contextual learners: where the scalar context of a system comes from. A string names
        a parameter of the :class:`operators.Problem` solved (default ``"context"``; ``"shift"``
        and ``"context"`` are set by :mod:`operators.sequences`); a callable receives the
        ``Problem`` if one was passed, else the CSR matrix, and returns a float.
    bins
        ``"binned"``/``"chebcb"``, required: bin edges of the context or ``(low, high,
        n_bins)`` (:func:`~sciml.bandits.contextual.bin_edges`); ChebCB uses the outer edges.
    cost_scale
        The :class:`~sciml.bandits.normalise.CostNormaliser` scale: ``"maxiter"`` (default,
        as in [1]_), ``"mean"`` (used by ``benchmarks/bench_bandit_sor.py``), ``"running"`` or
        a number.
    learner_options
        Keyword arguments of a learner made by name (``eta_scale``; ``degree``,
        ``gamma_scale``, ``ridge`` for ChebCB).
    resume
        A state file written by :meth:`BanditState.save` with the same options: the initial
        state continues it.
    contextual
        Removed; raises :class:`~sciml.bandits.learner.BanditError` naming ``learner=``.

    References
    ----------
    .. [1] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
       Parameters Across a Sequence of Linear System Instances", ICLR 2024.
    """

    carries_state = True
    requires_symmetric = False

    def __init__(self, omegas: Sequence[float] | np.ndarray | None = None, *,
                 learner: str | Learner | None = None, seed: int = 0, context: Context = None,
                 bins: Any = None, cost_scale: str | float = "maxiter",
                 learner_options: Mapping[str, Any] | None = None,
                 resume: str | os.PathLike[str] | None = None, contextual: Any = None) -> None:
        if contextual is not None:
            raise BanditError(f"contextual={contextual!r} was replaced by learner=: use "
                              f"learner='binned' (one Tsallis-INF per context bin), "
                              f"learner='chebcb' or learner='tsallis' (no context)")
        self.omegas = check_omegas(omegas)
        self._template, name, edges = _make_learner(
            learner, context, self.omegas.size, seed, bins, dict(learner_options or {}))
        self.context = "context" if context is None and name in ("binned", "chebcb") else context
        CostNormaliser(cost_scale)  # validates
        self.cost_scale, self.resume = cost_scale, resume
        self.config = {"omegas": self.omegas.tolist(), "learner": name, "edges": edges,
                       "cost_scale": cost_scale, "context": _context_name(self.context)}

    def initial_state(self) -> BanditState:
        """A copy of the initial learner, or the state in ``resume``."""
        if self.resume is not None:
            return self.load(self.resume)
        learner = type(self._template).from_state(self._template.state_dict())
        return BanditState(learner, CostNormaliser(self.cost_scale), dict(self.config))

    def load(self, path: str | os.PathLike[str]) -> BanditState:
        """The state saved in ``path``; its options must be this bandit's."""
        saved = read_state(path, STATE_KIND, STATE_VERSION)
        check_resume(saved["config"], self.config, path)
        return BanditState(type(self._template).from_state(saved["learner"]),
                           CostNormaliser.from_state(saved["normaliser"]), dict(self.config),
                           saved["records"], saved["pending"])

    def context_of(self, system: LinearSystem) -> float | None:
        """The context of ``system`` (``None`` without ``context=``)."""
        if self.context is None:
            return None
        if callable(self.context):
            source = next(s for s in (system.problem, system.matrix, system.op) if s is not None)
            value = self.context(source)
        else:
            params = getattr(system.problem, "params", None)
            if not isinstance(params, Mapping) or self.context not in params:
                raise BanditError(
                    f"context={self.context!r} names a parameter of an operators.Problem, but "
                    f"the system solved has none by that name; pass a Problem from "
                    f"operators.sequences or a callable context=lambda A: ...")
            value = params[self.context]
        return check_context(value)

    def before_solve(self, system: LinearSystem, stop: StoppingRule,
                     state: BanditState) -> BanditState:
        """Hook: draw the arm of this solve and record it as pending in ``state``."""
        context = self.context_of(system)
        state.pending = {"arm": state.learner.select(context), "context": context,
                         "budget": stop.iterations(system.n)}
        return state

    def after_solve(self, result: Any, state: BanditState) -> BanditState:
        """Hook: report the loss of the whole solve (``result``) to the learner; one round."""
        if state.pending is None:
            return state
        arm, context, budget = (state.pending[k] for k in ("arm", "context", "budget"))
        cost = result.iterations if result.converged else math.inf
        loss = state.normaliser(cost, budget)
        state.learner.update(arm, loss, context)
        state.records.append({"arm": arm, "omega": float(self.omegas[arm]), "context": context,
                              "iterations": int(result.iterations),
                              "converged": bool(result.converged), "loss": loss})
        state.pending = None
        return state

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(omegas=[{self.omegas[0]:g}..{self.omegas[-1]:g}] "
                f"({self.omegas.size}), learner={self.config['learner']!r})")


def _make_learner(learner: str | Learner | None, context: Context, n_arms: int, seed: int,
                  bins: Any, options: dict[str, Any]) -> tuple[Learner, str, list | None]:
    """The initial learner, its name and the bin edges (``None`` without bins)."""
    if learner is not None and not isinstance(learner, str):
        if not isinstance(learner, Learner) or learner.n_arms != n_arms:
            raise BanditError(f"learner must be 'tsallis', 'binned', 'chebcb' or a Learner "
                              f"over len(omegas) = {n_arms} arms, not {learner!r}")
        if bins is not None or options:
            raise BanditError("bins= and learner_options= configure a learner by name; a "
                              "Learner instance comes configured: drop them")
        return learner, type(learner).__name__, None
    name = learner or ("tsallis" if context is None else "binned")
    if name not in LEARNERS:
        raise BanditError(f"learner must be one of {', '.join(map(repr, LEARNERS))} or a "
                          f"Learner instance, not {name!r}")
    if name == "tsallis" and (context is not None or bins is not None):
        raise BanditError("context= and bins= need a contextual learner: pass "
                          "learner='binned' or learner='chebcb'")
    if name != "tsallis" and bins is None:
        raise BanditError(f"learner={name!r} needs bins: the bin edges of the context, or a "
                          f"tuple (low, high, n_bins) such as bins=(-0.15, 0.45, 12)")
    edges = None if bins is None else bin_edges(bins)
    domain = () if edges is None else (edges if name == "binned" else edges[[0, -1]],)
    try:
        made = LEARNERS[name](n_arms, *domain, seed=seed, **options)
    except TypeError as exc:
        raise BanditError(f"invalid learner_options for learner={name!r}: {exc}") from None
    return made, name, None if edges is None else edges.tolist()


def _context_name(context: Context) -> str | None:
    """How ``context`` is recorded in a state file (a callable only by kind)."""
    if context is None or isinstance(context, str):
        return context
    if callable(context):
        return "<callable>"
    raise BanditError(f"context must be the name of an operators.Problem parameter (e.g. "
                      f"'shift') or a callable returning a float, not {context!r}")
