"""The PETSc backend: ``solve(A, b, backend="petsc")`` on petsc4py's KSP/PC, serial or MPI.

Names map onto PETSc types; anything else is reachable through ``options``:

============  ==========================  ========  =========================================
``method``    KSP type                    ``pc``    PC type (on more than one rank)
============  ==========================  ========  =========================================
cg            ``cg``                      none      ``none``
gmres         ``gmres``                   jacobi    ``jacobi``
fgmres        ``fgmres``                  ilu       ``ilu`` (``bjacobi`` + ``ilu``)
bicgstab      ``bcgs``                    icc       ``icc`` (``bjacobi`` + ``icc``)
minres        ``minres``                  sor       ``sor``, forward (local forward)
fcg           ``fcg``                     ssor      ``sor``, symmetric (local symmetric)
sor, ssor     ``richardson`` + ``sor``    amg       ``gamg``
direct        ``preonly`` + ``lu``        lu        ``lu`` (``redundant`` + ``lu``)
pycg          ``python`` (own CG)         hypre     ``hypre`` (if PETSc has it)
============  ==========================  ========  =========================================

Method parameters become PETSc options: ``restart`` -> ``-ksp_gmres_restart``,
``truncation`` -> ``-ksp_fcg_mmax``, ``omega`` -> ``-pc_sor_omega``.

Options. ``options="-ksp_type fcg -pc_type gamg"`` (or a dict) go into the PETSc options
database under a prefix unique to each KSP (``solvers<k>_``), only while PETSc reads them
(``setFromOptions`` and each ``KSPSolve``, which reads e.g. ``-ksp_view``); they are removed
afterwards, so solves never see each other's options. The names and parameters above are
defaults set in code; options override them.

Stopping rule. The KSP gets ``rtol``, ``atol`` and ``max_it`` (``maxiter=None``: 10 n) and,
where the type supports it, the unpreconditioned residual norm (right preconditioning for
GMRES, FGMRES and BiCGStab), so PETSc's default test is exactly
``||b - A x|| <= max(rtol ||b||, atol)`` on the method's residual. Types without that norm
(``preonly``, or any set with ``-ksp_norm_type``) stop on their own norm. In every case the
true residual of the returned ``x`` decides ``converged`` (:func:`solvers.result.make_result`).

Inputs and parallel layout (``PETSc.COMM_WORLD`` of size > 1 under ``mpiexec -n N``):

- petsc4py ``Mat``/``Vec`` are used as they are (their communicator and row distribution);
  ``x`` comes back as a ``Vec`` laid out like ``b``.
- SciPy/NumPy input (or an :class:`operators.Problem`): every rank passes the whole system,
  validated by :func:`solvers.system.as_system`; each rank keeps only its own block of rows in
  PETSc's default partition, and ``x`` comes back as the whole NumPy vector on every rank.
  For independent solves on each rank (batch runs) convert with
  ``to_petsc(A, b, comm=PETSc.COMM_SELF)`` first. Distributed assembly without the whole
  matrix on any rank: :mod:`operators.distributed`.

State (``Solver.state``): the KSP per (method, pc, size) with its PC setup, and the PETSc
copy of a SciPy matrix keyed by its fingerprint. PETSc redoes the PC setup (factorization,
GAMG hierarchy) only when the ``Mat`` changes.
"""

from __future__ import annotations

import itertools
import shlex
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from petsc4py import PETSc

from solvers.backends.petsc_python import CGContext, FunctionPC
from solvers.backends.scipy import AUTO_DIRECT_MAX_N, choose_auto
from solvers.errors import InvalidOptionError, InvalidSystemError, NotSymmetricError
from solvers.method import Callback
from solvers.reasons import Reason
from solvers.result import SolveResult, make_result
from solvers.system import LinearSystem, as_system, as_vector, check_square

INSTALL = "bash scripts/install-petsc.sh"

