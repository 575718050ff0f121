r"""Interchangeable mesh movers for a simulation: uniform, Monge-Ampere, DMM, one signature.

A mover is called as ``mover(reference, mesh, u) -> Mesh``: ``reference`` is the uniform
mesh ``xi`` of the unit square that every move starts from, ``mesh`` the current (moved)
mesh and ``u`` the current numerical solution on it (nodal P1 values). All three use the
same monitor, built from the numerical solution's gradient,

.. math:: m(x) = 1 + \frac{|\nabla u_h(x)|}{\alpha\, \overline{|\nabla u_h|}},

which is invariant under ``u -> a u + b``:

* :class:`UniformMover` -- no movement (returns ``reference``);
* :class:`MAMover` -- :class:`meshes.MongeAmpereMover` (relaxation to ``rtol``) with
  :func:`meshes.gradient_monitor` of ``u_h`` on the current mesh (recovered nodal gradient);
* :class:`DMMMover` -- :class:`sciml.mesh_movers.DMM`: ``u_h`` sampled on the network's
  input grid and rescaled to ``[-1, 1]`` (the range of the fronts it was trained on, which
  leaves ``m`` unchanged); one network evaluation. The network was trained data-free on the
  same monitor of its input.

Each records the seconds of its last move (``seconds``) and the inverted cells of the mesh
it returned (``inverted``).

Examples
--------
>>> import numpy as np, meshes
>>> ref = meshes.unit_square(8)
>>> u = np.tanh((ref.points[:, 0] - 0.5) / 0.05)
>>> moved = MAMover(rtol=1e-2)(ref, ref, u)
>>> meshes.inverted_cells(moved), bool(np.ptp(moved.points[:, 0] - ref.points[:, 0]) > 0)
(0, True)
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np

import meshes
from meshes import Mesh
from meshes.interpolate import PointLocator
from sciml.mesh_movers.mover import DMM
from solvers.errors import InvalidOptionError

__all__ = ["DMMMover", "MAMover", "Mover", "UniformMover", "make_mover"]


class Mover(Protocol):
    """``mover(reference, mesh, u) -> Mesh``, with ``name``, ``seconds``, ``inverted``."""

    name: str
    seconds: float
    inverted: int

    def __call__(self, reference: Mesh, mesh: Mesh, u: np.ndarray) -> Mesh: ...


class UniformMover:
    """No movement: the uniform reference mesh."""

    name = "uniform"

    def __init__(self) -> None:
        self.seconds, self.inverted = 0.0, 0

    def __call__(self, reference: Mesh, mesh: Mesh, u: np.ndarray) -> Mesh:
        return reference


class MAMover:
    """Monge-Ampere relaxation with the gradient monitor of the current solution."""

    name = "monge-ampere"

    def __init__(self, alpha: float = 1.0, smooth: int = 4, rtol: float = 1e-2,
                 maxiter: int = 200) -> None:
        if not alpha > 0 or not rtol > 0 or int(maxiter) != maxiter or maxiter < 1 \
                or int(smooth) != smooth or not 0 <= smooth <= 50:
            raise InvalidOptionError(f"MAMover needs alpha > 0, smooth in [0, 50], rtol > 0, "
                                     f"maxiter >= 1; got alpha={alpha!r}, smooth={smooth!r}, "
                                     f"rtol={rtol!r}, maxiter={maxiter!r}")
        self.alpha, self.rtol, self.maxiter = float(alpha), float(rtol), int(maxiter)
        self.smooth = int(smooth)
        self.seconds, self.inverted, self.iterations = 0.0, 0, 0

    def __call__(self, reference: Mesh, mesh: Mesh, u: np.ndarray) -> Mesh:
        start = time.perf_counter()
        monitor = meshes.gradient_monitor(mesh, u, alpha=self.alpha, smooth=self.smooth)
        result = meshes.MongeAmpereMover(reference, monitor, rtol=self.rtol,
                                         maxiter=self.maxiter).move()
        self.seconds = time.perf_counter() - start
        self.iterations = result.iterations
        self.inverted = meshes.inverted_cells(result.mesh)
        return result.mesh


class DMMMover:
    """The data-free neural mover: one network evaluation on the sampled solution."""

    name = "dmm"

    def __init__(self, model: str | DMM = "fronts") -> None:
        self.dmm = model if isinstance(model, DMM) else DMM(model)
        axis = np.linspace(0.0, 1.0, self.dmm.grid)
        self._grid = np.stack(np.meshgrid(axis, axis, indexing="xy"), axis=-1).reshape(-1, 2)
        self.seconds, self.inverted, self.scale = 0.0, 0, 1.0

    def __call__(self, reference: Mesh, mesh: Mesh, u: np.ndarray) -> Mesh:
        start = time.perf_counter()
        sampled = PointLocator(mesh).interpolate(u, self._grid)
        low, high = float(sampled.min()), float(sampled.max())
        scaled = 2.0 * (sampled - low) / max(high - low, np.finfo(float).tiny) - 1.0
        result = self.dmm.move(scaled.reshape(self.dmm.grid, self.dmm.grid), reference)
        self.seconds = time.perf_counter() - start
        self.inverted, self.scale = result.inverted, result.scale
        return result.mesh


def make_mover(name: str, **options: object) -> Mover:
    """``"uniform"``, ``"monge-ampere"`` (alias ``"ma"``) or ``"dmm"`` with its options."""
    kinds: dict[str, type] = {"uniform": UniformMover, "none": UniformMover, "ma": MAMover,
                              "monge-ampere": MAMover, "dmm": DMMMover}
    if name not in kinds:
        raise InvalidOptionError(f"unknown mover {name!r}; use one of {sorted(kinds)}")
    return kinds[name](**options)
