"""The SciPy backend: every method x representative problem, compared with a direct solve."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import operators
from solvers import Reason, Solver, solve

RTOL = 1e-8


def _spd():
    return operators.poisson((12, 13))


def _diffusion():
    return operators.random_diffusion((14, 12), seed=3)


def _nonsymmetric():
    return operators.convection_diffusion((12, 12), velocity=(30.0, -10.0))


def _indefinite():
    return operators.helmholtz((12, 12), k=12.0)


def _complex():
    return operators.helmholtz((10, 10), k=8.0, damping=0.2)


PROBLEMS = {"spd": _spd, "diffusion": _diffusion, "nonsymmetric": _nonsymmetric,
            "indefinite": _indefinite, "complex": _complex}

# (method, pc, params, problems it applies to)
TABLE = [
    ("cg", "none", {}, ["spd", "diffusion"]),
    ("cg", "jacobi", {}, ["spd", "diffusion"]),
    ("cg", "icc", {}, ["spd", "diffusion"]),
    ("cg", "ssor", {"omega": 1.3}, ["spd", "diffusion"]),
    ("cg", "amg", {}, ["spd", "diffusion"]),
    ("fcg", "amg", {}, ["spd", "diffusion"]),
    ("fcg", "none", {"truncation": 1}, ["spd"]),
    ("minres", "none", {}, ["spd", "indefinite"]),
    ("minres", "jacobi", {}, ["indefinite"]),
    ("gmres", "none", {"restart": 50}, ["spd", "nonsymmetric", "indefinite", "complex"]),
    ("gmres", "ilu", {}, ["spd", "nonsymmetric", "indefinite", "complex"]),
    ("bicgstab", "ilu", {}, ["spd", "nonsymmetric", "complex"]),
    ("direct", None, {}, list(PROBLEMS)),
    ("sor", None, {"omega": 1.6}, ["spd", "diffusion"]),
    ("ssor", None, {"omega": 1.4}, ["spd", "diffusion"]),
    ("auto", None, {}, list(PROBLEMS)),
]
CASES = [(m, pc, kw, name) for m, pc, kw, names in TABLE for name in names]


@pytest.mark.parametrize(("method", "pc", "params", "name"), CASES,
                         ids=[f"{m}-{pc}-{n}" for m, pc, _, n in CASES])
def test_matches_direct_solve(method, pc, params, name):
    p = PROBLEMS[name]()
    res = solve(p, p.b, method, pc, rtol=RTOL, maxiter=50_000, **params)
    exact = spla.spsolve(p.A.tocsc(), p.b)
    assert res.converged, res
    assert res.reason in (Reason.RTOL, Reason.ATOL)
    assert res.residual_norm <= RTOL * np.linalg.norm(p.b)
    assert np.linalg.norm(p.b - p.A @ res.x) == pytest.approx(res.residual_norm, rel=1e-6)
    cond_bound = 1e4  # these small problems are well enough conditioned
    assert np.linalg.norm(res.x - exact) <= cond_bound * RTOL * np.linalg.norm(exact)
    assert res.x.dtype == p.A.dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("method", ["cg", "gmres", "direct", "minres"])
def test_dtypes(dtype, method):
    p = operators.poisson((10, 10))
    A = p.A.astype(dtype)
    b = p.b.astype(dtype)
    rtol = 1e-4 if np.finfo(dtype).bits <= 32 else 1e-10
    res = solve(A, b, method, rtol=rtol)
    assert res.converged, res
    assert res.x.dtype == dtype


def test_dense_and_linear_operator_inputs(rng):
    p = operators.poisson((8, 8))
    dense = p.A.toarray()
    op = spla.aslinearoperator(p.A)
    for A in (dense, op, p.A, sp.csr_array(p.A), p):
        res = solve(A, p.b, "cg", rtol=1e-10)
        assert res.converged
    # a symmetric matrix-free operator in method="auto" goes to MINRES (no preconditioner)
    res = solve(op, p.b, rtol=1e-10)
    assert res.converged and res.info["method"] == "minres"


def test_result_fields_and_history():
    p = operators.poisson((16, 16))
    seen = []
    res = solve(p, p.b, "cg", rtol=1e-8, callback=lambda xk: seen.append(xk.copy()))
    assert res.residuals[0] == pytest.approx(np.linalg.norm(p.b))
    assert res.residuals[-1] == res.residual_norm
    assert len(res.residuals) == res.iterations + 1
    assert len(seen) == res.iterations
    assert res.threshold == pytest.approx(1e-8 * np.linalg.norm(p.b))
    assert set(res.timings) == {"setup", "solve", "total"}
    assert res.info["backend"] == "scipy" and res.info["method"] == "cg"
    assert "converged=True" in repr(res)


def test_x0_is_used():
    p = operators.poisson((16, 16))
    exact = spla.spsolve(p.A.tocsc(), p.b)
    res = solve(p, p.b, "cg", x0=exact, rtol=1e-8)
    assert res.iterations == 0 and res.converged


def test_zero_rhs_gives_zero_solution():
    p = operators.poisson((6, 6))
    res = solve(p, np.zeros(p.n), "cg")
    assert res.converged and np.all(res.x == 0)


def test_atol_reason():
    p = operators.poisson((8, 8))
    res = solve(p, p.b, "cg", rtol=1e-30, atol=1e-3)
    assert res.converged and res.reason == "atol"


def test_maxiter_reported_and_raise_on_fail():
    from solvers.errors import BreakdownError

    p = operators.poisson((20, 20))
    res = solve(p, p.b, "cg", rtol=1e-12, maxiter=3)
    assert not res.converged and res.reason == "maxiter" and res.iterations == 3
    with pytest.raises(BreakdownError) as info:
        solve(p, p.b, "cg", rtol=1e-12, maxiter=3, raise_on_fail=True)
    assert info.value.result.reason == "maxiter"


def test_cg_on_indefinite_reports_reason():
    p = operators.helmholtz((12, 12), k=25.0)
    res = solve(p.A, p.b, "cg", rtol=1e-10)
    assert not res.converged
    assert res.reason in ("indefinite_mat", "maxiter", "inaccurate")


def test_sor_divergence_is_a_reason():
    A = sp.csr_matrix(np.array([[1.0, 3.0], [3.0, 1.0]]))  # not diagonally dominant
    res = solve(A, np.ones(2), "sor", omega=1.0, maxiter=200)
    assert not res.converged and res.reason in ("diverged_dtol", "diverged_nan")


def test_singular_matrix_reason():
    A = sp.csr_matrix(np.array([[1.0, 1.0], [1.0, 1.0]]))
    res = solve(A, np.array([1.0, 2.0]), "direct")
    assert not res.converged and res.reason == "singular"


def test_solver_reuses_factorization_and_amg_until_matrix_changes():
    p = operators.poisson((30, 30))
    s = Solver(method="direct")
    s.solve(p, p.b)
    lu = s.component("method", "direct").lu
    s.solve(p, 2 * p.b)
    assert s.component("method", "direct").lu is lu
    s.solve(p.A * 2.0, p.b)
    assert s.component("method", "direct").lu is not lu

    s = Solver(method="cg", pc="amg", rtol=1e-8)
    first = s.solve(p, p.b)
    hierarchy = s.component("pc", "amg").hierarchy
    second = s.solve(p, p.b + 1.0)
    assert s.component("pc", "amg").hierarchy is hierarchy
    assert first.converged and second.converged


def test_auto_rule():
    small = operators.poisson((20, 20))
    assert solve(small, small.b).info["method"] == "direct"
    big = operators.poisson((110, 110))
    res = solve(big, big.b, rtol=1e-8)
    assert (res.info["method"], res.info["pc"]) == ("cg", "amg") and res.converged
    cd = operators.convection_diffusion((110, 110), velocity=(5.0, 5.0))
    res = solve(cd, cd.b, rtol=1e-8)
    assert (res.info["method"], res.info["pc"]) == ("gmres", "ilu") and res.converged


def test_callable_preconditioner_in_fcg():
    p = operators.poisson((20, 20))
    inv_diag = 1.0 / p.A.diagonal()
    res = solve(p, p.b, "fcg", pc=lambda r: inv_diag * r, rtol=1e-8)
    assert res.converged and res.info["pc"] == "custom"


class _Overconfident:
    """Claims convergence on its first call without doing anything; solves on the second."""

    requires_symmetric = False

    def __init__(self) -> None:
        self.calls = 0

    def setup(self, system):
        pass

    def solve(self, system, b, x0, M, stop, callback=None):
        from solvers.method import Iterate

        self.calls += 1
        x = np.zeros_like(b) if self.calls == 1 else spla.spsolve(system.matrix.tocsc(), b)
        return Iterate(x, 1, [np.linalg.norm(b), 0.0], Reason.RTOL)


def test_false_convergence_is_refined_or_reported():
    from solvers import registry

    registry.register("test-overconfident", _Overconfident, "method", replace=True)
    p = operators.poisson((10, 10))
    s = Solver(method="test-overconfident", rtol=1e-8)
    res = s.solve(p, p.b)
    assert res.converged and s.component("method", "test-overconfident").calls == 2
    # a method that keeps claiming a wrong x ends as "inaccurate", never converged
    registry.register("test-liar", _Liar, "method", replace=True)
    res = solve(p, p.b, "test-liar", rtol=1e-8)
    assert not res.converged and res.reason == "inaccurate"


class _Liar(_Overconfident):
    def solve(self, system, b, x0, M, stop, callback=None):
        from solvers.method import Iterate

        return Iterate(np.zeros_like(b), 1, [np.linalg.norm(b), 0.0], Reason.RTOL)
