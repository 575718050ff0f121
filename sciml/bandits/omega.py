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
import reprlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Literal

import numpy as np

from sciml.persist import check_resume, read_state, write_state
from solvers.errors import InvalidOptionError
from solvers.params import Param, positive_int
from solvers.stopping import StoppingRule
from solvers.system import LinearSystem

from .chebcb import ChebCB
from .contextual import BinnedContextualBandit, bin_edges
from .features import FEATURES
from .learner import BanditError, Learner, check_context
from .normalise import CostNormaliser
from .tsallis import TsallisINF
from .unimodal import UnimodalBandit

__all__ = ["DEFAULT_OMEGAS", "LEARNERS", "LEARNER_OPTIONS", "MAX_ARMS", "MAX_BINS", "PRESETS",
           "BanditState", "OmegaBandit", "check_omegas"]

#: The default grid of the paper: 20 equispaced values in [1, 1.95].
DEFAULT_OMEGAS = np.linspace(1.0, 1.95, 20)
#: Learners by name; all but ``"tsallis"`` use a context.
LEARNERS = {"unimodal": UnimodalBandit, "tsallis": TsallisINF, "binned": BinnedContextualBandit,
            "chebcb": ChebCB}
#: The context each learner reads unless ``context=`` says otherwise.
LEARNER_CONTEXT = {"unimodal": "dominance", "binned": "context", "chebcb": "context"}
#: Named settings (``preset=``): the learner they select, with its defaults.
PRESETS = {"default": "unimodal", "paper": "tsallis", "paper-binned": "binned",
           "paper-chebcb": "chebcb"}
#: ``kind`` and ``version`` of the state files (:mod:`sciml.persist`).
STATE_KIND, STATE_VERSION = "omega-bandit", 2
#: Bounds that keep memory and time finite: arms of the grid (each a learner row, a SOR
#: factor) and context bins (each a learner per bin).
MAX_ARMS, MAX_BINS = 1000, 10_000
#: The keyword options of the learners made by name (``learner_options=``), each checked;
#: which learner takes which is checked when it is made.
LEARNER_OPTIONS = {param.name: param for param in (
    positive_int("rounds_per_bin", 8, 10**6, "unimodal: rounds per adaptive context bin"),
    positive_int("max_bins", 32, MAX_BINS, "unimodal: most adaptive context bins"),
    positive_int("start", 0, MAX_ARMS - 1, "unimodal: first arm; default the omega nearest 1",
                 low=0),
    Param("jump", "int", None, low=1, high=MAX_ARMS, none_ok=True,
          doc="unimodal: far neighbour, in grid steps"),
    Param("eta_scale", "float", 2.0, low=0.0, open_low=True,
          doc="tsallis/binned: learning-rate scale"),
    positive_int("degree", 4, 32, "chebcb: Chebyshev degree", low=0),
    Param("gamma_scale", "float", 10.0, low=0.0, open_low=True, doc="chebcb: exploration scale"),
    Param("ridge", "float", 1e-2, low=0.0, open_low=True, doc="chebcb: ridge regularisation"),
)}

Context = str | Callable[[Any], float] | None


def check_omegas(omegas: Sequence[float] | np.ndarray | None) -> np.ndarray:
    """Validate a grid of relaxation parameters: non-empty, finite, distinct, in (0, 2), at
    most :data:`MAX_ARMS` of them.

    ``None`` gives :data:`DEFAULT_OMEGAS`; otherwise :class:`BanditError` says what is wrong.

    Examples
    --------
    >>> check_omegas([1.0, 1.5])
    array([1. , 1.5])
    """
    if omegas is None:
        return DEFAULT_OMEGAS.copy()
    _raise_if("omegas", omegas, omegas_problem(omegas))
    return np.asarray(omegas, dtype=float)


# ---- checks shared by the constructor and the declared parameters (sciml.bandits.register):
# each returns what the value must be, or None if it is valid.

def omegas_problem(omegas: Any) -> str | None:
    """``None`` if ``omegas`` is a valid grid (or ``None``), else what it must be."""
    wanted = (f"a non-empty 1-d sequence of at most {MAX_ARMS} distinct numbers in the open "
              f"interval (0, 2), where SOR converges, e.g. numpy.linspace(1.0, 1.95, 20)")
    if omegas is None:
        return None
    if isinstance(omegas, str | bytes | Mapping) or (
            hasattr(omegas, "__len__") and len(omegas) > MAX_ARMS):
        return wanted
    try:
        grid = np.asarray(omegas, dtype=float)
    except (TypeError, ValueError):
        return wanted
    if grid.ndim != 1 or not 0 < grid.size <= MAX_ARMS or not np.all((grid > 0) & (grid < 2)):
        return wanted
    if np.unique(grid).size != grid.size:
        return f"distinct values, got {grid.tolist()}"
    return None


