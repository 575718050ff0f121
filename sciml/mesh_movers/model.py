r"""The DMM network: a potential ``phi(u, xi)`` whose gradient moves the mesh [1]_.

* **Branch** (CNN on ``u`` sampled on a ``grid x grid`` uniform grid): ``len(channels)``
  stride-2 3x3 convolutions with GELU, flattened, then a linear map to ``latent`` features
  ``b(u)``.
* **Trunk** (MLP on ``xi``): features of the reference point, then ``depth`` tanh layers of
  ``width`` to ``latent`` features ``t(xi)``. With ``boundary="hard"`` the features are
  ``cos(k pi xi_1), cos(k pi xi_2)``, ``k = 1..modes``: every function of them has
  ``d phi / d n = 0`` on the four sides of the square exactly, so boundary nodes slide along
  their side and never leave it. With ``boundary="penalty"`` they are ``xi`` and its
  ``sin``/``cos`` Fourier modes, and the loss's boundary term enforces the condition weakly,
  as in the paper.
* **Decoder**: an MLP (tanh) on ``b(u) * t(xi)`` (the DeepONet product) to the scalar
  ``phi``, scaled by ``scale`` so that the untrained network is close to the identity map.

The mesh is ``x = xi + grad_xi phi(u, xi)`` (:func:`jax.grad`); the Hessian of ``phi`` that
the Monge-Ampere loss needs is :func:`jax.hessian` of the same scalar function, so the tanh
trunk and decoder are smooth. Parameters: about 60k for the defaults (< 0.3 MB).

References
----------
.. [1] P. Hu, Y. Wang, Z.-M. Ma, "Better Neural PDE Solvers Through Data-Free Mesh Movers",
   ICLR 2024.

Examples
--------
>>> import jax, jax.numpy as jnp
>>> arch = Architecture(grid=16, channels=(4, 8), latent=16, width=16, modes=2)
>>> net = DMMNet(arch, jax.random.PRNGKey(0))
>>> features = net.encode(jnp.zeros((16, 16)))
>>> net.displacement(features, jnp.array([[0.0, 0.5], [0.5, 0.5]])).shape
(2, 2)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import equinox as eqx
import jax
import jax.numpy as jnp

__all__ = ["Architecture", "DMMNet"]


@dataclass(frozen=True)
class Architecture:
    """Hyperparameters of :class:`DMMNet` (stored with the weights)."""

    grid: int = 32
    channels: tuple[int, ...] = (8, 16, 32)
    latent: int = 64
    width: int = 64
    depth: int = 2
    modes: int = 6
    boundary: str = "hard"
    scale: float = 0.05

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Architecture:
        data = dict(data)
        data["channels"] = tuple(data["channels"])
        return cls(**data)


class DMMNet(eqx.Module):
    """``phi(u, xi)``: branch CNN on ``u``, trunk MLP on ``xi``, decoder on their product."""

    arch: Architecture = eqx.field(static=True)
    convs: list
    project: eqx.nn.Linear
    trunk: eqx.nn.MLP
    decoder: eqx.nn.MLP

    def __init__(self, arch: Architecture, key: jax.Array) -> None:
        if arch.boundary not in ("hard", "penalty"):
            raise ValueError(f"boundary must be 'hard' or 'penalty', not {arch.boundary!r}")
        keys = jax.random.split(key, len(arch.channels) + 3)
        sizes = (1, *arch.channels)
        self.arch = arch
        self.convs = [eqx.nn.Conv2d(a, b, 3, stride=2, padding=1, key=k)
                      for a, b, k in zip(sizes[:-1], sizes[1:], keys, strict=False)]
        side = arch.grid
        for _ in arch.channels:
            side = (side + 1) // 2
        self.project = eqx.nn.Linear(sizes[-1] * side * side, arch.latent, key=keys[-3])
        self.trunk = eqx.nn.MLP(self._n_features, arch.latent, arch.width, arch.depth,
                                activation=jnp.tanh, key=keys[-2])
        self.decoder = eqx.nn.MLP(arch.latent, 1, arch.width, 1, activation=jnp.tanh,
                                  key=keys[-1])

    @property
    def _n_features(self) -> int:
        per_axis = self.arch.modes if self.arch.boundary == "hard" else 2 * self.arch.modes + 1
        return 2 * per_axis

    def encode(self, u: jax.Array) -> jax.Array:
        """Branch features ``b(u)`` of a ``(grid, grid)`` field."""
        h = u[None]
        for conv in self.convs:
            h = jax.nn.gelu(conv(h))
        return self.project(h.ravel())

    def potential(self, features: jax.Array, xi: jax.Array) -> jax.Array:
        """``phi`` at one reference point ``xi`` (shape ``(2,)``) from branch features."""
        k = jnp.arange(1, self.arch.modes + 1) * jnp.pi
        angles = k[None, :] * xi[:, None]
        if self.arch.boundary == "hard":
            feats = jnp.cos(angles).ravel()
        else:
            feats = jnp.concatenate([xi, jnp.cos(angles).ravel(), jnp.sin(angles).ravel()])
        return self.arch.scale * self.decoder(features * self.trunk(feats))[0]

    def displacement(self, features: jax.Array, xi: jax.Array) -> jax.Array:
        """``grad_xi phi`` at points ``xi`` ``(M, 2)``: the mesh is ``xi + displacement``."""
        return jax.vmap(jax.grad(self.potential, argnums=1), (None, 0))(features, xi)

    @property
    def parameter_count(self) -> int:
        leaves = jax.tree_util.tree_leaves(eqx.filter(self, eqx.is_array))
        return int(sum(x.size for x in leaves))
