"""Vectorised assembly of finite-difference stencils on structured grids.

All gallery matrices are built here from arrays of face values, with no Python loop over grid
points: a 128^3 7-point matrix (2M unknowns) assembles in a fraction of a second.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def grid_spacing(shape: tuple[int, ...]) -> tuple[float, ...]:
    """Spacing ``h = 1/(n+1)`` of ``n`` interior nodes per axis on the unit cube."""
    return tuple(1.0 / (n + 1) for n in shape)


def harmonic_faces(K: np.ndarray, axis: int) -> np.ndarray:
    """Face values between neighbours along ``axis``: harmonic mean ``2 K_i K_j / (K_i + K_j)``.

    Returns an array one longer than ``K`` along ``axis``: the two boundary faces take the
    value of the adjacent node (Dirichlet boundary at half a cell is not needed: the boundary
    node sits at distance h, so the face between it and the first node uses the node's K).
    """
    lo = np.take(K, [0], axis=axis)
    hi = np.take(K, [-1], axis=axis)
    a = np.take(K, np.arange(K.shape[axis] - 1), axis=axis)
    c = np.take(K, np.arange(1, K.shape[axis]), axis=axis)
    inner = 2.0 * a * c / (a + c)
    return np.concatenate([lo, inner, hi], axis=axis)


def stencil_csr(
    faces: list[np.ndarray],
    spacing: tuple[float, ...],
    diagonal: np.ndarray | complex = 0.0,
    *,
    first: int = 0,
    extent: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays ``(indptr, indices, data)`` of ``-div(K grad u) + diagonal * u``.

    ``faces[a]`` holds the face coefficients along axis ``a``: shape equal to the grid shape
    except ``shape[a] + 1`` along ``a`` (boundary faces first and last). The result is the
    symmetric (2d+1)-point stencil scaled by ``1/h^2``; ``diagonal`` may be complex.

    The faces may cover a slab only: the planes ``first, ..., first + m - 1`` along axis 0 of
    a grid with ``extent`` planes (default: the whole grid, ``first = 0``). The rows are those
    of the slab's nodes, the column indices global; this is how each MPI rank assembles its
    own rows (:mod:`operators.distributed`) with the same arithmetic as the serial matrix.

    The CSR arrays are written directly: every row holds the ``2d+1`` stencil slots in
    increasing column order (``-s_0, ..., -s_{d-1}, 0, s_{d-1}, ..., s_0`` with ``s_a`` the
    C-order stride of axis ``a``), and slots that fall outside the grid are masked out. No
    sorting or duplicate summation is needed, so a 128^3 matrix takes well under a second.
    """
    shape = tuple(faces[0].shape[i] - (1 if i == 0 else 0) for i in range(len(faces)))
    extent = shape[0] if extent is None else extent
    ndim = len(shape)
    n = int(np.prod(shape))
    strides = [int(np.prod(shape[a + 1 :])) for a in range(ndim)]
    diag = np.zeros(shape) + diagonal
    lower_vals, upper_vals, lower_ok, upper_ok = [], [], [], []
    for a, (f, h) in enumerate(zip(faces, spacing, strict=True)):
        w = f / h**2
        lower = np.take(w, np.arange(shape[a]), axis=a)       # face below each node
        upper = np.take(w, np.arange(1, shape[a] + 1), axis=a)  # face above each node
        diag += lower + upper
        size = extent if a == 0 else shape[a]
        position = (first if a == 0 else 0) + np.arange(shape[a])
        position = position.reshape([-1 if i == a else 1 for i in range(ndim)])
        lower_vals.append(-lower)
        upper_vals.append(-upper)
        lower_ok.append(np.broadcast_to(position > 0, shape))
        upper_ok.append(np.broadcast_to(position < size - 1, shape))
    # slots in increasing column order: lower neighbours (axis 0 first), centre, upper (axis 0 last)
    vals = lower_vals + [diag] + upper_vals[::-1]
    ok = lower_ok + [np.ones(shape, dtype=bool)] + upper_ok[::-1]
    offsets = [-s for s in strides] + [0] + strides[::-1]
    mask = np.stack([m.ravel() for m in ok], axis=1)
    total = extent * strides[0]
    index_dtype = np.int32 if total * (2 * ndim + 1) < np.iinfo(np.int32).max else np.int64
    rows = first * strides[0] + np.arange(n, dtype=index_dtype)[:, None]
    cols = rows + np.asarray(offsets, dtype=index_dtype)[None, :]
    data = np.stack([np.broadcast_to(v, shape).ravel() for v in vals], axis=1)[mask]
    indptr = np.zeros(n + 1, dtype=index_dtype)
    np.cumsum(mask.sum(axis=1), out=indptr[1:])
    return indptr, cols[mask], data


def diffusion_matrix(
    faces: list[np.ndarray], spacing: tuple[float, ...], diagonal: np.ndarray | complex = 0.0
) -> sp.csr_matrix:
    """Matrix of ``-div(K grad u) + diagonal * u`` with zero Dirichlet boundary values.

    ``faces`` as for :func:`stencil_csr` (whole grid): the symmetric (2d+1)-point stencil
    scaled by ``1/h^2``, as a SciPy CSR matrix with sorted indices.
    """
    indptr, indices, data = stencil_csr(faces, spacing, diagonal)
    n = indptr.size - 1
    A = sp.csr_matrix((data, indices, indptr), shape=(n, n))
    A.has_sorted_indices = True
    return A
