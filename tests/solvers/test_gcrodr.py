"""GCRO-DR: convergence on SPD, nonsymmetric, indefinite and complex systems,
SciPy's own gcrotmk/iterative test cases through ``solve(method="gcrodr")``, recycling across
a sequence (fewer iterations than GMRES(m)), the carried space reused or recomputed, options,
and the PETSc ``KSPPYTHON`` context (serial; ``tests/mpi/test_gcrodr_mpi.py`` on 2 ranks)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import operators
from operators.fields import gaussian_random_field
from solvers import Reason, Solver, solve
from solvers.errors import InvalidOptionError, InvalidSystemError

KEY = ("method", "gcrodr")


def _nonsymmetric() -> operators.Problem:
    return operators.convection_diffusion((16, 16), velocity=(40.0, 15.0))


def _indefinite() -> operators.Problem:
    shape = (24, 24)
    return operators.helmholtz(shape, k=0.3 * (shape[0] + 1))  # k h = 0.3, indefinite


def _complex() -> operators.Problem:
    return operators.helmholtz((20, 20), k=12.0, damping=0.2)


PROBLEMS = {
    "spd": lambda: operators.random_diffusion((20, 20), seed=3),
    "nonsymmetric": _nonsymmetric,
    "indefinite": _indefinite,
    "complex": _complex,
}


@pytest.mark.parametrize("pc", ["none", "jacobi", "ilu"])
@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_converges_to_the_direct_solution(name: str, pc: str) -> None:
    problem = PROBLEMS[name]()
    assert name != "indefinite" or not problem.positive_definite
    res = solve(problem, problem.b, "gcrodr", pc, rtol=1e-10, restart=20, recycle=6,
                maxiter=5000)
    exact = spla.spsolve(problem.A.tocsc(), problem.b)
    assert res.converged and res.reason == Reason.RTOL, (name, pc, res.reason)
    assert np.linalg.norm(res.x - exact) <= 1e-7 * np.linalg.norm(exact)
    assert res.x.dtype == problem.b.dtype
    # k - 1 ... k + 1 vectors (a conjugate pair kept whole), fewer after very few steps
    assert res.state.U.dtype == res.x.dtype
    assert min(5, res.iterations) <= res.state.k <= 7


def test_deflation_beats_gmres_on_an_indefinite_system() -> None:
    """GMRES(20) stalls on indefinite Helmholtz; deflating the small harmonic Ritz values
    within one solve (no recycling yet) does not."""
    problem = _indefinite()
    gmres = solve(problem, problem.b, "gmres", rtol=1e-8, restart=20, maxiter=1500)
    gcrodr = solve(problem, problem.b, "gcrodr", rtol=1e-8, restart=20, recycle=8,
                   maxiter=1500)
    assert gcrodr.converged and gcrodr.iterations < 600
    assert not gmres.converged or gmres.iterations > 2 * gcrodr.iterations


# -- SciPy's own test cases (scipy/sparse/linalg/_isolve/tests) ----------------------------


def _scipy_iterative_cases() -> dict[str, tuple[np.ndarray | sp.spmatrix, np.ndarray]]:
    """The cases of SciPy's ``test_iterative.py`` that gcrotmk runs (double and single)."""
    n = 40
    poisson1d = sp.diags([2.0, -1.0, -1.0], [0, -1, 1], shape=(n, n), format="csr")
    rng = np.random.RandomState(1234)
    rand = rng.rand(4, 4)
    rng = np.random.RandomState(1234)
    sym = rng.rand(4, 4)
    np.random.seed(1234)
    spd = np.random.rand(9, 9)
    rng = np.random.RandomState(1234)
    cmplx = rng.rand(4, 4) + 1j * rng.rand(4, 4)
    rng = np.random.RandomState(1234)
    herm = rng.rand(4, 4) + 1j * rng.rand(4, 4)
    rng = np.random.RandomState(1234)
    cspd = rng.rand(9, 9) + 1j * rng.rand(9, 9)
    nonsym = sp.diags([2.0, -1.0], [0, -1], shape=(10, 10), format="csr")
    sym_nonpd = np.zeros((11, 11))
    sym_nonpd[:5, 5] = [1, 2, 2, 2, 1]
    sym_nonpd[:5, 6:] = -np.eye(5)
    sym_nonpd[6:, 6:] = -np.eye(5)
    sym_nonpd = sym_nonpd + np.triu(sym_nonpd, 1).T
    cases = {
        "poisson1d": poisson1d, "neg-poisson1d": -poisson1d,
        "poisson2d": sp.kronsum(poisson1d, poisson1d, format="csr"),
        "rand-diag": sp.diags([6.0, -5, 2, 7, -1, 10, 4, -3, -8, 9], format="csr"),
        "rand": rand, "rand-sym": sym + sym.T, "rand-sym-pd": spd.conj() @ spd.T,
        "rand-cmplx": cmplx, "rand-cmplx-herm": herm + herm.T.conj(),
        "rand-cmplx-sym-pd": cspd.conj() @ cspd.T, "nonsymposdef": nonsym,
    }
    out = {name: (A, np.arange(A.shape[0], dtype=float)) for name, A in cases.items()}
    b = np.zeros(11)
    b[5] = 1
    out["sym-nonpd"] = (sym_nonpd, b)
    return out


