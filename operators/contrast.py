r"""Sharp high-contrast coefficients: disks, checkerboards, channels, inclusions, boxes, cracks,
random tilings.

Piecewise-constant fields ``K`` on the interior nodes of the unit square/cube of
:mod:`operators.gallery` (``n`` nodes per axis at ``x_i = (i + 1) / (n + 1)``): ``K = 1`` in
the background and ``K = contrast`` inside the shapes (a contrast below one makes them
insulating). Pass one to :func:`operators.diffusion`. These are the cases where rediscretised
coarse operators fail and operator-dependent interpolation is needed (Alcouffe et al. 1981,
Dendy 1982): thin conducting paths and jumps of several orders of magnitude. The random ones
take a required keyword ``seed``; equal seeds give equal fields.

References
----------
.. [1] R. E. Alcouffe, A. Brandt, J. E. Dendy, J. W. Painter, "The multi-grid method for
   the diffusion equation with strongly discontinuous coefficients", SIAM J. Sci. Stat.
   Comput. 2(4) (1981) 430-454.
.. [2] D. Greenfeld, M. Galun, R. Kimmel, I. Yavneh, R. Basri, "Learning to optimize
   multigrid PDE solvers", ICML 2019 (random high-contrast inclusions as a training family).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from operators.validate import as_shape

Seed = int | np.random.SeedSequence | np.random.Generator


def _nodes(shape: tuple[int, ...]) -> list[np.ndarray]:
    return np.meshgrid(*[(np.arange(n) + 1) / (n + 1) for n in shape], indexing="ij")


def _check(contrast: float) -> float:
    contrast = float(contrast)
    if not np.isfinite(contrast) or contrast <= 0:
        raise ValueError(f"contrast must be a positive finite number, not {contrast!r}")
    return contrast


def _rng(seed: Seed) -> np.random.Generator:
    if seed is None:
        raise ValueError("seed must be given (an int, SeedSequence or Generator), not None")
    return np.random.default_rng(seed)


def _union(shape: int | tuple[int, ...], contrast: float, seed: Seed, count: int,
           member: Callable[[np.random.Generator, list[np.ndarray]], np.ndarray]) -> np.ndarray:
    """``K = contrast`` on the union of ``count`` random shapes, ``1`` elsewhere; ``member(rng,
    x)`` draws one shape and returns its indicator on the node coordinates ``x``."""
    shape = as_shape(shape)
    rng = _rng(seed)
    x = _nodes(shape)
    inside = np.zeros(shape, bool)
    for _ in range(int(count)):
        inside |= member(rng, x)
    return np.where(inside, _check(contrast), 1.0)


def disk(shape: int | tuple[int, ...], contrast: float, radius: float = 0.3) -> np.ndarray:
    """One centred disk (ball in 3D) of ``K = contrast``."""
    shape = as_shape(shape)
    r2 = sum((x - 0.5) ** 2 for x in _nodes(shape))
    return np.where(r2 < radius**2, _check(contrast), 1.0)


def checkerboard(shape: int | tuple[int, ...], contrast: float, cells: int = 8) -> np.ndarray:
    """A ``cells^d`` checkerboard alternating ``1`` and ``contrast`` (corner-connected)."""
    shape = as_shape(shape)
    parity = sum(np.minimum((x * cells).astype(int), cells - 1) for x in _nodes(shape)) % 2
    return np.where(parity == 1, _check(contrast), 1.0)


def channels(shape: int | tuple[int, ...], contrast: float, *, seed: Seed, count: int = 4,
             width: float = 0.04) -> np.ndarray:
    """``count`` sinusoidal channels of width ``width`` across the domain along axis 0, with
    random offsets, amplitudes and wavenumbers (in 3D: slabs of the same profile)."""
    shape = as_shape(shape)
    rng = _rng(seed)
    x = _nodes(shape)
    K = np.ones(shape)
    for _ in range(int(count)):
        centre, amplitude = rng.uniform(0.1, 0.9), rng.uniform(0.02, 0.12)
        wavenumber, phase = rng.integers(1, 4), rng.uniform(0, 2 * np.pi)
        path = centre + amplitude * np.sin(2 * np.pi * wavenumber * x[0] + phase)
        K[np.abs(x[1] - path) < width / 2] = _check(contrast)
    return K


def inclusions(shape: int | tuple[int, ...], contrast: float, *, seed: Seed, count: int = 12,
               radii: tuple[float, float] = (0.03, 0.12)) -> np.ndarray:
    """``count`` disks (balls) of random centre and radius in ``radii`` with
    ``K = contrast``, possibly overlapping (clusters)."""
    def disk_at(rng: np.random.Generator, x: list[np.ndarray]) -> np.ndarray:
        centre, radius = rng.uniform(0, 1, len(x)), rng.uniform(*radii)
        return sum((xi - c) ** 2 for xi, c in zip(x, centre, strict=True)) < radius**2

    return _union(shape, contrast, seed, count, disk_at)


def blocks(shape: int | tuple[int, ...], contrast: float, *, seed: Seed, count: int = 10,
           sides: tuple[float, float] = (0.05, 0.3)) -> np.ndarray:
    """``count`` axis-aligned boxes of random corner and side lengths in ``sides`` with
    ``K = contrast``, possibly overlapping (sharp corners, corner contacts)."""
    def box_at(rng: np.random.Generator, x: list[np.ndarray]) -> np.ndarray:
        low = rng.uniform(0, 1, len(x))
        high = low + rng.uniform(*sides, len(x))
        return np.all([(xi >= lo) & (xi < hi) for xi, lo, hi in zip(x, low, high, strict=True)],
                      axis=0)

    return _union(shape, contrast, seed, count, box_at)


def cracks(shape: int | tuple[int, ...], contrast: float, *, seed: Seed, count: int = 8,
           length: tuple[float, float] = (0.2, 0.6), width: float = 0.03) -> np.ndarray:
    """``count`` straight segments (in 3D: capsules) of random centre, direction and length
    in ``length``, ``width`` wide, with ``K = contrast``: thin conducting (or, below one,
    insulating) paths at every angle, not only along the grid."""
    def segment_at(rng: np.random.Generator, x: list[np.ndarray]) -> np.ndarray:
        centre = rng.uniform(0.1, 0.9, len(x))
        direction = rng.standard_normal(len(x))
        direction /= np.linalg.norm(direction)
        half = rng.uniform(*length) / 2
        along = sum((xi - c) * t for xi, c, t in zip(x, centre, direction, strict=True))
        t = np.clip(along, -half, half)
        distance2 = sum((xi - c - t * v) ** 2 for xi, c, v in zip(x, centre, direction,
                                                                    strict=True))
        return distance2 < (width / 2) ** 2

    return _union(shape, contrast, seed, count, segment_at)


def tiles(shape: int | tuple[int, ...], contrast: float, *, seed: Seed,
          cells: tuple[int, int] = (3, 12)) -> np.ndarray:
    """A checkerboard of random tile sizes: each axis cut at ``c - 1`` random points, ``c``
    drawn from ``cells``, tiles alternating ``1`` and ``contrast`` (cross points, where four
    tiles meet at a corner, at random places)."""
    shape = as_shape(shape)
    rng = _rng(seed)
    parity = 0
    for x in _nodes(shape):
        cuts = np.sort(rng.uniform(0, 1, int(rng.integers(cells[0], cells[1] + 1)) - 1))
        parity = parity + np.searchsorted(cuts, x)
    return np.where(parity % 2 == 1, _check(contrast), 1.0)


#: The families by name (the random ones take ``seed``).
FAMILIES: dict[str, Callable[..., np.ndarray]] = {
    "disk": disk, "checkerboard": checkerboard, "channels": channels, "inclusions": inclusions,
    "blocks": blocks, "cracks": cracks, "tiles": tiles,
}
