r"""The paper's DCDM network: a nonlinear two-level ReLU CNN (Kaneda et al. [1]_), 2D and 3D.

A second architecture beside :class:`sciml.dcdm.model.DCDMNet` (``kind="paper"`` in a weight
file's JSON), selectable by model name (``model="paper-poisson2d"``). For a grid-shaped
residual ``r`` the network returns

.. math:: f(r) = g\left(\frac{r}{\|r\|_2}\right), \qquad
          g = \mathrm{out} \circ \mathrm{Post} \circ \bigl(\mathrm{Up} \circ \mathrm{Coarse}
          \circ \mathrm{Pool} + \mathrm{id}\bigr) \circ \mathrm{Fine} \circ \mathrm{in},

with ``C`` channels (paper: 16) at full resolution:

- ``in``: a linear 3^d convolution ``1 -> C`` (with bias), then one ReLU 3^d convolution;
- ``Fine``: ``fine_blocks`` residual blocks ``h <- h + relu(K_2 * relu(K_1 * h + c_1) + c_2)``;
- ``Pool``: 2^d average pooling (one level; odd sides edge-padded), ``Coarse``:
  ``coarse_blocks`` residual blocks at half resolution, ``Up``: nearest-neighbour upsampling
  back to the grid, added to the fine features (the skip connection);
- ``Post``: ``post_blocks`` residual blocks at full resolution;
- ``out``: a linear ``C -> 1`` map per grid point (with bias).

Unlike the shipped multilevel networks, ``g`` is *not* linear: it has ReLUs and biases, so
``g(2v) != 2 g(v)`` and ``f(r)^T r`` may vanish. The input normalisation makes ``f`` invariant
to the scale of ``r`` (``f(a r) = f(r)`` for ``a > 0``), as in the paper, where each
residual is divided by its norm before the network sees it. DCDM (:mod:`sciml.dcdm.method`)
A-orthogonalises the network's directions against the last two and takes the exact line
search step, so an iteration never increases ``||e||_A``; but if ``f(r)^T r = 0`` the step
is zero and the residual stays put (the stall discussed in ``sciml/dcdm/README.md``).

The receptive field is fixed: each 3^d convolution reaches one cell further, a coarse one
two fine cells, so one application sees about ``2 + 2 (fine_blocks + post_blocks) + 4
coarse_blocks`` cells in each direction (20 with the defaults), whatever the grid. Cost per
application: ``1 + 2 (fine_blocks + post_blocks) + 2 coarse_blocks / 2^d`` convolutions of
``C x C`` channels at full resolution (8.5 in 2D with the defaults; the shipped multilevel
network does about two single-channel ones).

References
----------
.. [1] A. Kaneda, O. Akar, J. Chen, V. A. T. Kala, D. Hyde, J. Teran, "A Deep Conjugate
   Direction Method for Iteratively Solving Linear Systems", ICML 2023, PMLR 202:15720-15736
   (the network's architecture; its training, sec. 4.2, is :mod:`sciml.dcdm.train`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from solvers.errors import InvalidOptionError

_LAYOUT = {2: ("NHWC", "HWIO", "NHWC"), 3: ("NDHWC", "DHWIO", "NDHWC")}


@dataclass(frozen=True)
class PaperConfig:
    """Hyperparameters of :class:`PaperNet` (stored in each weight file's JSON).

    Attributes
    ----------
    ndim
        2 or 3 spatial dimensions.
    channels
        Feature channels at both resolutions (paper: 16).
    fine_blocks, coarse_blocks, post_blocks
        Residual blocks (two ReLU convolutions each) before pooling, at the coarse level and
        after upsampling (paper: 1, 3, 2).
    kernel
        Convolution size per axis (odd; paper: 3).
    """

    #: The ``kind`` of a weight file holding this architecture.
    kind: ClassVar[str] = "paper"
    #: The paper's network takes no coefficient channel.
    coefficient: ClassVar[bool] = False

    ndim: int
    channels: int = 16
    fine_blocks: int = 1
    coarse_blocks: int = 3
    post_blocks: int = 2
    kernel: int = 3

    def __post_init__(self) -> None:
        if self.ndim not in (2, 3):
            raise InvalidOptionError(f"PaperConfig: ndim must be 2 or 3, not {self.ndim!r}")
        if self.channels < 1 or self.kernel % 2 != 1:
            raise InvalidOptionError(f"PaperConfig: need channels >= 1 and an odd kernel: {self}")
        if min(self.fine_blocks, self.coarse_blocks, self.post_blocks) < 0:
            raise InvalidOptionError(f"PaperConfig: block counts must be >= 0: {self}")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> PaperConfig:
        return cls(**data)


class Conv(eqx.Module):
    """A 'same' 3^d convolution with bias on a channels-last grid."""

    weight: jax.Array
    bias: jax.Array

    def __init__(self, key: jax.Array, config: PaperConfig, fan_in: int, fan_out: int,
                 gain: float = math.sqrt(2.0)) -> None:
        shape = (config.kernel,) * config.ndim + (fan_in, fan_out)
        std = gain / math.sqrt(config.kernel**config.ndim * fan_in)  # He init for ReLU
        self.weight = std * jax.random.normal(key, shape)
        self.bias = jnp.zeros((fan_out,))

    def __call__(self, x: jax.Array) -> jax.Array:
        ndim = x.ndim - 1
        out = lax.conv_general_dilated(x[None], self.weight, (1,) * ndim, "SAME",
                                       dimension_numbers=_LAYOUT[ndim])
        return out[0] + self.bias


class Block(eqx.Module):
    """Residual block ``h + relu(K_2 * relu(K_1 * h))`` (biases included)."""

    first: Conv
    second: Conv

    def __init__(self, key: jax.Array, config: PaperConfig) -> None:
        k1, k2 = jax.random.split(key)
        c = config.channels
        self.first = Conv(k1, config, c, c)
        self.second = Conv(k2, config, c, c, gain=0.5)  # near-identity blocks at first

    def __call__(self, h: jax.Array) -> jax.Array:
        return h + jax.nn.relu(self.second(jax.nn.relu(self.first(h))))


class PaperNet(eqx.Module):
    """The paper's nonlinear CNN ``f(r) = g(r / ||r||)``; see the module docstring.

    Same call signature as :class:`sciml.dcdm.model.DCDMNet`: one grid-shaped residual ``r``
    (and ``c``, ignored: no coefficient channel), a float32 array of the grid shape back.

    Examples
    --------
    >>> import jax
    >>> net = PaperNet(PaperConfig(2, channels=4), jax.random.PRNGKey(0))
    >>> r = jax.random.normal(jax.random.PRNGKey(1), (16, 16))
    >>> net(r).shape, bool(jnp.allclose(net(3 * r), net(r)))    # scale-invariant in r
    ((16, 16), True)
    >>> bool(jnp.allclose(net.unnormalised(-r), -net.unnormalised(r)))  # ReLU: not odd
    False
    """

    arch: PaperConfig = eqx.field(static=True)
    lift: Conv
    entry: Conv
    fine: tuple[Block, ...]
    coarse: tuple[Block, ...]
    post: tuple[Block, ...]
    readout: jax.Array
    readout_bias: jax.Array

    def __init__(self, arch: PaperConfig, key: jax.Array) -> None:
        counts = (arch.fine_blocks, arch.coarse_blocks, arch.post_blocks)
        keys = iter(jax.random.split(key, 3 + sum(counts)))
        c = arch.channels
        self.arch = arch
        self.lift = Conv(next(keys), arch, 1, c, gain=1.0)
        self.entry = Conv(next(keys), arch, c, c)
        self.fine, self.coarse, self.post = (
            tuple(Block(next(keys), arch) for _ in range(count)) for count in counts)
        self.readout = jax.random.normal(next(keys), (c, 1)) / math.sqrt(c)
        self.readout_bias = jnp.zeros(())

    def __call__(self, r: jax.Array, c: jax.Array | None = None) -> jax.Array:
        if r.ndim != self.arch.ndim:
            raise ValueError(
                f"expected a {self.arch.ndim}-D grid-shaped residual, got shape {r.shape}")
        r = r.astype(jnp.float32)
        norm = jnp.sqrt(jnp.sum(r * r))
        return self.unnormalised(r / jnp.where(norm > 0, norm, 1.0))

    def unnormalised(self, v: jax.Array) -> jax.Array:
        """``g(v)``: the network without the input normalisation (nonlinear in ``v``)."""
        d = self.arch.ndim
        h = jax.nn.relu(self.entry(self.lift(v.astype(jnp.float32)[..., None])))
        for block in self.fine:
            h = block(h)
        coarse = _average_pool(h, d)
        for block in self.coarse:
            coarse = block(coarse)
        h = h + _upsample(coarse, h.shape[:d])
        for block in self.post:
            h = block(h)
        return (h @ self.readout)[..., 0] + self.readout_bias

    @property
    def parameter_count(self) -> int:
        leaves = jax.tree_util.tree_leaves(eqx.filter(self, eqx.is_array))
        return int(sum(x.size for x in leaves))


def _average_pool(h: jax.Array, ndim: int) -> jax.Array:
    """2^d average pooling of a channels-last grid; odd sides are edge-padded first."""
    h = jnp.pad(h, [(0, n % 2) for n in h.shape[:ndim]] + [(0, 0)], mode="edge")
    split = [v for n in h.shape[:ndim] for v in (n // 2, 2)] + [h.shape[-1]]
    return jnp.mean(h.reshape(split), axis=tuple(range(1, 2 * ndim, 2)))


def _upsample(h: jax.Array, grid: tuple[int, ...]) -> jax.Array:
    """Nearest-neighbour 2x upsampling, cropped to ``grid``."""
    for axis, n in enumerate(grid):
        h = lax.slice_in_dim(jnp.repeat(h, 2, axis=axis), 0, n, axis=axis)
    return h


def skeleton(arch: PaperConfig) -> PaperNet:
    """The network of ``arch`` with uninitialised NumPy leaves, to read weights into.

    As :func:`sciml.dcdm.model.skeleton`: the structure from an abstract trace of the
    initialisation, no JAX computation.
    """
    shapes = eqx.filter_eval_shape(PaperNet, arch, jax.ShapeDtypeStruct((2,), jnp.uint32))
    return jax.tree_util.tree_map(lambda s: np.empty(s.shape, s.dtype), shapes)
