"""Names that only the PETSc backend runs (``pycg``, ``lu``, ``sor``, ``hypre``).

They are registered with ``import solvers`` (no petsc4py needed for that), so that
``Solver(method="pycg")`` is valid before the backend is chosen; their entries list only
the ``"petsc"`` backend, so :class:`solvers.Solver` refuses them elsewhere with an
:class:`~solvers.errors.InvalidOptionError` that names the backend to use.
"""

from __future__ import annotations

from functools import partial

from solvers.registry import register


class PetscOnly:
    """Registry entry for a method or preconditioner run by PETSc itself (it carries only
    the structure the PETSc backend checks before handing the name to PETSc)."""

    def __init__(self, name: str, requires_symmetric: bool = False) -> None:
        self.name = name
        self.requires_symmetric = requires_symmetric


#: (kind, name, requires_symmetric, summary)
NAMES = (
    ("method", "pycg", True, "the library's own CG as a PETSc KSPPYTHON context"),
    ("pc", "lu", False, "complete LU factorization (PETSc PCLU; redundant in parallel)"),
    ("pc", "sor", False, "one forward SOR sweep (PETSc PCSOR; local sweeps in parallel)"),
    ("pc", "hypre", False, "hypre BoomerAMG (PETSc built with --download-hypre)"),
)


def register_petsc_names() -> None:
    """Register the PETSc-only names; idempotent."""
    for kind, name, symmetric, summary in NAMES:
        register(name, partial(PetscOnly, name, symmetric), kind, backends=("petsc",),
                 summary=summary, replace=True)
