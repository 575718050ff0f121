"""Conversions between SciPy sparse matrices, JAX's ``BCOO`` and petsc4py's ``Mat``/``Vec``.

JAX and petsc4py are imported inside the functions, so importing this module (or
:mod:`operators`) imports neither.

Examples
--------
>>> import scipy.sparse as sp
>>> A = sp.random(5, 5, density=0.4, format="csr", random_state=0)
>>> B = scipy_to_bcoo(A)                    # float32 values unless jax_enable_x64 is on
>>> B.shape, bool(abs(bcoo_to_scipy(B) - A).max() < 1e-6)
((5, 5), True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from jax.experimental.sparse import BCOO


def scipy_to_bcoo(A: Any, dtype: Any = None) -> BCOO:
    """A SciPy sparse matrix as a ``jax.experimental.sparse.BCOO`` on the default device.

    Duplicates are summed and the indices sorted row-major first, so the result is flagged
    ``indices_sorted`` and ``unique_indices``. Indices are int32 when they fit.

    Parameters
    ----------
    A
        Any SciPy sparse matrix or array (2-D).
    dtype
        Value dtype; default ``A.dtype`` (as JAX holds it: float64 becomes float32 unless
        ``jax_enable_x64`` is on).
    """
    import jax
    import jax.numpy as jnp
    from jax.experimental.sparse import BCOO

    if not sp.issparse(A):
        raise TypeError(f"A must be a SciPy sparse matrix, not {type(A).__name__}")
    csr = sp.csr_matrix(A, copy=True)
    csr.sum_duplicates()
    coo = csr.tocoo()
    index_dtype = np.int32 if max(A.shape) < np.iinfo(np.int32).max else np.int64
    indices = np.stack([coo.row, coo.col], axis=1).astype(index_dtype)
    data = coo.data.astype(jax.dtypes.canonicalize_dtype(dtype or coo.dtype))
    return BCOO((jnp.asarray(data), jnp.asarray(indices)), shape=A.shape, indices_sorted=True,
                unique_indices=True)


def bcoo_to_scipy(A: BCOO) -> sp.csr_matrix:
    """A 2-D ``BCOO`` (no batch or dense dimensions) as a SciPy CSR matrix on the host.

    Duplicate entries are summed, as ``BCOO`` does in its products; padding entries (index
    out of range, as ``BCOO`` leaves after some operations) are dropped.
    """
    if A.n_batch or A.n_dense or A.ndim != 2:
        raise ValueError(
            f"only a 2-D BCOO without batch or dense dimensions converts to a SciPy matrix; "
            f"got n_batch={A.n_batch}, n_dense={A.n_dense}, shape={A.shape}"
        )
    indices = np.asarray(A.indices)
    keep = np.all(indices < np.asarray(A.shape), axis=1)
    rows, cols = indices[keep].T
    return sp.csr_matrix((np.asarray(A.data)[keep], (rows, cols)), shape=A.shape)


def to_petsc(A: Any, b: Any = None, comm: Any = None) -> tuple[Any, Any]:
    """A SciPy sparse matrix (or an :class:`operators.Problem`) and a vector as a petsc4py
    ``Mat`` and ``Vec`` on ``comm`` (default ``PETSc.COMM_WORLD``).

    Every rank passes the whole system and keeps its own block of rows (PETSc's default
    partition); with ``PETSc.COMM_SELF`` each rank gets a serial copy. ``b=None`` gives a
    zero ``Vec``. Values become ``PETSc.ScalarType``.
    """
    from petsc4py import PETSc

    M = sp.csr_matrix(getattr(A, "A", A))
    if M.shape[0] != M.shape[1]:
        raise ValueError(f"A must be square, got shape {M.shape}")
    like = PETSc.Vec().createMPI(M.shape[0], comm=comm or PETSc.COMM_WORLD)
    if b is not None:
        like.setArray(np.asarray(b).ravel()[slice(*like.getOwnershipRange())])
    else:
        like.zeroEntries()
    return scipy_to_petsc(M, like), like


def scipy_to_petsc(M: sp.csr_matrix, like: Any) -> Any:
    """The rows of the CSR matrix ``M`` that ``like`` (a ``Vec``) owns, as a distributed AIJ
    ``Mat`` with that row layout (each rank converts only its own rows)."""
    from petsc4py import PETSc

    start, stop = like.getOwnershipRange()
    if not M.has_canonical_format:  # PETSc wants sorted, unique column indices per row
        M = M.copy()
        M.sum_duplicates()
    indptr = M.indptr[start : stop + 1]
    csr = (
        (indptr - indptr[0]).astype(PETSc.IntType),
        M.indices[indptr[0] : indptr[-1]].astype(PETSc.IntType),
        M.data[indptr[0] : indptr[-1]].astype(PETSc.ScalarType),
    )
    n, local = M.shape[0], stop - start
    return PETSc.Mat().createAIJWithArrays(((local, n), (local, n)), csr, comm=like.getComm())


def petsc_to_numpy(x: Any) -> np.ndarray:
    """The whole of a (distributed) ``Vec`` as a NumPy array on every rank (collective)."""
    from petsc4py import PETSc

    if x.getComm().getSize() == 1:
        return x.getArray().copy()
    scatter, whole = PETSc.Scatter.toAll(x)
    scatter.scatter(x, whole, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
    values = whole.getArray().copy()
    scatter.destroy()
    whole.destroy()
    return values
