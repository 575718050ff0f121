"""The PETSc backend on one process: same answers as SciPy, options, state, reasons, errors."""

from __future__ import annotations

import dataclasses
import importlib
import sys

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import operators.fields
import operators.gallery as gallery
from solvers import Reason, Solver, backends, solve
from solvers.errors import (
    BackendUnavailableError,
    BreakdownError,
    InvalidOptionError,
    InvalidSystemError,
    NotSymmetricError,
)

PETSc = pytest.importorskip("petsc4py.PETSc")
petsc_backend = importlib.import_module("solvers.backends.petsc")

RTOL = 1e-10

PROBLEMS = {
    "poisson2d": lambda: gallery.poisson((24, 20)),
    "poisson3d": lambda: gallery.poisson((9, 8, 7)),
    "diffusion2d": lambda: operators.fields.random_diffusion((20, 24), seed=7),
    "convdiff2d": lambda: gallery.convection_diffusion((20, 20), velocity=(20.0, -5.0)),
}
SPD = ("poisson2d", "poisson3d", "diffusion2d")
# (method, pc, params, problems): the table compared with the SciPy backend's direct solve.
CASES = [
    ("cg", "none", {}, SPD),
    ("cg", "jacobi", {}, SPD),
    ("cg", "icc", {}, SPD),
    ("cg", "ssor", {"omega": 1.2}, SPD),
    ("cg", "amg", {}, SPD),
    ("fcg", "amg", {"truncation": 3}, SPD),
    ("minres", "none", {}, SPD),
    ("pycg", "amg", {}, SPD),
    ("pycg", "none", {}, SPD),
    ("gmres", "ilu", {"restart": 20}, ("poisson2d", "convdiff2d")),
    ("fgmres", "sor", {}, ("poisson2d", "convdiff2d")),
    ("fgmres", "ilu", {"restart": 10}, ("convdiff2d",)),
    ("bicgstab", "jacobi", {}, ("poisson2d", "convdiff2d")),
    ("sor", None, {"omega": 1.5}, ("poisson2d",)),
    ("ssor", None, {}, ("poisson2d",)),
    ("direct", None, {}, ("poisson3d", "convdiff2d")),
    ("cg", "lu", {}, ("poisson2d",)),
    ("auto", None, {}, ("poisson2d", "convdiff2d")),
]
TABLE = [(m, pc, params, name) for m, pc, params, names in CASES for name in names]


def _reference(problem) -> np.ndarray:
    return spla.spsolve(problem.A.tocsc(), problem.b)


@pytest.mark.parametrize(("method", "pc", "params", "name"), TABLE,
                         ids=[f"{m}-{pc}-{n}" for m, pc, _, n in TABLE])
def test_same_solution_as_scipy(method, pc, params, name):
    problem = PROBLEMS[name]()
    res = solve(problem, problem.b, method, pc, backend="petsc", rtol=RTOL, **params)
    assert res.converged, res
    assert isinstance(res.x, np.ndarray)
    assert res.residual_norm <= RTOL * np.linalg.norm(problem.b)
    expected = _reference(problem)
    assert np.linalg.norm(res.x - expected) <= 1e-6 * np.linalg.norm(expected)
    if method != "pycg" and pc not in ("lu", "sor"):  # PETSc-only names
        host = solve(problem, problem.b, method, pc, backend="scipy", rtol=RTOL, **params)
        assert np.linalg.norm(res.x - host.x) <= 1e-6 * np.linalg.norm(expected)
    assert res.residuals[0] == pytest.approx(np.linalg.norm(problem.b))
    assert len(res.residuals) == res.iterations + 1


