"""Seeded random parameter fields on the gallery grids: Gaussian and log-normal fields.

Fields live on the interior nodes of the unit square/cube used by :mod:`operators.gallery`
(``n`` nodes per axis, spacing ``h = 1/(n+1)``), so a field of shape ``shape`` can be passed
straight to :func:`operators.diffusion`. Every function takes a required keyword ``seed``
(anything :func:`numpy.random.default_rng` accepts, except ``None``); equal seeds give equal
fields on every platform that NumPy's PCG64 generator supports.

References
----------
.. [1] A. Lang, J. Potthoff, "Fast simulation of Gaussian random fields", Monte Carlo Methods
   Appl. 17 (2011) 195-214.
.. [2] K. A. Cliffe, M. B. Giles, R. Scheichl, A. L. Teckentrup, "Multilevel Monte Carlo
   methods and applications to elliptic PDEs with random coefficients", Comput. Visual. Sci.
   14 (2011) 3-15.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.fft

from operators.assembly import grid_spacing
from operators.gallery import diffusion
from operators.problem import GridProblem
from operators.validate import as_real, as_shape, choice

Seed = int | np.random.SeedSequence | np.random.Generator


def _gaussian_spectrum(k2: np.ndarray, length_scale: float, ndim: int, nu: float) -> np.ndarray:
    """Squared exponential ``C(r) = exp(-r^2 / (2 l^2))``: density ``exp(-l^2 |k|^2 / 2)``."""
    return np.exp(-0.5 * length_scale**2 * k2)


def _matern_spectrum(k2: np.ndarray, length_scale: float, ndim: int, nu: float) -> np.ndarray:
    """Matern(nu): density proportional to ``(2 nu / l^2 + |k|^2)^-(nu + d/2)``."""
    return (2 * nu / length_scale**2 + k2) ** (-(nu + ndim / 2))


def _exponential_spectrum(k2: np.ndarray, length_scale: float, ndim: int, nu: float) -> np.ndarray:
    """Exponential ``C(r) = exp(-r / l)``: the Matern density with ``nu = 1/2``."""
    return _matern_spectrum(k2, length_scale, ndim, 0.5)


#: Spectral densities by kernel name, up to a constant factor (the field is normalised).
KERNELS: dict[str, Callable[[np.ndarray, float, int, float], np.ndarray]] = {
    "gaussian": _gaussian_spectrum,
    "matern": _matern_spectrum,
    "exponential": _exponential_spectrum,
}


def _rng(seed: Seed) -> np.random.Generator:
    """``default_rng(seed)``, refusing ``None`` so that every field can be reproduced."""
    if seed is None:
        raise ValueError("seed is required so the field can be reproduced; pass e.g. seed=0")
    return np.random.default_rng(seed)


def _padded_shape(
    shape: tuple[int, ...], spacing: tuple[float, ...], length_scale: float, periodic: bool
) -> tuple[int, ...]:
    """FFT grid: the field's grid plus ``4 l`` (at most doubling) to hide the periodic wrap."""
    if periodic:
        return shape
    pad = [min(n, math.ceil(4 * length_scale / h)) for n, h in zip(shape, spacing, strict=True)]
    return tuple(scipy.fft.next_fast_len(n + p, real=True) for n, p in zip(shape, pad, strict=True))


def _wavenumbers(padded: tuple[int, ...], spacing: tuple[float, ...]) -> list[np.ndarray]:
    """Angular wave numbers per axis, broadcastable, on the :func:`scipy.fft.rfftn` grid."""
    ks = []
    last = len(padded) - 1
    for a, (m, h) in enumerate(zip(padded, spacing, strict=True)):
        freq = scipy.fft.rfftfreq(m, h) if a == last else scipy.fft.fftfreq(m, h)
        ks.append((2 * np.pi * freq).reshape([-1 if i == a else 1 for i in range(len(padded))]))
    return ks


def _aliased_spectrum(
    density: Callable[[np.ndarray], np.ndarray], ks: list[np.ndarray], spacing: tuple[float, ...]
) -> np.ndarray:
    """``S(k)`` on the grid, plus its first aliases ``S(k + 2 pi m / h)``, ``|m_a| <= 1``.

    A grid with spacing ``h`` cannot hold wave numbers beyond ``pi / h``; their power folds
    back onto the resolved ones. Adding the nearest aliases keeps the short-lag
    correlation of rough kernels (exponential, Matern with small ``nu``) close to the
    kernel's; for smooth kernels the aliases are negligible and skipped.
    """
    nyquist = sum(np.pi**2 / h**2 for h in spacing)
    rough = density(np.array(nyquist)) > 1e-12 * density(np.array(0.0))
    shifts = itertools.product((-1, 0, 1), repeat=len(ks)) if rough else [(0,) * len(ks)]
    S = 0.0
    for m in shifts:
        terms = zip(ks, m, spacing, strict=True)
        S = S + density(sum((k + 2 * np.pi * j / h) ** 2 for k, j, h in terms))
    return S


