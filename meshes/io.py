"""Reading and writing meshes with point and cell data through meshio.

Any format meshio knows works; ``.vtu`` (VTK XML) and ``.xdmf`` are what ParaView opens best.
XDMF heavy data goes to an HDF5 file (h5py) next to the ``.xdmf``. Two-dimensional
points are padded with a zero z-coordinate on write for formats that need three (VTK), and
the zero column is dropped again on read, so ``read(write(m))`` returns the same points,
cells and data.

Errors (missing file, unknown format, a file meshio cannot parse, no cells of a supported
type) raise :class:`meshes.mesh.MeshError` naming the file and what to do.

Examples
--------
>>> import tempfile, os, numpy as np
>>> from meshes.generators import unit_square
>>> m = unit_square(2)
>>> path = os.path.join(tempfile.mkdtemp(), "m.vtu")
>>> _ = write(path, m, point_data={"u": np.arange(9.0)})
>>> m2, point_data, cell_data = read(path)
>>> m2, point_data["u"][:3]
(Mesh(cell_type='triangle', points=9, cells=8, dim=2), array([0., 1., 2.]))
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from meshes.mesh import CELL_TYPES, Mesh, MeshError

__all__ = ["read", "write"]

_PAD_3D = (".vtu", ".vtk", ".xdmf", ".xmf")


def write(path: str | os.PathLike, mesh: Mesh,
          point_data: dict[str, np.ndarray] | None = None,
          cell_data: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``mesh`` with optional nodal (``(N, ...)``) and cell (``(C, ...)``) fields.

    The format follows the file extension (meshio's table). Returns the path written.
    """
    import meshio

    path = Path(path)
    point_data = {k: _field(k, v, mesh.n_points, "point") for k, v in (point_data or {}).items()}
    cell_data = {k: [_field(k, v, mesh.n_cells, "cell")] for k, v in (cell_data or {}).items()}
    points = mesh.points
    if mesh.dim == 2 and path.suffix.lower() in _PAD_3D:
        points = np.column_stack([points, np.zeros(mesh.n_points)])
    out = meshio.Mesh(points, [(mesh.cell_type, mesh.cells)], point_data=point_data,
                      cell_data=cell_data)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        meshio.write(path, out)
    except (meshio.WriteError, KeyError, ValueError) as exc:
        raise MeshError(f"cannot write mesh file {path} ({exc}); use a format meshio writes, "
                        f"e.g. .vtu or .xdmf") from None
    return path


def read(path: str | os.PathLike) -> tuple[Mesh, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Read a mesh file: ``(mesh, point_data, cell_data)``.

    The first cell block of a supported type (triangle, quad, tetra) is kept, with the cell
    data of that block; 2D meshes stored with a zero z-coordinate come back two-dimensional.
    """
    import meshio

    path = Path(path)
    if not path.is_file():
        raise MeshError(f"mesh file {path} does not exist; check the path")
    try:
        raw = meshio.read(path)
    except (Exception, SystemExit) as exc:  # meshio raises many types, even SystemExit
        raise MeshError(f"cannot read mesh file {path} ({type(exc).__name__}: {exc}); is it a "
                        f"mesh in a format meshio reads (e.g. .vtu, .xdmf, .msh)?") from None
    blocks = [n for n, block in enumerate(raw.cells) if block.type in CELL_TYPES]
    if not blocks:
        found = sorted({block.type for block in raw.cells}) or ["none"]
        raise MeshError(f"mesh file {path} has no cells of a supported type "
                        f"({', '.join(CELL_TYPES)}); it has: {', '.join(found)}")
    index = blocks[0]
    block = raw.cells[index]
    points = np.asarray(raw.points, dtype=float)
    if CELL_TYPES[block.type][0] == 2 and points.shape[1] == 3:
        points = points[:, :2]
    mesh = Mesh(points, block.data, block.type)
    point_data = {k: np.asarray(v) for k, v in raw.point_data.items()}
    cell_data = {k: np.asarray(v[index]) for k, v in raw.cell_data.items()}
    return mesh, point_data, cell_data


def _field(name: str, values: np.ndarray, count: int, where: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim == 0 or values.shape[0] != count:
        raise MeshError(f"{where} data {name!r} has shape {values.shape}, expected first axis "
                        f"{count} (one value per {where})")
    return values