@pytest.mark.parametrize("method", ["cg", "minres", "sor", "ssor", "pycg"])
def test_iterations_match_the_scipy_backend(method):
    """Same algorithm, same stopping test, so the same iteration count (to one)."""
    problem = gallery.poisson((30, 30))
    pc = "jacobi" if method in ("cg", "pycg") else None
    petsc = solve(problem, problem.b, method, pc, backend="petsc", rtol=1e-8)
    host = solve(problem, problem.b, "cg" if method == "pycg" else method, pc,
                 backend="scipy", rtol=1e-8)
    assert abs(petsc.iterations - host.iterations) <= 1, (petsc, host)


def test_petsc_objects_in_petsc_objects_out():
    problem = gallery.poisson((16, 16))
    A, b = petsc_backend.to_petsc(problem.A, problem.b)
    res = solve(A, b, "cg", "amg", rtol=RTOL)  # backend="auto" sees petsc4py types
    assert res.info["backend"] == "petsc"
    assert isinstance(res.x, PETSc.Vec)
    assert res.x.handle != b.handle
    assert np.allclose(res.x.getArray(), _reference(problem), rtol=1e-7)
    res = solve(A, problem.b, "cg", rtol=RTOL)  # Mat with a NumPy b: NumPy x
    assert isinstance(res.x, np.ndarray)


def test_unsorted_column_indices_are_accepted():
    A = gallery.poisson((10, 10)).A
    rows = zip(A.indptr[:-1], A.indptr[1:], strict=True)
    order = np.concatenate([np.arange(a, b)[::-1] for a, b in rows])
    M = sp.csr_matrix((A.data[order], A.indices[order], A.indptr.copy()), shape=A.shape)
    assert not M.has_sorted_indices
    res = solve(M, np.ones(100), "direct", backend="petsc")
    np.testing.assert_allclose(res.x, spla.spsolve(A.tocsc(), np.ones(100)), rtol=1e-10)


def test_initial_guess_and_callback():
    problem = gallery.poisson((16, 16))
    exact = _reference(problem)
    res = solve(problem, problem.b, "cg", backend="petsc", x0=exact, rtol=1e-8)
    assert res.converged and res.iterations == 0
    seen = []
    res = solve(problem, problem.b, "cg", backend="petsc", callback=seen.append)
    assert len(seen) == res.iterations and isinstance(seen[-1], np.ndarray)
    np.testing.assert_allclose(seen[-1], res.x)


def test_float32_input_gives_float32_output():
    problem = gallery.poisson((10, 10))
    res = solve(problem.A.astype(np.float32), problem.b.astype(np.float32), "cg",
                backend="petsc")
    assert res.converged and res.x.dtype == np.float32


# -- options ---------------------------------------------------------------------------------


def _leftover_options() -> dict:
    return {k: v for k, v in PETSc.Options().getAll().items() if k.startswith("solvers")}


@pytest.mark.parametrize("options", ["-ksp_type fcg -pc_type gamg",
                                     {"ksp_type": "fcg", "-pc_type": "gamg"}])
def test_options_string_or_dict(options):
    problem = gallery.poisson((20, 20))
    res = solve(problem, problem.b, backend="petsc", options=options, rtol=RTOL)
    assert res.converged
    assert (res.info["ksp_type"], res.info["pc_type"]) == ("fcg", "gamg")
    assert res.info["method"] == "fcg"
    assert _leftover_options() == {}


def test_options_override_names_and_do_not_leak():
    problem = gallery.poisson((20, 20))
    gmres = Solver("cg", "jacobi", backend="petsc", options="-ksp_type gmres -pc_type none")
    plain = Solver("cg", "jacobi", backend="petsc")
    first, second = gmres.solve(problem, problem.b), plain.solve(problem, problem.b)
    assert (first.info["ksp_type"], first.info["pc_type"]) == ("gmres", "none")
    assert (second.info["ksp_type"], second.info["pc_type"]) == ("cg", "jacobi")
    assert _leftover_options() == {}


def test_solve_time_options_are_read(capfd):
    problem = gallery.poisson((8, 8))
    solve(problem, problem.b, "cg", backend="petsc", options="-ksp_converged_reason")
    assert "converged due to CONVERGED_RTOL" in capfd.readouterr().out


