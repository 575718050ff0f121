"""What the learning ``Solver`` (:mod:`solvers.learned`) needs to know about a PETSc system.

The facts of ``auto``'s plan (size, structure, found collectively on a ``Mat``, so that every
rank sees the same), a fingerprint that changes when the ``Mat``'s values change (its id and
PETSc's state counter) and the MPI communicator over which the ranks agree on the arm.
"""

from __future__ import annotations

from typing import Any

from petsc4py import PETSc

from solvers import auto
from solvers.backends.common import facts, symmetry
from solvers.backends.petsc import mat_facts
from solvers.system import as_system, is_problem, symmetric_tag


def describe(A: Any, b: Any, known: dict[tuple, bool]) -> tuple[auto.Facts, Any, Any]:
    """``(facts, fingerprint, comm)`` of ``A`` (a ``Mat``, a Problem holding one, or host
    input that the PETSc backend converts); ``known`` caches symmetry verdicts."""
    matrix = A.A if is_problem(A) else A
    if not isinstance(matrix, PETSc.Mat):
        host = as_system(A, b.getArray() if isinstance(b, PETSc.Vec) else b)
        # host input is distributed over PETSc's world communicator by the backend
        return (facts(host, symmetry(host, known)), host.fingerprint(),
                PETSc.COMM_WORLD.tompi4py())
    tag = A.symmetric if is_problem(A) else None
    fingerprint = (matrix.getId(), matrix.stateGet())

    def symmetric() -> bool:
        if fingerprint not in known:
            known[fingerprint] = symmetric_tag(tag, matrix)
        return known[fingerprint]

    spd = A.positive_definite if is_problem(A) else None
    return mat_facts(matrix, symmetric, spd), fingerprint, matrix.getComm().tompi4py()

