"""``datagen`` with a learned preconditioner under MPI (``--pc dcdm --model ...``).

Each rank solves its own shards whole (``PETSc.COMM_SELF``): the learned multigrid
(:mod:`sciml.dcdm.petsc_mg`) on every rank, nothing gathered; the data equal a one-rank run.
"""

from __future__ import annotations

import numpy as np
import pytest

import operators
from sciml.recycling import load_dataset, run_datagen

pytest.importorskip("petsc4py.PETSc")
pytest.importorskip("sciml.dcdm.petsc_mg")

COUNT, GRID, RTOL = 4, 16, 1e-9


def test_datagen_with_the_learned_multigrid_on_ranks(comm, everywhere, shared_dir):
    summary = run_datagen("darcy", COUNT, GRID, out=shared_dir / "mg", seed=3, method="cg",
                          pc="dcdm", model="contrast2d", rtol=RTOL, shard_size=1,
                          backend="petsc", comm=comm, progress=False)
    assert everywhere(summary.samples == COUNT // comm.size)  # the shards are shared out
    data = load_dataset(shared_dir / "mg")
    fam = operators.family("darcy", GRID, seed=3)
    ok = bool(data["converged"].all()) and np.all(data["iterations"] <= 15)
    for i in range(COUNT):
        p = fam.sample(i)
        r = np.linalg.norm(p.b - p.A @ data["solutions"][i].ravel())
        ok &= r <= RTOL * np.linalg.norm(p.b) * (1 + 1e-6)
    assert everywhere(ok)


def test_a_model_without_a_learned_pc_is_refused_before_anything_is_written(shared_dir,
                                                                            everywhere):
    with pytest.raises(ValueError, match="model"):
        run_datagen("darcy", COUNT, GRID, out=shared_dir / "bad", method="cg", pc="jacobi",
                    model="contrast2d", backend="petsc", progress=False)
    assert everywhere(not (shared_dir / "bad").exists())


@pytest.mark.parametrize(("model", "dim", "error"), [
    ("nosuch", 2, "unknown DCDM model 'nosuch'"),
    ("contrast2d", 3, "model='contrast2d' is for 2-D grids"),
])
def test_a_model_that_cannot_load_is_refused_before_anything_is_written(model, dim, error,
                                                                        shared_dir,
                                                                        everywhere):
    """Not a dataset of samples all recorded as not converged (pc_failed in every solve)."""
    from solvers.errors import SolverError

    out = shared_dir / f"bad-{model}-{dim}"
    with pytest.raises(SolverError, match=error):
        run_datagen("darcy", COUNT, 8, out=out, method="cg", pc="dcdm", model=model, dim=dim,
                    backend="petsc", progress=False)
    assert everywhere(not out.exists())