def test_ksp_python_through_options():
    problem = gallery.poisson((20, 20))
    options = ("-ksp_type python -ksp_python_type solvers.backends.petsc.contexts.CGContext "
               "-pc_type jacobi")
    res = solve(problem, problem.b, backend="petsc", options=options, rtol=1e-8)
    native = solve(problem, problem.b, "cg", "jacobi", backend="petsc", rtol=1e-8)
    assert res.info["ksp_type"] == "python" and res.converged
    assert res.iterations == native.iterations
    np.testing.assert_allclose(res.residuals, native.residuals, rtol=1e-8)


@pytest.mark.parametrize(("options", "match"), [
    ("-ksp_type nonsense", "Unable to find requested KSP type nonsense"),
    ("ksp_type cg", "does not follow an option name"),
    (42, "options must be a string"),
])
def test_bad_options(options, match):
    problem = gallery.poisson((8, 8))
    with pytest.raises(InvalidOptionError, match=match):
        solve(problem, problem.b, "cg", backend="petsc", options=options)
    assert _leftover_options() == {}


def test_parse_options():
    assert petsc_backend.parse_options('-a 1 -b -c "x y" -d -1') == {
        "a": "1", "b": None, "c": "x y", "d": "-1"}
    assert petsc_backend.parse_options({"flag": True, "off": False, "n": 3}) == {
        "flag": None, "off": "false", "n": "3"}


# -- state ----------------------------------------------------------------------------------


def test_solver_reuses_matrix_and_ksp_until_the_matrix_changes():
    problem = gallery.poisson((20, 20))
    solver = Solver("direct", backend="petsc")
    first = solver.solve(problem.A, problem.b)
    state = solver.cache.backends["petsc"]
    mat = state.converted.matrix[1]
    again = solver.solve(problem.A, 2 * problem.b)
    assert state.converted.matrix[1] is mat  # same Mat: PETSc keeps the LU factors
    np.testing.assert_allclose(again.x, 2 * first.x)
    changed = solver.solve(3 * problem.A, problem.b)  # new values: new Mat, new factors
    np.testing.assert_allclose(changed.x, first.x / 3)
    assert len(state.ksps) == 1


def test_refinement_restarts_run_on_petsc_too():
    """CG stopping on the *preconditioned* norm (user's option) claims convergence while the
    true residual of a badly scaled system fails; the shared finish restarts it."""
    problem = gallery.poisson((16, 16))
    scale = sp.diags(np.logspace(0, 3, problem.n))
    A = (scale @ problem.A @ scale).tocsr()
    res = solve(A, problem.b, "cg", "jacobi", backend="petsc", rtol=1e-6,
                options="-ksp_norm_type preconditioned")
    assert res.info.get("restarts", 0) >= 1
    assert res.converged or res.reason == "inaccurate"
    assert res.residual_norm == pytest.approx(np.linalg.norm(problem.b - A @ res.x))


def test_auto_falls_back_on_petsc():
    problem = gallery.helmholtz((110, 110), k=20.0)  # symmetric, positive diagonal, indefinite
    res = solve(sp.csr_matrix(problem.A), problem.b, backend="petsc", rtol=1e-8)
    assert res.converged and res.info["auto"]["chose"] == "direct"
    assert res.info["auto"]["tried"][0]["choice"] == "cg+amg"


# -- reasons and errors ---------------------------------------------------------------------


def test_maxiter_and_raise_on_fail():
    problem = gallery.poisson((20, 20))
    res = solve(problem, problem.b, "cg", backend="petsc", maxiter=3)
    assert (res.converged, res.reason, res.iterations) == (False, Reason.MAXITER, 3)
    with pytest.raises(BreakdownError, match="maxiter"):
        solve(problem, problem.b, "cg", backend="petsc", maxiter=3, raise_on_fail=True)


