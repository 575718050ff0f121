r"""Multigrid neural operator (MgNO) in two dimensions.

Each of the ``layers`` layers maps ``u`` to ``GELU(MgConv(u) + W u)`` (``W`` a pointwise
linear map with bias); the first layer reads the input field ``a`` itself (no lifting) and a
3x3 convolution maps the last layer's channels to the output (no projection MLP) [1]_.

``MgConv(f)`` is one V-cycle for an unknown linear operator, every operator a learned
convolution without bias, zero padded (the zero Dirichlet boundary of our grids). On level
``l`` (grid ``H/2^l x W/2^l``, ``l = 0, ..., levels-1``), with ``A_l``, ``S_l`` 3x3
convolutions:

.. math:: u^0 \leftarrow S(f^0) \quad\text{then}\quad
          u^l \leftarrow u^l + S_l(f^l - A_l u^l) \quad (\text{pre\_smooth times}),

          f^{l+1} = R_l(f^l - A_l u^l), \qquad u^{l+1} = \Pi_l u^l
          \quad (\text{stride-2 3x3 convolutions}),

and on the way up, from the coarsest level,

.. math:: u^l \leftarrow u^l + P_l u^{l+1} \quad (\text{stride-2 4x4 transposed convolution}),
          \qquad u^l \leftarrow u^l + S_l(f^l - A_l u^l) \quad (\text{post\_smooth times}).

The output is ``u^0``. The residual ``f^l - A_l u^l`` is what is restricted, as in a
multigrid solver (MgNet, [2]_).

Grids: the stride-2 convolutions map ``n`` nodes to ``ceil(n/2)`` and the transposed ones
``m`` to ``2m``, so both sides of the grid must be divisible by ``2^(levels-1)`` (with the
default 5 levels: 16, 32, 48, 64, 96, 128, ...). A model trained on one such grid evaluates on
any other (its convolutions are local; the coarsest grid of a 32 x 32 input is 2 x 2).

References
----------
.. [1] J. He, X. Liu, J. Xu, "MgNO: Efficient parameterization of linear operators via
   multigrid", ICLR 2024.
.. [2] J. He, J. Xu, "MgNet: A unified framework of multigrid and convolutional neural
   network", Sci. China Math. 62 (2019) 1331-1354.

Examples
--------
>>> import jax
>>> net = MgNO(MgNOConfig(channels=4, layers=2, levels=3), seed=0)
>>> net(jax.numpy.ones((1, 16, 16))).shape, net(jax.numpy.ones((1, 8, 12))).shape
((1, 16, 16), (1, 8, 12))
"""

from __future__ import annotations

from dataclasses import dataclass

import equinox as eqx
import jax
import numpy as np

from sciml.neural_operators.layers import Conv2d, Pointwise
from solvers.errors import InvalidOptionError

__all__ = ["MgConv", "MgNO", "MgNOConfig"]


@dataclass(frozen=True)
class MgNOConfig:
    """Architecture of an :class:`MgNO` (stored with saved models)."""

    channels: int = 24
    layers: int = 5
    levels: int = 5
    pre_smooth: int = 1
    post_smooth: int = 0
    in_channels: int = 1
    out_channels: int = 1

    def __post_init__(self) -> None:
        for name in ("channels", "layers", "levels", "pre_smooth", "in_channels",
                     "out_channels"):
            if getattr(self, name) < 1:
                raise InvalidOptionError(f"MgNO {name} must be >= 1, not {getattr(self, name)}")
        if self.post_smooth < 0:
            raise InvalidOptionError(f"MgNO post_smooth must be >= 0, not {self.post_smooth}")

    def check_grid(self, shape: tuple[int, ...]) -> None:
        """Raise unless ``shape`` fits the V-cycle (both sides divisible by 2^(levels-1))."""
        q = 2 ** (self.levels - 1)
        if any(n % q for n in shape):
            raise InvalidOptionError(
                f"an MgNO with {self.levels} levels needs grid sides divisible by {q}, got "
                f"{tuple(shape)}; interpolate the input to such a grid or use fewer levels")