_KSP_TYPES = {
    "cg": "cg", "gmres": "gmres", "fgmres": "fgmres", "bicgstab": "bcgs", "minres": "minres",
    "fcg": "fcg", "sor": "richardson", "ssor": "richardson", "direct": "preonly", "pycg": "python",
}
#: Methods that come with their own preconditioner (our pc name).
_METHOD_PC = {"sor": "sor", "ssor": "ssor", "direct": "lu"}
_PC_TYPES = {
    "none": "none", "jacobi": "jacobi", "ilu": "ilu", "icc": "icc", "sor": "sor", "ssor": "sor",
    "amg": "gamg", "hypre": "hypre", "lu": "lu",
}
#: Serial-only PCs and what runs in their place on more than one rank.
_PARALLEL_PC = {
    "ilu": ("bjacobi", {"sub_pc_type": "ilu"}),
    "icc": ("bjacobi", {"sub_pc_type": "icc"}),
    "lu": ("redundant", {"redundant_pc_type": "lu"}),
}
#: SOR sweep option per pc name: (serial, parallel). Parallel SOR in PETSc is per rank.
_SOR_SWEEPS = {
    "sor": ("pc_sor_forward", "pc_sor_local_forward"),
    "ssor": ("pc_sor_symmetric", "pc_sor_local_symmetric"),
}
_PARAM_OPTIONS = {"restart": "ksp_gmres_restart", "truncation": "ksp_fcg_mmax",
                  "omega": "pc_sor_omega"}
#: KSP types that can iterate on the unpreconditioned residual norm, with the PC side needed.
_UNPRECONDITIONED_SIDE = {
    "cg": PETSc.PC.Side.LEFT, "fcg": PETSc.PC.Side.LEFT, "richardson": PETSc.PC.Side.LEFT,
    "python": PETSc.PC.Side.LEFT, "minres": PETSc.PC.Side.LEFT,
    "gmres": PETSc.PC.Side.RIGHT, "fgmres": PETSc.PC.Side.RIGHT, "bcgs": PETSc.PC.Side.RIGHT,
}
_REASONS = {
    "CONVERGED_RTOL": Reason.RTOL, "CONVERGED_RTOL_NORMAL_EQUATIONS": Reason.RTOL,
    "CONVERGED_ATOL": Reason.ATOL, "CONVERGED_ATOL_NORMAL_EQUATIONS": Reason.ATOL,
    "CONVERGED_ITS": Reason.RTOL, "CONVERGED_HAPPY_BREAKDOWN": Reason.RTOL,
    "CONVERGED_USER": Reason.RTOL, "CONVERGED_NEG_CURVE": Reason.BREAKDOWN,
    "CONVERGED_STEP_LENGTH": Reason.BREAKDOWN,
    "DIVERGED_NULL": Reason.BREAKDOWN, "DIVERGED_MAX_IT": Reason.MAXITER,
    "DIVERGED_DTOL": Reason.DIVERGED_DTOL, "DIVERGED_BREAKDOWN": Reason.BREAKDOWN,
    "DIVERGED_BREAKDOWN_BICG": Reason.BREAKDOWN, "DIVERGED_NONSYMMETRIC": Reason.BREAKDOWN,
    "DIVERGED_INDEFINITE_PC": Reason.INDEFINITE_PC, "DIVERGED_NANORINF": Reason.DIVERGED_NAN,
    "DIVERGED_INDEFINITE_MAT": Reason.INDEFINITE_MAT, "DIVERGED_PCSETUP_FAILED": Reason.PC_FAILED,
    "DIVERGED_USER": Reason.BREAKDOWN, "DIVERGED_INNER_SOLVE_FAILED": Reason.PC_FAILED,
}
#: KSPConvergedReason value -> its name.
_REASON_NAMES = {getattr(PETSc.KSP.ConvergedReason, name): name for name in _REASONS
                 if hasattr(PETSc.KSP.ConvergedReason, name)}
_PREFIXES = itertools.count()


@dataclass
class PetscSystem:
    """A validated system on PETSc objects; ``host`` is the SciPy system it came from, if any."""

    A: PETSc.Mat
    b: PETSc.Vec
    bnorm: float
    host: LinearSystem | None
    symmetric: bool | None
    numpy_output: bool
    dtype: np.dtype

    @property
    def n(self) -> int:
        return self.A.getSize()[0]