def learner_problem(learner: Any) -> str | None:
    """A learner's name or a :class:`~sciml.bandits.learner.Learner` instance."""
    if learner is None or isinstance(learner, Learner) or (
            isinstance(learner, str) and learner in LEARNERS):
        return None
    return f"one of {', '.join(map(repr, LEARNERS))} or a Learner instance"


def context_problem(context: Any) -> str | None:
    """A feature or ``Problem`` parameter name, a callable, ``"auto"`` or ``None``."""
    if context is None or callable(context) or (isinstance(context, str) and context):
        return None
    return (f"{', '.join(map(repr, FEATURES))} (computed from the matrix), the name of an "
            f"operators.Problem parameter (e.g. 'shift'), a callable returning a float, or None")


def bins_problem(bins: Any) -> str | None:
    """``"auto"``, ``"quantile"``, ``None``, bin edges or ``(low, high, n_bins)``, at most
    :data:`MAX_BINS` bins."""
    wanted = (f"'quantile' (adaptive), None, at most {MAX_BINS + 1} increasing bin edges, or a "
              f"tuple (low, high, n_bins) with n_bins <= {MAX_BINS} (default 'auto': the "
              f"learner's)")
    if bins is None:
        return None
    if isinstance(bins, str):
        return None if bins in ("auto", "quantile") else wanted
    if isinstance(bins, tuple) and len(bins) == 3 and isinstance(bins[2], Integral) \
            and bins[2] > MAX_BINS:
        return wanted
    if isinstance(bins, Mapping) or (hasattr(bins, "__len__") and len(bins) > MAX_BINS + 1):
        return wanted
    try:
        bin_edges(bins)
    except BanditError as exc:
        return f"{wanted} ({exc})"
    return None


def cost_scale_problem(scale: Any) -> str | None:
    """A scale :class:`~sciml.bandits.normalise.CostNormaliser` takes."""
    wanted = ("a finite positive number such as the solver's maxiter, 'maxiter' (the budget of "
              "each solve), 'mean' (twice the mean cost so far), 'running' or None (the "
              "largest cost so far)")
    if not (scale is None or isinstance(scale, str | Real)):
        return wanted
    try:
        CostNormaliser(scale)
    except BanditError:
        return wanted
    return None


def learner_options_problem(options: Any) -> str | None:
    """``None`` or a dict of :data:`LEARNER_OPTIONS`, each value in its range."""
    names = ", ".join(LEARNER_OPTIONS)
    if options is None:
        return None
    if not isinstance(options, Mapping):
        return f"a dict of learner options ({names})"
    for key, value in options.items():
        param = LEARNER_OPTIONS.get(key) if isinstance(key, str) else None
        if param is None:
            return f"a dict whose keys are among {names}; {key!r} is not one"
        try:
            param.check(value, "learner_options")
        except InvalidOptionError:
            return f"a dict whose {key} is {param.describe()} ({param.doc})"
    return None


def path_problem(path: Any) -> str | None:
    """``None`` or a non-empty path (``str`` or ``os.PathLike``)."""
    if path is None or (isinstance(path, str | os.PathLike) and os.fspath(path)):
        return None
    return "the path (str or pathlib.Path) of a state file written by BanditState.save"


