"""The seam between ``solve()`` and the backends: the validated ``Request``, the ``Store``,
the ``Backend`` protocol, declared parameters checked before anything is built, and the
per-call fast paths (the small-system path, the request cache, the symmetry verdict kept
per matrix)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import scipy.sparse as sp

import operators
from solvers import Solver, api, backends, registry, small, solve
from solvers.errors import InvalidOptionError, NotSymmetricError, SolverError
from solvers.params import Param
from solvers.request import Request, Store, check_symmetry
from solvers.stopping import StoppingRule


def _tridiagonal(n: int, dtype: type = np.float64) -> sp.csr_matrix:
    return sp.diags([-1.0, 2.5, -1.2], [-1, 0, 1], shape=(n, n), format="csr", dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_small_path_matches_the_general_path(dtype: type) -> None:
    """The small path and the full pipeline give the same x, verdict and residual."""
    A = _tridiagonal(60, dtype)
    b = np.random.default_rng(1).standard_normal(60).astype(dtype)
    fast = solve(A, b)
    full = Solver().solve(A, b)
    assert fast.info["path"] == "small" and "path" not in full.info
    np.testing.assert_allclose(fast.x, full.x, rtol=1e-12, atol=1e-14)
    assert (fast.converged, fast.reason, fast.iterations) == (full.converged, full.reason, 1)
    assert fast.residual_norm == pytest.approx(float(np.linalg.norm(b - A @ fast.x)))
    assert fast.info["auto"]["chose"] == full.info["auto"]["chose"] == "direct"
    assert fast.method == "direct" and fast.backend == "scipy"


@pytest.mark.parametrize("case", ["float32", "csr_array", "x0", "params", "large", "nan"])
def test_small_path_applies_only_to_the_plain_case(case: str, monkeypatch) -> None:
    A, b = _tridiagonal(40), np.ones(40)
    kwargs: dict = {}
    if case == "float32":
        A, b = A.astype(np.float32), b.astype(np.float32)
    elif case == "csr_array":
        A = sp.csr_array(A)
    elif case == "x0":
        kwargs["x0"] = np.zeros(40)
    elif case == "params":
        kwargs.update(method="direct", permc_spec="NATURAL")
    elif case == "large":
        monkeypatch.setattr("solvers.auto.AUTO_DIRECT_MAX_N", 10)
        monkeypatch.setattr(small.auto, "AUTO_DIRECT_MAX_N", 10)
    elif case == "nan":
        b = b.copy()
        b[3] = np.nan
    request = Request.build(kwargs.get("method", "auto"), None, None, StoppingRule(),
                            {k: v for k, v in kwargs.items() if k == "permc_spec"}, "auto")
    assert not (small.applies(request, A, b) and "x0" not in kwargs)
    if case == "nan":
        with pytest.raises(SolverError):
            solve(A, b)
        return
    res = solve(A, b, **kwargs)
    assert res.info.get("path") != "small" and res.converged


def test_small_path_leaves_a_singular_matrix_to_the_general_path() -> None:
    A = sp.csr_matrix(np.ones((4, 4)))
    res = solve(A, np.ones(4))
    assert not res.converged and res.reason == "singular"


def test_request_cache_is_keyed_by_arguments_and_registry_generation() -> None:
    A, b = _tridiagonal(30), np.ones(30)
    api._REQUESTS.clear()

    def cached() -> list[Request]:
        return [r for r in api._REQUESTS.values()
                if r.method is not None and r.method.name == "gmres" and r.params == {"restart": 7}]

    solve(A, b, method="gmres", restart=7)
    solve(A, b, method="gmres", restart=7)
    assert len(cached()) == 1  # validated once for two calls
    before = registry.generation()
    registry.register("test-request-cg", registry.lookup("cg").factory, "method")
    assert registry.generation() > before
    solve(A, b, method="gmres", restart=7)
    assert len(cached()) == 2  # a new registry generation: validated again
    solve(A, b, method="gmres", pc=lambda r: r)
    assert len(api._REQUESTS) == 2  # a function as pc: never cached


def test_parameters_are_refused_before_anything_is_built(monkeypatch) -> None:
    """A bad pyamg option never reaches pyamg, a bad fill factor never reaches SuperLU."""
    import pyamg
    import scipy.sparse.linalg as spla

    def boom(*args, **kwargs):
        raise AssertionError("built before validation")

    monkeypatch.setattr(pyamg, "smoothed_aggregation_solver", boom)
    monkeypatch.setattr(spla, "spilu", boom)
    p = operators.poisson((8, 8))
    with pytest.raises(InvalidOptionError, match=r"pc 'amg': strength='bogus' is invalid"):
        solve(p, method="cg", pc="amg", strength="bogus")
    with pytest.raises(InvalidOptionError, match=r"fill_factor=0 is invalid.*\[1, 100\]"):
        solve(p, method="gmres", pc="ilu", fill_factor=0)
    with pytest.raises(InvalidOptionError, match="maxit: use maxiter="):
        solve(p, maxit=5)
    with pytest.raises(InvalidOptionError, match=r"restart=-5 is invalid"):
        Solver(restart=-5)  # auto: checked against every candidate that declares it


def test_each_component_gets_only_what_it_declares() -> None:
    s = Solver(method="gmres", pc="ilu", restart=12, drop_tol=1e-3)
    p = operators.convection_diffusion((10, 10), velocity=(5.0, 2.0))
    assert s.solve(p).converged
    assert s.component("method", "gmres").restart == 12
    assert s.component("pc", "ilu").drop_tol == 1e-3
    assert s.request.component_params(registry.lookup("gmres")) == {"restart": 12}


def test_an_undeclared_kwargs_factory_accepts_any_name() -> None:
    class Loose:
        def __init__(self, **options):
            self.options = options

    entry = registry.register("test-loose", Loose, "method")
    assert entry.parameters() == {"**"}
    request = Request.build("test-loose", None, None, StoppingRule(), {"anything": 1}, "scipy")
    assert request.component_params(entry) == {"anything": 1}


def test_declared_parameter_ranges_are_in_the_message() -> None:
    param = Param("sweeps", "int", 5, low=1, high=100, doc="sweeps")
    for bad in (0, 101, 2.5, "3", None, [1], float("nan"), True):
        with pytest.raises(InvalidOptionError, match=r"sweeps must be an int in \[1, 100\]"):
            param.check(bad, "pc 'icc'")
    assert param.check(100, "pc 'icc'") == 100


def test_every_backend_module_satisfies_the_protocol() -> None:
    expected = list(inspect.signature(backends.Backend.prepare).parameters)[1:]
    for name in ("scipy", "jax", *(("petsc",) if _has_petsc() else ())):
        module = backends.get(name)
        assert list(inspect.signature(module.prepare).parameters) == expected, name


def test_symmetry_is_tested_once_per_matrix(monkeypatch) -> None:
    calls = []
    import solvers.system as system_module

    real = system_module.numerically_hermitian

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(system_module, "numerically_hermitian", counting)
    A = operators.poisson((12, 12)).A
    s = Solver(method="cg", rtol=1e-8)
    for _ in range(3):
        assert s.solve(A, np.ones(A.shape[0])).converged
    assert len(calls) == 1
    B = A.copy()
    B.data[0] += 1.0  # new values: tested again
    s.solve(B, np.ones(A.shape[0]))
    assert len(calls) == 2


def test_check_symmetry_calls_the_test_only_when_needed() -> None:
    asked = []

    def symmetric() -> bool:
        asked.append(1)
        return False

    check_symmetry([registry.lookup("gmres"), registry.lookup("ilu", "pc")], symmetric)
    assert asked == []
    with pytest.raises(NotSymmetricError, match="needs a symmetric"):
        check_symmetry([registry.lookup("cg")], symmetric)


def test_store_builds_a_component_once() -> None:
    store = Store()
    request = Request.build("gmres", None, None, StoppingRule(), {"restart": 9}, "scipy")
    first = store.component(registry.lookup("gmres"), request)
    assert store.component(registry.lookup("gmres"), request) is first and first.restart == 9


def _has_petsc() -> bool:
    try:
        import petsc4py  # noqa: F401
    except ImportError:
        return False
    return True
