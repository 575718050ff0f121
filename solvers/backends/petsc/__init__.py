"""The PETSc backend: ``solve(A, b, backend="petsc")`` on petsc4py's KSP/PC, serial or MPI.

Names map onto PETSc types through the registry (:class:`solvers.registry.PetscSpec`:
``cg`` -> ``cg``, ``bicgstab`` -> ``bcgs``, ``direct`` -> ``preonly`` + ``lu``, ``sor`` ->
``richardson`` + ``sor``, ``amg`` -> ``gamg``, ``ilu`` -> ``ilu`` (``bjacobi`` + ``ilu`` on
more than one rank), ``pycg`` -> our CG as a ``KSPPYTHON`` context, ...); method parameters
become PETSc options (``restart`` -> ``-ksp_gmres_restart``, ``truncation`` ->
``-ksp_fcg_mmax``, ``omega`` -> ``-pc_sor_omega``). Anything else is reachable through
``options="-ksp_type fcg -pc_type gamg"`` (or a dict), set under a per-KSP prefix on top of
those defaults (:mod:`solvers.backends.petsc.ksp`).

Stopping rule. The KSP gets ``rtol``, ``atol`` and ``max_it`` (``maxiter=None``: 10 n) and,
where the type supports it, the unpreconditioned residual norm (the side in the spec), so
PETSc's default test is ``||b - A x|| <= max(rtol ||b||, atol)`` on the method's residual.
The true residual of the returned ``x`` decides ``converged`` (:mod:`solvers.finish`).

Inputs and parallel layout (``PETSc.COMM_WORLD`` of size > 1 under ``mpiexec -n N``):
petsc4py ``Mat``/``Vec`` are used as they are, and ``x`` comes back as a ``Vec`` laid out
like ``b``; SciPy/NumPy input (or an :class:`operators.Problem`) is passed whole on every
rank, each rank keeps its own rows, and ``x`` comes back whole as NumPy on every rank. For
independent solves per rank convert with ``to_petsc(A, b, comm=PETSc.COMM_SELF)``.

State (``store.backend_state("petsc")``, a :class:`PetscState`): the KSP per (method, pc,
size, ranks) and the PETSc copy of a SciPy matrix keyed by its fingerprint; PETSc redoes the
PC setup (factorization, GAMG hierarchy) only when the ``Mat`` changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from petsc4py import PETSc

from operators.convert import petsc_to_numpy as gather
from operators.convert import to_petsc
from solvers import auto, registry
from solvers.backends import Prepared
from solvers.backends.common import facts, float64_residual
from solvers.backends.petsc import ksp as kspbuild
from solvers.backends.petsc.options import options_inserted, parse_options
from solvers.backends.petsc.reasons import reason
from solvers.backends.petsc.system import (
    Converted,
    PetscSystem,
    initial_guess,
    output,
    petsc_system,
    residual_norm,
)
from solvers.errors import InvalidOptionError
from solvers.method import Callback, Iterate
from solvers.reasons import Reason
from solvers.request import CUSTOM, Request, Store, check_symmetry
from solvers.result import is_single
from solvers.system import symmetric_tag

INSTALL = "bash scripts/install-petsc.sh"

__all__ = ["gather", "options_inserted", "parse_options", "prepare", "residual_norm",
           "to_petsc"]


@dataclass
class PetscState:
    """What the PETSc backend keeps in a :class:`solvers.Solver`."""

    ksps: dict[tuple, kspbuild.Ksp] = field(default_factory=dict)
    converted: Converted = field(default_factory=Converted)


def prepare(request: Request, store: Store, A: Any, b: Any, x0: Any,
            callback: Callback | None, choice: auto.Choice | None) -> Prepared:
    """Validate and convert, choose the KSP/PC, set it up (PETSc reuses the PC setup while
    the ``Mat`` is unchanged); the returned ``run`` calls ``KSPSolve``."""
    state = store.backend_state("petsc", PetscState)
    system = petsc_system(state.converted, A, b)
    method, pc, choices = _names(request, system, choice)
    entry = _cached_ksp(request, state, system, method, pc)
    with entry.inserted():
        entry.ksp.setOperators(system.A)
        setup_error = _attempt(entry.ksp.setUp)
    pc_label = _pc_label(pc, entry.ksp)
    info = {"backend": "petsc", "method": entry.ksp.getType() if method == "options" else method,
            "pc": pc_label, "device": "cpu", "ranks": system.A.getComm().getSize()}
    return Prepared(_runner(entry, system, method, setup_error, callback),
                    _residual(system), system.bnorm, lambda x: output(x, system), system.n,
                    np.dtype(PETSc.ScalarType), method, pc_label, initial_guess(system, x0),
                    info, choices=choices,
                    refine=method == "options" or registry.lookup(method).refine)


def _runner(entry: kspbuild.Ksp, system: PetscSystem, method: str,
            setup_error: PETSc.Error | None, callback: Callback | None) -> Callable:
    """``run(x0, stop, state)``: one ``KSPSolve`` from ``x0`` under ``stop``."""
    ksp, monitor = entry.ksp, entry.monitor

    def run(x0: PETSc.Vec | None, stop: Any, state: Any) -> Iterate:
        x = _start(system, x0)
        entry.set_tolerances(stop.rtol, stop.atol, stop.iterations(system.n), stop.dtol)
        ksp.setInitialGuessNonzero(x0 is not None)
        monitor.residuals.clear()
        monitor.callback = None if callback is None else (
            lambda xk: callback(output(xk, system)))
        with entry.inserted():
            solve_error = None if setup_error else _attempt(lambda: ksp.solve(system.b, x))
        why, details = reason(ksp, method, setup_error, solve_error)
        if why in (Reason.PC_FAILED, Reason.SINGULAR):  # x may hold Inf from a zero pivot
            x = _start(system, x0)
        iterations = 0 if setup_error else ksp.getIterationNumber()
        return Iterate(x, iterations, list(monitor.residuals), why, details, state)

    return run


def _start(system: PetscSystem, x0: PETSc.Vec | None) -> PETSc.Vec:
    """A new solution vector holding ``x0`` (zero if None)."""
    if x0 is not None:
        return x0.copy()
    x = system.b.duplicate()
    x.zeroEntries()
    return x


def _residual(system: PetscSystem) -> Callable[[PETSc.Vec], float]:
    """``||b - A x||`` in PETSc's (double) scalar type; for single-precision NumPy input, of
    the ``x`` as returned (rounded to the caller's dtype), on the caller's own matrix."""
    if system.host is not None and system.numpy_output and is_single(system.dtype):
        on_host = float64_residual(system.host)
        return lambda x: on_host(output(x, system))
    return lambda x: residual_norm(system.A, system.b, x)


def _pc_label(pc: str | Callable | None, ksp: PETSc.KSP) -> str:
    """Our pc name for ``info``; PETSc's type when the options chose it."""
    if pc is None:
        return ksp.getPC().getType()
    return pc if isinstance(pc, str) else CUSTOM


def _attempt(step: Callable[[], Any]) -> PETSc.Error | None:
    """Run a PETSc step; a PETSc error becomes the result's reason instead of a traceback."""
    try:
        step()
    except PETSc.Error as exc:
        return exc
    return None


# -- configuration --------------------------------------------------------------------------


def _names(request: Request, system: PetscSystem,
           choice: auto.Choice | None) -> tuple[str, str | Callable | None, list[auto.Choice]]:
    """Method and preconditioner after ``"auto"``, checked against PETSc's abilities, and
    ``auto``'s plan.

    ``method="auto"`` with ``-ksp_type`` in the options gives ``"options"``: PETSc's types
    and defaults throughout, only the preconditioner named by ``pc`` (if any) set in code.
    """
    named_pc = request.user_pc if request.user_pc is not None else request.pc_label
    if isinstance(named_pc, str):
        _require_package(named_pc)
    if request.auto and "ksp_type" in parse_options(request.options):
        return "options", named_pc, []
    choices = _plan(system) if request.auto and choice is None else []
    method_entry, pc_entry = request.names(choice or (choices[0] if choices else None))
    method = method_entry.name
    pc: str | Callable = request.user_pc if pc_entry is None else pc_entry.name
    spec = kspbuild.petsc_spec(method, "method")
    if spec.pc is not None:
        if pc not in ("none", spec.pc):
            raise InvalidOptionError(
                f"method {method!r} brings its own preconditioner on PETSc; leave pc unset "
                f"(got pc={pc!r})"
            )
        pc = spec.pc
    if isinstance(pc, str):
        _require_package(pc)
    check_symmetry([method_entry, registry.lookup(pc, "pc") if isinstance(pc, str) else None],
                   lambda: _symmetric(system, trust_mat=True))
    return method, pc, choices


def _require_package(pc: str) -> None:
    """Refuse a pc whose PETSc type needs an external package this PETSc lacks (hypre)."""
    package = kspbuild.petsc_spec(pc, "pc").requires_package
    if package and not PETSc.Sys.hasExternalPackage(package):
        raise InvalidOptionError(
            f"pc={pc!r} needs PETSc configured with --download-{package}, and this PETSc has "
            f"no {package}; use pc='amg' (PETSc GAMG)"
        )


def _plan(system: PetscSystem) -> list[auto.Choice]:
    """``auto``'s plan from the same facts as on the host, found on the ``Mat`` when there is
    no host copy (collectively: every rank makes the same choice)."""
    if system.host is not None:
        return auto.plan(facts(system.host), "petsc")
    on_mat = mat_facts(system.A, lambda: _symmetric(system), system.positive_definite)
    return auto.plan(on_mat, "petsc")


def mat_facts(matrix: PETSc.Mat, symmetric: Callable[[], bool],
              positive_definite: bool | None) -> auto.Facts:
    """``auto``'s facts of an assembled ``Mat`` without a host copy: its global size, the
    ``symmetric`` verdict and the sign of its diagonal's minimum, both found collectively
    (every rank sees the same), only when the plan asks for them."""
    return auto.Facts(matrix.getSize()[0], True, symmetric,
                      lambda: bool(matrix.getDiagonal().min()[1] > 0), positive_definite)


def _symmetric(system: PetscSystem, trust_mat: bool = False) -> bool:
    """SciPy input is tested on the host; a Problem's tag is trusted; a bare ``Mat`` is
    tested collectively by PETSc (:func:`solvers.system.symmetric_tag`) for ``auto``'s
    plan, and trusted (unless tagged nonsymmetric) where a method the caller named needs
    symmetry (``trust_mat``): ``MatIsSymmetric`` on a distributed matrix costs more than
    a GAMG setup, and PETSc's own KSPCG does not test either."""
    if system.host is not None:
        return system.host.is_symmetric()
    if trust_mat:
        return system.symmetric is not False
    return symmetric_tag(system.symmetric, system.A)


def _cached_ksp(request: Request, state: PetscState, system: PetscSystem, method: str,
                pc: str | Callable | None) -> kspbuild.Ksp:
    """The solver's KSP for this method, preconditioner and size (built on first use)."""
    kind = pc if isinstance(pc, str) or pc is None else id(pc)
    key = (method, kind, system.n, system.A.getComm().getSize())
    if key not in state.ksps:
        state.ksps[key] = kspbuild.build(request, system.A, method, pc)
    return state.ksps[key]
