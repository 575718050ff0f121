r"""The DCDM network: a multilevel CNN ``f ~ A^{-1}`` (up to scale), symmetric by construction.

Kaneda et al. [1]_ use a two-level ReLU U-Net (3x3x3 convolutions, 16 channels, one
average-pool level, ~100k parameters) at full resolution. Three things made us depart from it
(measured on this project's two-core CPU; see ``sciml/dcdm/README.md``):

1. **Stagnation.** A general nonlinear ``f`` may return a direction orthogonal to the
   residual, ``f(r)^T r = 0``; then ``alpha = 0``, the residual does not change, the network
   returns the same direction and the iteration is stuck. A trained ReLU U-Net did exactly
   this on its own training grid (relative residual frozen at 9e-2). Here ``f`` is the
   gradient of a convex quadratic potential,

   .. math:: f(r) = \nabla \phi(r), \qquad
             \phi(r) = \tfrac12 \sum_{l=0}^{L} \| \rho_l(c) \odot y_l(r) \|^2 ,

   with features ``y_l`` linear in ``r``, so ``f(r) = E^T E r`` with ``E`` a deep linear
   encoder: symmetric positive semi-definite, and ``r^T f(r) = 2 \phi(r) > 0`` whenever the
   fine-level filter does not annihilate ``r``. Each DCDM step then strictly reduces
   ``||e||_A``, and with ``truncation=2`` DCDM is CG preconditioned by the learned operator.
2. **Cost.** One 16-channel 3x3x3 convolution on 128^3 takes ~4 s; the paper's network would
   need ~40 s per iteration there. The fine level here is a single channel.
3. **Reach.** With one pooling level the receptive field is fixed, so iterations grow with
   the grid. The encoder here is a full hierarchy, like an additive multigrid (BPX [2]_)
   preconditioner with learned smoothers:

   - level 0 (the grid, one channel): ``y_0 = k_0 (*) r`` (a learned 3^d filter), read out
     as ``rho_0 = s_0 exp(-c/2)``: a Jacobi-like scaling by the coefficient channel ``c``
     (``c = 0`` for Poisson);
   - level l >= 1 (half the resolution of level l-1, ``widths[l-1]`` channels):
     ``y_l = exp(G_l (*) c_l) . C_l(W_l R y_{l-1})`` with ``R`` full-weighting restriction
     (fixed; its transpose is linear interpolation, so the coarse contributions are smooth),
     ``W_l`` a learned channel lift, ``C_l`` ``convs`` learned 3^d convolutions and
     ``G_l (*) c_l`` a learned gate from the pooled coefficient channel (coefficient models);
     read out as ``rho_l = s_l gamma^l exp(M_l (*) c_l)``, ``gamma`` a learned level growth
     (initially ``2^{(d+2)/2}``, the BPX scaling ``h_l^2`` per level) and ``M_l`` initially
     ``-1/2`` (the ``D_l^{-1/2}`` of BPX);
   - levels are added until the grid is at most ``min_size`` wide; levels deeper than
     ``len(widths)`` share one set of weights. The network is self-similar, defined on every
     grid size, and reaches across the whole grid: one set of weights serves 32^3 and 128^3,
     and with training on two or three grid sizes the iteration count stays nearly flat.

At initialisation the network is a BPX preconditioner; training (:mod:`sciml.dcdm.train`)
only improves it. Applying ``f`` costs one pass through the encoder and one through its
transpose (:func:`jax.vjp`); there are no biases, and the coefficient enters only
multiplicatively, so ``f`` is linear in ``r`` for every coefficient field.

References
----------
.. [1] A. Kaneda, O. Akar, J. Chen, V. A. T. Kala, D. Hyde, J. Teran, "A Deep Conjugate
   Direction Method for Iteratively Solving Linear Systems", ICML 2023, PMLR 202:15720-15736.
.. [2] J. H. Bramble, J. E. Pasciak, J. Xu, "Parallel multilevel preconditioners",
   Math. Comp. 55 (1990) 1-22.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from operators.stencils import shift

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
        Channels of levels 1, 2, ...; all deeper levels share one more set of weights.
    convs
        3^d convolutions per level.
    min_size
        Stop coarsening once the smallest grid side is at most this.
    kernel
        Convolution size per axis (odd).
    """

    ndim: int
    coefficient: bool = False
    widths: tuple[int, ...] = (16,)
    convs: int = 1
    min_size: int = 4
    kernel: int = 3

    def __post_init__(self) -> None:
        if self.ndim not in (2, 3):
            raise ValueError(f"ndim must be 2 or 3, not {self.ndim!r}")
        if not self.widths or min(self.widths) < 1:
            raise ValueError(f"widths must be a non-empty tuple of positive ints: {self.widths}")
        if self.kernel % 2 != 1 or self.convs < 0 or self.min_size < 1:
            raise ValueError(f"need an odd kernel, convs >= 0 and min_size >= 1: {self}")
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Architecture:
        data = dict(data)
        data["widths"] = tuple(data["widths"])
        return cls(**data)