@dataclass
class _Monitor:
    """KSP monitor: records ``||r_k||`` and calls the user's ``callback(x_k)`` (k >= 1)."""

    residuals: list[float] = field(default_factory=list)
    callback: Callable[[PETSc.Vec], Any] | None = None

    def __call__(self, ksp: PETSc.KSP, its: int, rnorm: float) -> None:
        self.residuals.append(float(rnorm))
        if self.callback is not None and its > 0:
            self.callback(ksp.buildSolution())


@dataclass
class _Ksp:
    """A configured KSP with its options prefix, its options and its monitor."""

    ksp: PETSc.KSP
    options: dict[str, str | None]
    monitor: _Monitor


def accepts(A: Any, b: Any) -> bool:
    """PETSc takes petsc4py objects and anything :func:`solvers.system.as_system` takes."""
    return True


def solve(solver: Any, A: Any, b: Any, x0: Any = None,
          callback: Callback | None = None) -> SolveResult:
    """Solve with PETSc using ``solver``'s method, preconditioner, tolerances and options."""
    start = time.perf_counter()
    system = _petsc_system(solver, A, b)
    method, pc = _names(solver, system)
    entry = _cached_ksp(solver, system, method, pc)
    ksp = entry.ksp
    x = _initial_guess(ksp, system, x0)
    entry.monitor.residuals.clear()
    entry.monitor.callback = None if callback is None else (
        lambda xk: callback(_output(xk, system)))
    with options_inserted(ksp.getOptionsPrefix(), entry.options):
        ksp.setOperators(system.A)
        setup_error = _attempt(ksp.setUp)
        setup_done = time.perf_counter()
        solve_error = None if setup_error else _attempt(lambda: ksp.solve(system.b, x))
    reason, details = _reason(ksp, method, setup_error, solve_error)
    if reason in (Reason.PC_FAILED, Reason.SINGULAR):  # x may hold Inf from a zero pivot
        x = _initial_guess(ksp, system, x0)
    rnorm = residual_norm(system.A, system.b, x)
    end = time.perf_counter()
    info = {"backend": "petsc", "method": ksp.getType() if method == "options" else method,
            "pc": _pc_label(pc, ksp), "device": "cpu", "ranks": system.A.getComm().getSize(),
            **details}
    timings = {"setup": setup_done - start, "solve": end - setup_done, "total": end - start}
    residuals = entry.monitor.residuals or [rnorm]
    return make_result(_output(x, system), rnorm, system.bnorm, solver.stop, reason,
                       ksp.getIterationNumber(), residuals, timings, info)


def _pc_label(pc: str | Callable | None, ksp: PETSc.KSP) -> str:
    """Our pc name for ``info``; PETSc's type when the options chose it."""
    if pc is None:
        return ksp.getPC().getType()
    return pc if isinstance(pc, str) else "custom"


# -- input ---------------------------------------------------------------------------------


def to_petsc(A: Any, b: Any, comm: PETSc.Comm | None = None) -> tuple[PETSc.Mat, PETSc.Vec]:
    """A SciPy/NumPy system (or :class:`operators.Problem`) as a PETSc ``Mat`` and ``Vec``.

    Every rank of ``comm`` (default ``PETSc.COMM_WORLD``) passes the whole system and keeps
    its own block of rows; with ``PETSc.COMM_SELF`` each rank gets a serial copy.
    """
    host = as_system(A, b)
    return _host_to_petsc(host, comm or PETSc.COMM_WORLD)


def _host_to_petsc(host: LinearSystem, comm: PETSc.Comm,
                   like: PETSc.Vec | None = None) -> tuple[PETSc.Mat, PETSc.Vec]:
    """Rows of ``host`` owned by this rank (the layout of ``like`` if given) as Mat and Vec."""
    if host.matrix is None:
        raise InvalidSystemError(
            "the PETSc backend needs an assembled matrix, not a matrix-free LinearOperator; "
            "pass a scipy sparse matrix or a petsc4py Mat, or use backend='scipy'"
        )
    if np.iscomplexobj(host.b) and not np.iscomplexobj(np.zeros(1, PETSc.ScalarType)):
        raise InvalidSystemError(
            "this PETSc is built with real scalars and the system is complex; use "
            "backend='scipy', or a PETSc configured with --with-scalar-type=complex"
        )
    if like is None:
        like = PETSc.Vec().createMPI(host.n, comm=comm)
        like.setArray(host.b[slice(*like.getOwnershipRange())])
    start, stop = like.getOwnershipRange()
    M = host.matrix
    if not M.has_canonical_format:  # PETSc wants sorted, unique column indices per row
        M = M.copy()
        M.sum_duplicates()
    indptr = M.indptr[start : stop + 1]
    csr = (
        (indptr - indptr[0]).astype(PETSc.IntType),
        M.indices[indptr[0] : indptr[-1]].astype(PETSc.IntType),
        M.data[indptr[0] : indptr[-1]].astype(PETSc.ScalarType),
    )
    local = stop - start
    A = PETSc.Mat().createAIJWithArrays(((local, host.n), (local, host.n)), csr,
                                        comm=like.getComm())
    return A, like