def _half_spectrum_weights(m: int) -> np.ndarray:
    """How often each rfft bin of a length-``m`` axis occurs in the full spectrum."""
    w = np.full(m // 2 + 1, 2.0)
    w[0] = 1.0
    if m % 2 == 0:
        w[-1] = 1.0
    return w


def gaussian_random_field(
    shape: int | tuple[int, ...],
    *,
    seed: Seed,
    length_scale: float = 0.1,
    variance: float = 1.0,
    mean: float = 0.0,
    kernel: str = "gaussian",
    nu: float = 1.5,
    periodic: bool = False,
) -> np.ndarray:
    r"""Stationary Gaussian random field on the interior grid, by FFT spectral synthesis.

    White noise ``xi`` on a periodic grid is filtered in Fourier space,
    ``g = IFFT(sqrt(P) * FFT(xi))``, where ``P_k`` samples the kernel's spectral density
    ``S(|k|)`` at the wave numbers of the grid [1]_ (plus the nearest aliases for rough
    kernels, whose power beyond the grid's Nyquist frequency is not negligible). Then ``g``
    is a stationary Gaussian field whose covariance is the periodised kernel; ``P`` is
    scaled so that
    ``Var(g_x) = (1/N) sum_k P_k = variance`` exactly. Unless ``periodic``, the FFT grid is
    padded by ``4 * length_scale`` per axis (at most doubling it) and cropped, so the
    periodic wrap-around does not correlate opposite sides of the domain.

    Kernels (``C(r)`` the covariance at distance ``r``, ``l = length_scale``):

    - ``"gaussian"``: ``C(r) = variance * exp(-r^2 / (2 l^2))``, smooth fields;
    - ``"matern"``: Matern with smoothness ``nu``,
      ``S(k) ~ (2 nu / l^2 + |k|^2)^{-(nu + d/2)}``;
    - ``"exponential"``: ``C(r) = variance * exp(-r / l)`` (Matern ``nu = 1/2``), rough fields.

    Parameters
    ----------
    shape
        Interior grid (1 to 3 axes); an int means a square 2D grid.
    seed
        Required: int, :class:`numpy.random.SeedSequence` or :class:`numpy.random.Generator`.
    length_scale
        Correlation length ``l`` in units of the unit domain (``> 0``).
    variance
        Point variance ``sigma^2 >= 0``.
    mean
        Constant mean added to the field.
    kernel
        ``"gaussian"``, ``"matern"`` or ``"exponential"``.
    nu
        Matern smoothness (``kernel="matern"`` only), ``> 0``.
    periodic
        Synthesize on the grid itself (a periodic field) instead of a padded grid.

    Returns
    -------
    numpy.ndarray
        Float64 array of shape ``shape``.

    Examples
    --------
    >>> g = gaussian_random_field((64, 64), seed=0)
    >>> g.shape, bool(np.array_equal(g, gaussian_random_field((64, 64), seed=0)))
    ((64, 64), True)
    """
    shape = as_shape(shape)
    spectrum = choice(kernel, KERNELS, "kernel")
    length_scale = as_real(length_scale, "length_scale")
    if length_scale <= 0:
        raise ValueError(f"length_scale must be positive, not {length_scale}")
    variance = as_real(variance, "variance", minimum=0.0)
    mean = as_real(mean, "mean")
    nu = as_real(nu, "nu")
    if nu <= 0:
        raise ValueError(f"nu must be positive, not {nu}")
    rng = _rng(seed)
    spacing = grid_spacing(shape)
    padded = _padded_shape(shape, spacing, length_scale, periodic)
    ks = _wavenumbers(padded, spacing)
    S = _aliased_spectrum(lambda k2: spectrum(k2, length_scale, len(shape), nu), ks, spacing)
    total = float(np.sum(S * _half_spectrum_weights(padded[-1])))  # sum over the full spectrum
    amplitude = np.sqrt(variance * math.prod(padded) / total * S)  # (1/N) sum_k P_k = variance
    noise = rng.standard_normal(padded)
    field = scipy.fft.irfftn(scipy.fft.rfftn(noise) * amplitude, s=padded)
    return mean + field[tuple(slice(0, n) for n in shape)]


def lognormal_coefficient(
    shape: int | tuple[int, ...],
    *,
    seed: Seed,
    length_scale: float = 0.1,
    variance: float = 1.0,
    mean: float = 0.0,
    kernel: str = "gaussian",
    nu: float = 1.5,
    periodic: bool = False,
) -> np.ndarray:
    """Log-normal coefficient ``K = exp(g)``, ``g`` a :func:`gaussian_random_field`.

    The standard random-coefficient model for groundwater flow and uncertainty
    quantification [2]_: ``K`` is positive and finite, with median ``exp(mean)`` and
    contrast ``max K / min K`` growing with ``variance`` (about ``exp(6 sigma)`` on a large
    grid). The arguments are those of :func:`gaussian_random_field`.

    Examples
    --------
    >>> K = lognormal_coefficient((32, 32), seed=1, variance=0.5)
    >>> bool(K.min() > 0)
    True
    """
    return np.exp(
        gaussian_random_field(
            shape, seed=seed, length_scale=length_scale, variance=variance, mean=mean,
            kernel=kernel, nu=nu, periodic=periodic,
        )
    )


def random_diffusion(
    shape: int | tuple[int, ...],
    *,
    seed: Seed,
    rhs: np.ndarray | None = None,
    length_scale: float = 0.1,
    variance: float = 1.0,
    mean: float = 0.0,
    kernel: str = "gaussian",
    nu: float = 1.5,
    periodic: bool = False,
) -> GridProblem:
    """``-div(K grad u) = f`` with a seeded log-normal ``K`` (:func:`lognormal_coefficient`).

    Returns :func:`operators.diffusion` of the field; ``params`` records the seed and the
    field parameters, so ``random_diffusion(shape, **{k: p.params[k] for k in ...})``
    rebuilds the same problem.

    Examples
    --------
    >>> p = random_diffusion((16, 16), seed=3)
    >>> p.kind, p.params["seed"], p.positive_definite
    ('diffusion', 3, True)
    """
    options: dict[str, Any] = {
        "length_scale": length_scale, "variance": variance, "mean": mean,
        "kernel": kernel, "nu": nu, "periodic": periodic,
    }
    K = lognormal_coefficient(shape, seed=seed, **options)
    p = diffusion(K, rhs)
    p.params.update(seed=seed, field="lognormal", **options)
    return p
