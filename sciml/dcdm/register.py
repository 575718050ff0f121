"""Entry point ``solvers.methods: dcdm`` — registers ``method="dcdm"`` and ``pc="dcdm"``.

Called by :mod:`solvers.registry` the first time the name ``"dcdm"`` is looked up, so
``import solvers`` stays free of JAX until DCDM is asked for. Both run their own compiled
JAX code from the host pipeline, also on ``backend="jax"``: the JAX spec declares that
delegation (the result says ``info["delegated"] = True``) instead of naming a kernel. On
``backend="petsc"`` the network is a ``PCPYTHON`` context (:mod:`sciml.dcdm.petsc`, MPI
included) and ``method="dcdm"`` is PETSc's FCG around it (``truncation=`` sets ``-ksp_fcg_mmax``).
"""

from __future__ import annotations

from solvers import registry
from solvers.registry import JaxSpec, PetscSpec

_PC_PARAMS = {"model": "pc_dcdm_model", "shape": "pc_dcdm_shape"}


def register() -> None:
    """Register the DCDM method and preconditioner (idempotent)."""
    from sciml.dcdm.method import DCDM
    from sciml.dcdm.preconditioner import DCDMPreconditioner

    registry.register(
        "dcdm", DCDM, "method", jax=JaxSpec(delegate=True), requires_symmetric=True,
        petsc=PetscSpec("fcg", side="left", pc="dcdm",
                        params={"truncation": "ksp_fcg_mmax", **_PC_PARAMS}),
        replace=True,
        summary="deep conjugate direction method: CNN directions, A-orthogonalised (SPD grids)")
    registry.register(
        "dcdm", DCDMPreconditioner, "pc", jax=JaxSpec(delegate=True), requires_symmetric=True,
        petsc=PetscSpec(pc_type="python", context="sciml.dcdm.petsc:DCDMContext",
                        params=_PC_PARAMS),
        replace=True,
        summary="DCDM network as a nonlinear preconditioner (use inside method='fcg')")