def _raise_if(name: str, value: Any, problem: str | None) -> None:
    """:class:`BanditError` ``"<name> must be <problem>, not <value>"`` if ``problem``."""
    if problem is not None:
        raise BanditError(f"{name} must be {problem}, not {reprlib.repr(value)}")


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

    With no options (``Solver(method="bandit-sor")``) the learner is
    :class:`~sciml.bandits.unimodal.UnimodalBandit`: a local search over the grid that
    starts at :math:`\omega = 1`, compares the best :math:`\omega` so far with its grid
    neighbours (one and ``jump`` steps away) under confidence bounds, and does so separately
    per quantile bin of the diagonal dominance of the matrix
    (:func:`~sciml.bandits.features.diagonal_dominance`), with more and narrower bins as
    systems come. Its choices do not depend on the scale of the
    losses, hence not on ``maxiter``.

    Parameters
    ----------
    omegas
        Grid of at most :data:`MAX_ARMS` distinct :math:`\omega` values in :math:`(0, 2)`;
        default :data:`DEFAULT_OMEGAS`.
    preset
        Named settings: ``"default"`` (the above), ``"paper"`` (Tsallis-INF over the grid with
        loss :math:`k/\text{maxiter}`, the non-contextual setting of [1]_), ``"paper-binned"``
        and ``"paper-chebcb"`` (its contextual learners on a ``Problem`` parameter, default
        ``"context"``; they need ``bins``). Cannot be combined with ``learner``.
    learner
        ``"unimodal"`` (default), ``"tsallis"``
        (:class:`~sciml.bandits.tsallis.TsallisINF`, no context), ``"binned"`` (one
        Tsallis-INF per context bin), ``"chebcb"`` (Chebyshev-regression SquareCB), or a
        :class:`~sciml.bandits.learner.Learner` instance over ``len(omegas)`` arms, copied as
        the initial state.
    seed
        Seed of a learner made by name; default 0, so sequences are reproducible.
    context
        Where the scalar context of a system comes from: ``"dominance"`` (computed from the
        matrix; the default of ``"unimodal"``), another string naming a parameter of the
        :class:`operators.Problem` solved (``"shift"`` and ``"context"`` are set by
        :mod:`operators.sequences`; the default of ``"binned"``/``"chebcb"`` is
        ``"context"``), a callable receiving the ``Problem`` if one was passed, else the
        matrix, and returning a float, or ``None`` (no context; the default of ``"tsallis"``).
    bins
        ``"unimodal"``: ``"quantile"`` (default: adaptive, the quantiles of the contexts seen
        so far), or fixed bin edges / ``(low, high, n_bins)``.
        ``"binned"``/``"chebcb"``, required: bin edges of the context or ``(low, high,
        n_bins)`` (:func:`~sciml.bandits.contextual.bin_edges`); ChebCB uses the outer edges.
        At most :data:`MAX_BINS` bins.
    cost_scale
        The :class:`~sciml.bandits.normalise.CostNormaliser` scale: ``"maxiter"`` (default,
        as in [1]_), ``"mean"``, ``"running"`` or a number.
    learner_options
        Keyword arguments of a learner made by name (``rounds_per_bin``, ``max_bins``,
        ``start``, ``jump`` for ``"unimodal"``; ``eta_scale``; ``degree``, ``gamma_scale``,
        ``ridge`` for ChebCB), each in the range :data:`LEARNER_OPTIONS` declares.
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
                 preset: str | None = None, learner: str | Learner | None = None,
                 seed: int = 0, context: Context | Literal["auto"] = "auto",
                 bins: Any = "auto", cost_scale: str | float = "maxiter",
                 learner_options: Mapping[str, Any] | None = None,
                 resume: str | os.PathLike[str] | None = None, contextual: Any = None) -> None:
        if contextual is not None:
            raise BanditError(f"contextual={contextual!r} was replaced by learner=: use "
                              f"learner='binned' (one Tsallis-INF per context bin), "
                              f"learner='chebcb' or learner='tsallis' (no context)")
        self.omegas = check_omegas(omegas)
        for option, value, problem in (
                ("learner", learner, learner_problem), ("context", context, context_problem),
                ("bins", bins, bins_problem), ("cost_scale", cost_scale, cost_scale_problem),
                ("learner_options", learner_options, learner_options_problem),
                ("resume", resume, path_problem)):
            _raise_if(option, value, problem(value))
        name = _learner_name(preset, learner)
        if isinstance(context, str) and context == "auto":
            context = LEARNER_CONTEXT.get(name)
        options = dict(learner_options or {})
        if name == "unimodal":
            options.setdefault("start", int(np.argmin(np.abs(self.omegas - 1.0))))
            if isinstance(bins, str) and bins == "auto":
                bins = None if context is None else "quantile"
        self._template, name, edges = _make_learner(
            learner if learner is not None else name, context, self.omegas.size, seed,
            None if isinstance(bins, str) and bins == "auto" else bins, options)
        self.context = context
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
            return check_context(self.context(source))
        if self.context in FEATURES:
            return check_context(FEATURES[self.context](
                system.require_matrix(f"context={self.context!r}", "its entries")))
        params = getattr(system.problem, "params", None)
        if not isinstance(params, Mapping) or self.context not in params:
            raise BanditError(
                f"context={self.context!r} names a parameter of an operators.Problem, but "
                f"the system solved has none by that name; pass a Problem from "
                f"operators.sequences, context='dominance' (computed from the matrix) or a "
                f"callable context=lambda A: ...")
        return check_context(params[self.context])

    def draw(self, state: BanditState, context: float | None, budget: int) -> BanditState:
        """Draw the arm of a solve for ``context`` and record it as pending in ``state``."""
        state.pending = {"arm": state.learner.select(context), "context": context,
                         "budget": budget}
        return state

    def learn(self, state: BanditState, iterations: int, converged: bool) -> BanditState:
        """Report the pending solve's cost to the learner: one round (nothing pending: none)."""
        if state.pending is None:
            return state
        arm, context, budget = (state.pending[k] for k in ("arm", "context", "budget"))
        loss = state.normaliser(iterations if converged else math.inf, budget)
        state.learner.update(arm, loss, context)
        state.records.append({"arm": arm, "omega": float(self.omegas[arm]), "context": context,
                              "iterations": int(iterations), "converged": bool(converged),
                              "loss": loss})
        state.pending = None
        return state

    def before_solve(self, system: LinearSystem, stop: StoppingRule,
                     state: BanditState) -> BanditState:
        """Hook: draw the arm of this solve and record it as pending in ``state``."""
        return self.draw(state, self.context_of(system), stop.iterations(system.n))

    def after_solve(self, result: Any, state: BanditState) -> BanditState:
        """Hook: report the loss of the whole solve (``result``) to the learner; one round."""
        return self.learn(state, result.iterations, result.converged)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(omegas=[{self.omegas[0]:g}..{self.omegas[-1]:g}] "
                f"({self.omegas.size}), learner={self.config['learner']!r})")


