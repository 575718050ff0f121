"""Entry point of the ``bandit-sor`` method and the ``bandit-ssor`` preconditioner.

Declared in ``pyproject.toml`` under ``solvers.methods``; :mod:`solvers.registry` calls
:func:`register` the first time either name is looked up, so ``import solvers`` stays light.
On ``backend="petsc"`` both run PETSc's SOR through the ``PCPYTHON`` contexts of
:mod:`sciml.bandits.petsc` (imported only when a PETSc KSP is built); the method brings the
PETSc-only preconditioner ``"bandit-sor"`` (one forward sweep, bandit-chosen omega).
"""

from __future__ import annotations

from solvers import registry
from solvers.registry import PetscSpec

from .sor import BanditSOR, BanditSSOR

_CONTEXTS = "sciml.bandits.petsc"


#: The bandit's keyword parameters and the PETSc options (under the KSP's prefix) that carry
#: them to the contexts.
PETSC_OPTIONS = {name: f"bandit_{name}" for name in (
    "omegas", "preset", "learner", "seed", "context", "bins", "cost_scale", "learner_options",
    "resume")}


def register() -> None:
    """Register ``method="bandit-sor"`` and ``pc="bandit-ssor"`` (host and PETSc backends)
    and the PETSc-only ``pc="bandit-sor"``; idempotent."""
    registry.register(
        "bandit-sor", BanditSOR, "method", replace=True,
        petsc=PetscSpec("richardson", side="left", pc="bandit-sor"),
        summary="SOR with omega chosen per solve by a bandit (default: local search per "
                "context bin)")
    registry.register(
        "bandit-sor", None, "pc", replace=True,
        petsc=PetscSpec(pc_type="python", context=f"{_CONTEXTS}:BanditSORContext",
                        params=PETSC_OPTIONS),
        summary="PETSc SOR sweep with a bandit-chosen omega (what bandit-sor brings on PETSc)")
    registry.register(
        "bandit-ssor", BanditSSOR, "pc", replace=True,
        petsc=PetscSpec(pc_type="python", context=f"{_CONTEXTS}:BanditSSORContext",
                        params=PETSC_OPTIONS),
        summary="SSOR preconditioner with omega chosen per solve by a bandit")
