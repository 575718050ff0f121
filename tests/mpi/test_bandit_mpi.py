"""The bandit choosing PETSc SOR's omega across a sequence, under ``mpiexec -n 2``.

Run as ``mpiexec -n 2 python -m pytest tests/mpi/test_bandit_mpi.py -q -p no:cacheprovider``
(also passes on one rank). PETSc's SOR is processor-local on more than one rank, so the
yardstick is PETSc's own ``sor`` with the same omega, not the serial host SOR.
"""

from __future__ import annotations

import numpy as np
import pytest

import operators
from solvers import Solver, solve

pytest.importorskip("petsc4py.PETSc")
petsc_bandit = pytest.importorskip("sciml.bandits.petsc")

RTOL = 1e-8


@pytest.fixture(scope="module")
def sequence():
    return operators.shifted_laplacian_sequence(40, (12, 12), seed=3, c_offset=0.0)


def test_every_rank_chooses_the_same_omega_and_runs_petsc_sor(comm, everywhere, sequence):
    s = Solver(method="bandit-sor", backend="petsc", rtol=RTOL, seed=0)
    results = [s.solve(p, p.b) for p in sequence]
    state = petsc_bandit.bandit_state(s)
    chosen = state.chosen_omegas
    assert everywhere(all(r.converged for r in results) and len(state.records) == len(sequence))
    assert everywhere(all(np.array_equal(chosen, other) for other in comm.allgather(chosen)))
    assert everywhere(all(r.info["ranks"] == comm.Get_size() for r in results))
    # each solve is PETSc's (processor-local) SOR with the omega drawn for it
    for t in (0, 7, len(sequence) - 1):
        p, omega = sequence[t], float(chosen[t])
        native = solve(p, p.b, "sor", backend="petsc", rtol=RTOL, omega=omega)
        assert everywhere(results[t].iterations == native.iterations)
    # and the contexts (diagonal dominance, reduced over the ranks) are the serial ones
    dominance = [petsc_bandit.FEATURES["dominance"](p.A) for p in sequence]
    assert everywhere(np.allclose([r["context"] for r in state.records], dominance))


def test_bandit_against_the_best_fixed_omega_of_a_sweep(everywhere, sequence):
    """The default bandit against PETSc's SOR with each omega of a sweep, on the same ranks."""
    bandit = Solver(method="bandit-sor", backend="petsc", rtol=RTOL, seed=0)
    ours = sum(bandit.solve(p, p.b).iterations for p in sequence)
    sweep = {w: sum(solve(p, p.b, "sor", backend="petsc", rtol=RTOL, omega=w).iterations
                    for p in sequence) for w in (1.0, 1.3, 1.5, 1.7)}
    assert everywhere(ours < 0.7 * sweep[1.0]), (ours, sweep)
    # 40 systems, the first ones spent climbing from omega = 1: within 1.6x of the best
    assert everywhere(ours <= 1.6 * min(sweep.values())), (ours, sweep)


def test_bandit_ssor_inside_petsc_cg(everywhere, sequence):
    cg = Solver(method="cg", pc="bandit-ssor", backend="petsc", rtol=RTOL, preset="paper")
    assert everywhere(all(cg.solve(p, p.b).converged for p in sequence[:10]))
    state = petsc_bandit.bandit_state(cg)
    assert everywhere(len(state.records) == 10 and state.config["learner"] == "tsallis")