def _conv(cin: int, cout: int, rng: np.random.Generator, stride: int = 1) -> Conv2d:
    return Conv2d(cin, cout, 3, rng, stride=stride)


class _Smoother(eqx.Module):
    """``u <- u + S(f - A u)``."""

    A: Conv2d
    S: Conv2d

    def __init__(self, cu: int, cf: int, rng: np.random.Generator) -> None:
        self.A, self.S = _conv(cu, cf, rng), _conv(cf, cu, rng)

    def __call__(self, u: jax.Array, f: jax.Array) -> jax.Array:
        return u + self.S(f - self.A(u))


class _Restriction(eqx.Module):
    """``f <- R(f - A u)``, ``u <- Pi u`` onto the next coarser grid."""

    A: Conv2d
    R: Conv2d
    Pi: Conv2d

    def __init__(self, cu: int, cf: int, rng: np.random.Generator) -> None:
        self.A, self.R, self.Pi = _conv(cu, cf, rng), _conv(cf, cf, rng, 2), _conv(cu, cu, rng, 2)

    def __call__(self, u: jax.Array, f: jax.Array) -> tuple[jax.Array, jax.Array]:
        return self.Pi(u), self.R(f - self.A(u))


class MgConv(eqx.Module):
    """One V-cycle from ``f`` (``cf`` channels) to ``u`` (``cu`` channels); see the module."""

    first: Conv2d
    pre: list[list[_Smoother]]
    post: list[list[_Smoother]]
    down: list[_Restriction]
    up: list[Conv2d]

    def __init__(self, cu: int, cf: int, config: MgNOConfig, rng: np.random.Generator) -> None:
        L = config.levels
        self.first = _conv(cf, cu, rng)
        self.pre = [[_Smoother(cu, cf, rng) for _ in range(config.pre_smooth - (level == 0))]
                    for level in range(L)]
        self.post = [[_Smoother(cu, cf, rng) for _ in range(config.post_smooth)]
                     for _ in range(L - 1)]
        self.down = [_Restriction(cu, cf, rng) for _ in range(L - 1)]
        self.up = [Conv2d(cu, cu, 4, rng, stride=2, transpose=True) for _ in range(L - 1)]

    def __call__(self, f: jax.Array) -> jax.Array:
        u = self.first(f)
        us, fs = [], []
        for level, smoothers in enumerate(self.pre):
            if level > 0:
                u, f = self.down[level - 1](u, f)
            for smooth in smoothers:
                u = smooth(u, f)
            us.append(u)
            fs.append(f)
        for level in range(len(self.pre) - 2, -1, -1):
            u = us[level] + self.up[level](u)
            for smooth in self.post[level]:
                u = smooth(u, fs[level])
        return u


class MgNO(eqx.Module):
    """Multigrid neural operator (see the module docstring for the math and the grids)."""

    cycles: list[MgConv]
    linear: list[Pointwise]
    head: Conv2d
    config: MgNOConfig = eqx.field(static=True)

    def __init__(self, config: MgNOConfig, *, seed: int = 0) -> None:
        c = config
        rng = np.random.default_rng(seed)
        ins = [c.in_channels] + [c.channels] * (c.layers - 1)
        self.cycles = [MgConv(c.channels, cin, c, rng) for cin in ins]
        self.linear = [Pointwise(cin, c.channels, rng) for cin in ins]
        self.head = Conv2d(c.channels, c.out_channels, 3, rng, bias=True)
        self.config = config

    def __call__(self, a: jax.Array) -> jax.Array:
        """``u = MgNO(a)`` for one sample ``a`` of shape ``(in_channels, H, W)``."""
        self.config.check_grid(a.shape[1:])
        u = a
        for cycle, linear in zip(self.cycles, self.linear, strict=True):
            u = jax.nn.gelu(cycle(u) + linear(u))
        return self.head(u)
