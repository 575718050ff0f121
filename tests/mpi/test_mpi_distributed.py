"""Distributed assembly and solves on PETSc.COMM_WORLD (``mpiexec -n 2``)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import operators.fields
import operators.gallery as gallery
from operators import distributed
from solvers import solve

PETSc = pytest.importorskip("petsc4py.PETSc")
petsc_backend = pytest.importorskip("solvers.backends.petsc")


def _local_rows(problem) -> sp.csr_matrix:
    indptr, indices, data = problem.A.getValuesCSR()
    start, stop = problem.rows
    return sp.csr_matrix((data, indices, indptr), shape=(stop - start, problem.n))


@pytest.mark.parametrize("shape", [(31, 17), (9, 7, 8)], ids=str)
def test_each_rank_assembles_its_own_rows(comm, everywhere, shape):
    K = operators.fields.lognormal_coefficient(shape, seed=5)
    for dist, serial in [(distributed.poisson(shape), gallery.poisson(shape)),
                         (distributed.diffusion(K), gallery.diffusion(K))]:
        start, stop = dist.rows
        same = (_local_rows(dist) != serial.A[start:stop]).nnz == 0
        rows = comm.allgather(dist.rows)
        tiled = rows[0][0] == 0 and rows[-1][1] == serial.n and all(
            a[1] == b[0] for a, b in zip(rows, rows[1:], strict=False))
        assert everywhere(same and tiled and dist.A.getComm().getSize() == comm.size)


@pytest.mark.parametrize(("make", "serial"), [
    (lambda: distributed.poisson((12, 12, 12)), lambda: gallery.poisson((12, 12, 12))),
    (lambda: distributed.random_diffusion((40, 36), seed=3),
     lambda: operators.fields.random_diffusion((40, 36), seed=3)),
])
def test_distributed_solve_matches_scipy(everywhere, make, serial):
    dist, host = make(), serial()
    res = solve(dist, dist.b, "cg", "amg", rtol=1e-10)  # Vec b: the PETSc backend
    x = petsc_backend.gather(res.x)
    expected = spla.spsolve(host.A.tocsc(), host.b)
    close = np.linalg.norm(x - expected) <= 1e-7 * np.linalg.norm(expected)
    assert everywhere(res.converged and isinstance(res.x, PETSc.Vec) and close)
    assert everywhere(res.x.getLocalSize() == dist.b.getLocalSize())


@pytest.mark.parametrize(("method", "pc"), [
    ("cg", "amg"), ("cg", "ilu"), ("cg", "icc"), ("cg", "ssor"), ("fcg", "jacobi"),
    ("gmres", "ilu"), ("bicgstab", "ilu"), ("fgmres", "sor"), ("minres", "none"),
    ("ssor", None), ("direct", None), ("auto", None),
])
def test_scipy_input_is_split_by_rows(comm, everywhere, method, pc):
    """Every rank passes the whole SciPy system and gets the whole x back."""
    problem = gallery.poisson((24, 24))
    res = solve(problem, problem.b, method, pc, backend="petsc", rtol=1e-10)
    expected = spla.spsolve(problem.A.tocsc(), problem.b)
    close = np.linalg.norm(res.x - expected) <= 1e-7 * np.linalg.norm(expected)
    same_everywhere = np.array_equal(comm.bcast(res.x, root=0), res.x)
    assert everywhere(res.converged and close and same_everywhere)
    assert everywhere(res.info["ranks"] == comm.size)