def _petsc_system(solver: Any, A: Any, b: Any) -> PetscSystem:
    """Validate the input and bring it onto PETSc objects (SciPy matrices converted once)."""
    symmetric = getattr(A, "symmetric", None) if _is_problem(A) else None
    matrix = A.A if _is_problem(A) else A
    if isinstance(matrix, PETSc.Mat):
        checked = (matrix.getId(), matrix.stateGet())  # changes when the values change
        if solver.state.get("petsc_checked") != checked:
            _check_matrix(matrix)
            solver.state["petsc_checked"] = checked
        vec = b if isinstance(b, PETSc.Vec) else _vector(b, matrix)
        return PetscSystem(matrix, vec, _checked_norm(matrix, vec), None, symmetric,
                           not isinstance(b, PETSc.Vec), np.dtype(PETSc.ScalarType))
    host = as_system(A, gather(b) if isinstance(b, PETSc.Vec) else b)
    like = b if isinstance(b, PETSc.Vec) else None
    fingerprint = (host.fingerprint(), None if like is None else like.getOwnershipRange())
    cached = solver.state.get("petsc_matrix")
    if cached is not None and cached[0] == fingerprint:
        mat = cached[1]
        vec = like if like is not None else _vector(host.b, mat)
    else:
        mat, vec = _host_to_petsc(host, PETSc.COMM_WORLD, like)
        solver.state["petsc_matrix"] = (fingerprint, mat)
    return PetscSystem(mat, vec, vec.norm(), host, host.symmetric, like is None, host.dtype)


def _is_problem(A: Any) -> bool:
    """Duck-typed :class:`operators.Problem` (``solvers`` does not import ``operators``)."""
    return hasattr(A, "A") and hasattr(A, "shape") and hasattr(A, "kind")


def _vector(values: Any, like: PETSc.Mat, name: str = "b") -> PETSc.Vec:
    """A NumPy vector (the whole of it, on every rank) in the row layout of ``like``."""
    arr = as_vector(values, like.getSize()[0], name)
    vec = like.createVecs("left")
    vec.setArray(arr[slice(*vec.getOwnershipRange())])
    return vec


def _check_matrix(A: PETSc.Mat) -> None:
    """Squareness, assembly and NaN/Inf checks for a petsc4py matrix."""
    check_square(A.getSize())
    if not A.assembled:
        raise InvalidSystemError("A is not assembled; call A.assemble() after setting values")
    if not np.isfinite(_matrix_norm(A)):
        raise InvalidSystemError("A contains NaN or Inf entries; fix the input")


def _checked_norm(A: PETSc.Mat, b: PETSc.Vec) -> float:
    """``||b||`` after checking that ``b`` matches ``A``'s rows and is finite."""
    n = A.getSize()[0]
    if b.getSize() != n:
        raise InvalidSystemError(f"b has {b.getSize()} entries but A has {n} rows; they must match")
    if b.getLocalSize() != A.getLocalSize()[0]:
        raise InvalidSystemError(
            f"b is distributed differently from A's rows ({b.getLocalSize()} vs "
            f"{A.getLocalSize()[0]} local entries); create b with A.createVecs('left')"
        )
    bnorm = b.norm()
    if not np.isfinite(bnorm):
        raise InvalidSystemError("b contains NaN or Inf entries; fix the input")
    return bnorm


