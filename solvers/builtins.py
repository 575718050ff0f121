"""Registration of the built-in methods and preconditioners (run on ``import solvers``).

Each name is registered once with every backend it runs on (:mod:`solvers.registry`): the
host class, the JAX kernel and the PETSc KSP/PC mapping side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from solvers.direct import Direct
from solvers.krylov.bicgstab import BiCGStab
from solvers.krylov.cg import CG
from solvers.krylov.fcg import FCG
from solvers.krylov.gcrodr import CARRY as GCRODR_CARRY
from solvers.krylov.gcrodr import GCRODR
from solvers.krylov.gmres import GMRES
from solvers.krylov.minres import MINRES
from solvers.params import Param, omega, positive_int, seed
from solvers.pc.amg import AMG
from solvers.pc.icc import ICC
from solvers.pc.ilu import ILU
from solvers.pc.jacobi import Jacobi
from solvers.pc.shifted_laplacian import ShiftedLaplacian
from solvers.pc.ssor import SSORPreconditioner
from solvers.registry import JaxSpec, Kind, PetscSpec, register
from solvers.stationary.sor import SOR, SSOR

_OMEGA = {"omega": "pc_sor_omega"}
_RESTART = {"restart": "ksp_gmres_restart"}
_CG_CONTEXT = "solvers.backends.petsc.contexts:CGContext"
_GCRODR_CONTEXT = "solvers.backends.petsc.gcrodr:GCRODRContext"
_RECYCLE = {"restart": "ksp_gcrodr_restart", "recycle": "ksp_gcrodr_recycle",
            "outer": "ksp_gcrodr_outer", "carry": "ksp_gcrodr_carry"}

#: Upper bounds that keep memory and time finite: a Krylov basis of ``restart`` vectors of
#: length n, ``truncation`` stored directions, ``sweeps`` sparse products per setup.
MAX_BASIS = 1000
#: FCG(m) keeps m directions; the JAX kernel unrolls them, so compile time grows with m.
MAX_TRUNCATION = 100
ORDERINGS = ("COLAMD", "NATURAL", "MMD_ATA", "MMD_AT_PLUS_A")


def _restart(default: int) -> Param:
    return positive_int("restart", default, MAX_BASIS, "Krylov vectors per cycle")


def _ordering(default: str) -> Param:
    return Param("permc_spec", "choice", default, choices=ORDERINGS,
                 doc="SuperLU column ordering")


def _pyamg_choice(name: str, default: Any, choices: tuple[str, ...]) -> Param:
    """A pyamg option given by name (pyamg's ``(name, {options})`` form is not taken: its
    inner options would reach pyamg unchecked; build a hierarchy with pyamg and pass
    ``M=ml.aspreconditioner()`` for those)."""
    return Param(name, "choice", default, choices=choices, none_ok=name == "smooth",
                 doc=f"pyamg's {name}")


_SMOOTHERS = ("gauss_seidel", "jacobi", "block_gauss_seidel", "block_jacobi", "richardson",
              "sor", "chebyshev", "gauss_seidel_nr", "gauss_seidel_ne", "jacobi_ne", "cg",
              "gmres", "cgne", "cgnr", "schwarz", "strength_based_schwarz")
AMG_PARAMS = (
    Param("cycle", "choice", "V", choices=("V", "W", "F", "AMLI"), doc="multigrid cycle"),
    seed(0),
    _pyamg_choice("strength", "symmetric", ("symmetric", "classical", "evolution",
                                            "algebraic_distance", "affinity")),
    _pyamg_choice("aggregate", "standard", ("standard", "naive", "lloyd")),
    _pyamg_choice("smooth", "jacobi", ("jacobi", "richardson", "energy")),
    _pyamg_choice("presmoother", "block_gauss_seidel", _SMOOTHERS),
    _pyamg_choice("postsmoother", "block_gauss_seidel", _SMOOTHERS),
    Param("symmetry", "choice", "hermitian", choices=("symmetric", "hermitian", "nonsymmetric"),
          doc="pyamg's symmetry assumption"),
    positive_int("max_levels", 10, 50, "levels of the hierarchy"),
    positive_int("max_coarse", 10, 100_000, "largest coarse level solved directly"),
    Param("keep", "bool", False, doc="keep pyamg's temporaries"),
)

#: ``pc="shifted-laplacian"`` (issue 30): the shift and pyamg's options (``symmetry`` is fixed:
#: the shifted operator is complex symmetric).
SHIFTED_LAPLACIAN_PARAMS = (
    Param("beta1", "float", 1.0, low=-10.0, high=10.0, doc="real part of the shift"),
    Param("beta2", "float", 0.5, low=0.0, high=10.0, open_low=True,
          doc="imaginary part of the shift (damping, > 0)"),
) + tuple(p for p in AMG_PARAMS if p.name not in ("symmetry", "keep"))


def _none() -> None:
    """``pc="none"`` on the host: no preconditioner object."""
    return None


def _jax(kernel: str, *options: str) -> JaxSpec:
    return JaxSpec(f"solvers.jaxkrylov.{kernel}:{kernel}", options)


def FGMRES(restart: int = 30) -> GMRES:  # noqa: N802 (a factory named like the class)
    """``method="fgmres"``: GMRES with a flexible (variable) preconditioner."""
    return GMRES(restart, flexible=True)


#: One built-in name: ``(name, host factory, JAX spec, PETSc spec, summary, parameters)``.
Row = tuple[str, Callable[..., Any] | None, JaxSpec | None, PetscSpec | None, str,
            tuple[Param, ...]]

METHODS: list[Row] = [
    ("cg", CG, _jax("cg"), PetscSpec("cg", side="left"), "conjugate gradients (SPD)", ()),
    ("fcg", FCG, _jax("fcg", "truncation"),
     PetscSpec("fcg", side="left", params={"truncation": "ksp_fcg_mmax"}),
     "flexible CG, FCG(m), for variable/nonlinear preconditioners (SPD)",
     (positive_int("truncation", 2, MAX_TRUNCATION, "previous directions kept"),)),
    ("gmres", GMRES, _jax("gmres", "restart"), PetscSpec("gmres", side="right", params=_RESTART),
     "restarted GMRES(restart), right-preconditioned", (_restart(30),)),
    ("fgmres", FGMRES, None, PetscSpec("fgmres", side="right", params=_RESTART),
     "flexible GMRES(restart) for variable/nonlinear preconditioners", (_restart(30),)),
    ("bicgstab", BiCGStab, _jax("bicgstab"), PetscSpec("bcgs", side="right"),
     "BiCGStab (nonsymmetric)", ()),
    ("minres", MINRES, None, PetscSpec("minres", side="left"), "MINRES (symmetric indefinite)",
     ()),
    ("direct", Direct, None, PetscSpec("preonly", pc="lu"),
     "sparse LU (SuperLU; PETSc: preonly + lu)", (_ordering("COLAMD"),)),
    ("sor", SOR, None, PetscSpec("richardson", side="left", pc="sor", params=_OMEGA),
     "SOR stationary iteration (omega)", (omega(),)),
    ("ssor", SSOR, None, PetscSpec("richardson", side="left", pc="ssor", params=_OMEGA),
     "symmetric SOR stationary iteration (omega)", (omega(),)),
    ("pycg", None, None, PetscSpec("python", side="left", context=_CG_CONTEXT),
     "the library's own CG as a PETSc KSPPYTHON context", ()),
    ("gcrodr", GCRODR, None, PetscSpec("python", context=_GCRODR_CONTEXT, params=_RECYCLE),
     "GCRO-DR(restart, recycle): GMRES recycling a Krylov subspace across a sequence",
     (positive_int("restart", 40, MAX_BASIS, "Krylov vectors per cycle", low=2),
      positive_int("recycle", 20, MAX_BASIS - 1, "recycled vectors (< restart)"),
      positive_int("outer", 0, MAX_BASIS - 2, "GCROT outer vectors between the systems' "
                   "harmonic Ritz updates (0: update every cycle)", low=0),
      Param("carry", "choice", "preconditioned", choices=GCRODR_CARRY,
            doc="recycle space kept across a new matrix and pc: preconditioned U (C = A M U "
                "recomputed) or solution-space Z (C = A Z)"))),
]

PCS: list[Row] = [
    ("none", _none, JaxSpec(), PetscSpec(pc_type="none"), "no preconditioner", ()),
    ("jacobi", Jacobi, JaxSpec("solvers.backends.jax.operators:jacobi"),
     PetscSpec(pc_type="jacobi"), "diagonal scaling", ()),
    ("ilu", ILU, None,
     PetscSpec(pc_type="ilu", parallel="bjacobi", parallel_options={"sub_pc_type": "ilu"}),
     "incomplete LU (threshold, SuperLU; PETSc ILU(0))",
     (Param("drop_tol", "float", 1e-4, low=0.0, high=1.0, doc="drop entries below this"),
      Param("fill_factor", "float", 10.0, low=1.0, high=100.0,
            doc="fill allowed, relative to nnz(A)"),
      _ordering("MMD_AT_PLUS_A"),
      Param("diag_pivot_thresh", "float", 0.0, low=0.0, high=1.0,
            doc="partial pivoting threshold"))),
    ("icc", ICC, None,
     PetscSpec(pc_type="icc", parallel="bjacobi", parallel_options={"sub_pc_type": "icc"}),
     "incomplete Cholesky IC(0) (SPD)",
     (positive_int("sweeps", 5, 100, "fixed-point sweeps of the factorisation"),)),
    ("ssor", SSORPreconditioner, None,
     PetscSpec(pc_type="sor", options={"pc_sor_symmetric": None},
               parallel_options={"pc_sor_local_symmetric": None}, params=_OMEGA),
     "one SSOR sweep (omega)", (omega(),)),
    ("amg", AMG, None, PetscSpec(pc_type="gamg"),
     "smoothed-aggregation AMG V-cycle (pyamg; PETSc GAMG)", AMG_PARAMS),
    # issue 30 (helper C): the complex shifted Laplacian for Helmholtz (host, pyamg)
    ("shifted-laplacian", ShiftedLaplacian, None, None,
     "complex shifted Laplacian -Lap - (beta1 - i beta2)(k/c)^2, one pyamg cycle (Helmholtz)",
     SHIFTED_LAPLACIAN_PARAMS),
    ("lu", None, None,
     PetscSpec(pc_type="lu", parallel="redundant", parallel_options={"redundant_pc_type": "lu"}),
     "complete LU factorization (PETSc PCLU; redundant in parallel)", ()),
    ("sor", None, None,
     PetscSpec(pc_type="sor", options={"pc_sor_forward": None},
               parallel_options={"pc_sor_local_forward": None}, params=_OMEGA),
     "one forward SOR sweep (PETSc PCSOR; local sweeps in parallel)", (omega(),)),
    ("hypre", None, None, PetscSpec(pc_type="hypre", requires_package="hypre"),
     "hypre BoomerAMG (PETSc built with --download-hypre)", ()),
    # issue 28 (helper A): black-box (Galerkin) or rediscretised coarse levels
    ("mg", None, JaxSpec("solvers.backends.jax.operators:mg"), None,
     "geometric multigrid V-cycle on a matrix-free stencil (JAX; poisson/diffusion grids)",
     (Param("coarsening", "choice", "galerkin", choices=("galerkin", "rediscretise"),
            doc="coarse levels: black-box interpolation and P^T A P (robust to jumps), or "
                "linear interpolation and rediscretised stencils"),)),
]

#: Registry fields that differ from the defaults: ``pycg`` (PETSc only, no host class) is CG;
#: a direct solve is not restarted by refinement.
FIELDS = {("method", "pycg"): {"requires_symmetric": True},
          ("method", "direct"): {"refine": False}}


def register_builtins() -> None:
    """Register every built-in name; idempotent."""
    tables: tuple[tuple[Kind, list[Row]], ...] = (("method", METHODS), ("pc", PCS))
    for kind, table in tables:
        for name, factory, jax, petsc, summary, params in table:
            register(name, factory, kind, jax=jax, petsc=petsc, summary=summary,
                     params=params, replace=True, **FIELDS.get((kind, name), {}))
