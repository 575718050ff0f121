"""DCDM's network as a PETSc ``PCPYTHON`` preconditioner under MPI (gather, apply, scatter).

Run as ``mpiexec -n 2 python -m pytest tests/mpi/test_dcdm_mpi.py -q -p no:cacheprovider``.
The preconditioner is the serial one exactly, so PETSc's FCG takes the serial iterations.
"""

from __future__ import annotations

import numpy as np
import pytest

import operators
from operators import distributed
from solvers import solve

PETSc = pytest.importorskip("petsc4py.PETSc")
petsc_backend = pytest.importorskip("solvers.backends.petsc")
pytest.importorskip("sciml.dcdm.petsc")

RTOL = 1e-6


def test_fcg_with_the_network_takes_the_serial_iterations(everywhere):
    shape = (32, 32)
    problem = distributed.poisson(shape)
    serial = operators.poisson(shape)
    res = solve(problem, problem.b, method="fcg", pc="dcdm", backend="petsc", rtol=RTOL,
                model="poisson2d")
    host = solve(serial, serial.b, method="fcg", pc="dcdm", rtol=RTOL)
    dcdm = solve(problem, problem.b, method="dcdm", backend="petsc", rtol=RTOL, truncation=2,
                 model="poisson2d")
    fixed = solve(problem, problem.b, method="fcg", pc="dcdm", backend="petsc", rtol=RTOL,
                  model="fixed")
    x = petsc_backend.gather(res.x) if isinstance(res.x, PETSc.Vec) else res.x
    assert everywhere(res.converged and res.info["pc"] == "dcdm" and dcdm.converged)
    assert everywhere(abs(res.iterations - host.iterations) <= 1)
    assert everywhere(abs(dcdm.iterations - host.iterations) <= 1)
    assert everywhere(fixed.converged and fixed.iterations >= 1.3 * res.iterations)
    assert everywhere(np.linalg.norm(serial.A @ x - serial.b) <= RTOL * np.linalg.norm(serial.b))


def test_fgmres_and_a_variable_coefficient_grid(everywhere):
    """The grid is read off the stencil (the gathered CNN: the diffusion network)."""
    problem = distributed.random_diffusion((32, 32), seed=3)
    serial = operators.random_diffusion((32, 32), seed=3)
    fgmres = solve(problem, problem.b, method="fgmres", pc="dcdm", backend="petsc", rtol=RTOL,
                   model="diffusion2d")
    fcg = solve(problem, problem.b, method="fcg", pc="dcdm", backend="petsc", rtol=RTOL,
                model="diffusion2d")
    host = solve(serial, serial.b, method="fcg", pc="dcdm", rtol=RTOL)
    cg = solve(problem, problem.b, method="cg", pc="none", backend="petsc", rtol=RTOL)
    assert everywhere(fgmres.converged and fcg.converged)
    assert everywhere(abs(fcg.iterations - host.iterations) <= 1)
    assert everywhere(fcg.iterations <= cg.iterations / 4)


def test_a_setup_error_on_rank_0_stops_every_rank(everywhere):
    """A wrong grid is found on rank 0 only; every rank must stop, none may hang."""
    problem = distributed.poisson((12, 12))
    res = solve(problem, problem.b, method="fcg", pc="dcdm", backend="petsc",
                shape=(10, 10))
    assert everywhere(not res.converged and res.iterations == 0 and res.reason == "pc_failed")


@pytest.mark.parametrize("shape, model", [((32, 32), "contrast2d"), ((16, 16, 16), "fixed-mg")])
def test_the_default_on_petsc_is_the_distributed_learned_multigrid(everywhere, shape, model):
    """No model named: the learned multigrid (no gather), the serial one's iterations (5
    here, where the gathered CNN's default takes 11 in 2-D and 14 in 3-D)."""
    problem = distributed.random_diffusion(shape, seed=3)
    serial = operators.random_diffusion(shape, seed=3)
    res = solve(problem, problem.b, method="cg", pc="dcdm", backend="petsc", rtol=RTOL)
    host = solve(serial, serial.b, method="cg", pc="dcdm", model=model, rtol=RTOL)
    x = petsc_backend.gather(res.x) if isinstance(res.x, PETSc.Vec) else res.x
    assert everywhere(res.converged and abs(res.iterations - host.iterations) <= 2)
    assert everywhere(np.linalg.norm(serial.A @ x - serial.b) <= RTOL * np.linalg.norm(serial.b))
