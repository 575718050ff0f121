"""The library's own CG as a KSPPYTHON context on distributed vectors."""

from __future__ import annotations

import numpy as np
import pytest

from operators import distributed
from solvers import Reason, solve

PETSc = pytest.importorskip("petsc4py.PETSc")
petsc_backend = pytest.importorskip("solvers.backends.petsc")

OPTIONS = "-ksp_type python -ksp_python_type solvers.backends.petsc.contexts.CGContext"


@pytest.mark.parametrize("pc", ["none", "jacobi", "icc", "amg"])
def test_pycg_follows_petsc_cg(everywhere, pc):
    """Same recurrence and test as KSPCG: same iterations, same residuals, same x."""
    problem = distributed.random_diffusion((48, 40), seed=11)
    own = solve(problem, problem.b, "pycg", pc, rtol=1e-9)
    native = solve(problem, problem.b, "cg", pc, rtol=1e-9)
    x, y = petsc_backend.gather(own.x), petsc_backend.gather(native.x)
    assert everywhere(own.converged and own.info["ksp_type"] == "python")
    assert everywhere(abs(own.iterations - native.iterations) <= 1)
    assert everywhere(np.linalg.norm(x - y) <= 1e-6 * np.linalg.norm(y))


def test_pycg_by_options_string(everywhere):
    problem = distributed.poisson((20, 20, 20))
    own = solve(problem, problem.b, options=OPTIONS + " -pc_type jacobi", rtol=1e-8)
    native = solve(problem, problem.b, "cg", "jacobi", rtol=1e-8)
    assert everywhere(own.converged and own.info["ksp_type"] == "python")
    assert everywhere(own.iterations == native.iterations)


def test_pycg_reports_maxiter_and_breakdown(everywhere):
    problem = distributed.poisson((16, 16))
    capped = solve(problem, problem.b, "pycg", maxiter=4)
    negative = problem.A.copy()
    negative.scale(-1.0)
    broken = solve(negative, problem.b, "pycg")
    assert everywhere(capped.reason == Reason.MAXITER and capped.iterations == 4)
    assert everywhere(broken.reason == Reason.INDEFINITE_MAT and not broken.converged)
