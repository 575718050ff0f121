"""meshes: validation, generators, meshio round trips, quality, interpolation, plotting."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import meshes
from meshes import MeshError
from solvers.errors import SolverError


def test_generators_are_positively_oriented_and_cover_the_domain():
    for mesh, measure in [(meshes.unit_square(5), 1.0),
                          (meshes.rectangle(3, 4, upper=(2.0, 3.0), cell_type="quad"), 6.0),
                          (meshes.box(3, 2, 4), 1.0)]:
        signed = meshes.signed_measures(mesh)
        assert np.all(signed > 0)
        assert signed.sum() == pytest.approx(measure)
        assert meshes.inverted_cells(mesh) == 0


def test_box_is_conforming():
    mesh = meshes.box(2)
    faces = np.sort(np.concatenate([mesh.cells[:, [a, b, c]] for a, b, c in
                                    [(1, 2, 3), (0, 2, 3), (0, 1, 3), (0, 1, 2)]]), axis=1)
    _, counts = np.unique(faces, axis=0, return_counts=True)
    assert counts.max() == 2  # every face is shared by at most two tetrahedra
    assert len(mesh.boundary_facets()) == 6 * 2 * 2 * 2  # 2 triangles per boundary quad


@pytest.mark.parametrize("cells, message", [
    (np.array([[0, 1, 5]]), "outside"),
    (np.array([[0, 1, 1]]), "repeats a vertex"),
    (np.array([[0, 1]]), "shape"),
    (np.array([[0.0, 1.0, 2.0]]), "integers"),
])
def test_bad_cells_raise_a_clear_error(cells, message):
    points = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(MeshError, match=message) as info:
        meshes.Mesh(points, cells)
    assert isinstance(info.value, SolverError) and isinstance(info.value, ValueError)


def test_bad_points_and_cell_type():
    with pytest.raises(MeshError, match="NaN"):
        meshes.Mesh(np.array([[0.0, np.nan], [1, 0], [0, 1]]), np.array([[0, 1, 2]]))
    with pytest.raises(MeshError, match="unknown cell_type"):
        meshes.Mesh(np.eye(3), np.array([[0, 1, 2]]), "hexagon")


@pytest.mark.parametrize("suffix", [".vtu", ".xdmf"])
def test_meshio_round_trip_with_point_and_cell_data(tmp_path, rng, suffix):
    mesh = meshes.unit_square(3).with_points(meshes.unit_square(3).points
                                             + 0.01 * rng.standard_normal((16, 2)))
    u = rng.standard_normal(mesh.n_points)
    flux = rng.standard_normal((mesh.n_points, 2))
    area = meshes.signed_measures(mesh)
    path = meshes.write(tmp_path / f"m{suffix}", mesh, point_data={"u": u, "flux": flux},
                        cell_data={"area": area})
    back, point_data, cell_data = meshes.read(path)
    assert back.cell_type == "triangle" and back.dim == 2
    np.testing.assert_allclose(back.points, mesh.points)
    np.testing.assert_array_equal(back.cells, mesh.cells)
    np.testing.assert_allclose(point_data["u"], u)
    np.testing.assert_allclose(point_data["flux"], flux)
    np.testing.assert_allclose(cell_data["area"], area)


def test_meshio_round_trip_tetra(tmp_path):
    mesh = meshes.box(2)
    back, _, _ = meshes.read(meshes.write(tmp_path / "box.vtu", mesh))
    np.testing.assert_allclose(back.points, mesh.points)
    np.testing.assert_array_equal(back.cells, mesh.cells)
    assert back.cell_type == "tetra"


def test_bad_mesh_files_raise_a_clear_error(tmp_path):
    with pytest.raises(MeshError, match="does not exist"):
        meshes.read(tmp_path / "missing.vtu")
    garbage = tmp_path / "garbage.vtu"
    garbage.write_text("this is not a mesh")
    with pytest.raises(MeshError, match="cannot read mesh file"):
        meshes.read(garbage)
    with pytest.raises(MeshError, match="point data 'u'"):
        meshes.write(tmp_path / "m.vtu", meshes.unit_square(2), point_data={"u": np.ones(3)})


def test_quality_metrics():
    mesh = meshes.unit_square(4)
    np.testing.assert_allclose(meshes.min_angles(mesh), 45.0)
    ratio = meshes.aspect_ratios(mesh)
    assert np.all(ratio > 1) and np.allclose(ratio, ratio[0])
    equilateral = meshes.Mesh(np.array([[0, 0], [1, 0], [0.5, np.sqrt(3) / 2]]),
                              np.array([[0, 1, 2]]))
    assert meshes.aspect_ratios(equilateral)[0] == pytest.approx(1.0)
    assert meshes.min_angles(meshes.box(1)).min() > 0
    flipped = mesh.with_points(mesh.points.copy())
    points = flipped.points.copy()
    points[12] = [0.9, 0.9]  # the centre vertex pulled across its neighbours
    assert meshes.inverted_cells(mesh.with_points(points)) > 0


def test_interpolation_is_exact_for_linear_fields_and_second_order(rng):
    coarse = meshes.unit_square(8)
    moved = coarse.with_points(coarse.points + np.where(
        (coarse.points > 0) & (coarse.points < 1), 0.02 * rng.standard_normal((81, 2)), 0.0))
    points = rng.random((500, 2))
    linear = lambda x: 1 + 2 * x[:, 0] - 3 * x[:, 1]  # noqa: E731
    np.testing.assert_allclose(meshes.interpolate(moved, linear(moved.points), points),
                               linear(points), atol=1e-12)
    smooth = lambda x: np.sin(3 * x[:, 0]) * np.cos(2 * x[:, 1])  # noqa: E731
    errors = []
    for n in (8, 16):
        m = meshes.unit_square(n)
        errors.append(np.abs(meshes.interpolate(m, smooth(m.points), points)
                             - smooth(points)).max())
    assert errors[0] / errors[1] > 3.0
    fine = meshes.unit_square(16)
    np.testing.assert_allclose(meshes.transfer(coarse, linear(coarse.points), fine),
                               linear(fine.points), atol=1e-12)


def test_plotting_draws_meshes_and_fields(tmp_path):
    import matplotlib.pyplot as plt

    mesh = meshes.unit_square(4)
    fig, axes = plt.subplots(1, 3)
    meshes.plot_mesh(mesh, axes[0], title="mesh")
    meshes.plot_field(mesh, mesh.points[:, 0], axes[1])
    meshes.plot_mesh(meshes.unit_square(2, cell_type="quad"), axes[2])
    fig.savefig(tmp_path / "mesh.png")
    plt.close(fig)
    assert (tmp_path / "mesh.png").stat().st_size > 1000
    with pytest.raises(MeshError, match="2D"):
        meshes.plot_mesh(meshes.box(1))


def _wavy(n):
    """A moved (untangled) unit-square mesh: interior nodes displaced smoothly."""
    m = meshes.unit_square(n)
    x, y = m.points.T
    shift = 0.3 / n * np.sin(np.pi * x) * np.sin(np.pi * y)
    return m.with_points(np.column_stack([x + shift, y - shift]))


def test_projection_conserves_the_integral_and_reproduces_linear_fields():
    from meshes.projection import integral, project, subdivided_rule
    source, target = meshes.unit_square(16), _wavy(12)
    assert meshes.inverted_cells(target) == 0
    lam, w = subdivided_rule(2)
    assert lam.shape == (16 * 6, 3) and w.sum() == pytest.approx(1.0)
    linear = 1 + 2 * source.points[:, 0] - source.points[:, 1]
    exact = 1 + 2 * target.points[:, 0] - target.points[:, 1]
    assert np.allclose(project(source, linear, target).values, exact, atol=1e-10)
    u = np.tanh((np.linalg.norm(source.points - 0.45, axis=1) - 0.25) / 0.05)
    plain = project(source, u, target)
    assert abs(plain.mass_drift) < 1e-3            # quadrature only misses the kinks
    finer = abs(project(source, u, target, refine=3).mass_drift)
    assert finer < 1e-5                            # ... which refining resolves
    fixed = project(source, u, target, conserve=True)
    assert fixed.mass == pytest.approx(integral(source, u), abs=1e-13)
    interp = meshes.transfer(source, u, target)    # interpolation is not conservative
    drift = abs(integral(target, interp) - integral(source, u)) / integral(source, np.abs(u))
    assert drift > 10 * finer
    with pytest.raises(MeshError, match="refine"):
        project(source, u, target, refine=9)


def test_smoothed_gradient_monitor_spreads_the_layer():
    m = meshes.unit_square(32)
    u = np.tanh((m.points[:, 0] - 0.5) / 0.02)
    sharp = meshes.gradient_monitor(m, u, smooth=0)
    smooth = meshes.gradient_monitor(m, u, smooth=4)
    near, at = np.array([[0.5 + 2.5 / 32, 0.5]]), np.array([[0.5, 0.5]])
    assert smooth(near)[0] > sharp(near)[0] and smooth(at)[0] < sharp(at)[0]
