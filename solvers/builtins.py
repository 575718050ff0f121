"""Registration of the built-in methods and preconditioners (run on ``import solvers``)."""

from __future__ import annotations

from functools import partial

from solvers.backends.petsc_only import register_petsc_names
from solvers.backends.scipy import ScipyBiCGStab
from solvers.direct import Direct
from solvers.krylov.cg import CG
from solvers.krylov.fcg import FCG
from solvers.krylov.gmres import GMRES
from solvers.krylov.minres import MINRES
from solvers.krylov.sor import SOR, SSOR
from solvers.pc.amg import AMG
from solvers.pc.icc import ICC
from solvers.pc.ilu import ILU
from solvers.pc.jacobi import Jacobi
from solvers.pc.ssor import SSORPreconditioner
from solvers.registry import register

ALL = ("scipy", "petsc", "jax")


def _none() -> None:
    return None


def register_builtins() -> None:
    """Register every built-in name; idempotent."""
    methods = [
        ("cg", CG, ALL, "conjugate gradients (SPD)"),
        ("fcg", FCG, ALL, "flexible CG, FCG(m), for variable/nonlinear preconditioners (SPD)"),
        ("gmres", GMRES, ALL, "restarted GMRES(restart), right-preconditioned"),
        ("fgmres", partial(GMRES, flexible=True), ("scipy", "petsc"),
         "flexible GMRES(restart) for variable/nonlinear preconditioners"),
        ("bicgstab", ScipyBiCGStab, ALL, "BiCGStab (nonsymmetric; SciPy's)"),
        ("minres", MINRES, ("scipy", "petsc"),
         "MINRES (symmetric indefinite)"),
        ("direct", Direct, ("scipy", "petsc"), "sparse LU (SuperLU; PETSc: preonly + lu)"),
        ("sor", SOR, ("scipy", "petsc"), "SOR stationary iteration (omega)"),
        ("ssor", SSOR, ("scipy", "petsc"), "symmetric SOR stationary iteration (omega)"),
    ]
    pcs = [
        ("none", _none, ALL, "no preconditioner"),
        ("jacobi", Jacobi, ALL, "diagonal scaling"),
        ("ilu", ILU, ("scipy", "petsc"), "incomplete LU (threshold, SuperLU)"),
        ("icc", ICC, ("scipy", "petsc"), "incomplete Cholesky IC(0) (SPD)"),
        ("ssor", SSORPreconditioner, ("scipy", "petsc"), "one SSOR sweep (omega)"),
        ("amg", AMG, ("scipy", "petsc"), "smoothed-aggregation AMG V-cycle (pyamg; PETSc gamg)"),
    ]
    for name, factory, backends, summary in methods:
        register(name, factory, "method", backends=backends, summary=summary, replace=True)
    for name, factory, backends, summary in pcs:
        register(name, factory, "pc", backends=backends, summary=summary, replace=True)
    register_petsc_names()
