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


def test_3d_helmholtz_on_ranks_matches_the_serial_run(comm, everywhere, shared_dir, tmp_path):
    # issue 30: the absorbing 3D family with the shifted Laplacian (complex: host solver per
    # rank); the ranks' data equal one rank's, with about the same iterations
    from mpi4py import MPI

    options = {"method": METHOD, "pc": "shifted-laplacian", "restart": 30, "recycle": 10,
               "shard_size": 2, "dim": 3, "seed": 9, "progress": False,
               "family_options": {"boundary": "absorbing", "kh": (0.2, 0.5)}}
    run_datagen("helmholtz", 8, 10, out=shared_dir / "h3d", comm=comm, **options)
    run_datagen("helmholtz", 8, 10, out=tmp_path / "serial", comm=MPI.COMM_SELF, **options)
    ranks, serial = load_dataset(shared_dir / "h3d"), load_dataset(tmp_path / "serial")
    ok = bool(ranks["converged"].all()) and ranks["solutions"].shape == (8, 10, 10, 10)
    scale = np.abs(serial["solutions"]).max()
    ok &= np.abs(ranks["solutions"] - serial["solutions"]).max() <= 1e-6 * scale
    ok &= abs(int(ranks["iterations"].sum()) - int(serial["iterations"].sum())) <= (
        0.2 * serial["iterations"].sum())
    assert everywhere(ok)
