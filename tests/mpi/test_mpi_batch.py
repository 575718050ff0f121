"""Batch runs split across ranks: an interrupted run resumed with another rank count."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse.linalg as spla

import operators.fields
from sciml.batch import load_batch, run_batch

pytest.importorskip("petsc4py.PETSc")

GRID = (16, 16)
COUNT = 13  # 5 shards of 3, the last one short


def _batch(out, comm, **kwargs):
    return run_batch(COUNT, GRID, seed=4, method="cg", pc="amg", backend="petsc", rtol=1e-10,
                     out=out, shard_size=3, comm=comm, progress=False, **kwargs)


def test_interrupted_batch_resumes_with_another_rank_count(comm, everywhere, shared_dir):
    from mpi4py import MPI

    first = _batch(shared_dir, comm, max_shards=1)  # a job cut short: one shard per rank
    solved = comm.allreduce(first.samples)
    if comm.rank == 0:
        # a writer killed mid-write leaves sciml.persist's temporary file behind
        (shared_dir / ".shard-00000012-00000013.npz.k1ll3d.tmp").write_bytes(b"killed")
    alone = comm.Split(0 if comm.rank == 0 else MPI.UNDEFINED, comm.rank)
    error = None
    if comm.rank == 0:  # resumed on one rank only, again cut short
        try:
            solved += _batch(shared_dir, alone, max_shards=1).samples
        except Exception as exc:  # reported on every rank below, so none is left waiting
            error = repr(exc)
        alone.Free()
    solved, error = comm.bcast((solved, error), root=0)
    assert everywhere(error is None), error
    last = _batch(shared_dir, comm)  # and finished on all ranks
    solved += comm.allreduce(last.samples)
    data = load_batch(shared_dir)
    complete = np.array_equal(data["indices"], np.arange(COUNT)) and solved == COUNT
    assert everywhere(complete and data["converged"].all())
    assert everywhere(not list(shared_dir.glob(".*.tmp")))


def test_samples_depend_on_seed_and_index_only(comm, everywhere, shared_dir):
    _batch(shared_dir, comm)
    data = load_batch(shared_dir)
    ok = True
    for i in (0, 7, COUNT - 1):
        p = operators.fields.random_diffusion(GRID, seed=np.random.SeedSequence([4, i]))
        x = spla.spsolve(p.A.tocsc(), p.b)
        ok &= np.array_equal(data["coefficients"][i], p.coefficient)
        ok &= np.linalg.norm(data["solutions"][i].ravel() - x) <= 1e-7 * np.linalg.norm(x)
    assert everywhere(ok)
