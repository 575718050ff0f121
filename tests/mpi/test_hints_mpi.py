"""HINTS (an FNO error operator + Jacobi sweeps) on PETSc across ranks: only the network's
64^2 coarse residual is summed over the ranks (:mod:`sciml.neural_operators.hints_petsc`).

Run as ``mpiexec -n 2 python -m pytest tests/mpi/test_hints_mpi.py -q -p no:cacheprovider``
(also passes on one rank).
"""

from __future__ import annotations

import numpy as np
import pytest

import operators
from solvers import solve
from solvers.errors import InvalidOptionError

PETSc = pytest.importorskip("petsc4py.PETSc")
jax = pytest.importorskip("jax")
hints_petsc = pytest.importorskip("sciml.neural_operators.hints_petsc")

OPTIONS = ("-pc_type python -pc_python_type sciml.neural_operators.hints_petsc.HintsContext "
           "-pc_hints_model darcy-error")
GRID = 96  # finer than the network's 64^2: the two-grid transfers are used


def _problem():
    return operators.family("darcy", GRID, seed=5).sample(0)


def test_the_distributed_cycle_is_the_serial_one_and_holds_only_its_rows(comm, everywhere):
    from operators.convert import petsc_to_numpy, to_petsc
    from sciml.neural_operators.hints import jax_preconditioner

    p = _problem()
    A, _ = to_petsc(p.A, p.b)
    ctx = hints_petsc.HintsContext()
    ctx.setup_from(A, "darcy-error", 16, 2.0 / 3.0, None)
    pc = PETSc.PC().create(A.getComm())
    pc.setOperators(A, A)
    r = np.random.default_rng(0).standard_normal(GRID * GRID)
    x, z = A.createVecs()
    lo, hi = x.getOwnershipRange()
    x.setArray(r[lo:hi])
    ctx.apply(pc, x, z)
    with jax.enable_x64(True):  # the serial cycle in float64 around the float32 network
        want = np.asarray(jax_preconditioner(p)(jax.numpy.asarray(r)))
    got = petsc_to_numpy(z)
    assert everywhere(np.linalg.norm(got - want) <= 1e-5 * np.linalg.norm(want))
    s, e = ctx.rows
    assert everywhere(ctx.restrict_x.shape == (64, e - s) and ctx.prolong_x.shape == (e - s, 64))
    assert everywhere(comm.size == 1 or e - s < GRID)
    assert everywhere(ctx.applications == 1 and ctx.dropped == 0)


def test_fcg_with_distributed_hints_takes_the_serial_iterations(everywhere):
    p = _problem()
    res = solve(p.A, p.b, method="fcg", backend="petsc", options=OPTIONS, rtol=1e-8,
                truncation=2)
    host = solve(p, p.b, method="fcg", pc="hints", rtol=1e-8)
    jacobi = solve(p.A, p.b, method="fcg", backend="petsc", pc="jacobi", rtol=1e-8)
    assert everywhere(res.converged and host.converged and jacobi.converged)
    assert everywhere(abs(res.iterations - host.iterations) <= 2)
    assert everywhere(res.iterations * 4 <= jacobi.iterations)


def test_pc_hints_by_name_on_petsc_is_the_distributed_context(everywhere):
    p = _problem()
    res = solve(p.A, p.b, method="fcg", pc="hints", backend="petsc", rtol=1e-8,
                truncation=2, model="darcy-error", shape=(GRID, GRID))
    host = solve(p, p.b, method="fcg", pc="hints", rtol=1e-8)
    assert everywhere(res.converged and res.info["pc_type"] == "python")
    assert everywhere(abs(res.iterations - host.iterations) <= 2)
    with pytest.raises(InvalidOptionError, match="sweeps"):
        solve(p.A, p.b, method="fcg", pc="hints", backend="petsc", sweeps=-1)


def test_bad_options_fail_on_every_rank(everywhere):
    p = _problem()
    res = solve(p.A, p.b, method="fcg", backend="petsc",
                options=OPTIONS + " -pc_hints_sweeps -1")
    assert everywhere(not res.converged and res.reason == "pc_failed")
    from operators.convert import to_petsc

    A, _ = to_petsc(p.A, p.b)
    with pytest.raises(hints_petsc.InvalidOptionError, match="omega"):
        hints_petsc.HintsContext().setup_from(A, "darcy-error", 16, 2.5, None)
    with pytest.raises(hints_petsc.InvalidOptionError, match="shape"):
        hints_petsc.HintsContext().setup_from(A, "darcy-error", 16, 0.5, (GRID * GRID,))


@pytest.mark.parametrize(("extra", "match"), [
    ("-pc_hints_sweeps 1.5", "-pc_hints_sweeps '1.5': expected int"),
    ("-pc_hints_omega abc", "-pc_hints_omega 'abc': expected float"),
    ("-pc_hints_omega 1.5", r"omega=1.5: the Jacobi weight must be in \(0, 1\]"),
    ("-pc_hints_sweeps 101", r"sweeps=101: an int in \[0, 100\]"),
    ("-pc_hints_shape 96,-96", "-pc_hints_shape '96,-96'"),
    ("-pc_hints_shape 48,192", r"shape=\(48, 192\): the matrix is a grid stencil on \(96, 96\)"),
])
def test_bad_option_values_name_the_option_on_every_rank(extra, match, everywhere):
    """Option values are parsed and range-checked in Python as pc='hints''s declared
    parameters (not PETSc's error 63 from PetscOptionsGetInt; omega in (0, 1], not a
    diverging smoother run to maxiter; a shape whose product fits but is not the grid)."""
    import re

    p = _problem()
    res = solve(p.A, p.b, method="fcg", backend="petsc", options=f"{OPTIONS} {extra}",
                maxiter=5)
    error = str(res.info.get("error"))
    assert everywhere(res.reason == "pc_failed" and re.search(match, error) is not None)


def test_model_none_is_the_smoother_alone_as_on_the_host(everywhere):
    p = operators.family("darcy", 48, seed=5).sample(0)
    res = solve(p.A, p.b, method="fcg", pc="hints", model="none", backend="petsc", rtol=1e-8,
                truncation=2)
    host = solve(p, p.b, method="fcg", pc="hints", model="none", rtol=1e-8)
    assert everywhere(res.converged and host.converged)
    assert everywhere(abs(res.iterations - host.iterations) <= 2)
