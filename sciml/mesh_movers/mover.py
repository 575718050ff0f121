"""Moving a mesh of the unit square with a trained DMM network: one network evaluation.

``DMM(model).move(u, mesh)`` encodes ``u`` (sampled on the network's ``grid x grid``
vertices) once, evaluates ``grad_xi phi`` at every mesh vertex (one jitted call: the branch
CNN plus the trunk/decoder and their gradient, :func:`jax.vmap` over the vertices) and returns
``x = xi + s grad phi``. Vertices on a side of the square keep their normal coordinate
exactly (the hard-boundary network moves them only along the side up to round-off; the
penalty network only approximately, hence the projection), and all coordinates are clipped
to ``[0, 1]``. ``s = 1`` unless that mesh has an inverted cell; then ``s`` is halved (at most
10 times) until it has none, the same safeguard as the classical mover's, reported in
:attr:`DMMResult.scale`.

Examples
--------
>>> import jax, numpy as np, meshes
>>> from sciml.mesh_movers.model import Architecture, DMMNet
>>> net = DMMNet(Architecture(grid=8, channels=(2,), latent=4, width=4, modes=1),
...              jax.random.PRNGKey(0))
>>> result = DMM(net, alpha=1.0).move(np.zeros((8, 8)), meshes.unit_square(4))
>>> result.mesh, result.inverted
(Mesh(cell_type='triangle', points=25, cells=32, dim=2), 0)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from meshes import Mesh, inverted_cells
from sciml.mesh_movers import weights
from sciml.mesh_movers.model import DMMNet
from solvers.errors import InvalidOptionError

__all__ = ["DMM", "DMMResult"]


@dataclass(frozen=True)
class DMMResult:
    """A moved mesh: ``mesh``, the displacement ``scale`` used, ``inverted`` cells (0 unless
    even the smallest scale tangles), ``seconds`` of the network evaluation."""

    mesh: Mesh
    scale: float
    inverted: int
    seconds: float


class DMM:
    """A trained data-free mesh mover.

    Parameters
    ----------
    model
        A shipped name (``"fronts"``), the path of a ``.eqx`` weight file, or a
        :class:`~sciml.mesh_movers.model.DMMNet`.
    alpha
        The monitor's ``alpha`` (informational for a loaded model: taken from its metadata).
    """

    def __init__(self, model: str | os.PathLike | DMMNet = "fronts",
                 alpha: float | None = None) -> None:
        if isinstance(model, DMMNet):
            self.net, self.meta = model, {}
        else:
            self.net, self.meta = weights.load(model)
        self.alpha = self.meta.get("config", {}).get("alpha", alpha)
        self._displace = eqx.filter_jit(_displacement)

    @property
    def grid(self) -> int:
        """Points per axis of the grid on which the network reads ``u``."""
        return self.net.arch.grid

    def sample(self, u: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``u`` evaluated on the network's input grid (``[j, i]``: y then x)."""
        axis = np.linspace(0.0, 1.0, self.grid)
        points = np.stack(np.meshgrid(axis, axis, indexing="xy"), axis=-1).reshape(-1, 2)
        return np.asarray(u(points), dtype=np.float32).reshape(self.grid, self.grid)

    def displacement(self, u: np.ndarray, points: np.ndarray) -> np.ndarray:
        """``grad_xi phi(u, xi)`` at ``points`` ``(M, 2)`` (one network evaluation)."""
        u = np.asarray(u, dtype=np.float32)
        if u.shape != (self.grid, self.grid):
            raise InvalidOptionError(f"u must be sampled on the network's {self.grid} x "
                                     f"{self.grid} grid (use DMM.sample(u_function)), got "
                                     f"shape {u.shape}")
        out = self._displace(self.net, jnp.asarray(u), jnp.asarray(points, jnp.float32))
        return np.asarray(jax.block_until_ready(out), dtype=np.float64)

    def move(self, u: np.ndarray | Callable[[np.ndarray], np.ndarray], mesh: Mesh) -> DMMResult:
        """Move ``mesh`` (of the unit square) for the field ``u`` (grid array or callable)."""
        if mesh.dim != 2 or mesh.points.min() < -1e-12 or mesh.points.max() > 1 + 1e-12:
            raise InvalidOptionError("the DMM moves 2D meshes of the unit square [0, 1]^2")
        grid_u = self.sample(u) if callable(u) else u
        start = time.perf_counter()
        shift = self.displacement(grid_u, mesh.points)
        seconds = time.perf_counter() - start
        xi = mesh.points
        on_side = (np.abs(xi) < 1e-12) | (np.abs(xi - 1) < 1e-12)
        shift[on_side] = 0.0
        scale = 1.0
        for _ in range(11):
            moved = mesh.with_points(np.clip(xi + scale * shift, 0.0, 1.0))
            inverted = inverted_cells(moved)
            if inverted == 0:
                break
            scale *= 0.5
        return DMMResult(moved, scale, inverted, seconds)


def _displacement(net: DMMNet, u: jax.Array, points: jax.Array) -> jax.Array:
    return net.displacement(net.encode(u), points)