def _learner_name(preset: str | None, learner: str | Learner | None) -> str:
    """The learner's name from ``preset`` or ``learner`` (an instance: its class name)."""
    if preset is not None:
        if not isinstance(preset, str) or preset not in PRESETS:
            raise BanditError(f"preset must be one of {', '.join(map(repr, PRESETS))}, not "
                              f"{preset!r}")
        if learner is not None:
            raise BanditError(f"preset={preset!r} names a learner; drop learner={learner!r} "
                              f"(or the preset)")
        return PRESETS[preset]
    if learner is None:
        return PRESETS["default"]
    return learner if isinstance(learner, str) else type(learner).__name__


def _make_learner(learner: str | Learner, context: Context, n_arms: int, seed: int,
                  bins: Any, options: dict[str, Any]) -> tuple[Learner, str, Any]:
    """The initial learner, its name and its bins as recorded (``None`` without bins)."""
    if not isinstance(learner, str):
        if not isinstance(learner, Learner) or learner.n_arms != n_arms:
            raise BanditError(f"learner must be one of {', '.join(map(repr, LEARNERS))} or "
                              f"a Learner over len(omegas) = {n_arms} arms, not {learner!r}")
        if bins is not None or options:
            raise BanditError("bins= and learner_options= configure a learner by name; a "
                              "Learner instance comes configured: drop them")
        return learner, type(learner).__name__, None
    if learner not in LEARNERS:
        raise BanditError(f"learner must be one of {', '.join(map(repr, LEARNERS))} or a "
                          f"Learner instance, not {learner!r}")
    if learner == "tsallis" and (context is not None or bins is not None):
        raise BanditError("context= and bins= need a contextual learner: pass "
                          "learner='unimodal', learner='binned' or learner='chebcb'")
    if learner in ("binned", "chebcb") and context is None:
        raise BanditError(f"learner={learner!r} needs a context: leave context unset (the "
                          f"Problem parameter 'context') or name one")
    if learner in ("binned", "chebcb") and bins is None:
        raise BanditError(f"learner={learner!r} needs bins: the bin edges of the context, or "
                          f"a tuple (low, high, n_bins) such as bins=(-0.15, 0.45, 12)")
    if learner == "unimodal":
        if context is None and bins is not None:
            raise BanditError("bins= needs a context: drop context=None, or drop bins")
        domain: tuple = ()
        options = {"bins": bins, **options}
        recorded = bins if bins is None or isinstance(bins, str) else bin_edges(bins).tolist()
    else:
        edges = None if bins is None else bin_edges(bins)
        domain = () if edges is None else (edges if learner == "binned" else edges[[0, -1]],)
        recorded = None if edges is None else edges.tolist()
    try:
        made = LEARNERS[learner](n_arms, *domain, seed=seed, **options)
    except TypeError as exc:
        raise BanditError(f"invalid learner_options for learner={learner!r}: {exc}") from None
    return made, learner, recorded


def _context_name(context: Context) -> str | None:
    """How ``context`` (checked by :func:`context_problem`) is recorded in a state file (a
    callable only by kind)."""
    return context if context is None or isinstance(context, str) else "<callable>"
