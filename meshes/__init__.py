"""Meshes: a validated :class:`Mesh`, structured generators, meshio I/O, quality metrics,
interpolation of P1 fields between meshes, matplotlib plotting and the classical
Monge-Ampere mesh mover.

``import meshes`` loads NumPy, SciPy and meshio (matplotlib on the first plot or point
location). It is the bottom layer: of our packages it imports only :mod:`solvers.errors`
(the error hierarchy, which imports nothing of ours), so no solver, pyamg or JAX
(``tests/project/test_layers.py`` checks it). P1 element matrices are :mod:`meshes.p1`.

Examples
--------
>>> import meshes
>>> m = meshes.unit_square(8)
>>> m, meshes.inverted_cells(m)
(Mesh(cell_type='triangle', points=81, cells=128, dim=2), 0)
"""

from meshes.generators import box, rectangle, unit_square
from meshes.interpolate import interpolate, locate, transfer
from meshes.io import read, write
from meshes.mesh import CELL_TYPES, Mesh, MeshError
from meshes.monge_ampere import MongeAmpereMover, MoveResult, gradient_monitor
from meshes.plotting import plot_field, plot_mesh
from meshes.quality import (
    aspect_ratios,
    equidistribution_spread,
    inverted_cells,
    min_angles,
    signed_measures,
)

__all__ = [
    "CELL_TYPES",
    "Mesh",
    "MeshError",
    "MongeAmpereMover",
    "MoveResult",
    "aspect_ratios",
    "box",
    "equidistribution_spread",
    "gradient_monitor",
    "interpolate",
    "inverted_cells",
    "locate",
    "min_angles",
    "plot_field",
    "plot_mesh",
    "read",
    "rectangle",
    "signed_measures",
    "transfer",
    "unit_square",
    "write",
]
