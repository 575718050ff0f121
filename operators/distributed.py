"""Gallery problems assembled directly as distributed PETSc matrices (each rank its own rows).

Under ``mpiexec -n N`` every rank builds only the rows it owns in PETSc's default row
partition (the ownership range of a vector of the global size), with the same vectorised
stencil code as the serial gallery (:func:`operators.assembly.stencil_csr` restricted to the
slab of grid planes that holds those rows): no rank ever holds the whole matrix and nothing
is gathered on rank 0. The matrices equal the serial :mod:`operators.gallery` ones entry by
entry, whatever the number of ranks.

Coefficient fields are passed (or, in :func:`random_diffusion`, generated from the seed)
identically on every rank, so a result never depends on the rank count.

petsc4py is imported inside the functions: ``import operators`` stays free of PETSc.

Examples
--------
>>> from operators import distributed
>>> p = distributed.poisson((32, 32, 32))              # doctest: +SKIP
>>> solve(p, p.b, method="cg", pc="amg", backend="petsc")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from operators.assembly import grid_spacing, harmonic_faces, stencil_csr
from operators.fields import Seed, lognormal_coefficient
from operators.gallery import unit_faces
from operators.problem import GridProblem
from operators.validate import as_coefficient, as_rhs, as_shape


@dataclass(repr=False)
class DistributedProblem(GridProblem):
    """A :class:`operators.Problem` whose ``A`` is a petsc4py ``Mat`` and ``b`` a ``Vec``.

    ``rows`` is this rank's ownership range ``[start, stop)`` of the global unknowns (C order
    over ``shape``); ``coefficient`` (if any) is the whole field, the same on every rank.
    """

    rows: tuple[int, int] = (0, 0)

    def __repr__(self) -> str:
        size = self.A.getComm().getSize()
        return (
            f"DistributedProblem(kind={self.kind!r}, shape={self.shape}, n={self.n}, "
            f"rows={self.rows}, ranks={size})"
        )


def poisson(shape: int | tuple[int, ...], rhs: np.ndarray | None = None,
            comm: Any = None) -> DistributedProblem:
    """Distributed :func:`operators.poisson`: ``-Laplace(u) = f``, 3/5/7-point stencil.

    Parameters
    ----------
    shape
        Interior grid, e.g. ``(128, 128, 128)``; an int means a square 2D grid.
    rhs
        Right-hand side on the whole grid, the same on every rank; default ``f = 1``.
    comm
        PETSc communicator; default ``PETSc.COMM_WORLD``.
    """
    shape = as_shape(shape)

    def faces(first: int, stop: int) -> list[np.ndarray]:
        return unit_faces((stop - first,) + shape[1:])

    return _assemble("poisson", shape, faces, rhs, comm)


def diffusion(K: np.ndarray, rhs: np.ndarray | None = None,
              comm: Any = None) -> DistributedProblem:
    """Distributed :func:`operators.diffusion`: ``-div(K grad u) = f``, harmonic face means.

    ``K`` is the whole node field (the same on every rank); each rank computes the face
    coefficients of its own slab of planes only.
    """
    K = as_coefficient(K)

    def faces(first: int, stop: int) -> list[np.ndarray]:
        return _slab_faces(K, first, stop)

    p = _assemble("diffusion", K.shape, faces, rhs, comm, K)
    p.params["averaging"] = "harmonic"
    return p


def random_diffusion(shape: int | tuple[int, ...], *, seed: Seed, rhs: np.ndarray | None = None,
                     comm: Any = None, **field: Any) -> DistributedProblem:
    """Distributed :func:`operators.random_diffusion`: log-normal ``K`` from ``seed``.

    Every rank draws the same field (:func:`operators.lognormal_coefficient` with ``seed``
    and the ``field`` keywords), so the matrix does not depend on the number of ranks.
    """
    K = lognormal_coefficient(shape, seed=seed, **field)
    p = diffusion(K, rhs, comm)
    p.params.update(seed=seed, field="lognormal", **field)
    return p


def _slab_faces(K: np.ndarray, first: int, stop: int) -> list[np.ndarray]:
    """Harmonic face coefficients of the planes ``first:stop`` (axis 0) of the field ``K``.

    Along axis 0 the faces ``first .. stop`` are needed; they are computed from the planes
    one beyond the slab on each side (where they exist), so interior faces are the same
    harmonic means as in :func:`operators.assembly.harmonic_faces` of the whole field.
    """
    lo, hi = max(first - 1, 0), min(stop + 1, K.shape[0])
    along = harmonic_faces(K[lo:hi], 0)[first - lo : stop - lo + 1]
    return [along] + [harmonic_faces(K[first:stop], a) for a in range(1, K.ndim)]


def _assemble(kind: str, shape: tuple[int, ...], faces: Any, rhs: np.ndarray | None,
              comm: Any, coefficient: np.ndarray | None = None) -> DistributedProblem:
    """Assemble this rank's rows of the stencil matrix and of the right-hand side."""
    from petsc4py import PETSc

    comm = PETSc.COMM_WORLD if comm is None else comm
    n = int(np.prod(shape))
    b = PETSc.Vec().createMPI(n, comm=comm)
    start, stop = b.getOwnershipRange()
    b.setArray(as_rhs(rhs, shape)[start:stop])
    indptr, indices, data = _owned_rows(shape, faces, start, stop)
    csr = (indptr.astype(PETSc.IntType), indices.astype(PETSc.IntType), data)
    A = PETSc.Mat().createAIJWithArrays(((stop - start, n), (stop - start, n)), csr, comm=comm)
    spacing = grid_spacing(shape)
    return DistributedProblem(A, b, shape, spacing, kind=kind, coefficient=coefficient,
                              symmetric=True, positive_definite=True, rows=(start, stop))


def _owned_rows(shape: tuple[int, ...], faces: Any, start: int,
                stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays of the global rows ``start:stop``: the planes that hold them, trimmed."""
    if start == stop:  # more ranks than rows
        return np.zeros(1, dtype=int), np.zeros(0, dtype=int), np.zeros(0)
    plane = int(np.prod(shape[1:]))
    first, last = start // plane, (stop - 1) // plane + 1
    indptr, indices, data = stencil_csr(faces(first, last), grid_spacing(shape),
                                        first=first, extent=shape[0])
    lo, hi = start - first * plane, stop - first * plane
    begin, end = indptr[lo], indptr[hi]
    return indptr[lo : hi + 1] - begin, indices[begin:end], data[begin:end]
