r"""A learned correction of black-box multigrid's prolongation (DCDM's ``learned-mg`` kind).

The preconditioner is the symmetric V-cycle of :mod:`solvers.multigrid` with Galerkin coarse
operators ``A_c = P^T A P`` and ``R = P^T``; only the interpolation weights change. On every
level a small convolutional network ``g`` reads the fine operator's rows around each coarse
cell and the black-box weights ``w_BB`` (Dendy's, :mod:`solvers.multigrid.blackbox`) and
returns a correction:

.. math:: w = w_{BB} \exp\tanh g\big(\{A_o / A_0\}_{o, \text{parity}},\; w_{BB}\big)
          \quad\text{rescaled to the black-box sum of each fine node's weights}

with one coarse-grid channel per fine row (``2^d`` parities) and offset ``o`` (the row
divided by its centre: invariant under scaling the coefficient, bounded for M-matrices), and
one per non-trivial weight (``3^d - 1``); ``g`` is ``layers`` 3^d convolutions of ``width``
channels with GELU, then a 3^d convolution to ``3^d - 1`` channels whose weights start at zero,
so the untrained network *is* black-box multigrid. The same ``g`` serves every level and every
grid size (it is local and translation-equivariant; Greenfeld et al. [1]_, Luz et al. [2]_).

Training (:mod:`sciml.dcdm.train_prolongation`) is unsupervised: it minimises the energy
reduction of ``k`` stationary V-cycles from random errors ``e_0``,

.. math:: L = \frac{1}{k}\, \mathbb E_{e_0} \log \frac{\|E^k e_0\|_A^2}{\|e_0\|_A^2},
          \qquad E = I - B A,

``B`` the V-cycle; ``E`` is self-adjoint in the ``A`` inner product, and ``L`` estimates the
log of its spectral radius, which bounds CG's condition number ``kappa(BA) <= 1/(1 - rho(E))``.

Whatever the weights, ``R = P^T`` and the Galerkin coarse operators keep ``B`` symmetric; the
solve's verdict is the library's float64 residual check on the caller's system (a network
that returns NaN gives a NaN cycle and an unconverged result, never ``converged=True``).

References
----------
.. [1] D. Greenfeld, M. Galun, R. Kimmel, I. Yavneh, R. Basri, "Learning to optimize
   multigrid PDE solvers", ICML 2019, PMLR 97:2415-2423.
.. [2] I. Luz, M. Galun, H. Maron, R. Basri, I. Yavneh, "Learning algebraic multigrid using
   graph neural networks", ICML 2020, PMLR 119:6489-6499.
.. [3] J. E. Dendy, "Black box multigrid", J. Comput. Phys. 48 (1982) 366-386.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp

from sciml.dcdm.model import conv, param, split_key
from solvers.multigrid import Multigrid, multigrid
from solvers.multigrid.blackbox import by_parity, classes, offset_array
from solvers.multigrid.galerkin import Offset

#: The weight file's ``kind`` of this architecture.
KIND = "learned-mg"


@dataclass(frozen=True)
class MGConfig:
    """Hyperparameters of :class:`ProlongationNet` (stored in each weight file's JSON).

    Attributes
    ----------
    ndim
        2 or 3 spatial dimensions.
    width
        Hidden channels; 0 means no network: plain black-box multigrid (``model="fixed-mg"``).
    layers
        Hidden 3^d convolutions.
    degree
        Chebyshev smoothing steps before and after each coarse correction of the V-cycle.
    """

    ndim: int
    width: int = 16
    layers: int = 2
    degree: int = 2
    kind: ClassVar[str] = KIND

    def __post_init__(self) -> None:
        if self.ndim not in (2, 3):
            raise ValueError(f"ndim must be 2 or 3, not {self.ndim!r}")
        if self.width < 0 or self.layers < 1 or self.degree < 1:
            raise ValueError(f"need width >= 0, layers >= 1 and degree >= 1: {self}")

    @property
    def inputs(self) -> int:
        """Input channels: the off-centre entries of the ``2^d`` rows, and the weights."""
        return 2**self.ndim * (3**self.ndim - 1) + self.outputs

    @property
    def outputs(self) -> int:
        """The non-trivial weights of a coarse cell (all but the copied coarse node)."""
        return 3**self.ndim - 1

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> MGConfig:
        return cls(**data)


class ProlongationNet(eqx.Module):
    """The correction ``g`` of the black-box weights; see the module docstring.

    :meth:`correct` is the hook of :func:`solvers.multigrid.blackbox.interpolation`;
    :meth:`hierarchy` the V-cycle of a stencil with it.

    Examples
    --------
    >>> import operators, jax.numpy as jnp
    >>> from operators.stencils import stencil
    >>> from solvers.multigrid import multigrid
    >>> A = stencil(operators.poisson((16, 16)))
    >>> net = ProlongationNet(MGConfig(2, width=4), jax.random.PRNGKey(0))
    >>> r = jnp.ones(256)
    >>> bool(jnp.allclose(net.hierarchy(A)(r), multigrid(A)(r)))  # untrained: black-box
    True
    """

    arch: MGConfig = eqx.field(static=True)
    hidden: tuple[tuple[jax.Array, jax.Array], ...]
    out: tuple[jax.Array, jax.Array] | None

    def __init__(self, arch: MGConfig, key: jax.Array | None) -> None:
        self.arch = arch
        d, width = arch.ndim, arch.width
        if width == 0:
            self.hidden, self.out = (), None
            return
        keys = split_key(key, arch.layers)
        sizes = [arch.inputs] + [width] * arch.layers
        self.hidden = tuple(
            (param(keys[i], (3,) * d + (sizes[i], sizes[i + 1]),
                    lambda k, i=i: jax.random.normal(k, (3,) * d + (sizes[i], sizes[i + 1]),
                                                     jnp.float32) / math.sqrt(3**d * sizes[i])),
             param(keys[i], (sizes[i + 1],),
                    lambda _, i=i: jnp.zeros(sizes[i + 1], jnp.float32)))
            for i in range(arch.layers))
        shape = (3,) * d + (width, arch.outputs)
        self.out = (param(key, shape, lambda _: jnp.zeros(shape, jnp.float32)),
                    param(key, (arch.outputs,), lambda _: jnp.zeros(arch.outputs, jnp.float32)))

    @property
    def parameter_count(self) -> int:
        leaves = jax.tree_util.tree_leaves(eqx.filter(self, eqx.is_array))
        return int(sum(x.size for x in leaves))

    def correct(self, entries: Mapping[Offset, jax.Array], axes: tuple[int, ...],
                weights: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
        """``w_BB + g(features)`` (black-box weights unchanged unless every axis is
        coarsened: the network is trained for full coarsening)."""
        d = self.arch.ndim
        if self.out is None or len(axes) != d:
            return weights
        x = features(entries, axes, weights)
        f32 = jnp.float32
        for w, b in self.hidden:
            x = jax.nn.gelu(conv(x, w.astype(f32), d) + b.astype(f32))
        delta = conv(x, self.out[0].astype(f32), d) + self.out[1].astype(f32)
        delta = jnp.moveaxis(delta, -1, 0).astype(weights[0].dtype)
        return reweight(weights, delta, axes)

    def hierarchy(self, A: Any) -> Multigrid:
        """The V-cycle of stencil ``A`` with the corrected prolongation (jittable)."""
        return multigrid(A, degree=self.arch.degree,
                         correct=None if self.out is None else self.correct)


def reweight(weights: tuple[jax.Array, ...], delta: jax.Array,
             axes: tuple[int, ...]) -> tuple[jax.Array, ...]:
    """``w = w_BB exp(tanh(delta))``, rescaled per fine node to the black-box sum.

    ``delta`` holds one channel per weight but the first (the coarse node's own); each fine
    node's corner weights keep their black-box sum, so what black-box interpolation
    reproduces (constants away from the boundary, where the row sums vanish) stays
    reproduced, and a weight black-box multigrid sets to zero across an insulating jump stays
    zero. The factors are in ``[1/e, e]``: a correction, not a new interpolation.
    """
    out, start = [weights[0]], 1
    for S in classes(axes)[1:]:
        count = 2 ** len(S)
        old = weights[start:start + count]
        new = [w * jnp.exp(jnp.tanh(delta[start - 1 + i])) for i, w in enumerate(old)]
        total, changed = sum(old), sum(new)
        # NaN stays NaN (a broken network must not pass for black-box multigrid)
        safe = ~(jnp.abs(changed) <= 1e-12 * (1 + jnp.abs(total)))
        ratio = jnp.where(safe, total / jnp.where(safe, changed, 1), 1)
        out += [jnp.where(safe, w * ratio, o) for w, o in zip(new, old, strict=True)]
        start += count
    return tuple(out)


def features(entries: Mapping[Offset, jax.Array], axes: tuple[int, ...],
             weights: tuple[jax.Array, ...]) -> jax.Array:
    """Channels-last float32 coarse-grid input of :class:`ProlongationNet`: each of the
    ``2^d`` fine rows of a coarse cell divided by its centre (centre dropped), then the
    black-box weights but the first (the coarse node's own, 1)."""
    d = len(axes)
    stack = by_parity(offset_array(entries, d), d, axes)  # (3,)*d + (2,)*d + coarse
    rows = stack / stack[(1,) * d]
    rows = rows.reshape((3**d,) + rows.shape[d:])
    rows = jnp.delete(rows, 3**d // 2, axis=0, assume_unique_indices=True)
    coarse = rows.shape[1 + d:]
    x = jnp.concatenate([rows.reshape((-1,) + coarse), jnp.stack(weights[1:])])
    return jnp.moveaxis(x, 0, -1).astype(jnp.float32)


def fixed(ndim: int, degree: int = 2) -> ProlongationNet:
    """Black-box multigrid in this class's clothes (``model="fixed-mg"``): no network."""
    return ProlongationNet(MGConfig(ndim, width=0, degree=degree), None)


def skeleton(arch: MGConfig) -> ProlongationNet:
    """The network of ``arch`` with uninitialised NumPy leaves, to read weights into."""
    return ProlongationNet(arch, None)


def energy_loss(net: ProlongationNet, A: Any, key: jax.Array, batch: int = 4,
                cycles: int = 4, skip: int = 0) -> jax.Array:
    """``mean log(||E^k e||_A^2 / ||E^s e||_A^2) / (k - s)`` over ``batch`` random ``e``
    (see the module docstring), ``E = I - B A`` with ``B`` the V-cycle of ``net`` on stencil
    ``A``, ``k = cycles``, ``s = skip``: with ``s > 0`` the first cycles (which remove the
    oscillatory error any smoother removes) are left out and the loss estimates the slowest
    rate, the one that sets CG's iterations."""
    M = net.hierarchy(A)
    e = jax.random.normal(key, (batch, A.n), A.dtype)
    apply_A, apply_B = jax.vmap(A), jax.vmap(M)

    def energy(v: jax.Array) -> jax.Array:
        return jnp.sum(v * apply_A(v), axis=-1)

    for _ in range(skip):
        e = e - apply_B(apply_A(e))
    start = energy(e)
    for _ in range(cycles - skip):
        e = e - apply_B(apply_A(e))
    return jnp.mean(jnp.log(energy(e) / start)) / (cycles - skip)