SCIPY_CASES = _scipy_iterative_cases()


@pytest.mark.parametrize("single", [False, True], ids=["double", "single"])
@pytest.mark.parametrize("case", sorted(SCIPY_CASES))
def test_scipy_iterative_cases(case: str, single: bool) -> None:
    """SciPy's ``test_convergence``: ``||A x - b|| <= rtol ||b||`` (also in single precision,
    ``-F`` cases, at a tolerance single precision reaches)."""
    A, b = SCIPY_CASES[case]
    if single:
        A = A.astype(np.complex64 if np.iscomplexobj(A) else np.float32)
        b = b.astype(np.float32)
    rtol = 1e-4 if single else 1e-8
    res = solve(A, b, "gcrodr", rtol=rtol, restart=10, recycle=3)
    assert res.converged, (case, res.reason)
    A64 = A.astype(np.complex128 if np.iscomplexobj(A) else np.float64)
    assert np.linalg.norm(A64 @ np.asarray(res.x, A64.dtype) - b) <= rtol * np.linalg.norm(b)


AM = sp.csr_matrix(np.array([[-2, 1, 0, 0, 0, 9], [1, -2, 1, 0, 5, 0], [0, 1, -2, 1, 0, 0],
                             [0, 0, 1, -2, 1, 0], [0, 3, 0, 1, -2, 1], [1, 0, 0, 0, 1, -2]],
                            dtype=float))
BM = np.arange(1.0, 7.0)


def test_gcrotmk_preconditioner() -> None:
    """SciPy's ``test_preconditioner``: an exact LU as ``M`` converges at once."""
    lu = spla.splu(AM.tocsc())
    plain = solve(AM, BM, "gcrodr", rtol=1e-14, restart=5, recycle=2)
    pre = solve(AM, BM, "gcrodr", lu.solve, rtol=1e-14, restart=5, recycle=2)
    assert plain.converged and pre.converged
    assert pre.iterations <= 2 and pre.iterations < plain.iterations / 2
    np.testing.assert_allclose(pre.x, plain.x, rtol=1e-12)