def _identity_conv(key: jax.Array, kernel: int, ndim: int, width: int,
                   noise: float) -> jax.Array:
    """A 3^d convolution near the identity: a centred delta per channel plus noise."""
    w = noise * jax.random.normal(key, (kernel,) * ndim + (width, width)) / math.sqrt(
        kernel**ndim * width)
    return w.at[(kernel // 2,) * ndim].add(jnp.eye(width))


def param(key: jax.Array | None, shape: tuple[int, ...],
          init: Callable[[jax.Array], jax.Array]) -> jax.Array | np.ndarray:
    """``init(key)``; for ``key=None`` an uninitialised float32 NumPy placeholder of ``shape``
    (the :func:`skeleton` weights are read into: no JAX computation, not even traced)."""
    return np.empty(shape, np.float32) if key is None else init(key)


def split_key(key: jax.Array | None, num: int) -> Any:
    """``num`` keys from ``key`` (``None`` placeholders for a :func:`skeleton`)."""
    return (None,) * num if key is None else jax.random.split(key, num)


class Level(eqx.Module):
    """Weights of one coarse level: channel lift, convolutions, output scale, modulation."""

    lift: jax.Array
    convs: tuple[jax.Array, ...]
    scale: jax.Array
    modulation: jax.Array | None
    gate: jax.Array | None

    def __init__(self, key: jax.Array | None, arch: Architecture, fine: int,
                 width: int) -> None:
        d, k = arch.ndim, arch.kernel
        keys = split_key(key, arch.convs + 2)
        if fine == width:
            self.lift = param(keys[0], (fine, width), lambda key: jnp.eye(width) + 0.1 *
                               jax.random.normal(key, (fine, width)) / math.sqrt(fine))
        else:
            self.lift = param(keys[0], (fine, width),
                               lambda key: jax.random.normal(key, (fine, width)) / math.sqrt(fine))
        self.convs = tuple(
            param(keys[2 + i], (k,) * d + (width, width),
                   lambda key: _identity_conv(key, k, d, width, 0.3))
            for i in range(arch.convs))
        self.scale = param(key, (width,), lambda _: jnp.ones((width,)))
        # readout scaled by exp(-c_l / 2) at first: the D_l^{-1/2} of BPX with a coefficient
        shape = (k,) * d + (1, width)
        self.modulation = param(
            keys[1], shape, lambda key: jnp.zeros(shape).at[(k // 2,) * d].set(-0.5)
            + 0.01 * jax.random.normal(key, shape)) if arch.coefficient else None
        self.gate = param(key, shape, lambda _: jnp.zeros(shape)) if arch.coefficient else None


class DCDMNet(eqx.Module):
    """Symmetric multilevel CNN ``f(r) = E^T E r ~ A^{-1} r``; see the module docstring.

    Call it on one grid-shaped residual ``r`` and, for a coefficient model, the coefficient
    channel ``c`` (same shape); it returns a float32 array of the grid shape. Batch with
    :func:`jax.vmap`.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> net = DCDMNet(Architecture(2, widths=(8,)), jax.random.PRNGKey(0))
    >>> u, v = jax.random.normal(jax.random.PRNGKey(1), (2, 16, 16))
    >>> bool(jnp.allclose(jnp.vdot(u, net(v)), jnp.vdot(net(u), v), rtol=1e-4))  # symmetric
    True
    """

    arch: Architecture = eqx.field(static=True)
    k0: jax.Array
    scale0: jax.Array
    log_growth: jax.Array
    levels: tuple[Level, ...]

    def __init__(self, arch: Architecture, key: jax.Array | None) -> None:
        d, k = arch.ndim, arch.kernel
        widths = arch.widths + arch.widths[-1:]  # the last level repeats, sharing weights
        keys = split_key(key, 1 + len(widths))
        self.arch = arch
        self.k0 = param(keys[0], (k,) * d, lambda key: jnp.zeros((k,) * d).at[
            (k // 2,) * d].set(1.0) + 0.01 * jax.random.normal(key, (k,) * d))
        self.scale0 = param(key, (), lambda _: jnp.ones(()))
        self.log_growth = param(key, (), lambda _: jnp.asarray(0.5 * (d + 2) * math.log(2.0)))
        fines = (1,) + widths
        self.levels = tuple(Level(keys[1 + i], arch, fines[i], w) for i, w in enumerate(widths))

    def __call__(self, r: jax.Array, c: jax.Array | None = None) -> jax.Array:
        d = self.arch.ndim
        if r.ndim != d:
            raise ValueError(f"expected a {d}-D grid-shaped residual, got shape {r.shape}")
        if self.arch.coefficient and c is None:
            raise ValueError("this network needs the coefficient channel c")
        r = r.astype(jnp.float32)
        c = c.astype(jnp.float32) if self.arch.coefficient else None
        features, transpose = jax.vjp(lambda v: self.encode(v, c), r)
        return transpose(features)[0]

    def encode(self, r: jax.Array, c: jax.Array | None = None) -> list[jax.Array]:
        """The read-out features ``rho_l . y_l`` of every level (linear in ``r``)."""
        d = self.arch.ndim
        y = _filter(r, self.k0)
        g = jnp.exp(-0.5 * c) if c is not None else 1.0
        features = [self.scale0 * g * y]
        y = y[..., None]
        depth = 0
        while min(y.shape[:d]) > 1 and (depth == 0 or min(y.shape[:d]) > self.arch.min_size):
            weights = self.levels[min(depth, len(self.levels) - 1)]
            y = _restrict(y, d) @ weights.lift
            for w in weights.convs:
                y = conv(y, w, d)
            depth += 1
            if c is not None:
                c = _pool(c, d)
                y = y * jnp.exp(conv(c[..., None], weights.gate, d))
            readout = weights.scale * jnp.exp(depth * self.log_growth) * y
            if c is not None:
                readout = readout * jnp.exp(conv(c[..., None], weights.modulation, d))
            features.append(readout)
        return features

    @property
    def parameter_count(self) -> int:
        leaves = jax.tree_util.tree_leaves(eqx.filter(self, eqx.is_array))
        return int(sum(x.size for x in leaves))


def fixed_hierarchy(ndim: int, coefficient: bool = False) -> DCDMNet:
    """The network class with no learned content: the baseline that training must beat.

    One channel on every level, pass-through (centred delta) filters and convolutions, unit
    lifts and read-out scales, the initial BPX level growth ``2^{(d+2)/2}``: ``f(r) =
    sum_l gamma^{2l} P_l P_l^T r`` with ``P_l`` the interpolation from level ``l`` (the
    transpose of :func:`_restrict`), a fixed BPX-like additive multilevel preconditioner [2]_.
    With ``coefficient`` the read-out of level ``l`` is scaled by ``exp(-c_l / 2)`` (the
    ``D_l^{-1/2}`` of BPX, ``c_l`` the pooled coefficient channel) and the gates are off: the
    coefficient network's initial state without its random part. Shipped weights are
    compared with it (``model="fixed"``, ``tests/sciml/test_dcdm.py``, ``bench_dcdm.py``).

    Examples
    --------
    >>> net = fixed_hierarchy(2)
    >>> net.arch.widths, float(net.scale0), net.parameter_count
    ((1,), 1.0, 33)
    """
    arch = Architecture(ndim, coefficient=coefficient, widths=(1,), convs=1)
    k = arch.kernel
    delta = np.zeros((k,) * ndim + (1, 1), np.float32)  # NumPy leaves: no JAX op to compile
    delta[(k // 2,) * ndim] = 1.0
    net = skeleton(arch)
    one = np.ones((1,), np.float32)
    modulation = -0.5 * delta if coefficient else None
    gate = 0.0 * delta if coefficient else None
    levels = tuple(
        eqx.tree_at(lambda m: (m.lift, m.scale, m.convs, m.modulation, m.gate), shell,
                    (one.reshape(1, 1), one, (delta,), modulation, gate),
                    is_leaf=lambda x: x is None)
        for shell in net.levels)
    growth = np.float32(0.5 * (ndim + 2) * math.log(2.0))
    return eqx.tree_at(
        lambda m: (m.k0, m.scale0, m.log_growth, m.levels), net,
        (delta[..., 0, 0], one[0], np.asarray(growth), levels))


def skeleton(arch: Architecture) -> DCDMNet:
    """The network of ``arch`` with uninitialised NumPy leaves, to read weights into.

    ``DCDMNet(arch, key=None)``: the initialisation with every leaf an ``np.empty`` float32
    placeholder, so nothing is drawn, traced or compiled (tracing the initialisation
    abstractly took 0.1-0.3 s, a third of a second process's setup). The weights are read
    into it as NumPy arrays and moved to the device once, with the other operands of the
    compiled programs.

    Examples
    --------
    >>> net = DCDMNet(Architecture(2, widths=(8,)), jax.random.PRNGKey(0))
    >>> shapes = lambda m: [(x.shape, x.dtype) for x in jax.tree_util.tree_leaves(m)]
    >>> shapes(skeleton(net.arch)) == shapes(net)
    True
    """
    return DCDMNet(arch, None)


def conv(x: jax.Array, w: jax.Array, ndim: int) -> jax.Array:
    """'Same' convolution of a channels-last grid ``x`` with ``w`` (spatial..., in, out)."""
    out = lax.conv_general_dilated(x[None], w, (1,) * ndim, "SAME",
                                   dimension_numbers=_DIMENSION_NUMBERS[ndim])
    return out[0]


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


def _restrict(x: jax.Array, ndim: int) -> jax.Array:
    """Full-weighting restriction to half the resolution, per channel (channels last).

    Along each axis, coarse point ``I`` covers fine points ``2I, 2I+1`` and takes
    ``(x_{2I-1} + 3 x_{2I} + 3 x_{2I+1} + x_{2I+2}) / 8`` (zero outside the grid; an odd side
    is zero-padded). Its transpose is linear interpolation, so the coarse levels' contributions
    to ``E^T E`` are smooth, as in BPX.
    """
    for axis in range(ndim):
        n = x.shape[axis]
        if n % 2:
            pad = [(0, 0)] * x.ndim
            pad[axis] = (0, 1)
            x = jnp.pad(x, pad)
            n += 1
        pairs = x.reshape(x.shape[:axis] + (n // 2, 2) + x.shape[axis + 1:])
        even = lax.index_in_dim(pairs, 0, axis + 1, keepdims=False)
        odd = lax.index_in_dim(pairs, 1, axis + 1, keepdims=False)
        x = (3.0 * (even + odd) + shift(odd, axis, -1) + shift(even, axis, +1)) / 8.0
    return x


def _space_to_depth(x: jax.Array, ndim: int) -> jax.Array:
    """``(n_1, ..., n_d, C) -> (ceil(n_1/2), ..., 2^d C)``, zero-padding odd sides."""
    grid, channels = x.shape[:ndim], x.shape[-1]
    pad = [(0, n % 2) for n in grid] + [(0, 0)]
    x = jnp.pad(x, pad)
    half = [(n + 1) // 2 for n in grid]
    x = x.reshape([v for h in half for v in (h, 2)] + [channels])
    order = [2 * a for a in range(ndim)] + [2 * a + 1 for a in range(ndim)] + [2 * ndim]
    return x.transpose(order).reshape(half + [2**ndim * channels])


def _pool(c: jax.Array, ndim: int) -> jax.Array:
    """2^d average of the coefficient channel (edge-padded on odd sides)."""
    pad = [(0, n % 2) for n in c.shape]
    blocks = _space_to_depth(jnp.pad(c, pad, mode="edge")[..., None], ndim)
    return jnp.mean(blocks, axis=-1)