def _matrix_norm(A: PETSc.Mat) -> float:
    """Frobenius norm, or 0 for matrix types that cannot compute one (shells)."""
    try:
        return A.norm(PETSc.NormType.FROBENIUS)
    except PETSc.Error:
        return 0.0


def _initial_guess(ksp: PETSc.KSP, system: PetscSystem, x0: Any) -> PETSc.Vec:
    """A new solution vector holding ``x0`` (or zero), with the KSP told which."""
    ksp.setInitialGuessNonzero(x0 is not None)
    if isinstance(x0, PETSc.Vec):
        if x0.getSize() != system.n or x0.getLocalSize() != system.b.getLocalSize():
            raise InvalidSystemError("x0 must have the size and the parallel layout of b")
        if not np.isfinite(x0.norm()):
            raise InvalidSystemError("x0 contains NaN or Inf entries; fix the input")
        return x0.copy()
    if x0 is not None:
        return _vector(x0, system.A, "x0")
    x = system.b.duplicate()
    x.zeroEntries()
    return x


# -- configuration --------------------------------------------------------------------------


def _names(solver: Any, system: PetscSystem) -> tuple[str, str | Callable | None]:
    """Method and preconditioner names after ``"auto"``, checked against PETSc's abilities.

    ``method="auto"`` with ``-ksp_type`` in the options gives ``"options"``: PETSc's types
    and defaults throughout, only the preconditioner named by ``pc`` (if any) set in code.
    """
    method, pc = solver.method, solver.pc
    if method == "auto" and "ksp_type" in parse_options(solver.options):
        return "options", pc  # the KSP type (and, without pc, the PC) as PETSc chooses
    if method == "auto":
        method, auto_pc = _choose_auto(system)
        pc = auto_pc if pc is None else pc
    pc = "none" if pc is None else pc
    if method not in _KSP_TYPES:
        raise InvalidOptionError(
            f"method {method!r} does not run on the PETSc backend; PETSc runs "
            f"{', '.join(sorted(_KSP_TYPES))} (or any KSP through options='-ksp_type ...')"
        )
    if method in _METHOD_PC:
        if pc not in ("none", _METHOD_PC[method]):
            raise InvalidOptionError(
                f"method {method!r} brings its own preconditioner on PETSc; leave pc unset "
                f"(got pc={pc!r})"
            )
        pc = _METHOD_PC[method]
    if isinstance(pc, str) and pc not in _PC_TYPES:
        raise InvalidOptionError(
            f"pc {pc!r} does not run on the PETSc backend; PETSc runs "
            f"{', '.join(sorted(_PC_TYPES))} (or any PC through options='-pc_type ...')"
        )
    if pc == "hypre" and not PETSc.Sys.hasExternalPackage("hypre"):
        raise InvalidOptionError(
            "pc='hypre' needs PETSc configured with --download-hypre, and this PETSc has no "
            "hypre; use pc='amg' (PETSc GAMG)"
        )
    _check_symmetry(solver, system, method, pc)
    return method, pc


def _choose_auto(system: PetscSystem) -> tuple[str, str]:
    """The ``"auto"`` rule of :func:`solvers.backends.scipy.choose_auto`, on a PETSc Mat.

    Evaluated collectively (global symmetry test and diagonal minimum), so that every rank
    makes the same choice.
    """
    if system.host is not None:
        return choose_auto(system.host)
    if system.n <= AUTO_DIRECT_MAX_N:
        return "direct", "none"
    symmetric = system.symmetric
    if symmetric is None:
        try:
            symmetric = system.A.isSymmetric(1e-12)
        except PETSc.Error:
            symmetric = False
    if symmetric and system.A.getDiagonal().min()[1] > 0:
        return "cg", "amg"
    return "gmres", "ilu"


def _check_symmetry(solver: Any, system: PetscSystem, method: str, pc: str | Callable) -> None:
    """Methods/PCs that need symmetry: SciPy input is tested, a Problem's tag is trusted."""
    parts = [("method", method)] + ([("pc", pc)] if isinstance(pc, str) else [])
    for kind, name in parts:
        if not getattr(solver.component(kind, name), "requires_symmetric", False):
            continue
        if system.host is not None:
            system.host.require_symmetric(name if kind == "method" else f"pc={name!r}")
        elif system.symmetric is False:
            raise NotSymmetricError(
                f"{kind} {name!r} needs a symmetric matrix and the problem is not symmetric; "
                f"use method='gmres' or method='bicgstab'"
            )