def test_gcrotmk_arnoldi_first_cycle_is_gmres() -> None:
    """SciPy's ``test_arnoldi``: without a recycle space the first cycle is GMRES(m)."""
    rng = np.random.default_rng(1)
    A = sp.eye(2000, format="csr") + sp.random(2000, 2000, density=5e-4, random_state=rng)
    b = rng.random(2000)
    ours = solve(A, b, "gcrodr", rtol=1e-12, restart=10, recycle=4, maxiter=10)
    gmres = solve(A, b, "gmres", rtol=1e-12, restart=10, maxiter=10)
    assert not ours.converged and ours.reason == Reason.MAXITER and ours.iterations == 10
    assert np.linalg.norm(A @ ours.x - b) > 1e-4
    np.testing.assert_allclose(ours.x, gmres.x, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n", [3, 5, 10, 100])
def test_gcrotmk_cornercase(n: int) -> None:
    """SciPy's ``test_cornercase``: ``2 I`` is solved exactly in one iteration, with and
    without a tight rtol (SciPy accepts a failure at 1e-15; ``x = b / 2`` is exact here)."""
    A = 2 * sp.eye(n, format="csr")
    for b in (np.ones(n), np.random.default_rng(1234).random(n)):
        for rtol in (1e-5, 1e-15):
            res = solve(A, b, "gcrodr", rtol=rtol, restart=4, recycle=2, maxiter=10)
            assert res.converged and res.reason == Reason.RTOL and res.iterations == 1
            np.testing.assert_allclose(A @ res.x - b, 0, atol=1e-15)


def test_gcrotmk_nans_are_refused() -> None:
    """SciPy's ``test_nans``: a NaN in ``A`` gives an error that says so (SciPy: info=1)."""
    A = sp.eye(3, format="lil")
    A[1, 1] = np.nan
    with pytest.raises(InvalidSystemError, match="(?i)nan"):
        solve(A.tocsr(), np.ones(3), "gcrodr", restart=4, recycle=2)


def test_gcrotmk_truncate() -> None:
    """SciPy's ``test_truncate``: dense random ``A + I``, rtol = 1e-4, with the storage of
    SciPy's ``m=10, k=10`` (20 vectors; GMRES(10) and GCRO-DR(10, 5) stagnate here)."""
    np.random.seed(1234)
    A = np.random.rand(30, 30) + np.eye(30)
    b = np.random.rand(30)
    res = solve(A, b, "gcrodr", rtol=1e-4, restart=20, recycle=10, maxiter=200)
    assert res.converged
    np.testing.assert_allclose(A @ res.x - b, 0, atol=1e-3)


def test_gcrotmk_cu_carried() -> None:
    """SciPy's ``test_CU``: with the space of the first solve carried, the same system is
    solved again in at most half the iterations (SciPy: 'converges immediately')."""
    s = Solver("gcrodr", rtol=1e-14, restart=6, recycle=5)
    first = s.solve(AM, BM)
    again = s.solve(AM, BM)
    assert first.converged and again.converged
    assert 0 < first.state.k <= 6 and again.iterations <= max(1, first.iterations // 2)
    np.testing.assert_allclose(again.x, first.x, atol=1e-12)
    np.testing.assert_allclose(np.linalg.solve(AM.toarray(), BM), again.x, atol=1e-12)


def test_gcrotmk_denormals() -> None:
    """SciPy's ``test_denormals``: entries whose reciprocal overflows, no warning. The exact
    solution (entries ~1e321) overflows float64, so no finite ``x`` can meet the test: the
    solve must say so (a breakdown at the first step) with a finite ``x`` and no warning."""
    scale = 100 * np.nextafter(0, 1)
    A = np.array([[1.0, 2.0], [3.0, 4.0]]) * scale
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = solve(A, np.array([1.0, 1.0]), "gcrodr", restart=2, recycle=1)
    unscaled = np.linalg.solve(A / scale, np.ones(2))  # the exact x is unscaled / scale
    assert np.abs(unscaled).min() * scale * 1e308 < 1  # |x| > 1e308: not a float64
    assert not res.converged and res.reason == Reason.BREAKDOWN
    assert np.all(np.isfinite(res.x)) and res.residual_norm == pytest.approx(np.sqrt(2))


# -- recycling across a sequence --------------------------------------------------------------


def _sequence(count: int, shape: tuple[int, int] = (24, 24)) -> list[operators.Problem]:
    """Diffusion with a slowly varying log-normal coefficient (fixed seeds)."""
    g0 = gaussian_random_field(shape, seed=0, length_scale=0.2)
    g1 = gaussian_random_field(shape, seed=1, length_scale=0.2)
    return [operators.diffusion(np.exp(g0 + 0.1 * i * g1)) for i in range(count)]


def test_recycling_takes_fewer_iterations_than_gmres() -> None:
    problems = _sequence(4)
    gmres = Solver("gmres", "jacobi", rtol=1e-8, restart=20)
    gcrodr = Solver("gcrodr", "jacobi", rtol=1e-8, restart=20, recycle=8)
    plain = [gmres.solve(p, p.b).iterations for p in problems]
    results = [gcrodr.solve(p, p.b) for p in problems]
    recycled = [r.iterations for r in results]
    assert all(r.converged for r in results)
    assert recycled[0] < plain[0]  # deflated restarting alone
    assert all(r < 0.6 * g for r, g in zip(recycled[1:], plain[1:], strict=True)), (
        recycled, plain)
    assert max(recycled[1:]) < recycled[0]  # the carried space helps the next systems


def _relation_error(problem: operators.Problem, state) -> float:
    """``||A Z^T - C^T|| / ||C||`` and the orthonormality of ``C`` of a carried state."""
    relation = np.linalg.norm(problem.A @ state.Z.T - state.C.T) / np.linalg.norm(state.C)
    ortho = np.abs(state.C.conj() @ state.C.T - np.eye(state.k)).max()
    return max(relation, ortho)


def test_state_carried_and_c_recomputed_when_the_matrix_changes() -> None:
    """The space is carried by the Solver; on a new matrix ``C = A_new Z`` is recomputed
    (a stale ``C`` would break ``A Z = C`` for the space returned after the solve)."""
    first, second = _sequence(2)
    second = operators.diffusion(3.0 * second.coefficient)  # far from ``first``
    s = Solver("gcrodr", rtol=1e-8, restart=20, recycle=8)
    r1 = s.solve(first, first.b)
    assert s.states[KEY] is r1.state and r1.state.k >= 7
    assert _relation_error(first, r1.state) < 1e-8
    r2 = s.solve(second, second.b)
    assert r2.converged and s.states[KEY] is r2.state
    assert _relation_error(second, r2.state) < 1e-8
    assert r2.state.key[0] != r1.state.key[0]
    # the state passed explicitly wins over the one kept (as gcrotmk's CU=)
    fresh = s.solve(second, second.b, state=s.component(*KEY).initial_state())
    assert fresh.iterations > r2.iterations


def test_pc_rebuilt_for_a_new_matrix_recomputes_c() -> None:
    first, second = _sequence(2)
    s = Solver("gcrodr", "jacobi", rtol=1e-8, restart=20, recycle=8)
    s.solve(first, first.b)
    res = s.solve(second, second.b)
    assert _relation_error(second, res.state) < 1e-8


@pytest.mark.parametrize("carry", ["preconditioned", "solution"])
def test_space_carried_in_the_solution_space_survives_a_rebuilt_pc(carry: str) -> None:
    """Issue 30: carried as ``U`` with ``C = A M U`` (``carry="preconditioned"``, Parks et
    al.), the space is rebuilt as ``M_new U`` when ``M`` (here Jacobi) is rebuilt for a new
    matrix, directions unrelated to the last solve's: on this Darcy sequence it takes about
    as many iterations over systems 1-4 as a fresh start (506 against 495). Carried as
    ``Z = M U`` (``carry="solution"``, ``C = A Z``) it takes 348."""
    fam = operators.family("darcy", 32, seed=3)
    problems = [fam.sample(i) for i in range(5)]
    options = dict(rtol=1e-8, restart=40, recycle=20)
    s = Solver("gcrodr", "jacobi", carry=carry, **options)
    carried = [s.solve(p, p.b).iterations for p in problems]
    fresh = [Solver("gcrodr", "jacobi", **options).solve(p, p.b).iterations for p in problems]
    ratio = sum(carried[1:]) / sum(fresh[1:])
    assert ratio < 0.85 if carry == "solution" else ratio > 0.95, (carried, fresh)


class Counting(spla.LinearOperator):
    """A matrix-free operator that counts its products."""

    def __init__(self, A: sp.csr_matrix) -> None:
        super().__init__(A.dtype, A.shape)
        self.A, self.count = A, 0

    def _matvec(self, x: np.ndarray) -> np.ndarray:
        self.count += 1
        return self.A @ x


def test_only_b_changed_reuses_c_without_recomputing() -> None:
    """Same operator, new ``b``: one product per Arnoldi step, one per cycle (the true
    residual) and one for the verdict, no ``A U``; a new operator object: ``k`` more."""
    problem = _sequence(1)[0]
    op = Counting(problem.A)
    s = Solver("gcrodr", rtol=1e-8, restart=20, recycle=8)
    s.solve(op, problem.b)
    k = s.states[KEY].k
    op.count = 0
    rhs = np.random.default_rng(5).standard_normal(problem.n)
    same = s.solve(op, rhs)
    assert same.converged and op.count == same.iterations + same.info["cycles"] + 1
    other = Counting(problem.A)
    new = s.solve(other, rhs)
    assert other.count == new.iterations + new.info["cycles"] + 1 + k


@pytest.mark.parametrize("params", [{"restart": 10, "recycle": 10}, {"restart": 5, "recycle": 9},
                                    {"restart": 10, "recycle": 0}, {"restart": 1.5},
                                    {"recycle": True}])
def test_invalid_restart_or_recycle(params: dict) -> None:
    problem = operators.poisson((8, 8))
    with pytest.raises(InvalidOptionError, match="recycle|restart"):
        solve(problem, problem.b, "gcrodr", **params)


@pytest.mark.parametrize("params", [{"restart": 20, "recycle": 10, "outer": 9},
                                    {"outer": -1}, {"outer": 2.0}])
def test_invalid_outer(params: dict) -> None:
    problem = operators.poisson((8, 8))
    with pytest.raises(InvalidOptionError, match="outer"):
        solve(problem, problem.b, "gcrodr", **params)


def test_outer_vectors_keep_the_relation_and_save_update_work() -> None:
    """``outer > 0`` (issue 30): GCROT outer vectors between harmonic Ritz updates. On a
    Darcy sequence with Jacobi it needs about the products of the per-cycle update (within
    15 %), far fewer than GMRES, with harmonic updates only on the last cycle of each system
    (counted here), and the carried space still satisfies ``A Z = C`` with ``C`` orthonormal
    (and ``M U = Z`` after one system; across systems ``U`` is only ``M_old^{-1} Z``)."""
    from solvers.krylov import gcrodr

    fam = operators.family("darcy", 32, seed=3)
    problems = [fam.sample(i) for i in range(4)]
    updates = []
    real = gcrodr.GCRODR._update

    def counted(self, *args):  # noqa: ANN001, ANN002, ANN202
        updates.append(1)
        return real(self, *args)

    options = dict(rtol=1e-8, restart=40, recycle=12, carry="solution")
    every = Solver("gcrodr", "jacobi", **options)
    cycle_its = [every.solve(p, p.b).iterations for p in problems]
    gcrodr.GCRODR._update = counted
    try:
        outer = Solver("gcrodr", "jacobi", outer=8, **options)
        results = [outer.solve(p, p.b) for p in problems]
    finally:
        gcrodr.GCRODR._update = real
    gmres = sum(Solver("gmres", "jacobi", rtol=1e-8, restart=40).solve(p, p.b).iterations
                for p in problems)
    assert all(r.converged for r in results)
    outer_its = sum(r.iterations for r in results)
    assert outer_its <= 1.15 * sum(cycle_its) and outer_its < 0.6 * gmres, (
        outer_its, cycle_its, gmres)
    assert len(updates) == len(problems) + 1  # the last cycle of each, the first of the first
    assert sum(r.info["cycles"] for r in results) > 2 * len(updates)
    assert _relation_error(problems[-1], results[-1].state) < 1e-8
    one = solve(problems[0], problems[0].b, "gcrodr", "jacobi", outer=8, **options).state
    jacobi = 1 / problems[0].A.diagonal()
    assert np.abs(jacobi * one.U - one.Z).max() <= 1e-10 * np.abs(one.Z).max()


def test_maxiter_and_callback() -> None:
    problem = _indefinite()
    seen = []
    res = solve(problem, problem.b, "gcrodr", rtol=1e-12, restart=10, recycle=3, maxiter=25,
                callback=lambda x: seen.append(np.linalg.norm(problem.b - problem.A @ x)))
    assert res.reason == Reason.MAXITER and res.iterations == 25 and not res.converged
    assert len(seen) == 4 and seen[-1] == pytest.approx(res.residual_norm, rel=1e-12)


def test_breakdown_of_the_projected_operator_is_reported() -> None:
    """The cyclic shift: GMRES(m) stagnates completely for m < n, and after one cycle
    ``(I - C C^H) A`` maps the new start vector into ``range(C)``: a breakdown, reported at
    once instead of running to ``maxiter``."""
    n = 50
    A = sp.csr_matrix(np.roll(np.eye(n), 1, axis=0))
    b = np.eye(n)[0]
    res = solve(A, b, "gcrodr", restart=10, recycle=3, rtol=1e-8, maxiter=2000)
    assert res.reason == Reason.BREAKDOWN and res.iterations == 10 and not res.converged


def test_stagnation_stops_early(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cycles that do not reduce ``||r||`` (a fixed point of the restarted process, seen on
    indefinite Helmholtz) end the run with ``Reason.STAGNATION`` after ``STALL_CYCLES``."""
    from solvers.krylov import gcrodr

    def idle(self, op, x, r, Z, W, MV, k, its, monitor):  # noqa: ANN001, ANN202
        for j in range(1, 6):
            monitor(its + j, float(np.linalg.norm(r)), None)
        return np.zeros_like(x), 5, np.zeros((self.restart + 1, 5)), np.zeros(5)

    monkeypatch.setattr(gcrodr.GCRODR, "_cycle", idle)
    monkeypatch.setattr(gcrodr.GCRODR, "_update",
                        lambda self, op, U, Z, W, MV, k, G: (U, Z, k))
    problem = operators.poisson((8, 8))
    res = solve(problem, problem.b, "gcrodr", restart=10, recycle=3, maxiter=1000)
    assert res.reason == Reason.STAGNATION and res.iterations == 5 * gcrodr.STALL_CYCLES


def test_a_stalling_carried_space_is_dropped_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that stalls with a carried space (seen on one indefinite Helmholtz system of a
    sequence) starts afresh from ``x0`` without it and converges."""
    from solvers.krylov import gcrodr

    real = gcrodr.GCRODR._cycle

    def stuck_with_space(self, op, x, r, Z, W, MV, k, its, monitor):  # noqa: ANN001, ANN202
        if k == 0:
            return real(self, op, x, r, Z, W, MV, k, its, monitor)
        monitor(its + 1, float(np.linalg.norm(r)), None)
        return np.zeros_like(x), 1, np.zeros((self.restart + 1, 1)), np.zeros(1)

    problem = operators.poisson((8, 8))
    s = Solver("gcrodr", rtol=1e-8, restart=10, recycle=3)
    assert s.solve(problem, problem.b).state.k == 3
    monkeypatch.setattr(gcrodr.GCRODR, "_cycle", stuck_with_space)
    monkeypatch.setattr(gcrodr.GCRODR, "_update",
                        lambda self, op, U, Z, W, MV, k, G: (U, Z, k) if k else
                        (U[:0], Z[:0], 0))
    res = s.solve(problem, problem.b)
    assert res.converged and res.info["rescued"] and res.iterations > gcrodr.STALL_CYCLES


# -- PETSc (serial; tests/mpi/test_gcrodr_mpi.py runs 2 ranks) ----------------------------------


def test_petsc_context_matches_host_and_keeps_its_space() -> None:
    pytest.importorskip("petsc4py.PETSc")
    problems = _sequence(3)
    host = Solver("gcrodr", "jacobi", rtol=1e-8, restart=20, recycle=8)
    petsc = Solver("gcrodr", "jacobi", backend="petsc", rtol=1e-8, restart=20, recycle=8)
    ours = [host.solve(p, p.b) for p in problems]
    theirs = [petsc.solve(p, p.b) for p in problems]
    assert all(r.converged and r.info["ksp_type"] == "python" for r in theirs)
    assert [r.iterations for r in theirs] == [r.iterations for r in ours]
    (entry,) = petsc.cache.backends["petsc"].ksps.values()
    context = entry.ksp.getPythonContext()
    assert context.method.restart == 20 and context.method.recycle == 8
    matrix = entry.ksp.getOperators()[0]
    assert context.space.k >= 7 and context.space.key[0] == (matrix.getId(), matrix.stateGet())
    again = petsc.solve(problems[-1], 2 * problems[-1].b + 1)  # same Mat: C reused
    assert again.converged and again.iterations <= theirs[-1].iterations + 5


def test_petsc_by_options_string() -> None:
    pytest.importorskip("petsc4py.PETSc")
    problem = _indefinite()
    options = ("-ksp_type python -ksp_python_type solvers.backends.petsc.gcrodr.GCRODRContext "
               "-ksp_gcrodr_restart 20 -ksp_gcrodr_recycle 8 -pc_type none")
    res = solve(problem, problem.b, backend="petsc", options=options, rtol=1e-8)
    host = solve(problem, problem.b, "gcrodr", rtol=1e-8, restart=20, recycle=8)
    assert res.converged and abs(res.iterations - host.iterations) <= 2


def _darcy_jacobi() -> tuple[operators.Problem, np.ndarray]:
    """A Darcy sample (10^2 grid, coefficients over two decades) and its Jacobi ``M``."""
    problem = operators.family("darcy", 10, seed=0).sample(0)
    return problem, 1 / problem.A.diagonal()


def _recycle_invariants(A: sp.spmatrix, M: np.ndarray, space) -> tuple[float, float]:
    """``(max(|A Z - C| / |C|, |M U - Z| / |Z|), max |C^H C - I|)`` (maxima over entries)
    for the row blocks of a space computed with the Jacobi ``M`` on one matrix."""
    U, Z, C = space.U, space.Z, space.C
    image = max(np.abs((A @ Z.T).T - C).max() / np.abs(C).max(),
                np.abs(M * U - Z).max() / np.abs(Z).max())
    return float(image), float(np.abs(C.conj() @ C.T - np.eye(len(C))).max())


def test_right_preconditioned_recycle_space_stays_orthonormal() -> None:
    """Regression: with ``pc='jacobi'`` on this Darcy sample one-pass Gram-Schmidt (second
    pass only below ``0.1 ||w||``, norm from Pythagoras) lost the orthogonality of ``V`` in
    the first cycle (``max |V^H V - I|`` ~ 1 at step 35), so ``C = [C, V] Q`` formed after it
    was not orthonormal (``max |C^H C - I|`` = 0.8) and the run diverged (``||x||`` ~ 1e21);
    GMRES(40) converged in 43. Now GCRO-DR(40, 20) converges in as many iterations and its
    recycle space keeps ``C = A Z``, ``Z = M U``, with orthonormal ``C``."""
    problem, M = _darcy_jacobi()
    gmres = solve(problem.A, problem.b, "gmres", "jacobi", rtol=1e-10, restart=40)
    res = solve(problem.A, problem.b, "gcrodr", "jacobi", rtol=1e-10, restart=40, recycle=20)
    assert gmres.converged and res.converged and res.reason == Reason.RTOL
    assert res.iterations <= gmres.iterations + 3, (res.iterations, gmres.iterations)
    np.testing.assert_allclose(res.x, spla.spsolve(problem.A.tocsc(), problem.b), rtol=1e-7)
    assert np.all(np.diff(res.residuals) <= 1e-12 * res.residuals[0])  # no jump after cycle 1
    space = res.state
    assert space.k >= 19 and space.U.shape == space.C.shape == (space.k, problem.A.shape[0])
    image, ortho = _recycle_invariants(problem.A, M, space)
    assert image <= 1e-12 and ortho <= 1e-12, (image, ortho)


def test_petsc_context_keeps_the_right_preconditioned_space_orthonormal() -> None:
    """The same sample through the PETSc ``KSPPYTHON`` context (same ``orthogonalise``):
    host iterations and an orthonormal ``C = A Z``, ``Z = M U``, on the context."""
    pytest.importorskip("petsc4py.PETSc")
    problem, M = _darcy_jacobi()
    options = dict(rtol=1e-10, restart=40, recycle=20)
    host = solve(problem.A, problem.b, "gcrodr", "jacobi", **options)
    petsc = Solver("gcrodr", "jacobi", backend="petsc", **options)
    res = petsc.solve(problem.A, problem.b)
    assert res.converged and res.iterations == host.iterations
    (entry,) = petsc.cache.backends["petsc"].ksps.values()
    space = entry.ksp.getPythonContext().space
    image, ortho = _recycle_invariants(problem.A, M, space)
    assert space.k >= 19 and image <= 1e-12 and ortho <= 1e-12, (image, ortho)
