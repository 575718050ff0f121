"""Bad input gets a clear ``solvers.errors`` exception, never a deep traceback."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import operators
from solvers import Solver, registry, solve
from solvers.errors import (
    InvalidOptionError,
    InvalidSystemError,
    NotSymmetricError,
)
from solvers.system import (
    CheckedOperator,
    as_system,
    check_callback,
    check_dtype,
    checked_preconditioner,
    numerically_hermitian,
    symmetric_tag,
)

P = operators.poisson((5, 5))


@pytest.mark.parametrize(
    ("A", "b", "message"),
    [
        (np.ones((3, 4)), np.ones(3), "square"),
        (P.A, np.ones(P.n + 1), "entries but A has"),
        (np.zeros((0, 0)), np.zeros(0), "empty"),
        (P.A, np.ones((P.n, 2)), "1-D vector"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), np.ones(2), "NaN or Inf"),
        (sp.csr_matrix(np.array([[1.0, np.inf], [0.0, 1.0]])), np.ones(2), "NaN or Inf"),
        (P.A, np.full(P.n, np.nan), "NaN or Inf"),
        (np.eye(3, dtype=int), np.ones(3), "floating point"),
        (np.eye(3), np.ones(3, dtype=int), "floating point"),
        (np.array([["a", "b"], ["c", "d"]]), np.ones(2), "numbers"),
        (np.ones(3), np.ones(3), "2-D"),
        ("matrix", np.ones(3), "must be a scipy sparse"),
    ],
)
def test_invalid_system(A, b, message):
    with pytest.raises(InvalidSystemError, match=message):
        solve(A, b)


def test_cg_on_nonsymmetric_matrix():
    p = operators.convection_diffusion((6, 6), velocity=(10.0, 0.0))
    with pytest.raises(NotSymmetricError, match="gmres"):
        solve(p.A, p.b, "cg")
    with pytest.raises(NotSymmetricError):
        solve(p.A, p.b, "gmres", "icc")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"method": "cgg"}, "Did you mean 'cg'"),
    ({"method": "bicgstab", "pc": "amgg"}, "Did you mean 'amg'"),
    ({"method": "nonsense"}, "Valid names"),
    ({"rtol": -1.0}, "rtol"),
    ({"rtol": float("nan")}, "rtol"),
    ({"rtol": 0.0, "atol": 0.0}, "both 0"),
    ({"maxiter": -5}, "maxiter"),
    ({"method": "sor", "omega": 2.5}, "omega"),
    ({"method": "cg", "omega": 1.2}, "unknown parameter"),
    ({"backend": "cuda"}, "unknown backend"),
])
def test_invalid_options(kwargs, message):
    with pytest.raises(InvalidOptionError, match=message):
        solve(P, P.b, **kwargs)


def test_unknown_name_lists_valid_ones():
    with pytest.raises(InvalidOptionError) as info:
        Solver(method="gmress")
    text = str(info.value)
    assert "'gmres'" in text and "bicgstab" in text


def test_zero_diagonal_for_jacobi_and_sor():
    A = sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))
    with pytest.raises(InvalidSystemError, match="diagonal"):
        solve(A, np.ones(2), "gmres", "jacobi")
    with pytest.raises(InvalidSystemError, match="diagonal"):
        solve(A, np.ones(2), "sor")


def test_matrix_free_operator_where_matrix_needed():
    from scipy.sparse.linalg import aslinearoperator

    with pytest.raises(InvalidSystemError, match="assembled matrix"):
        solve(aslinearoperator(P.A), P.b, "direct")


def test_errors_are_also_builtin_types():
    assert issubclass(InvalidSystemError, ValueError)
    assert issubclass(InvalidOptionError, ValueError)


def test_registry_register_and_lookup():
    with pytest.raises(InvalidOptionError, match="already registered"):
        registry.register("cg", object, "method")
    with pytest.raises(InvalidOptionError, match="kind"):
        registry.register("x", object, "solver")


# ------------------------------------------- the validation helpers the backends call (#15)
@pytest.mark.parametrize(("dtype", "fix"), [
    (np.float16, r"A.astype\(np.float32\) or A.astype\(np.float64\)"),
    (np.longdouble, r"A.astype\(np.float32\)"),
    (np.int32, r"A.astype\(float\)"),
    (np.bool_, r"A.astype\(float\)"),
])
def test_unsupported_dtype_is_refused_before_any_conversion(dtype, fix):
    if np.dtype(dtype) == np.float64:  # longdouble is float64 on some platforms
        pytest.skip("longdouble is float64 here")
    with pytest.raises(InvalidSystemError, match=fix):
        check_dtype(dtype)
    with pytest.raises(InvalidSystemError, match=fix):  # dense float16 used to reach scipy
        as_system(np.eye(3, dtype=dtype), np.ones(3))


def test_float16_b_names_b():
    with pytest.raises(InvalidSystemError, match=r"b has dtype float16.*b.astype"):
        as_system(np.eye(3), np.ones(3, dtype=np.float16))


def test_supported_dtypes_pass():
    for dtype in (np.float32, np.float64, np.complex64, np.complex128):
        assert check_dtype(dtype) == np.dtype(dtype)


@pytest.mark.parametrize("callback", [3, "print", [print]])
def test_callback_must_be_callable(callback):
    with pytest.raises(InvalidOptionError, match="callback must be a function callback"):
        check_callback(callback)


def test_callback_none_or_function_passes():
    assert check_callback(None) is None and check_callback(print) is print


@pytest.mark.parametrize(("function", "message"), [
    (lambda r: np.ones(r.size + 1), r"shape \(6,\) for a residual of shape \(5,\)"),
    (lambda r: np.ones((5, 5)), r"shape \(5, 5\)"),
    (lambda r: 1.0, r"shape \(\)"),
    (lambda r: np.array(["a"] * 5), "must return numbers"),
    (lambda r: np.full(5, np.nan), "NaN or Inf for a finite residual"),
])
def test_callable_pc_output_is_checked(function, message):
    M = checked_preconditioner(function, 5, np.dtype(np.float64))
    with pytest.raises(InvalidOptionError, match=message) as info:
        M.matvec(np.ones(5))
    assert "pc=<lambda>" in str(info.value)


def test_callable_pc_good_output_and_nan_input():
    M = checked_preconditioner(lambda r: 2 * r, 4, np.dtype(np.float64))
    np.testing.assert_array_equal(M.matvec(np.arange(4.0)), 2 * np.arange(4.0))
    np.testing.assert_array_equal(M.matvec(np.ones((4, 1))), 2 * np.ones((4, 1)))
    out = M.matvec(np.full(4, np.nan))  # NaN in, NaN out: the method's divergence, not the pc's
    assert np.isnan(out).all()


def test_callable_pc_own_exception_passes_through():
    def broken(r):
        raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        checked_preconditioner(broken, 3, np.dtype(np.float64)).matvec(np.ones(3))


def test_linear_operator_with_wrong_output_length():
    bad = spla.LinearOperator((4, 4), matvec=lambda x: np.ones(3), dtype=float)
    system = as_system(bad, np.ones(4))
    assert isinstance(system.op, CheckedOperator) and system.op.user is bad
    with pytest.raises(InvalidSystemError, match=r"matvec returned an array of shape \(3,\)"):
        system.op.matvec(np.ones(4))
    with pytest.raises(InvalidSystemError, match="matvec returned"):
        system.op @ np.ones((4, 2))


def test_linear_operator_good_and_raising():
    A = np.array([[2.0, 1.0], [0.0, 3.0]])
    good = spla.LinearOperator((2, 2), matvec=lambda x: A @ x, rmatvec=lambda x: A.T @ x,
                               dtype=float)
    op = as_system(good, np.ones(2)).op
    np.testing.assert_array_equal(op.matvec(np.ones(2)), A @ np.ones(2))
    np.testing.assert_array_equal(op.rmatvec(np.ones(2)), A.T @ np.ones(2))
    np.testing.assert_array_equal(op.matmat(np.eye(2)), A)

    def raising(x):
        raise ZeroDivisionError("user code")

    own = spla.LinearOperator((2, 2), matvec=raising, dtype=float)
    with pytest.raises(ZeroDivisionError, match="user code"):
        as_system(own, np.ones(2)).op.matvec(np.ones(2))


def test_matrix_free_fingerprint_is_the_users_operator():
    """Two wrappings of one user operator share a fingerprint (a Solver reuses its setup);
    another operator with the same entries does not (its values are unknown to us)."""
    A, same_values = spla.aslinearoperator(np.eye(3)), spla.aslinearoperator(np.eye(3))
    first, second = as_system(A, np.ones(3)), as_system(A, np.ones(3))
    assert first.fingerprint() == second.fingerprint()
    assert as_system(same_values, np.ones(3)).fingerprint() != first.fingerprint()


class _FakePetscMat:
    """Duck-typed petsc4py Mat: each test answers or raises PETSc.Error (a RuntimeError)."""

    def __init__(self, hermitian, symmetric=None):
        self.answers = {"hermitian": hermitian, "symmetric": symmetric}

    def _answer(self, test):
        if isinstance(self.answers[test], Exception):
            raise self.answers[test]
        return self.answers[test]

    def isHermitian(self, tol):  # noqa: N802 (petsc4py's spelling)
        return self._answer("hermitian")

    def isSymmetric(self, tol):  # noqa: N802
        return self._answer("symmetric")


def test_symmetric_tag_one_rule_for_every_backend():
    S = sp.csr_matrix(np.array([[2.0, 1.0], [1.0, 2.0]]))
    N = sp.csr_matrix(np.array([[2.0, 1.0], [0.0, 2.0]]))
    H = sp.csr_matrix(np.array([[2.0, 1j], [-1j, 2.0]]))
    assert symmetric_tag(None, S) and not symmetric_tag(None, N) and symmetric_tag(None, H)
    assert symmetric_tag(True, N) and not symmetric_tag(False, S)  # a known tag wins
    assert symmetric_tag(None, op=spla.aslinearoperator(S))
    assert not symmetric_tag(None, op=spla.aslinearoperator(N))
    assert symmetric_tag(None, _FakePetscMat(True))
    assert not symmetric_tag(None, _FakePetscMat(False))
    no_test = RuntimeError("no such method for this Mat type")
    assert symmetric_tag(None, _FakePetscMat(no_test, True))
    assert not symmetric_tag(None, _FakePetscMat(no_test, no_test))
    assert numerically_hermitian(S, spla.aslinearoperator(S))
    system = as_system(N, np.ones(2))
    assert system.is_symmetric() is False and system.symmetric is False


# ------------------------------------------------- the same mistakes through solve() (#15)
BAD_INPUT = [
    ("float16 A", lambda: solve(np.eye(3, dtype=np.float16), np.ones(3)),
     InvalidSystemError, "astype"),
    ("pc wrong shape", lambda: solve(P.A, P.b, "gmres", lambda r: r[:-1]),
     InvalidOptionError, "pc="),
    ("callback=3", lambda: solve(P.A, P.b, "cg", callback=3), InvalidOptionError, "callback"),
    ("LinearOperator wrong length",
     lambda: solve(spla.LinearOperator(P.A.shape, matvec=lambda x: x[:-1], dtype=float), P.b,
                   "gmres"),
     InvalidSystemError, "matvec returned"),
]


@pytest.mark.parametrize(("case", "call", "error", "message"), BAD_INPUT,
                         ids=[case[0] for case in BAD_INPUT])
def test_bad_input_through_solve(case, call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_require_matrix_one_message_for_every_component():
    system = as_system(spla.aslinearoperator(np.eye(3)), np.ones(3))
    with pytest.raises(InvalidSystemError,
                       match=r"pc='jacobi' needs an assembled matrix \(its diagonal\), not a"):
        system.require_matrix("pc='jacobi'", "its diagonal")
    assembled = as_system(np.eye(3), np.ones(3))
    assert assembled.require_matrix("method='sor'") is assembled.matrix


# ------------------------------------------------- SciPy habits answered (#16)
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"tol": 1e-8}, r"tol: use rtol= \(SciPy removed tol"),
    ({"method": "cg", "tol": 1e-8}, r"tol: use rtol="),
    ({"method": "gmres", "restrt": 20}, r"restrt: use restart="),
    ({"method": "minres", "show": True}, r"show: use monitor=True"),
    ({"method": "cg", "omega": 1.2}, r"omega for method='cg'"),
    ({"method": "bcgs"}, r"Did you mean 'bicgstab' \(PETSc's bcgs\)"),
    ({"method": "cg", "pc": "gamg"}, r"Did you mean 'amg' \(PETSc's gamg\)"),
    ({"method": "Gmress"}, r"Did you mean 'gmres'"),
    ({"method": "cg", "pc": "ilu", "M": sp.identity(P.n)}, "pass the preconditioner once"),
    ({"method": "cg", "M": sp.identity(P.n + 1)}, r"has shape \(26, 26\) but A is 25 x 25"),
    ({"method": "cg", "M": 3.0}, "pc must be a name such as 'ilu'"),
    ({"method": "cg", "M": np.ones(P.n)}, "square and 2-D"),
])
def test_scipy_habits_are_answered(kwargs, message):
    with pytest.raises(InvalidOptionError, match=message):
        solve(P, P.b, **kwargs)


def test_accepted_lists_every_keyword_of_solve():
    with pytest.raises(InvalidOptionError) as info:
        solve(P, P.b, method="cg", tol=1e-8)
    accepted = str(info.value).split("Accepted:")[1]
    for name in ("method", "pc", "M", "backend", "rtol", "atol", "maxiter", "x0", "callback",
                 "monitor", "options", "raise_on_fail"):
        assert re.search(rf"\b{name}\b", accepted), name
    with pytest.raises(InvalidOptionError, match=r"parameters of this method/pc: .*restart"):
        solve(P, P.b, method="gmres", pc="ilu", tol=1e-8)
    with pytest.raises(InvalidOptionError, match="drop_tol"):
        solve(P, P.b, method="gmres", pc="ilu", tol=1e-8)
