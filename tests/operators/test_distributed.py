"""Distributed assembly (operators.distributed): each rank's rows equal the serial gallery's."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import operators.fields
import operators.gallery as gallery
from operators import distributed
from operators.assembly import harmonic_faces

SHAPES = [(17,), (7, 9), (5, 4, 6), (1, 3, 2)]


def _splits(n: int, ranks: int) -> list[tuple[int, int]]:
    """PETSc's default partition of n rows over ``ranks`` ranks."""
    sizes = [n // ranks + (r < n % ranks) for r in range(ranks)]
    ends = np.cumsum([0] + sizes)
    return list(zip(ends[:-1].tolist(), ends[1:].tolist(), strict=True))


def _rows(shape, faces, start, stop) -> sp.csr_matrix:
    indptr, indices, data = distributed._owned_rows(shape, faces, start, stop)
    return sp.csr_matrix((data, indices, indptr), shape=(stop - start, int(np.prod(shape))))


@pytest.mark.parametrize("ranks", [1, 2, 3, 5, 40])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_owned_rows_equal_the_serial_matrix(shape, ranks):
    """Poisson and variable diffusion, any row split: the same values, bit for bit."""
    K = operators.fields.lognormal_coefficient(shape, seed=1)
    cases = [
        (gallery.poisson(shape).A,
         lambda first, stop: gallery.unit_faces((stop - first,) + shape[1:])),
        (gallery.diffusion(K).A, lambda first, stop: distributed._slab_faces(K, first, stop)),
    ]
    for expected, faces in cases:
        for start, stop in _splits(expected.shape[0], ranks):
            got = _rows(shape, faces, start, stop)
            assert (got != expected[start:stop]).nnz == 0
            np.testing.assert_array_equal(got.indices, expected[start:stop].indices)


def test_slab_faces_are_the_whole_fields_faces():
    K = operators.fields.lognormal_coefficient((6, 5, 4), seed=2)
    whole = [harmonic_faces(K, a) for a in range(3)]
    for first, stop in [(0, 6), (0, 2), (2, 5), (5, 6)]:
        slab = distributed._slab_faces(K, first, stop)
        np.testing.assert_array_equal(slab[0], whole[0][first : stop + 1])
        for a in (1, 2):
            np.testing.assert_array_equal(slab[a], whole[a][first:stop])


def test_import_operators_stays_free_of_petsc():
    code = ("import sys, operators, operators.distributed, operators.gallery; "
            "sys.exit('petsc4py' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_petsc_matrices_on_one_rank(shape):
    PETSc = pytest.importorskip("petsc4py.PETSc")
    K = operators.fields.lognormal_coefficient(shape, seed=4)
    for dist, serial in [(distributed.poisson(shape), gallery.poisson(shape)),
                         (distributed.diffusion(K), gallery.diffusion(K)),
                         (distributed.random_diffusion(shape, seed=4),
                          operators.fields.random_diffusion(shape, seed=4))]:
        indptr, indices, data = dist.A.getValuesCSR()
        got = sp.csr_matrix((data, indices, indptr), shape=serial.A.shape)
        assert (got != serial.A).nnz == 0
        np.testing.assert_array_equal(dist.b.getArray(), serial.b)
        assert dist.rows == (0, serial.n) and dist.A.getComm().getSize() == 1
        assert isinstance(dist.A, PETSc.Mat) and dist.symmetric and dist.kind == serial.kind
