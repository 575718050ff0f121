"""Matplotlib pictures of 2D meshes and of P1 fields on them.

``plot_mesh`` draws the cell edges (``triplot``; quads are drawn as their own outlines) and,
optionally, marks inverted cells in red; ``plot_field`` colours a nodal field with
``tripcolor`` (Gouraud shading, i.e. the P1 interpolant). Both return the axes; matplotlib is
imported on first use.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from meshes.mesh import Mesh, MeshError
from meshes.quality import signed_measures

__all__ = ["plot_field", "plot_mesh"]


def plot_mesh(mesh: Mesh, ax: Any = None, *, color: str = "k", linewidth: float = 0.4,
              show_inverted: bool = True, title: str | None = None) -> Any:
    """Draw the edges of a 2D mesh; inverted cells are filled red when ``show_inverted``."""
    _check_planar(mesh)
    ax = _axes(ax)
    if mesh.cell_type == "quad":
        loops = mesh.points[np.concatenate([mesh.cells, mesh.cells[:, :1]], axis=1)]
        ax.plot(loops[..., 0].T, loops[..., 1].T, color=color, linewidth=linewidth)
    else:
        ax.triplot(mesh.points[:, 0], mesh.points[:, 1], mesh.cells, color=color,
                   linewidth=linewidth)
    if show_inverted:
        for cell in mesh.cells[signed_measures(mesh) <= 0]:
            ax.fill(*mesh.points[cell].T, color="red", alpha=0.7)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def plot_field(mesh: Mesh, values: np.ndarray, ax: Any = None, *, cmap: str = "viridis",
               colorbar: bool = True, title: str | None = None) -> Any:
    """Colour the P1 field with nodal ``values`` over a 2D mesh (``tripcolor``)."""
    _check_planar(mesh)
    values = np.asarray(values, dtype=float)
    if values.shape != (mesh.n_points,):
        raise MeshError(f"values must have shape ({mesh.n_points},), got {values.shape}")
    ax = _axes(ax)
    tri = mesh.triangulated()
    image = ax.tripcolor(tri.points[:, 0], tri.points[:, 1], tri.cells, values,
                         shading="gouraud", cmap=cmap)
    if colorbar:
        ax.figure.colorbar(image, ax=ax)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots()[1]


def _check_planar(mesh: Mesh) -> None:
    if mesh.dim != 2:
        raise MeshError(f"plotting draws 2D meshes, this one is {mesh.dim}D")