def _cached_ksp(solver: Any, system: PetscSystem, method: str,
                pc: str | Callable | None) -> _Ksp:
    """The Solver's KSP for this method, preconditioner and size (built on first use)."""
    kind = pc if isinstance(pc, str) else id(pc)
    key = ("petsc_ksp", method, kind, system.n, system.A.getComm().getSize())
    if key not in solver.state:
        solver.state[key] = _build_ksp(solver, system, method, pc)
    return solver.state[key]


def _build_ksp(solver: Any, system: PetscSystem, method: str,
               pc: str | Callable | None) -> _Ksp:
    """Create the KSP: types and defaults in code, then the user's options on top."""
    comm = system.A.getComm()
    parallel = comm.getSize() > 1
    ksp = PETSc.KSP().create(comm)
    ksp.setOptionsPrefix(f"solvers{next(_PREFIXES)}_")
    ksp.setOperators(system.A)
    if method in _KSP_TYPES:
        ksp.setType(_KSP_TYPES[method])
    if method == "pycg":
        ksp.setPythonContext(CGContext())
    stop = solver.stop
    ksp.setTolerances(rtol=stop.rtol, atol=stop.atol, max_it=stop.iterations(system.n))
    defaults = {} if pc is None else _configure_pc(ksp.getPC(), pc, parallel)
    defaults |= _param_options(solver)
    user = parse_options(solver.options)
    monitor = _Monitor()
    ksp.setMonitor(monitor)
    entry = _Ksp(ksp, defaults | user, monitor)
    with options_inserted(ksp.getOptionsPrefix(), entry.options):
        try:
            ksp.setFromOptions()
        except PETSc.Error as exc:
            raise InvalidOptionError(f"PETSc rejected the options {solver.options!r}: "
                                     f"{_message(exc)}") from None
    if not {"ksp_norm_type", "ksp_pc_side"} & user.keys():
        _use_unpreconditioned_norm(ksp)
    return entry


def _configure_pc(pc: PETSc.PC, name: str | Callable, parallel: bool) -> dict[str, str | None]:
    """Set the PC type for our name; return the options it needs as defaults."""
    if callable(name):
        pc.setType("python")
        pc.setPythonContext(FunctionPC(name))
        return {}
    pc_type, defaults = _PC_TYPES[name], {}
    if parallel and name in _PARALLEL_PC:
        pc_type, defaults = _PARALLEL_PC[name]
    if name in _SOR_SWEEPS:
        defaults = {_SOR_SWEEPS[name][parallel]: None}
    pc.setType(pc_type)
    return dict(defaults)


def _param_options(solver: Any) -> dict[str, str]:
    """``omega``, ``restart`` and ``truncation`` as PETSc options (values checked by the
    library's own method objects when the Solver built them)."""
    unknown = sorted(set(solver.params) - _PARAM_OPTIONS.keys())
    if unknown:
        raise InvalidOptionError(
            f"parameter(s) {', '.join(unknown)} have no PETSc equivalent here; pass the PETSc "
            f"option instead, e.g. options='-pc_factor_levels 1' (parameters mapped: "
            f"{', '.join(sorted(_PARAM_OPTIONS))})"
        )
    return {_PARAM_OPTIONS[k]: str(v) for k, v in solver.params.items()}


def _use_unpreconditioned_norm(ksp: PETSc.KSP) -> None:
    """Iterate on ``||b - A x||`` where the KSP type can (see the module docstring)."""
    side = _UNPRECONDITIONED_SIDE.get(ksp.getType())
    if side is not None:
        ksp.setPCSide(side)
        ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)


