"""Mesh movers: classical Monge-Ampere relaxation and the data-free neural mover (DMM)."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

import meshes
from sciml.mesh_movers import DMM, Architecture, DMMNet
from sciml.mesh_movers.train import TrainConfig, train
from sciml.mesh_movers.weights import load, save
from solvers.errors import ModelLoadError

CENTRE, RADIUS, WIDTH = np.array([0.5, 0.5]), 0.3, 0.04


def _front(points):
    return np.tanh((np.linalg.norm(points - CENTRE, axis=1) - RADIUS) / WIDTH)


def _slope(points):
    return (1 - _front(points) ** 2) / WIDTH


_AXIS = (np.arange(128) + 0.5) / 128
_MEAN = _slope(np.stack(np.meshgrid(_AXIS, _AXIS), axis=-1).reshape(-1, 2)).mean()


def _monitor(points):
    return 1.0 + _slope(points) / _MEAN


def test_monge_ampere_equidistributes_without_tangling():
    mesh = meshes.unit_square(16)
    result = meshes.MongeAmpereMover(mesh, _monitor, rtol=1e-2, maxiter=300).move()
    assert result.converged and result.residual <= 1e-2 < result.residuals[0]
    assert meshes.inverted_cells(result.mesh) == 0
    uniform = meshes.equidistribution_spread(mesh, _monitor)
    moved = meshes.equidistribution_spread(result.mesh, _monitor)
    assert moved < 0.5 * uniform
    boundary = mesh.boundary_points()  # boundary nodes stay on the boundary
    on_side = np.isclose(result.mesh.points[boundary], 0) | np.isclose(
        result.mesh.points[boundary], 1)
    assert on_side.any(axis=1).all()


def test_monge_ampere_needs_a_structured_mesh():
    mesh = meshes.unit_square(4)
    shuffled = meshes.Mesh(mesh.points[::-1], mesh.points.shape[0] - 1 - mesh.cells)
    with pytest.raises(meshes.MeshError, match="structured"):
        meshes.MongeAmpereMover(shuffled, _monitor)


def test_gradient_monitor_from_a_p1_field():
    fine = meshes.unit_square(32)
    monitor = meshes.gradient_monitor(fine, _front(fine.points), alpha=1.0)
    values = monitor(np.array([[0.5, 0.2], [0.05, 0.05]]))  # on the front / far from it
    assert values[0] > 5 and values[1] == pytest.approx(1.0, abs=1e-3)


TINY = Architecture(grid=8, channels=(4,), latent=8, width=16, depth=1, modes=2, scale=0.05)


def test_dmm_loss_decreases_and_its_mesh_is_valid(tmp_path):
    config = TrainConfig(steps=40, batch=2, points=64, lr=3e-3, arch=TINY)
    net, meta = train(config, tmp_path, progress=False)
    before, after = meta["validation_initial"], meta["validation"]
    assert after["equidistribution"] < 0.9 * before["equidistribution"]
    assert after["boundary"] < 1e-8  # hard boundary: d phi / dn = 0 exactly
    mover = DMM(tmp_path / "fronts.eqx")
    result = mover.move(_front, meshes.unit_square(8))
    assert result.inverted == 0 and result.scale == 1.0
    assert np.all((result.mesh.points >= 0) & (result.mesh.points <= 1))


def test_shipped_dmm_moves_a_mesh_validly():
    mesh = meshes.unit_square(16)
    result = DMM("fronts").move(_front, mesh)
    assert result.inverted == 0
    uniform = meshes.equidistribution_spread(mesh, _monitor)
    assert meshes.equidistribution_spread(result.mesh, _monitor) < uniform


def test_weight_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="unknown DMM model"):
        load("nonsense")
    with pytest.raises(ModelLoadError, match="missing"):
        load(tmp_path / "none.eqx")
    path = save(DMMNet(TINY, jax.random.PRNGKey(0)), tmp_path / "m.eqx", {"config": {}})
    assert load(path)[0].arch == TINY
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(ModelLoadError, match="corrupt"):
        load(path)
    meta = path.with_suffix(".json")
    meta.write_text(json.dumps({"nothing": 1}))
    with pytest.raises(ModelLoadError, match="corrupt"):
        load(path)
