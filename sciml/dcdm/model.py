"""The DCDM network: a fully convolutional multilevel CNN approximating ``A^{-1}`` up to scale.

Kaneda et al. [1]_ use a two-level U-Net (3x3x3 convolutions, 16 channels, one average-pool
level, about 100k parameters) whose every layer runs at the full resolution. On a CPU that
design is too slow for large grids (one 16-channel 3x3x3 convolution on 128^3 takes about 4 s
on two cores), and one level of pooling limits its receptive field, so the iteration count
grows with the grid. This network keeps the ingredients (3^d convolutions, ReLU residual
blocks, pooling, skip connections, no data) but arranges them like a multigrid V-cycle:

- **fine level** (the input grid, one channel, linear): a local approximate inverse
  ``s = g * (k_pre (*) r)`` (a learned 3^d filter, ``g = exp(-c)`` a Jacobi-like scaling by
  the coefficient channel ``c``, ``g = 1`` for Poisson), and
  ``out = s + k_post (*) P_0 z_1`` with the coarse-level result ``z_1``;
- **hidden levels** 1, 2, ... (``widths[l]`` channels): a pre block, restriction to the next
  level, the recursion, prolongation added as a skip connection, a post block::

      y <- y + B_pre(y, c_l);  y <- y + P_l V_{l+1}(R_l y, c_{l+1});  y <- y + B_post(y, c_l)

  with ``B(y, c) = W_b (*) relu(W_a (*) [y, c])`` (3^d convolutions), restriction ``R_l`` a
  stride-2 ``2^d`` convolution and prolongation ``P_l`` its transpose-shaped counterpart;
- levels are added until the grid is at most ``min_size`` points wide, and every level
  deeper than ``len(widths)`` **reuses the weights of the last one**. The network is
  therefore self-similar and defined on every grid size, and its receptive field always
  covers the whole grid: the same weights serve 32^3 and 128^3.

There are no biases, so for the Poisson models (no coefficient channel) the network is
positively homogeneous, ``f(a r) = a f(r)`` for ``a > 0``, and ``f(0) = 0``. The input is the
residual scaled to unit root-mean-square, which makes the coefficient channel's relative size
independent of the grid.

References
----------
.. [1] A. Kaneda, O. Akar, J. Chen, V. A. T. Kala, D. Hyde, J. Teran, "A Deep Conjugate
   Direction Method for Iteratively Solving Linear Systems", ICML 2023, PMLR 202:15720-15736.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

_DIMENSION_NUMBERS = {
    2: ("NHWC", "HWIO", "NHWC"),
    3: ("NDHWC", "DHWIO", "NDHWC"),
}


@dataclass(frozen=True)
class Architecture:
    """Hyperparameters of :class:`DCDMNet` (stored in each weight file's JSON).

    Attributes
    ----------
    ndim
        2 or 3 spatial dimensions.
    coefficient
        Whether the network takes the coefficient channel (variable-coefficient families).
    widths
        Channels of hidden levels 1, 2, ...; deeper levels reuse the last level's weights.
    min_size
        Stop coarsening once the smallest grid side is at most this.
    kernel
        Convolution size per axis (odd).
    """

    ndim: int
    coefficient: bool = False
    widths: tuple[int, ...] = (16,)
    min_size: int = 4
    kernel: int = 3

    def __post_init__(self) -> None:
        if self.ndim not in (2, 3):
            raise ValueError(f"ndim must be 2 or 3, not {self.ndim!r}")
        if not self.widths or min(self.widths) < 1:
            raise ValueError(f"widths must be a non-empty tuple of positive ints: {self.widths}")
        if self.kernel % 2 != 1:
            raise ValueError(f"kernel must be odd, not {self.kernel}")
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Architecture:
        data = dict(data)
        data["widths"] = tuple(data["widths"])
        return cls(**data)


def _normal(key: jax.Array, shape: tuple[int, ...], fan_in: int, gain: float = 1.0) -> jax.Array:
    return gain * jax.random.normal(key, shape, jnp.float32) / math.sqrt(fan_in)


def _delta(kernel: int, ndim: int) -> jax.Array:
    """The identity filter: 1 at the centre of a ``kernel^ndim`` stencil."""
    k = jnp.zeros((kernel,) * ndim, jnp.float32)
    return k.at[(kernel // 2,) * ndim].set(1.0)


class HiddenLevel(eqx.Module):
    """Weights of one hidden level: two residual blocks and the transfer to the next level."""

    pre_a: jax.Array
    pre_b: jax.Array
    post_a: jax.Array
    post_b: jax.Array
    restrict: jax.Array
    prolong: jax.Array

    def __init__(self, key: jax.Array, arch: Architecture, width: int, coarse: int) -> None:
        d, k = arch.ndim, arch.kernel
        c_in = width + int(arch.coefficient)
        taps = k**d
        keys = jax.random.split(key, 6)
        self.pre_a = _normal(keys[0], (k,) * d + (c_in, width), taps * c_in, math.sqrt(2))
        self.pre_b = _normal(keys[1], (k,) * d + (width, width), taps * width, 0.1)
        self.post_a = _normal(keys[2], (k,) * d + (c_in, width), taps * c_in, math.sqrt(2))
        self.post_b = _normal(keys[3], (k,) * d + (width, width), taps * width, 0.1)
        self.restrict = _normal(keys[4], (2**d * width, coarse), 2**d * width)
        self.prolong = _normal(keys[5], (coarse, 2**d * width), coarse)


class DCDMNet(eqx.Module):
    """Multilevel CNN ``f(r) ~ A^{-1} r`` (up to a scalar) for DCDM; see the module docstring.

    Call it on one grid-shaped residual ``r`` (shape ``grid``) and, for a coefficient model, the
    coefficient channel ``c`` (same shape); it returns a float32 array of the grid shape.
    Batch with :func:`jax.vmap`.
    """

    arch: Architecture = eqx.field(static=True)
    k_pre: jax.Array
    k_post: jax.Array
    restrict0: jax.Array
    prolong0: jax.Array
    levels: tuple[HiddenLevel, ...]

    def __init__(self, arch: Architecture, key: jax.Array) -> None:
        d, k = arch.ndim, arch.kernel
        keys = jax.random.split(key, 3 + len(arch.widths))
        self.arch = arch
        self.k_pre = _delta(k, d) + 0.01 * jax.random.normal(keys[0], (k,) * d)
        self.k_post = _delta(k, d)
        w1 = arch.widths[0]
        self.restrict0 = _normal(keys[1], (2**d, w1), 2**d)
        self.prolong0 = _normal(keys[2], (w1, 2**d), w1)
        widths = arch.widths
        self.levels = tuple(
            HiddenLevel(keys[3 + i], arch, w, widths[min(i + 1, len(widths) - 1)])
            for i, w in enumerate(widths)
        )

    def __call__(self, r: jax.Array, c: jax.Array | None = None) -> jax.Array:
        d = self.arch.ndim
        if r.ndim != d:
            raise ValueError(f"expected a {d}-D grid-shaped residual, got shape {r.shape}")
        if self.arch.coefficient and c is None:
            raise ValueError("this network needs the coefficient channel c")
        c = c if self.arch.coefficient else None
        r = r.astype(jnp.float32)
        c = None if c is None else c.astype(jnp.float32)
        s = _filter(r, self.k_pre)
        if c is not None:
            s = s * jnp.exp(-c)
        if min(r.shape) < 2:
            return s
        y = _space_to_depth(r[..., None], d) @ self.restrict0
        z = self._level(y, None if c is None else _pool(c, d), 0)
        e = _depth_to_space(z @ self.prolong0, d, 1, r.shape)[..., 0]
        return s + _filter(e, self.k_post)

    def _level(self, y: jax.Array, c: jax.Array | None, depth: int) -> jax.Array:
        """One hidden level (recursive): pre block, coarse correction, post block."""
        weights = self.levels[min(depth, len(self.levels) - 1)]
        d = self.arch.ndim
        y = y + _block(y, c, weights.pre_a, weights.pre_b, d)
        if min(y.shape[:d]) > self.arch.min_size:
            coarse = _space_to_depth(y, d) @ weights.restrict
            z = self._level(coarse, None if c is None else _pool(c, d), depth + 1)
            y = y + _depth_to_space(z @ weights.prolong, d, y.shape[-1], y.shape[:d])
        return y + _block(y, c, weights.post_a, weights.post_b, d)

    @property
    def parameter_count(self) -> int:
        leaves = jax.tree_util.tree_leaves(eqx.filter(self, eqx.is_array))
        return int(sum(x.size for x in leaves))


def _conv(x: jax.Array, w: jax.Array, ndim: int) -> jax.Array:
    """'Same' convolution of a channels-last grid ``x`` with ``w`` (spatial..., in, out)."""
    out = lax.conv_general_dilated(x[None], w, (1,) * ndim, "SAME",
                                   dimension_numbers=_DIMENSION_NUMBERS[ndim])
    return out[0]


def _block(y: jax.Array, c: jax.Array | None, wa: jax.Array, wb: jax.Array,
           ndim: int) -> jax.Array:
    """Residual branch ``W_b (*) relu(W_a (*) [y, c])``."""
    inputs = y if c is None else jnp.concatenate([y, c[..., None]], axis=-1)
    return _conv(jax.nn.relu(_conv(inputs, wa, ndim)), wb, ndim)


def _filter(u: jax.Array, kernel: jax.Array) -> jax.Array:
    """Single-channel 'same' convolution as shifted multiply-adds (fast for one channel)."""
    k = kernel.shape[0]
    half = k // 2
    padded = jnp.pad(u, half)
    out = jnp.zeros_like(u)
    for offset in itertools.product(range(k), repeat=u.ndim):
        window = tuple(slice(o, o + n) for o, n in zip(offset, u.shape, strict=True))
        out = out + kernel[offset] * padded[window]
    return out


def _space_to_depth(x: jax.Array, ndim: int) -> jax.Array:
    """``(n_1, ..., n_d, C) -> (ceil(n_1/2), ..., 2^d C)``, zero-padding odd sides."""
    grid, channels = x.shape[:ndim], x.shape[-1]
    pad = [(0, n % 2) for n in grid] + [(0, 0)]
    x = jnp.pad(x, pad)
    half = [(n + 1) // 2 for n in grid]
    x = x.reshape([v for h in half for v in (h, 2)] + [channels])
    order = [2 * a for a in range(ndim)] + [2 * a + 1 for a in range(ndim)] + [2 * ndim]
    return x.transpose(order).reshape(half + [2**ndim * channels])


def _depth_to_space(x: jax.Array, ndim: int, channels: int,
                    grid: tuple[int, ...]) -> jax.Array:
    """Inverse of :func:`_space_to_depth`, cropped to ``grid``."""
    half = x.shape[:ndim]
    x = x.reshape(list(half) + [2] * ndim + [channels])
    order = [v for a in range(ndim) for v in (a, ndim + a)] + [2 * ndim]
    x = x.transpose(order).reshape([2 * h for h in half] + [channels])
    return x[tuple(slice(0, n) for n in grid)]


def _pool(c: jax.Array, ndim: int) -> jax.Array:
    """2^d average of the coefficient channel (edge-padded on odd sides)."""
    pad = [(0, n % 2) for n in c.shape]
    blocks = _space_to_depth(jnp.pad(c, pad, mode="edge")[..., None], ndim)
    return jnp.mean(blocks, axis=-1)