def parse_options(options: str | dict | None) -> dict[str, str | None]:
    """``"-ksp_type cg -ksp_monitor"`` or ``{"ksp_type": "cg"}`` -> ``{name: value or None}``.

    Examples
    --------
    >>> parse_options("-ksp_type cg -ksp_monitor -pc_sor_omega 1.5")
    {'ksp_type': 'cg', 'ksp_monitor': None, 'pc_sor_omega': '1.5'}
    """
    if options is None:
        return {}
    if isinstance(options, dict):
        return {str(k).lstrip("-"): _option_value(v) for k, v in options.items()}
    if not isinstance(options, str):
        raise InvalidOptionError(
            f"options must be a string like '-ksp_type cg' or a dict, not {type(options).__name__}"
        )
    parsed: dict[str, str | None] = {}
    name = None
    for token in shlex.split(options):
        if token.startswith("-") and len(token) > 1 and (token[1].isalpha() or token[1] == "_"):
            name = token[1:]
            parsed[name] = None
        elif name is not None and parsed[name] is None:
            parsed[name] = token
        else:
            raise InvalidOptionError(
                f"options: {token!r} does not follow an option name; write options as "
                f"'-name value -flag ...', e.g. '-ksp_type cg -pc_type gamg'"
            )
    return parsed


def _option_value(value: Any) -> str | None:
    if value is None or value is True:
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


@contextmanager
def options_inserted(prefix: str, options: dict[str, str | None]) -> Iterator[None]:
    """Put ``options`` into PETSc's options database under ``prefix``; remove them after."""
    db = PETSc.Options(prefix)
    for name, value in options.items():
        db.setValue(name, value)
    try:
        yield
    finally:
        for name in options:
            db.delValue(name)


# -- output ---------------------------------------------------------------------------------


def _attempt(step: Callable[[], Any]) -> PETSc.Error | None:
    """Run a PETSc step; a PETSc error becomes the result's reason instead of a traceback."""
    try:
        step()
    except PETSc.Error as exc:
        return exc
    return None


def _reason(ksp: PETSc.KSP, method: str, setup_error: PETSc.Error | None,
            solve_error: PETSc.Error | None) -> tuple[Reason, dict]:
    """Our :class:`Reason` for the KSP's converged reason, or for a PETSc error.

    An error in ``KSPSetUp`` is a failed preconditioner setup (e.g. a missing diagonal
    entry for a factorization); a failed LU is reported as ``singular``.
    """
    pc = ksp.getPC()
    details: dict[str, Any] = {"ksp_type": ksp.getType(), "pc_type": pc.getType()}
    if pc.getFailedReason():
        details["pc_failed_reason"] = int(pc.getFailedReason())
    if setup_error or solve_error:
        details["error"] = _message(setup_error or solve_error)
        failed = setup_error is not None or "pc_failed_reason" in details
        reason = Reason.PC_FAILED if failed else Reason.BACKEND_ERROR
    else:
        name = _REASON_NAMES.get(ksp.getConvergedReason(), "unknown")
        details["petsc_reason"] = name
        reason = _REASONS.get(name, Reason.BACKEND_ERROR)
    if method == "direct" and reason is Reason.PC_FAILED:
        reason = Reason.SINGULAR
    return reason, details


def _message(error: PETSc.Error) -> str:
    """PETSc's own explanation from the error text, without the call-stack lines."""
    lines = [line.split("] ", 1)[-1] for line in str(error).splitlines()[1:]
             if "() at " not in line]
    return "; ".join(lines + [f"PETSc error code {error.ierr}"])


def residual_norm(A: PETSc.Mat, b: PETSc.Vec, x: PETSc.Vec) -> float:
    """``||b - A x||_2`` (collective)."""
    r = b.duplicate()
    A.mult(x, r)
    r.aypx(-1.0, b)
    return r.norm()


def gather(x: PETSc.Vec) -> np.ndarray:
    """The whole of a (distributed) ``Vec`` as a NumPy array on every rank (collective)."""
    if x.getComm().getSize() == 1:
        return x.getArray().copy()
    scatter, whole = PETSc.Scatter.toAll(x)
    scatter.scatter(x, whole, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
    values = whole.getArray().copy()
    scatter.destroy()
    whole.destroy()
    return values


def _output(x: PETSc.Vec, system: PetscSystem) -> Any:
    """``x`` in the family of ``b``: the ``Vec`` itself, or the whole NumPy vector."""
    if not system.numpy_output:
        return x
    return gather(x).astype(system.dtype, copy=False)
