"""Entry point of the ``bandit-sor`` method and the ``bandit-ssor`` preconditioner.

Declared in ``pyproject.toml`` under ``solvers.methods``; :mod:`solvers.registry` calls
:func:`register` the first time either name is looked up, so ``import solvers`` stays light.
On ``backend="petsc"`` both run PETSc's SOR through the ``PCPYTHON`` contexts of
:mod:`sciml.bandits.petsc` (imported only when a PETSc KSP is built); the method brings the
PETSc-only preconditioner ``"bandit-sor"`` (one forward sweep, bandit-chosen omega).

The parameters (:data:`PARAMS`) are declared here and checked before anything is built, with
the same checks the constructor of :class:`~sciml.bandits.omega.OmegaBandit` runs
(:func:`~sciml.bandits.omega.omegas_problem` and its siblings); what depends on several of
them (a learner and its ``bins``/``context``/``learner_options``) is checked when the bandit
is made.
"""

from __future__ import annotations

from typing import Any

from solvers import registry
from solvers.params import Param, seed
from solvers.registry import PetscSpec

from .omega import (
    LEARNER_OPTIONS,
    PRESETS,
    bins_problem,
    context_problem,
    cost_scale_problem,
    learner_options_problem,
    learner_problem,
    omegas_problem,
    path_problem,
)
from .sor import BanditSOR, BanditSSOR

_CONTEXTS = "sciml.bandits.petsc"

#: The bandit's keyword parameters (:class:`~sciml.bandits.omega.OmegaBandit`).
PARAMS = (
    Param("omegas", "any", None, none_ok=True, check_value=omegas_problem,
          doc="grid of SOR relaxation factors (arms)"),
    Param("preset", "choice", None, choices=tuple(PRESETS), none_ok=True,
          doc="named settings: the learner and its defaults"),
    Param("learner", "any", None, none_ok=True, check_value=learner_problem,
          doc="the learner, by name or as an instance"),
    seed(0),
    Param("context", "any", "auto", none_ok=True, check_value=context_problem,
          doc="where a system's scalar context comes from"),
    Param("bins", "any", "auto", none_ok=True, check_value=bins_problem,
          doc="context bins"),
    Param("cost_scale", "any", "maxiter", none_ok=True, check_value=cost_scale_problem,
          doc="iteration counts to losses in [0, 1]"),
    Param("learner_options", "any", None, none_ok=True, check_value=learner_options_problem,
          doc=f"options of a learner made by name: {', '.join(LEARNER_OPTIONS)}"),
    Param("resume", "any", None, none_ok=True, check_value=path_problem,
          doc="state file to continue"),
)


def _removed(value: Any) -> str:
    return ("left out: contextual= was replaced by learner=: use learner='binned' (one "
            "Tsallis-INF per context bin), learner='chebcb' or learner='tsallis' (no context)")


#: The removed ``contextual=`` of the host classes: any value is refused, naming ``learner=``.
CONTEXTUAL = Param("contextual", "any", None, none_ok=True, check_value=_removed,
                   doc="removed; use learner=")

#: The PETSc options (under the KSP's prefix) that carry the parameters to the contexts.
PETSC_OPTIONS = {param.name: f"bandit_{param.name}" for param in PARAMS}


def register() -> None:
    """Register ``method="bandit-sor"`` and ``pc="bandit-ssor"`` (host and PETSc backends)
    and the PETSc-only ``pc="bandit-sor"``; idempotent."""
    registry.register(
        "bandit-sor", BanditSOR, "method", replace=True, params=(*PARAMS, CONTEXTUAL),
        petsc=PetscSpec("richardson", side="left", pc="bandit-sor"),
        summary="SOR with omega chosen per solve by a bandit (default: local search per "
                "context bin)")
    registry.register(
        "bandit-sor", None, "pc", replace=True, params=PARAMS,
        petsc=PetscSpec(pc_type="python", context=f"{_CONTEXTS}:BanditSORContext",
                        params=PETSC_OPTIONS),
        summary="PETSc SOR sweep with a bandit-chosen omega (what bandit-sor brings on PETSc)")
    registry.register(
        "bandit-ssor", BanditSSOR, "pc", replace=True, params=(*PARAMS, CONTEXTUAL),
        petsc=PetscSpec(pc_type="python", context=f"{_CONTEXTS}:BanditSSORContext",
                        params=PETSC_OPTIONS),
        summary="SSOR preconditioner with omega chosen per solve by a bandit")
