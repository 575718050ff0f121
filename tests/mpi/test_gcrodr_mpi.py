"""GCRO-DR as a KSPPYTHON context on distributed vectors: the same iterations as the host
method, and the recycle space kept on the KSP across a sequence (refreshed per matrix)."""

from __future__ import annotations

import numpy as np
import pytest

import operators
from operators import distributed
from operators.fields import gaussian_random_field
from solvers import Solver

PETSc = pytest.importorskip("petsc4py.PETSc")
petsc_backend = pytest.importorskip("solvers.backends.petsc")

SHAPE = (24, 20)


def _fields(count: int) -> list[np.ndarray]:
    """Slowly varying log-normal coefficients, the same on every rank."""
    g0 = gaussian_random_field(SHAPE, seed=0, length_scale=0.2)
    g1 = gaussian_random_field(SHAPE, seed=1, length_scale=0.2)
    return [np.exp(g0 + 0.1 * i * g1) for i in range(count)]


@pytest.mark.parametrize(("outer", "carry"), [(0, "preconditioned"), (4, "solution")])
@pytest.mark.parametrize("pc", ["jacobi"])
def test_gcrodr_sequence_follows_the_host_method(everywhere, pc, outer, carry):
    """``outer = 4, carry = "solution"``: GCROT outer vectors between the harmonic Ritz
    updates, the space carried as ``Z`` with ``C = A Z`` (issue 30)."""
    fields = _fields(3)
    options = dict(rtol=1e-8, restart=20, recycle=8, outer=outer, carry=carry)
    ranks = Solver("gcrodr", pc, backend="petsc", **options)
    host = Solver("gcrodr", pc, **options)
    ours = [ranks.solve(p, p.b) for p in map(distributed.diffusion, fields)]
    serial = [host.solve(p, p.b) for p in map(operators.diffusion, fields)]
    assert everywhere(all(r.converged and r.info["ksp_type"] == "python" for r in ours))
    assert everywhere(all(abs(a.iterations - b.iterations) <= 2
                          for a, b in zip(ours, serial, strict=True)))
    assert everywhere(ours[-1].iterations < ours[0].iterations)  # the space was carried
    x = petsc_backend.gather(ours[-1].x)
    assert everywhere(np.linalg.norm(x - serial[-1].x) <= 1e-6 * np.linalg.norm(serial[-1].x))
    (entry,) = ranks.cache.backends["petsc"].ksps.values()
    space = entry.ksp.getPythonContext().space
    rows = entry.ksp.getOperators()[0].getOwnershipRange()
    assert everywhere(space.k >= 7 and space.U.shape[1] == rows[1] - rows[0])
