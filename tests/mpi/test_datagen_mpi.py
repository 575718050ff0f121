"""``datagen`` split across MPI ranks: each rank sorts and recycles its shards; resume completes."""

from __future__ import annotations

import numpy as np

import operators
from sciml.recycling import load_dataset, run_datagen

COUNT, GRID = 11, 12  # 4 shards of 3, the last one short
METHOD = "gcrodr"


def _datagen(out, comm, backend, **kwargs):
    return run_datagen("thermal", COUNT, GRID, out=out, seed=5, method=METHOD, pc="jacobi",
                       rtol=1e-9, shard_size=3, backend=backend, comm=comm, progress=False,
                       **kwargs)


def test_datagen_on_every_rank_resumes_to_a_complete_dataset(comm, everywhere, shared_dir):
    solved = 0
    for backend, out in (("scipy", shared_dir / "scipy"), ("petsc", shared_dir / "petsc")):
        first = _datagen(out, comm, backend, max_shards=1)  # cut short: one shard per rank
        solved = comm.allreduce(first.samples)
        solved += comm.allreduce(_datagen(out, comm, backend).samples)
        data = load_dataset(out)
        fam = operators.family("thermal", GRID, seed=5)
        ok = solved == COUNT and np.array_equal(data["indices"], np.arange(COUNT))
        ok &= bool(data["converged"].all())
        for i in range(COUNT):
            p = fam.sample(i)
            ok &= np.array_equal(data["inputs"][i], fam.parameters(i))
            r = np.linalg.norm(p.b - p.A @ data["solutions"][i].ravel())
            ok &= r <= 1e-9 * np.linalg.norm(p.b) * (1 + 1e-6)
        assert everywhere(ok), backend
    assert everywhere(not list(shared_dir.glob("*/.*.tmp")))
