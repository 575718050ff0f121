"""``Solver(learn=True, backend="petsc")`` under ``mpiexec -n 2``: every rank runs the same arm.

Run as ``mpiexec -n 2 python -m pytest tests/mpi/test_learned_selection_mpi.py -q
-p no:cacheprovider`` (also passes on one rank). Wall times differ between the ranks; the arm
is chosen on rank 0 and broadcast, and each learner sees the largest time over the ranks, so
the learners' states stay equal.
"""

from __future__ import annotations

import numpy as np
import pytest

import operators
from solvers import Solver

pytest.importorskip("petsc4py.PETSc")


def test_ranks_agree_on_every_arm_and_solve_every_system(comm, everywhere):
    p = operators.poisson((24, 24))
    s = Solver(backend="petsc", rtol=1e-8, learn={"seed": 2, "explore": 0.3})
    results = [s.solve(p, p.b * (1.0 + 0.1 * k)) for k in range(10)]
    arms = [r.info["auto"]["learned"]["arm"] for r in results]
    chose = [r.info["auto"]["chose"] for r in results]
    assert everywhere(all(r.converged for r in results))
    assert everywhere(all(r.info["ranks"] == comm.Get_size() for r in results))
    assert everywhere(all(other == arms for other in comm.allgather(arms)))
    assert everywhere(all(other == chose for other in comm.allgather(chose)))
    state = results[-1].state["learners"]
    assert everywhere(all(other == state for other in comm.allgather(state)))
    assert everywhere(len(set(arms)) >= 2 and results[-1].state is not None)
    assert everywhere(np.isfinite(results[-1].residual_norm))
