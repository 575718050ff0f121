"""Divergence (``dtol``) and stagnation stops on every host iterative method.

One guard (:class:`solvers.stopping.Guard`) serves CG, FCG, MINRES, GMRES/FGMRES, BiCGStab,
GCRO-DR and SOR/SSOR: a run that diverges or stagnates ends with ``diverged_dtol`` or
``stagnation`` and a message naming the likely cause, in seconds instead of ``maxiter``;
a healthy run is not changed at all.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import operators
from solvers import Solver, solve
from solvers.errors import InvalidOptionError
from solvers.krylov.bicgstab import BiCGStab
from solvers.krylov.cg import CG
from solvers.krylov.fcg import FCG
from solvers.krylov.gcrodr import GCRODR
from solvers.krylov.gmres import GMRES
from solvers.krylov.minres import MINRES
from solvers.method import Iterate
from solvers.reasons import Reason
from solvers.stationary.sor import SOR, SSOR
from solvers.stopping import STAGNATION_WINDOW, Guard, StoppingRule
from solvers.system import as_system

#: The guard switched off: what every run did before it existed.
UNGUARDED = StoppingRule(dtol=math.inf, stagnation=None)
PC_HINT = "the preconditioner M may be nonsymmetric"


def run(method, A, b, M=None, stop: StoppingRule | None = None) -> Iterate:
    """``method`` on ``A x = b`` from zero, as the host backend calls it."""
    system = as_system(sp.csr_matrix(A), np.asarray(b))
    method.setup(system)
    return method.solve(system, system.b, None, M, stop or StoppingRule())


def operator(function, n: int) -> spla.LinearOperator:
    return spla.LinearOperator((n, n), matvec=function, dtype=float)


def nonsymmetric_ilu(A: sp.spmatrix) -> spla.LinearOperator:
    """SciPy's ``spilu(A).solve`` with its defaults (COLAMD, partial pivoting): an accurate
    but nonsymmetric ``M``, for an SPD ``A``."""
    return operator(spla.spilu(sp.csc_matrix(A)).solve, A.shape[0])


def test_cg_with_a_nonsymmetric_preconditioner_stops_in_seconds() -> None:
    """Issue 27's case: the residual of CG with ``M = spilu(A).solve`` climbs from 2e2 to
    5e3; it used to run on to ``maxiter = 10 n = 400,000`` iterations (hours)."""
    p = operators.poisson((200, 200))
    ilu = spla.spilu(sp.csc_matrix(p.A))
    res = solve(p.A, p.b, method="cg", M=ilu.solve)
    assert not res.converged
    assert res.reason in ("stagnation", "diverged_dtol")
    assert res.iterations <= STAGNATION_WINDOW + 10  # against maxiter = 400,000
    assert PC_HINT in res.info["message"] and "method='gmres'" in res.info["message"]
    assert res.reason.message in res.info["message"]


def test_cg_with_that_preconditioner_diverges_past_a_small_dtol() -> None:
    """Its residual grows 7.6-fold on the 100^2 grid, past ``dtol = 5`` at once."""
    p = operators.poisson((100, 100))
    it = run(CG(), p.A, p.b, nonsymmetric_ilu(p.A), StoppingRule(dtol=5))
    assert it.reason is Reason.DIVERGED_DTOL and it.iterations < 10
    assert it.residuals[-1] > 5 * it.residuals[0] >= max(it.residuals[:-1])
    assert PC_HINT in it.info["message"]


def test_minres_with_a_nonsymmetric_preconditioner_stops() -> None:
    """MINRES's own estimate keeps falling with such an ``M``; the true residual recomputed
    every 100 iterations does not, and stops the run."""
    p = operators.poisson((60, 60))
    it = run(MINRES(), p.A, p.b, nonsymmetric_ilu(p.A))
    assert it.reason is Reason.STAGNATION and it.iterations <= STAGNATION_WINDOW + 200
    assert "(MINRES needs an SPD M)" in it.info["message"]


def test_fcg_with_a_singular_preconditioner_stagnates() -> None:
    p = operators.poisson((30, 30))
    b = np.random.default_rng(0).standard_normal(p.n)
    mask = (np.arange(p.n) % 2).astype(float)  # M = diag(0, 1, 0, 1, ...)
    it = run(FCG(), p.A, b, operator(lambda r: mask * r, p.n))
    assert it.reason is Reason.STAGNATION and it.iterations <= STAGNATION_WINDOW + 10
    assert "(FCG needs an SPD M)" in it.info["message"]


def shift(n: int) -> sp.csr_matrix:
    """The cyclic shift: GMRES makes no progress for n - 1 steps, so GMRES(m < n) never
    does (Nachtigal, Reddy and Trefethen 1992)."""
    return sp.csr_matrix(np.roll(np.eye(n), 1, axis=0))


@pytest.mark.parametrize("flexible", [False, True], ids=["gmres", "fgmres"])
def test_a_restart_too_small_stagnates(flexible) -> None:
    b = np.zeros(200)
    b[0] = 1.0
    it = run(GMRES(30, flexible=flexible), shift(200), b)
    assert it.reason is Reason.STAGNATION
    assert it.iterations <= STAGNATION_WINDOW + 2 * 30  # against maxiter = 2000
    assert it.residuals[-1] == pytest.approx(1.0)
    assert "increase restart=" in it.info["message"]


def _changing_preconditioner(n: int) -> spla.LinearOperator:
    """A random scale per application, between 1 and 1e8."""
    rng = np.random.default_rng(1)
    return operator(lambda r: r * 10.0 ** rng.uniform(0, 8), n)


def test_a_preconditioner_that_changes_diverges() -> None:
    """GMRES assumes one fixed ``M``: a random scale per application makes ``x + M V y``
    miss by up to 1e8, seen on the residual recomputed at the restart."""
    p = operators.poisson((30, 30))
    b = np.random.default_rng(0).standard_normal(p.n)
    it = run(GMRES(30), p.A, b, _changing_preconditioner(p.n))
    assert it.reason is Reason.DIVERGED_DTOL and it.iterations <= 200
    assert it.residuals[-1] > 1e5 * it.residuals[0]
    assert "method='fgmres'" in it.info["message"]


def test_gcrodr_is_flexible() -> None:
    """GCRO-DR keeps ``Z = M V`` (Carvalho et al. 2011), so ``x + Z y`` is right whatever
    ``M`` did at each step: the changing pc that breaks GMRES converges, and the verdict holds
    on the true residual."""
    p = operators.poisson((30, 30))
    b = np.random.default_rng(0).standard_normal(p.n)
    it = run(GCRODR(30, 10), p.A, b, _changing_preconditioner(p.n))
    assert it.reason is Reason.RTOL
    assert np.linalg.norm(b - p.A @ it.x) <= 1e-5 * np.linalg.norm(b)


def test_bicgstab_stops_on_divergence_and_on_stagnation() -> None:
    p = operators.poisson((30, 30))
    b = np.random.default_rng(0).standard_normal(p.n)
    mask = (np.arange(p.n) % 2).astype(float)
    singular = run(BiCGStab(), p.A, b, operator(lambda r: mask * r, p.n))
    assert singular.reason is Reason.DIVERGED_DTOL and singular.iterations <= 100
    assert singular.residuals[-1] > 1e5 * singular.residuals[0]
    rng = np.random.default_rng(1)
    varying = run(BiCGStab(), p.A, b, operator(lambda r: r * 10.0 ** rng.uniform(0, 8), p.n))
    assert varying.reason is Reason.STAGNATION
    assert varying.iterations <= STAGNATION_WINDOW + 10
    for it in (singular, varying):
        assert "BiCGStab" in it.info["message"]


@pytest.mark.parametrize("method", [SOR, SSOR])
def test_sor_with_a_diverging_omega_stops_with_diverged_dtol(method) -> None:
    """Convection-dominated, not diagonally dominant enough for omega >= 1.5."""
    c = operators.convection_diffusion((30, 30), (200.0, 50.0))
    assert run(method(1.0), c.A, c.b).reason is Reason.RTOL
    it = run(method(1.99), c.A, c.b)
    assert it.reason is Reason.DIVERGED_DTOL and it.iterations <= 10
    assert it.residuals[-1] > 1e5 * it.residuals[0]
    assert it.info["omega"] == 1.99 and "try omega=1" in it.info["message"]


@pytest.mark.parametrize("method", [SOR, SSOR])
def test_sor_on_an_inconsistent_system_stagnates(method) -> None:
    """Singular ``A``, ``b`` outside its range: the residual stays at 1 for ever."""
    A = np.array([[1.0, -1.0], [-1.0, 1.0]])
    it = run(method(1.0), A, [1.0, 0.0], stop=StoppingRule(maxiter=10 * STAGNATION_WINDOW))
    assert it.reason is Reason.STAGNATION and it.iterations == STAGNATION_WINDOW + 1
    assert "spectral radius" in it.info["message"]


def healthy_cases():
    """Healthy runs, slow ones included (the CG cases are those whose residual plateaus the
    longest: the 1D Poisson matrix with a random right-hand side)."""
    rng = np.random.default_rng(0)
    poisson = operators.poisson((30, 30))
    line = operators.poisson((10_000,))
    cd = operators.convection_diffusion((40, 40), (20.0, 20.0))
    jacobi = operator(lambda r: r / poisson.A.diagonal(), poisson.n)
    return [
        ("cg", CG(), poisson, None, None),
        ("cg+jacobi", CG(), poisson, jacobi, None),
        ("cg-1d", CG(), line, None, rng.standard_normal(line.n)),
        ("fcg", FCG(), poisson, None, None),
        ("minres", MINRES(), poisson, None, None),
        ("minres+jacobi", MINRES(), poisson, jacobi, None),
        ("gmres", GMRES(30), cd, None, None),
        ("gmres(5)", GMRES(5), cd, None, None),
        ("fgmres", GMRES(10, flexible=True), cd, None, None),
        ("bicgstab", BiCGStab(), cd, None, None),
        ("gcrodr", GCRODR(20, 5), cd, None, None),
        ("sor", SOR(1.0), operators.poisson((15, 15)), None, None),
        ("ssor", SSOR(1.5), operators.poisson((15, 15)), None, None),
    ]


@pytest.mark.parametrize("case", healthy_cases(), ids=lambda case: case[0])
def test_a_healthy_run_is_unchanged(case) -> None:
    _, method, problem, M, b = case
    b = problem.b if b is None else b
    guarded = run(method, problem.A, b, M, StoppingRule(rtol=1e-8))
    plain = run(method, problem.A, b, M, StoppingRule(rtol=1e-8, dtol=math.inf,
                                                      stagnation=None))
    assert guarded.reason is Reason.RTOL and plain.reason is Reason.RTOL
    assert guarded.iterations == plain.iterations
    np.testing.assert_array_equal(guarded.residuals, plain.residuals)
    assert "message" not in guarded.info


def test_the_guard_switched_off_runs_to_maxiter() -> None:
    A = np.array([[1.0, -1.0], [-1.0, 1.0]])
    stop = StoppingRule(maxiter=3 * STAGNATION_WINDOW, dtol=math.inf, stagnation=None)
    assert run(SOR(1.0), A, [1.0, 0.0], stop=stop).reason is Reason.MAXITER


def test_the_guard_window_grows_with_the_iteration_of_the_best() -> None:
    guard = Guard(StoppingRule(stagnation=10), 1.0)
    assert guard.update(0.5, steps=100) is None  # best at k = 100: window max(10, 400)
    assert guard.update(0.5, steps=399) is None
    assert guard.update(0.5) is Reason.STAGNATION
    assert guard.update(1e6) is Reason.DIVERGED_DTOL  # 1e6 > dtol * r0 = 1e5


@pytest.mark.parametrize("bad", [0, 0.5, -1, math.nan, -math.inf, "x", None, True, [1e5]])
def test_dtol_must_be_a_number_at_least_one(bad) -> None:
    with pytest.raises(InvalidOptionError, match=r"dtol must be a number >= 1.*math\.inf"):
        StoppingRule(dtol=bad)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "x", True, math.inf])
def test_stagnation_must_be_a_positive_int_or_none(bad) -> None:
    with pytest.raises(InvalidOptionError, match=r"stagnation must be an int >= 1.*None"):
        StoppingRule(stagnation=bad)


def test_the_stopping_rule_stays_frozen_and_hashable() -> None:
    rule = StoppingRule(dtol=10, stagnation=50)
    assert rule.dtol == 10.0 and isinstance(rule.dtol, float)
    assert rule == StoppingRule(dtol=10.0, stagnation=50)
    assert hash(rule) == hash(StoppingRule(dtol=10.0, stagnation=50))
    assert StoppingRule(dtol=math.inf).dtol == math.inf
    with pytest.raises(AttributeError):
        rule.dtol = 1e3  # type: ignore[misc]


def test_dtol_and_stagnation_are_keywords_of_solve_and_reach_petsc() -> None:
    """``dtol=`` and ``stagnation=`` are arguments of ``solve()``/``Solver``; on PETSc
    ``dtol`` is the KSP's ``divtol`` (CG's first step grows this residual 1.4x)."""
    pytest.importorskip("petsc4py")
    p = operators.poisson((20, 20))
    diverged = solve(p, method="cg", backend="petsc", dtol=1.2, rtol=1e-8)
    assert diverged.reason == "diverged_dtol" and not diverged.converged
    assert solve(p, method="cg", backend="petsc", rtol=1e-8).converged
    off = Solver(method="cg", rtol=1e-8, dtol=math.inf, stagnation=None)
    assert off.stop.dtol == math.inf and off.stop.stagnation is None
    assert off.solve(p).converged
    with pytest.raises(InvalidOptionError, match="stagnation must be"):
        solve(p, method="cg", stagnation=0)