def _indefinite() -> sp.csr_matrix:
    signs = np.where(np.arange(100) < 50, 1.0, -1.0)
    return sp.diags(signs).tocsr() + 0.01 * sp.eye(100, format="csr")


def _indefinite_pc(r: np.ndarray) -> np.ndarray:
    return np.where(np.arange(r.size) % 2 == 0, r, -r)


@pytest.mark.parametrize(("method", "pc", "matrix", "reasons"), [
    ("cg", "none", _indefinite, {Reason.INDEFINITE_MAT}),
    ("pycg", "none", _indefinite, {Reason.INDEFINITE_MAT}),
    ("pycg", _indefinite_pc, lambda: gallery.poisson((10, 10)).A, {Reason.INDEFINITE_PC}),
    # PETSc's CG takes r^T M r = 0 for convergence; the true-residual check catches it.
    ("cg", _indefinite_pc, lambda: gallery.poisson((10, 10)).A,
     {Reason.INDEFINITE_PC, Reason.INACCURATE}),
])
def test_breakdown_reasons(method, pc, matrix, reasons):
    A = matrix()
    res = solve(A, np.ones(A.shape[0]), method, pc, backend="petsc")
    assert not res.converged and res.reason in reasons, res


def _singular(stored_zero: bool) -> sp.csr_matrix:
    A = gallery.poisson((6, 6)).A.tolil()
    A[5, :] = 0
    A[:, 5] = 0
    A = A.tocsr()
    if not stored_zero:
        A.eliminate_zeros()  # no diagonal entry at all: PETSc errors in the setup
    else:
        A[5, 5] = 0.0
    return A


@pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")
@pytest.mark.parametrize("stored_zero", [True, False])
@pytest.mark.parametrize(("method", "pc", "reason"), [
    ("direct", None, Reason.SINGULAR),
    ("gmres", "ilu", Reason.PC_FAILED),
])
def test_zero_pivot_is_a_reason_not_a_traceback(stored_zero, method, pc, reason):
    A = _singular(stored_zero)
    res = solve(A, np.ones(36), method, pc, backend="petsc")
    assert (res.converged, res.reason) == (False, reason)
    assert np.all(res.x == 0)  # the initial guess, not the Inf of a zero pivot


def test_symmetry_is_checked_for_scipy_input_and_trusted_from_tags():
    problem = gallery.convection_diffusion((10, 10), velocity=(5.0, 0.0))
    with pytest.raises(NotSymmetricError, match="gmres"):
        solve(problem, problem.b, "pycg", backend="petsc")
    A, b = petsc_backend.to_petsc(problem.A, problem.b)
    tagged = dataclasses.replace(problem, A=A, b=b)  # a Problem holding PETSc objects
    with pytest.raises(NotSymmetricError, match=r"method 'cg' needs a symmetric \(Hermitian\)"):
        solve(tagged, b, "cg")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"method": "cg", "pc": "hypre"}, "hypre"),
    ({"method": "gmres", "pc": "ilu", "drop_tol": 1e-3}, "drop_tol"),
    ({"method": "sor", "pc": "amg"}, "brings its own preconditioner"),
])
def test_invalid_choices(kwargs, match):
    if kwargs.get("pc") == "hypre" and PETSc.Sys.hasExternalPackage("hypre"):
        pytest.skip("this PETSc has hypre")
    problem = gallery.poisson((8, 8))
    with pytest.raises(InvalidOptionError, match=match):
        solve(problem, problem.b, backend="petsc", **kwargs)


def test_petsc_only_names_on_scipy_say_so():
    problem = gallery.poisson((8, 8))
    with pytest.raises(InvalidOptionError, match="backend='petsc'"):
        solve(problem, problem.b, "pycg", backend="scipy")


def _petsc_pair():
    return petsc_backend.to_petsc(gallery.poisson((4, 4)).A, np.ones(16))


