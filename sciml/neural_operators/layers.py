"""Building blocks shared by the neural operators: 1x1 and 3x3/4x4 convolutions, node
coordinates.

Every model here maps one sample, an array of shape ``(channels, H, W)``, to another; batches
go through :func:`jax.vmap`. Weights are drawn from a NumPy generator
(:func:`numpy.random.default_rng` of the model's seed), uniform in ``+-1/sqrt(fan_in)`` as in
PyTorch and equinox: drawing them with ``jax.random`` would compile one XLA program per array
shape, minutes for an MgNO on a busy CPU, for the same distribution.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Conv2d", "Pointwise", "node_coordinates", "uniform"]


def uniform(rng: np.random.Generator, shape: tuple[int, ...], bound: float) -> jax.Array:
    """A float32 array uniform in ``[-bound, bound)``."""
    return jnp.asarray(rng.uniform(-bound, bound, size=shape), dtype=jnp.float32)


class Pointwise(eqx.Module):
    """``y[o] = sum_i W[o, i] x[i] + b[o]`` at every node (a 1x1 convolution)."""

    weight: jax.Array
    bias: jax.Array | None

    def __init__(self, in_channels: int, out_channels: int, rng: np.random.Generator,
                 bias: bool = True) -> None:
        bound = 1.0 / math.sqrt(in_channels)
        self.weight = uniform(rng, (out_channels, in_channels), bound)
        self.bias = uniform(rng, (out_channels,), bound) if bias else None

    def __call__(self, x: jax.Array) -> jax.Array:
        y = jnp.einsum("oi,i...->o...", self.weight, x)
        if self.bias is not None:
            y = y + self.bias.reshape((-1,) + (1,) * (x.ndim - 1))
        return y


class Conv2d(eqx.Module):
    """Zero-padded ``kernel x kernel`` convolution with ``stride`` and padding
    ``(kernel - 1) // 2`` (``n`` nodes -> ``ceil(n / stride)``); with ``transpose=True`` its
    transpose with padding ``(kernel - stride) // 2`` (``n`` -> ``stride n``; PyTorch's
    ``ConvTranspose2d(kernel=4, stride=2, padding=1)`` for the MgNO prolongation)."""

    weight: jax.Array  # (out, in, kernel, kernel)
    bias: jax.Array | None
    stride: int = eqx.field(static=True)
    transpose: bool = eqx.field(static=True)

    def __init__(self, in_channels: int, out_channels: int, kernel: int,
                 rng: np.random.Generator, *, stride: int = 1, transpose: bool = False,
                 bias: bool = False) -> None:
        fan_in = (out_channels if transpose else in_channels) * kernel**2
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = uniform(rng, (out_channels, in_channels, kernel, kernel), bound)
        self.bias = uniform(rng, (out_channels,), bound) if bias else None
        self.stride, self.transpose = stride, transpose

    def __call__(self, x: jax.Array) -> jax.Array:
        k, s = self.weight.shape[-1], self.stride
        if self.transpose:
            p = k - 1 - (k - s) // 2
            y = jax.lax.conv_general_dilated(x[None], self.weight, (1, 1), [(p, p), (p, p)],
                                             lhs_dilation=(s, s))[0]
        else:
            p = (k - 1) // 2
            y = jax.lax.conv_general_dilated(x[None], self.weight, (s, s), [(p, p), (p, p)])[0]
        return y if self.bias is None else y + self.bias[:, None, None]


def node_coordinates(shape: tuple[int, int], dtype: jnp.dtype = jnp.float32) -> jax.Array:
    """``(2, H, W)`` coordinates ``((i+1)/(H+1), (j+1)/(W+1))`` of the interior nodes of the
    unit square, the grid of :mod:`operators.gallery`."""
    x = jnp.arange(1, shape[0] + 1, dtype=dtype) / (shape[0] + 1)
    y = jnp.arange(1, shape[1] + 1, dtype=dtype) / (shape[1] + 1)
    gx, gy = jnp.meshgrid(x, y, indexing="ij")
    return jnp.stack([gx, gy])
