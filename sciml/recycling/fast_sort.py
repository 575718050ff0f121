r"""Fast ordering for long sequences: low Fourier modes, a Hilbert curve, greedy inside blocks.

The greedy path of :func:`sciml.recycling.greedy_order` costs ``O(N^2 d)``. For large ``N``
the systems are ordered in three cheap steps, as proposed by Wang et al. [1]_:

1. **Reduce.** Each ``G x G`` field is replaced by its lowest Fourier modes,
   ``|k_x|, |k_y| <= modes`` of the orthonormal 2D FFT (real and imaginary parts), plus the
   scalar parameters. By Parseval, distances between these features approximate the
   Frobenius distances of the smooth part of the fields.
2. **Order coarsely.** The features are projected on their two leading principal components
   and the systems sorted along a Hilbert space-filling curve through that plane
   (``2^16 x 2^16`` cells): neighbours on the curve are neighbours in the plane [2]_.
3. **Refine.** The curve order is cut into blocks of ``block`` systems; inside each block the
   greedy nearest-neighbour path on the reduced features is taken, starting from the system
   nearest to where the previous block ended.

Cost: ``O(N G^2 log G)`` for the FFTs, ``O(N log N)`` for the curve and ``O(N block r)`` for the
blocks (``r`` features), instead of ``O(N^2 G^2)``.

References
----------
.. [1] H. Wang, Z. Hao, Z. Wang, H. Su, J. Zhu, "Accelerating Data Generation for Neural
   Operators via Krylov Subspace Recycling", ICLR 2024, sec. 4.1 and appendix (FFT dimension
   reduction and space-filling curves for large datasets).
.. [2] J. K. Lawder, P. J. H. King, "Using space-filling curves for multi-dimensional
   indexing", Advances in Databases, LNCS 1832 (2000) 20-35.

Examples
--------
>>> import numpy as np
>>> fields = np.random.default_rng(0).standard_normal((50, 16, 16))
>>> order = fast_order(fields, block=8)
>>> sorted(order.tolist()) == list(range(50))
True
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from sciml.recycling.sort import as_rows, greedy_order

CURVE_BITS = 16


def fourier_features(fields: np.ndarray, modes: int = 4) -> np.ndarray:
    """Rows of the lowest ``|k| <= modes`` Fourier coefficients (real, imaginary parts).

    ``fields`` is ``(N, G1, G2)`` or ``(N, G1, G2, G3)``; the FFT is orthonormal, so with
    every mode kept the Euclidean distance of two rows would be (up to the real FFT's halved
    spectrum) the Frobenius distance of the fields.
    """
    fields = np.asarray(fields, dtype=float)
    if fields.ndim not in (3, 4):
        raise ValueError(f"fields must be (N, G1, G2) or (N, G1, G2, G3) arrays, not of shape "
                         f"{fields.shape}")
    axes = tuple(range(1, fields.ndim))
    F = scipy.fft.rfftn(fields, axes=axes, norm="ortho")
    index = [np.arange(len(fields))] + [
        np.r_[0 : min(modes + 1, m), max(m - modes, modes + 1) : m] for m in F.shape[1:-1]
    ] + [np.arange(min(modes + 1, F.shape[-1]))]
    low = F[np.ix_(*index)].reshape(len(fields), -1)
    return np.concatenate([low.real, low.imag], axis=1)


def hilbert_index(x: np.ndarray, y: np.ndarray, bits: int = CURVE_BITS) -> np.ndarray:
    """Position along the Hilbert curve of the cells ``(x, y)``, ``0 <= x, y < 2^bits``.

    The classical iterative map: at each level the quadrant ``(rx, ry)`` adds ``s^2 * ((3 rx)
    XOR ry)`` and the coordinates are rotated/flipped into the quadrant's frame.
    """
    x, y = np.asarray(x, dtype=np.int64).copy(), np.asarray(y, dtype=np.int64).copy()
    n = np.int64(1) << bits
    d = np.zeros_like(x)
    s = n >> 1
    while s > 0:
        rx = ((x & s) > 0).astype(np.int64)
        ry = ((y & s) > 0).astype(np.int64)
        d += s * s * ((3 * rx) ^ ry)
        flip = (ry == 0) & (rx == 1)
        x = np.where(flip, n - 1 - x, x)
        y = np.where(flip, n - 1 - y, y)
        swap = ry == 0
        x, y = np.where(swap, y, x), np.where(swap, x, y)
        s >>= 1
    return d


def _curve_order(features: np.ndarray) -> np.ndarray:
    """Systems sorted along a Hilbert curve through the two leading principal components."""
    centred = features - features.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    plane = centred @ vt[:2].T
    if plane.shape[1] < 2:
        plane = np.pad(plane, ((0, 0), (0, 2 - plane.shape[1])))
    lo, span = plane.min(axis=0), np.ptp(plane, axis=0)
    cells = np.floor((plane - lo) / np.where(span > 0, span, 1.0) * ((1 << CURVE_BITS) - 1))
    return np.argsort(hilbert_index(cells[:, 0], cells[:, 1]), kind="stable")


def fast_order(fields: np.ndarray, scalars: np.ndarray | None = None, *, modes: int = 4,
               block: int = 256) -> np.ndarray:
    """Order ``N`` systems for recycling in ``O(N log N + N block)`` (see the module notes).

    Parameters
    ----------
    fields
        ``(N, G1, G2)`` parameter fields.
    scalars
        Optional scalar parameters ``(N,)`` or ``(N, q)``, appended to the features.
    modes
        Fourier modes kept per axis and sign.
    block
        Systems per greedy block (``block >= N``: one greedy path on the reduced features).

    Returns
    -------
    numpy.ndarray
        A permutation of ``0..N-1`` (int64), starting at a system at one end of the curve.
    """
    if block < 1 or modes < 0:
        raise ValueError(f"block must be >= 1 and modes >= 0, not {block} and {modes}")
    X, S = as_rows(fields, scalars)
    if X.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    features = np.concatenate([fourier_features(np.asarray(fields), modes), S], axis=1)
    coarse = _curve_order(features)
    order, previous = [], None
    for first in range(0, coarse.size, block):
        members = coarse[first : first + block]
        F = features[members]
        start = 0 if previous is None else int(np.argmin(np.linalg.norm(F - previous, axis=1)))
        path = members[greedy_order(F, start=start)]
        order.append(path)
        previous = features[path[-1]]
    return np.concatenate(order)
