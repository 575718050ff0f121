r"""Fourier neural operator (FNO) in two dimensions.

The network maps an input field ``a`` (``in_channels`` x H x W) to ``u`` by

.. math:: v_0 = P(a, x), \qquad
          v_{l+1} = \sigma\big(W_l v_l + \mathcal{F}^{-1}(R_l \cdot \mathcal{F} v_l)\big),
          \qquad u = Q(v_L),

with ``x`` the node coordinates (positional features, optional), ``P`` the lifting and ``Q``
the projection (pointwise two-layer MLPs with hidden widths ``lifting_ratio * width`` and
``projection_ratio * width``), ``W_l`` a pointwise linear map, ``sigma`` the GELU (not after
the last layer) and ``R_l`` a complex ``width x width`` matrix per retained Fourier mode: the
``modes`` lowest frequencies along each axis (``kx`` in ``[0, m)`` and ``[-m, 0)``, ``ky`` in
``[0, m)`` of the real FFT); higher modes are dropped. The complex weights are stored as
real/imaginary pairs (``SpectralConv2d.weight[..., 0/1]``), so every leaf is a real array
(optax, serialisation). The transforms use NumPy's normalisation (unnormalised forward,
``1/N`` inverse), which makes the spectral layer independent of the grid: a model trained on one
resolution evaluates on any grid with at least ``2 * modes`` nodes per axis [1]_.

References
----------
.. [1] Z. Li, N. Kovachki, K. Azizzadenesheli, B. Liu, K. Bhattacharya, A. Stuart,
   A. Anandkumar, "Fourier neural operator for parametric partial differential equations",
   ICLR 2021.

Examples
--------
>>> import jax
>>> net = FNO(FNOConfig(modes=4, width=8), seed=0)
>>> net(jax.numpy.ones((1, 16, 16))).shape, net(jax.numpy.ones((1, 24, 20))).shape
((1, 16, 16), (1, 24, 20))
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from sciml.neural_operators.layers import Pointwise, node_coordinates
from solvers.errors import InvalidOptionError

__all__ = ["FNO", "FNOConfig", "SpectralConv2d"]


@dataclass(frozen=True)
class FNOConfig:
    """Architecture of an :class:`FNO` (stored with saved models)."""

    modes: int = 12
    width: int = 32
    layers: int = 4
    in_channels: int = 1
    out_channels: int = 1
    lifting_ratio: int = 2
    projection_ratio: int = 4
    positional: bool = True

    def __post_init__(self) -> None:
        for name in ("modes", "width", "layers", "in_channels", "out_channels"):
            if getattr(self, name) < 1:
                raise InvalidOptionError(f"FNO {name} must be >= 1, not {getattr(self, name)}")


class SpectralConv2d(eqx.Module):
    """``F^{-1}(R F v)`` on the ``modes`` lowest frequencies per axis (see :mod:`fno`).

    Only ``2 modes x modes`` coefficients of the real FFT survive, so the transform is
    computed as a truncated DFT, four real matrix products per direction
    (``O(H W modes)`` per channel, with the BLAS speed of a matrix product), instead of a full
    ``rfft2``/``irfft2`` pair; the result is the same to rounding (tested against
    :func:`jax.numpy.fft.rfft2`), and 2-3x faster on a CPU at 64 x 64 with 8 modes.
    """

    weight: jax.Array  # (in, out, kx: m low then m high, ky: m, re/im)
    modes: int = eqx.field(static=True)

    def __init__(self, in_channels: int, out_channels: int, modes: int,
                 rng: np.random.Generator) -> None:
        scale = 1.0 / (in_channels * out_channels)
        self.weight = jnp.asarray(
            scale * rng.random((in_channels, out_channels, 2 * modes, modes, 2)), jnp.float32)
        self.modes = modes

    def __call__(self, v: jax.Array) -> jax.Array:
        _, H, W = v.shape
        m = self.modes
        if 2 * m > H or m > W // 2 + 1:
            raise InvalidOptionError(
                f"an FNO with modes={m} needs a grid of at least {2 * m} x {2 * m - 2} nodes, "
                f"got {H} x {W}; evaluate on a finer grid")
        cx, sx, cy, sy, icy, isy = (jnp.asarray(t, v.dtype) for t in _dft_tables(H, W, m))
        wr, wi = self.weight[..., 0], self.weight[..., 1]
        # forward: F[kx, ky] = sum_{h,w} v[h, w] exp(-2 pi i (kx h / H + ky w / W))
        ar, ai = v @ cy, v @ sy
        br = jnp.einsum("xh,chy->cxy", cx, ar) - jnp.einsum("xh,chy->cxy", sx, ai)
        bi = jnp.einsum("xh,chy->cxy", cx, ai) + jnp.einsum("xh,chy->cxy", sx, ar)
        # the learned complex matrix per mode
        pr = jnp.einsum("ixy,ioxy->oxy", br, wr) - jnp.einsum("ixy,ioxy->oxy", bi, wi)
        pi = jnp.einsum("ixy,ioxy->oxy", br, wi) + jnp.einsum("ixy,ioxy->oxy", bi, wr)
        # inverse: irfft2 of the zero-padded coefficients
        zr = jnp.einsum("xh,oxy->ohy", cx, pr) + jnp.einsum("xh,oxy->ohy", sx, pi)
        zi = jnp.einsum("xh,oxy->ohy", cx, pi) - jnp.einsum("xh,oxy->ohy", sx, pr)
        return zr @ icy - zi @ isy


@functools.lru_cache(maxsize=32)
def _dft_tables(H: int, W: int, m: int) -> tuple[np.ndarray, ...]:
    """Cosine/sine tables of the truncated forward DFT (``cx, sx``: ``2m x H`` for
    ``kx = 0..m-1, H-m..H-1``; ``cy, sy``: ``W x m``) and of the inverse real DFT along the
    last axis (``icy, isy``: ``m x W``, with the ``1/(H W)`` and the Hermitian weight 2 for
    ``0 < ky < W/2`` folded in)."""
    kx = np.r_[0:m, H - m:H]
    ky = np.arange(m)
    ax = -2 * np.pi * np.outer(kx, np.arange(H)) / H
    ay = -2 * np.pi * np.outer(np.arange(W), ky) / W
    weight = np.where((ky == 0) | (2 * ky == W), 1.0, 2.0)[:, None] / (H * W)
    return (np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), weight * np.cos(ay.T),
            -weight * np.sin(ay.T))


def _mlp(sizes: tuple[int, ...], rng: np.random.Generator) -> list[Pointwise]:
    return [Pointwise(a, b, rng) for a, b in zip(sizes[:-1], sizes[1:], strict=False)]


def _apply_mlp(layers: list[Pointwise], v: jax.Array) -> jax.Array:
    for i, layer in enumerate(layers):
        v = layer(v)
        if i < len(layers) - 1:
            v = jax.nn.gelu(v)
    return v


class FNO(eqx.Module):
    """Two-dimensional Fourier neural operator (see the module docstring for the math)."""

    lift: list[Pointwise]
    spectral: list[SpectralConv2d]
    skip: list[Pointwise]
    project: list[Pointwise]
    config: FNOConfig = eqx.field(static=True)

    def __init__(self, config: FNOConfig, *, seed: int = 0) -> None:
        c = config
        rng = np.random.default_rng(seed)
        inputs = c.in_channels + (2 if c.positional else 0)
        lift = (inputs, c.lifting_ratio * c.width, c.width) if c.lifting_ratio else \
            (inputs, c.width)
        self.lift = _mlp(lift, rng)
        self.spectral = [SpectralConv2d(c.width, c.width, c.modes, rng) for _ in range(c.layers)]
        self.skip = [Pointwise(c.width, c.width, rng) for _ in range(c.layers)]
        self.project = _mlp((c.width, c.projection_ratio * c.width, c.out_channels), rng)
        self.config = config

    def __call__(self, a: jax.Array) -> jax.Array:
        """``u = FNO(a)`` for one sample ``a`` of shape ``(in_channels, H, W)``."""
        if self.config.positional:
            a = jnp.concatenate([a, node_coordinates(a.shape[1:], a.dtype)])
        v = _apply_mlp(self.lift, a)
        for i, (spectral, skip) in enumerate(zip(self.spectral, self.skip, strict=True)):
            v = spectral(v) + skip(v)
            if i < len(self.spectral) - 1:
                v = jax.nn.gelu(v)
        return _apply_mlp(self.project, v)
