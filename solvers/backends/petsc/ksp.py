"""A configured KSP from the registry's :class:`solvers.registry.PetscSpec`: types and
defaults in code, parameters mapped to PETSc options, then the user's options on top.

Per-KSP options prefix (``solvers<k>_``): options go into PETSc's database only while PETSc
reads them (:func:`solvers.backends.petsc.options.options_inserted`), so solves never see
each other's options.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from petsc4py import PETSc

from solvers import registry
from solvers.backends.petsc.contexts import FunctionPC
from solvers.backends.petsc.options import options_inserted, parse_options
from solvers.backends.petsc.reasons import message
from solvers.backends.petsc.typed import norm, set_norm_type, set_side
from solvers.errors import InvalidOptionError, SolverError
from solvers.monitor import iteration_line
from solvers.registry import Kind, PetscSpec
from solvers.request import Request

_PREFIXES = itertools.count()
_SIDES = {"left": PETSc.PC.Side.LEFT, "right": PETSc.PC.Side.RIGHT}
_NORMS = {value: name.lower() for name, value in vars(PETSc.KSP.NormType).items()
          if name.isupper() and name != "DEFAULT"}


@dataclass
class Monitor:
    """KSP monitor: records ``||r_k||`` and calls the user's ``callback(x_k)`` (k >= 1).

    ``verbose`` (``monitor=True``): also prints each iteration on rank 0 as
    :func:`solvers.monitor.iteration_line` (the norm the KSP iterates on, like PETSc's
    ``-ksp_monitor``; relative to ``||b||``).
    """

    residuals: list[float] = field(default_factory=list)
    callback: Callable[[PETSc.Vec], Any] | None = None
    verbose: bool = False
    bnorm: float = 1.0

    def __call__(self, ksp: PETSc.KSP, its: int, rnorm: float) -> None:
        self.residuals.append(float(rnorm))
        if self.verbose:
            self._print(ksp, its, float(rnorm))
        if self.callback is not None and its > 0:
            self.callback(ksp.buildSolution())

    def _print(self, ksp: PETSc.KSP, its: int, rnorm: float) -> None:
        if its == 0:
            self.bnorm = norm(ksp.getRhs())  # collective: every rank runs the monitor
        if ksp.getComm().getRank() != 0:
            return
        if its == 0:
            print(f"{ksp.getType()}+{ksp.getPC().getType()} on petsc, "
                  f"n={ksp.getOperators()[0].getSize()[0]}: {_NORMS.get(ksp.getNormType(), '')} "
                  f"residual norm per iteration")
        print(iteration_line(its, rnorm, self.bnorm))


@dataclass
class Ksp:
    """A configured KSP with its options (defaults and the user's) and its monitor."""

    ksp: PETSc.KSP
    options: dict[str, str | None]
    user: dict[str, str | None]
    monitor: Monitor

    def inserted(self) -> Any:
        """Context in which PETSc sees this KSP's options."""
        return options_inserted(self.ksp.getOptionsPrefix(), self.options)

    def set_tolerances(self, rtol: float, atol: float, max_it: int, divtol: float) -> None:
        """Set the stopping rule, except what the user's options set (``-ksp_rtol``, ...);
        ``divtol`` is ``dtol`` (``inf``: the largest double, PETSc's way to switch it off)."""
        divtol = min(divtol, sys.float_info.max)
        given: dict[str, Any] = {"rtol": rtol, "atol": atol, "max_it": max_it, "divtol": divtol}
        self.ksp.setTolerances(**{k: v for k, v in given.items() if f"ksp_{k}" not in self.user})


def build(request: Request, A: PETSc.Mat, method: str, pc: str | Callable | None) -> Ksp:
    """Create the KSP for ``method`` (``"options"``: PETSc's own choice) and ``pc``."""
    ksp = PETSc.KSP().create(A.getComm())
    ksp.setOptionsPrefix(f"solvers{next(_PREFIXES)}_")
    ksp.setOperators(A)
    spec = None if method == "options" else petsc_spec(method, "method")
    if spec is not None:
        assert spec.ksp_type is not None  # a method's spec names its KSP type (registry.check)
        ksp.setType(spec.ksp_type)
        if spec.context is not None:
            ksp.setPythonContext(registry.resolve(spec.context)())
    parallel = A.getComm().getSize() > 1
    defaults = {} if pc is None else _configure_pc(ksp.getPC(), pc, parallel)
    defaults |= _param_options(request, method, pc)
    user = parse_options(request.options)
    entry = Ksp(ksp, defaults | user, user, Monitor(verbose=request.monitor))
    ksp.setMonitor(entry.monitor)
    with entry.inserted():
        try:
            ksp.setFromOptions()
        except PETSc.Error as exc:
            if isinstance(exc.__cause__, SolverError):  # raised inside a Python context
                raise exc.__cause__ from None
            raise InvalidOptionError(f"PETSc rejected the options {request.options!r}: "
                                     f"{message(exc)}") from None
    if not {"ksp_norm_type", "ksp_pc_side"} & user.keys():
        _use_unpreconditioned_norm(ksp)
    return entry


def petsc_spec(name: str, kind: Kind) -> PetscSpec:
    """The PETSc spec of a registered name. Only names that run on PETSc get here: a named
    method or pc is refused before (``api._check_backend``), ``auto`` plans with them only."""
    spec = registry.lookup(name, kind).petsc
    assert spec is not None, f"{kind} {name!r} has no PETSc spec"
    return spec


def _configure_pc(pc: PETSc.PC, name: str | Callable, parallel: bool) -> dict[str, str | None]:
    """Set the PC type for our name; return the options it needs as defaults."""
    if callable(name):
        pc.setType("python")
        pc.setPythonContext(FunctionPC(name))
        return {}
    spec = petsc_spec(name, "pc")
    pc_type = spec.parallel if parallel and spec.parallel else spec.pc_type
    assert pc_type is not None  # a pc's spec names its PC type (registry.check)
    pc.setType(pc_type)
    if spec.context is not None:
        pc.setPythonContext(registry.resolve(spec.context)())
    return dict(spec.parallel_options if parallel and spec.parallel_options else spec.options)


def _param_options(request: Request, method: str,
                   pc: str | Callable | None) -> dict[str, str]:
    """Keyword parameters as PETSc options, by the method's and the pc's specs (values
    checked by the library's own method objects when the Solver built them)."""
    mapping: dict[str, str] = {}
    kinds: tuple[tuple[Kind, str | Callable | None], ...] = (("method", method), ("pc", pc))
    for kind, name in kinds:
        if isinstance(name, str) and name != "options":
            mapping |= petsc_spec(name, kind).params
    unknown = sorted(set(request.params) - mapping.keys())
    if unknown:
        raise InvalidOptionError(
            f"parameter(s) {', '.join(unknown)} have no PETSc equivalent here; pass the PETSc "
            f"option instead, e.g. options='-pc_factor_levels 1' (parameters mapped for "
            f"method={method!r}, pc={pc!r}: {', '.join(sorted(mapping)) or 'none'})"
        )
    return {mapping[k]: str(v) for k, v in request.params.items()}


def _use_unpreconditioned_norm(ksp: PETSc.KSP) -> None:
    """Iterate on ``||b - A x||`` where the KSP type can: the preconditioning side that the
    registry's specs give for the KSP's type (after the user's ``-ksp_type``, if any)."""
    sides = {entry.petsc.ksp_type: entry.petsc.side for entry in registry.entries(plugins=False)
             if entry.kind == "method" and entry.petsc is not None and entry.petsc.side}
    side = sides.get(ksp.getType())
    if side is not None:
        set_side(ksp, _SIDES[side])
        set_norm_type(ksp, PETSc.KSP.NormType.UNPRECONDITIONED)
