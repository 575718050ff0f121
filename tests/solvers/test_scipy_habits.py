"""SciPy habits, results and reprs, monitoring and logging, the JAX compilation
cache, and a clean checkout (no tracked egg-info)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import operators
from solvers import Solver, registry, solve
from solvers.backends.jax import cache
from solvers.errors import InvalidOptionError, InvalidSystemError
from solvers.monitor import final_line

ROOT = Path(__file__).resolve().parents[2]
P = operators.poisson((12, 12))
JACOBI = sp.diags(1.0 / P.A.diagonal())


# ------------------------------------------------------------------ 1. SciPy habits
@pytest.mark.parametrize("M", [
    JACOBI, JACOBI.toarray(), spla.aslinearoperator(JACOBI), lambda r: JACOBI @ r,
], ids=["sparse", "ndarray", "LinearOperator", "callable"])
def test_M_has_scipys_meaning(M):
    jacobi = solve(P, method="cg", pc="jacobi", rtol=1e-8)
    res = solve(P, method="cg", M=M, rtol=1e-8)
    assert res.converged and res.iterations == jacobi.iterations
    assert res.info["pc"] == "custom"
    same = solve(P, method="cg", pc=M, rtol=1e-8)  # as pc= too
    np.testing.assert_allclose(same.x, res.x)


def test_M_in_solver_and_on_petsc():
    assert Solver("cg", M=JACOBI, rtol=1e-8).solve(P).converged
    res = solve(P, method="cg", M=JACOBI, rtol=1e-8, backend="petsc")
    assert res.converged and res.info["backend"] == "petsc" and res.info["pc"] == "custom"


def test_names_are_case_insensitive():
    res = solve(P, method="CG", pc="ILU")
    assert res.info["method"] == "cg" and res.info["pc"] == "ilu"
    s = Solver("GMRES", "Jacobi", restart=10)
    assert (s.method, s.pc) == ("gmres", "jacobi")
    assert Solver("AUTO").method == "auto"


# ------------------------------------------------------------------ 2. results and reprs
def test_problem_without_b_uses_its_b():
    np.testing.assert_allclose(solve(P).x, solve(P, P.b).x)
    assert Solver("cg").solve(P).converged
    with pytest.raises(InvalidSystemError, match="b is missing"):
        solve(P.A)
    with pytest.raises(InvalidSystemError, match=r"solve\(p, method='cg'\)"):
        solve(P, "cg")


def test_result_repr_names_method_pc_auto_and_verdict(monkeypatch):
    monkeypatch.setattr("solvers.auto.AUTO_DIRECT_MAX_N", 0)  # auto: CG + AMG, not LU
    text = repr(solve(P, rtol=1e-6))
    for part in ("converged=True", "reason='rtol'", "iterations=", "residual_norm=",
                 "method='cg'", "pc='amg'", "auto='cg+amg'"):
        assert part in text


def test_solver_repr_shows_its_parameters():
    text = repr(Solver("gmres", "ilu", rtol=1e-7, restart=20, drop_tol=1e-3, monitor=True))
    for part in ("method='gmres'", "pc='ilu'", "rtol=1e-07", "restart=20", "drop_tol=0.001",
                 "monitor=True"):
        assert part in text
    assert "pc='custom'" in repr(Solver("cg", M=JACOBI))


def test_direct_reports_one_iteration_as_documented():
    """SolveResult.iterations: "1 for a direct solve"; history [||b||, ||b - A x||]."""
    assert "1 for a direct solve" in type(solve(P)).__doc__
    res = solve(P, method="direct")
    assert res.iterations == 1 and res.residuals.shape == (2,)
    assert res.residuals[0] == pytest.approx(np.linalg.norm(P.b))
    assert res.residuals[1] == res.residual_norm


def test_registry_names_as_the_readme_says():
    """README: ``registry.names()`` lists the methods, ``registry.names("pc")`` the
    preconditioners."""
    readme = (ROOT / "README.md").read_text()
    assert "registry.names()` lists the methods" in readme
    assert 'registry.names("pc")` the preconditioners' in readme
    methods, pcs = registry.names(), registry.names("pc")
    assert methods == registry.names("method") and {"cg", "gmres", "direct"} <= set(methods)
    assert {"ilu", "amg", "jacobi"} <= set(pcs) and "ilu" not in methods


# ------------------------------------------------------------------ 3. monitoring
def test_monitor_prints_each_iteration_and_the_verdict(capsys):
    res = solve(P, method="cg", pc="jacobi", rtol=1e-8, monitor=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("cg+jacobi on scipy, n=144")
    rows = [re.match(r"\s*(\d+)\s+\|\|r\|\| (\S+)\s+\|\|r\|\|/\|\|b\|\| (\S+)", line)
            for line in lines[1:-1]]
    assert all(rows) and [int(m[1]) for m in rows] == list(range(res.iterations + 1))
    norms = np.array([float(m[2]) for m in rows])
    np.testing.assert_allclose(norms[-1], res.residual_norm, rtol=1e-5)
    np.testing.assert_allclose([float(m[3]) for m in rows], norms / np.linalg.norm(P.b),
                               rtol=1e-3)
    assert lines[-1] == final_line(res) and lines[-1].startswith("converged (rtol)")


def test_monitor_keeps_the_users_callback(capsys):
    seen = []
    res = solve(P, method="gmres", restart=4, monitor=True, callback=seen.append)
    assert len(seen) == res.iterations
    assert "not converged" not in capsys.readouterr().out


def test_monitor_on_petsc_through_the_ksp(capsys):
    res = solve(P, method="cg", pc="jacobi", backend="petsc", rtol=1e-8, monitor=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("cg+jacobi on petsc") and "unpreconditioned" in lines[0]
    assert len(lines) == res.iterations + 3 and lines[-1].startswith("converged (rtol)")


def test_gmres_callback_every_inner_iteration():
    p = operators.convection_diffusion((16, 16), velocity=(20.0, 10.0))
    def true_residual(x):
        true.append(np.linalg.norm(p.b - p.A @ x))

    for method in ("gmres", "fgmres"):
        true = []
        res = solve(p, method=method, pc="jacobi", restart=5, rtol=1e-10,
                    callback=true_residual)
        assert res.iterations > 10 and len(true) == res.iterations
        # right preconditioning: the iterate's true residual is the Arnoldi residual
        np.testing.assert_allclose(true, res.residuals[1:], rtol=1e-5, atol=1e-12)


def test_logging_records_auto_fallback_and_setup_reuse(caplog, monkeypatch):
    monkeypatch.setattr("solvers.auto.AUTO_DIRECT_MAX_N", 0)  # auto starts iterative
    p = operators.helmholtz((12, 12), k=10.0)  # positive diagonal, indefinite
    with caplog.at_level(logging.DEBUG, logger="solvers"):
        res = solve(p.A, p.b)
        s = Solver("cg", "jacobi")
        s.solve(P)
        s.solve(P)
    text = caplog.text
    assert res.converged and res.info["auto"]["chose"] == "direct"
    assert "auto chose cg+amg" in text
    assert "cg+amg did not converge (indefinite_mat" in text and "falling back to direct" in text
    assert "pc 'jacobi': reusing the setup" in text


def test_jax_refuses_callback_monitor_and_matrix_pc_before_any_work():
    import jax.numpy as jnp

    b = jnp.asarray(P.b)
    for kwargs, what in (({"callback": print}, "callback"), ({"monitor": True}, "monitor"),
                         ({"M": JACOBI}, "jittable")):
        with pytest.raises(InvalidOptionError, match=what):
            solve(P.A, b, method="cg", backend="jax", **kwargs)


# ------------------------------------------------------------------ 6. JAX compilation cache
def test_cache_dir_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(cache.DIR_ENV, raising=False)
    monkeypatch.delenv(cache.DISABLE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "sciml-solvers" / "jax"
    monkeypatch.setenv(cache.DIR_ENV, str(tmp_path / "mine"))
    assert cache.cache_dir() == tmp_path / "mine"
    monkeypatch.setenv(cache.DISABLE_ENV, "1")
    assert cache.cache_dir() is None


def test_compiled_programs_are_written_and_loaded_back(tmp_path):
    """A fresh process compiles, writes the cache and logs it once; after JAX's in-memory
    caches are cleared (as in a second process) the program is loaded, not compiled."""
    script = (
        "import logging, jax, jax.numpy as jnp\n"
        "logging.basicConfig(level=logging.INFO, format='%(name)s %(message)s')\n"
        "from solvers.backends.jax import cache\n"
        "print('dir', cache.enable())\n"
        "cache.LOG_COMPILE_SECONDS = 0.0\n"
        "jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)\n"
        "hits = []\n"
        "jax.monitoring.register_event_listener(lambda e, **k: hits.append(e)"
        " if e.endswith('cache_hits') else None)\n"
        "f = lambda x: jnp.cumsum(jnp.sin(x) @ x.T, axis=0)\n"
        "jax.jit(f)(jnp.ones((8, 8))).block_until_ready()\n"
        "jax.clear_caches()\n"
        "jax.jit(f)(jnp.ones((8, 8))).block_until_ready()\n"
        "print('hits', len(hits))\n"
    )
    env = {**os.environ, cache.DIR_ENV: str(tmp_path / "jc")}
    env.pop(cache.DISABLE_ENV, None)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"dir {tmp_path / 'jc'}" in run.stdout and any((tmp_path / "jc").iterdir())
    assert run.stderr.count("solvers.jax JAX compiled") == 1
    assert int(run.stdout.split("hits")[1]) >= 1


# ------------------------------------------------------------------ 7. clean checkout
def test_no_egg_info_is_tracked():
    assert "*.egg-info/" in (ROOT / ".gitignore").read_text().split()
    if (ROOT / ".git").exists():
        tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True,
                                 text=True, check=True).stdout
        assert ".egg-info" not in tracked
