"""Registration of the built-in methods and preconditioners (run on ``import solvers``).

Each name is registered once with every backend it runs on (:mod:`solvers.registry`): the
host class, the JAX kernel and the PETSc KSP/PC mapping side by side.
"""

from __future__ import annotations

from functools import partial

from solvers.direct import Direct
from solvers.krylov.bicgstab import BiCGStab
from solvers.krylov.cg import CG
from solvers.krylov.fcg import FCG
from solvers.krylov.gcrodr import GCRODR
from solvers.krylov.gmres import GMRES
from solvers.krylov.minres import MINRES
from solvers.pc.amg import AMG
from solvers.pc.icc import ICC
from solvers.pc.ilu import ILU
from solvers.pc.jacobi import Jacobi
from solvers.pc.ssor import SSORPreconditioner
from solvers.registry import JaxSpec, PetscSpec, register
from solvers.stationary.sor import SOR, SSOR

_OMEGA = {"omega": "pc_sor_omega"}
_RESTART = {"restart": "ksp_gmres_restart"}
_CG_CONTEXT = "solvers.backends.petsc.contexts:CGContext"
_GCRODR_CONTEXT = "solvers.backends.petsc.gcrodr:GCRODRContext"
_RECYCLE = {"restart": "ksp_gcrodr_restart", "recycle": "ksp_gcrodr_recycle"}


def _none() -> None:
    """``pc="none"`` on the host: no preconditioner object."""
    return None


def _jax(kernel: str, *options: str) -> JaxSpec:
    return JaxSpec(f"solvers.jaxkrylov.{kernel}:{kernel}", options)


METHODS = [
    ("cg", CG, _jax("cg"), PetscSpec("cg", side="left"), "conjugate gradients (SPD)"),
    ("fcg", FCG, _jax("fcg", "truncation"),
     PetscSpec("fcg", side="left", params={"truncation": "ksp_fcg_mmax"}),
     "flexible CG, FCG(m), for variable/nonlinear preconditioners (SPD)"),
    ("gmres", GMRES, _jax("gmres", "restart"), PetscSpec("gmres", side="right", params=_RESTART),
     "restarted GMRES(restart), right-preconditioned"),
    ("fgmres", partial(GMRES, flexible=True), None,
     PetscSpec("fgmres", side="right", params=_RESTART),
     "flexible GMRES(restart) for variable/nonlinear preconditioners"),
    ("bicgstab", BiCGStab, _jax("bicgstab"), PetscSpec("bcgs", side="right"),
     "BiCGStab (nonsymmetric)"),
    ("minres", MINRES, None, PetscSpec("minres", side="left"), "MINRES (symmetric indefinite)"),
    ("direct", Direct, None, PetscSpec("preonly", pc="lu"),
     "sparse LU (SuperLU; PETSc: preonly + lu)"),
    ("sor", SOR, None, PetscSpec("richardson", side="left", pc="sor", params=_OMEGA),
     "SOR stationary iteration (omega)"),
    ("ssor", SSOR, None, PetscSpec("richardson", side="left", pc="ssor", params=_OMEGA),
     "symmetric SOR stationary iteration (omega)"),
    ("pycg", None, None, PetscSpec("python", side="left", context=_CG_CONTEXT),
     "the library's own CG as a PETSc KSPPYTHON context"),
    ("gcrodr", GCRODR, None, PetscSpec("python", context=_GCRODR_CONTEXT, params=_RECYCLE),
     "GCRO-DR(restart, recycle): GMRES recycling a Krylov subspace across a sequence"),
]

PCS = [
    ("none", _none, JaxSpec(), PetscSpec(pc_type="none"), "no preconditioner"),
    ("jacobi", Jacobi, JaxSpec("solvers.backends.jax.operators:jacobi"),
     PetscSpec(pc_type="jacobi"), "diagonal scaling"),
    ("ilu", ILU, None,
     PetscSpec(pc_type="ilu", parallel="bjacobi", parallel_options={"sub_pc_type": "ilu"}),
     "incomplete LU (threshold, SuperLU; PETSc ILU(0))"),
    ("icc", ICC, None,
     PetscSpec(pc_type="icc", parallel="bjacobi", parallel_options={"sub_pc_type": "icc"}),
     "incomplete Cholesky IC(0) (SPD)"),
    ("ssor", SSORPreconditioner, None,
     PetscSpec(pc_type="sor", options={"pc_sor_symmetric": None},
               parallel_options={"pc_sor_local_symmetric": None}, params=_OMEGA),
     "one SSOR sweep (omega)"),
    ("amg", AMG, None, PetscSpec(pc_type="gamg"),
     "smoothed-aggregation AMG V-cycle (pyamg; PETSc GAMG)"),
    ("lu", None, None,
     PetscSpec(pc_type="lu", parallel="redundant", parallel_options={"redundant_pc_type": "lu"}),
     "complete LU factorization (PETSc PCLU; redundant in parallel)"),
    ("sor", None, None,
     PetscSpec(pc_type="sor", options={"pc_sor_forward": None},
               parallel_options={"pc_sor_local_forward": None}, params=_OMEGA),
     "one forward SOR sweep (PETSc PCSOR; local sweeps in parallel)"),
    ("hypre", None, None, PetscSpec(pc_type="hypre", requires_package="hypre"),
     "hypre BoomerAMG (PETSc built with --download-hypre)"),
    ("mg", None, JaxSpec("solvers.backends.jax.operators:mg"), None,
     "geometric multigrid V-cycle on a matrix-free stencil (JAX; poisson/diffusion grids)"),
]

def register_builtins() -> None:
    """Register every built-in name; idempotent."""
    for kind, table in (("method", METHODS), ("pc", PCS)):
        for name, factory, jax, petsc, summary in table:
            # requires_symmetric comes from the host class; pycg (PETSc only) is CG's.
            symmetric = True if name == "pycg" else None
            register(name, factory, kind, jax=jax, petsc=petsc, summary=summary,
                     requires_symmetric=symmetric, replace=True)