def _with_value(obj, value):
    obj = obj.copy()
    if isinstance(obj, PETSc.Vec):
        obj.setValue(3, value)
    else:
        obj.setValue(3, 3, value)
    obj.assemble()
    return obj


def _rectangular():
    M = PETSc.Mat().createAIJ((16, 8), nnz=1)
    M.assemble()
    return M


@pytest.mark.parametrize(("make", "match"), [
    (lambda A, b: (A, PETSc.Vec().createSeq(5)), "b has 5 entries but A has 16 rows"),
    (lambda A, b: (A, _with_value(b, np.nan)), "b contains NaN"),
    (lambda A, b: (_with_value(A, np.inf), b), "A contains NaN or Inf"),
    (lambda A, b: (PETSc.Mat().createAIJ((16, 16)), b), "not assembled"),
    (lambda A, b: (_rectangular(), b), "square"),
])
def test_invalid_petsc_input(make, match):
    A, b = make(*_petsc_pair())
    with pytest.raises(InvalidSystemError, match=match):
        solve(A, b, "cg")


def test_invalid_scipy_input_is_checked_by_as_system():
    with pytest.raises(InvalidSystemError, match="NaN"):
        solve(sp.eye(4, format="csr"), np.array([1.0, np.nan, 0, 0]), "cg", backend="petsc")
    with pytest.raises(InvalidSystemError, match="matrix-free"):
        solve(spla.aslinearoperator(sp.eye(4)), np.ones(4), "cg", backend="petsc")


def test_complex_system_on_real_petsc():
    if np.iscomplexobj(np.zeros(1, PETSc.ScalarType)):
        pytest.skip("complex PETSc")
    problem = gallery.helmholtz((8, 8), k=3.0, damping=0.5)
    with pytest.raises(InvalidSystemError, match="complex"):
        solve(problem, problem.b, "gmres", backend="petsc")


def test_missing_petsc4py_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "petsc4py", None)
    monkeypatch.delitem(sys.modules, "solvers.backends.petsc")
    with pytest.raises(BackendUnavailableError, match="scripts/install-petsc.sh"):
        backends.get("petsc")


def test_matrix_changed_in_place_is_checked_again():
    A, b = _petsc_pair()
    solver = Solver("cg", backend="petsc")
    assert solver.solve(A, b).converged
    A.setValue(3, 3, np.nan)
    A.assemble()
    with pytest.raises(InvalidSystemError, match="A contains NaN"):
        solver.solve(A, b)


def test_the_removed_context_path_names_its_replacement() -> None:
    """The first release's ``solvers.backends.petsc_python`` is gone; the option string that
    used it says where the contexts live now."""
    old = "-ksp_type python -ksp_python_type solvers.backends.petsc_python.CGContext"
    with pytest.raises(InvalidOptionError, match="solvers.backends.petsc.contexts"):
        solve(operators.poisson((8, 8)), backend="petsc", options=old)


def test_an_error_raised_in_a_python_context_keeps_its_message():
    """A PCPYTHON context that raises: the reason's text names the Python error, not only
    PETSc's error code."""
    from solvers.backends.petsc.reasons import message

    class Failing:
        def setUp(self, pc):  # noqa: N802 (PETSc's name)
            raise ValueError("no grid stencil here")

    A = PETSc.Mat().createAIJ([4, 4])
    A.setUp()
    for i in range(4):
        A[i, i] = 1.0
    A.assemble()
    ksp = PETSc.KSP().create()
    ksp.setOperators(A)
    ksp.getPC().setType("python")
    ksp.getPC().setPythonContext(Failing())
    b = A.createVecLeft()
    b.set(1.0)
    with pytest.raises(PETSc.Error) as caught:
        ksp.solve(b, b.duplicate())
    text = message(caught.value)
    assert "no grid stencil here" in text and "PETSc error code" in text
