"""Moving meshes inside a time loop: PDEs, movers, the stepper, the simulation-trained DMM."""

from __future__ import annotations

import numpy as np
import pytest

import meshes
from sciml.mesh_movers.movers import DMMMover, MAMover, make_mover
from sciml.mesh_movers.pdes import AllenCahn, Burgers, make_pde
from sciml.mesh_movers.simulation import errors, simulate
from solvers import Solver
from solvers.errors import InvalidOptionError


@pytest.fixture(scope="module")
def allen_cahn_runs():
    pde = AllenCahn(D=1.5e-3, r=20.0, T=0.3)   # a front 0.025 wide: resolvable on 48 x 48
    common = dict(seed=3, dt=0.01, record_every=10)
    reference = simulate(pde, meshes.unit_square(48), **common)
    uniform = simulate(pde, meshes.unit_square(16), **common)
    moved = simulate(pde, meshes.unit_square(16), mover=MAMover(), every=3, **common)
    return reference, uniform, moved


def test_a_short_moving_mesh_run_lowers_the_error_without_tangling(allen_cahn_runs):
    reference, uniform, moved = allen_cahn_runs
    e_uniform, e_moved = errors(uniform, reference), errors(moved, reference)
    assert e_moved[-1] < 0.8 * e_uniform[-1] and e_moved.mean() < 0.8 * e_uniform.mean()
    assert moved.moves == 9 and moved.max_inverted == 0
    assert moved.max_mass_drift < 1e-12              # conserve=True: projection + correction
    assert all(meshes.inverted_cells(s.mesh) == 0 for s in moved.snapshots)
    assert moved.snapshots[-1].mesh is not moved.snapshots[0].mesh   # it moved every 3 steps


def test_projection_transfer_drift_is_small_and_interpolation_is_not_conservative():
    pde = Burgers(nu=0.004, T=0.05)
    common = dict(seed=1, dt=0.005, mover=MAMover(maxiter=50), every=1)
    plain = simulate(pde, meshes.unit_square(12), conserve=False, **common)
    fixed = simulate(pde, meshes.unit_square(12), **common)
    interpolated = simulate(pde, meshes.unit_square(12), transfer="interpolation", **common)
    assert 0 < plain.max_mass_drift < 1e-2 and fixed.max_mass_drift < 1e-12
    assert interpolated.max_mass_drift > plain.max_mass_drift
    assert plain.max_inverted == fixed.max_inverted == interpolated.max_inverted == 0


def test_dmm_mover_in_the_loop_and_the_solver_is_reused():
    solver = Solver(method="direct")
    run = simulate(make_pde("allen-cahn", T=0.05), meshes.unit_square(12), seed=0, dt=0.01,
                   mover=DMMMover("moving"), solver=solver)
    assert run.moves == 4 and run.max_inverted == 0
    assert 0 <= run.seconds["mover"] <= run.seconds["total"]
    assert all(np.isfinite(s.u).all() for s in run.snapshots)


@pytest.mark.parametrize("kwargs, match", [
    (dict(every=0), "every"), (dict(dt=0.0), "dt"), (dict(transfer="nearest"), "transfer"),
    (dict(initial_moves=-1), "initial_moves")])
def test_bad_simulation_options_raise(kwargs, match):
    options = dict(seed=0, dt=0.01) | kwargs
    with pytest.raises(InvalidOptionError, match=match):
        simulate(AllenCahn(T=0.02), meshes.unit_square(4), **options)


def test_bad_pde_and_mover_options_raise():
    with pytest.raises(InvalidOptionError, match="nu"):
        Burgers(nu=-1.0)
    with pytest.raises(InvalidOptionError, match="a must"):
        AllenCahn(a=0.7)
    with pytest.raises(InvalidOptionError, match="unknown pde"):
        make_pde("kdv")
    with pytest.raises(InvalidOptionError, match="unknown mover"):
        make_mover("spring")
    with pytest.raises(InvalidOptionError, match="smooth"):
        MAMover(smooth=-2)


def test_snapshot_data_and_gridded_monitor(tmp_path):
    import jax
    import jax.numpy as jnp

    from sciml.mesh_movers import snapshots
    config = snapshots.SnapshotConfig(seeds=1, holdout=0, fine=8, record_every=50)
    path = snapshots.generate(config, 8, tmp_path, progress=False)
    data = np.load(path)
    assert data["u"].shape == (2 + 4, 8, 8) and data["monitor"].shape == (6, 128, 128)
    assert np.allclose(data["u"].min(axis=(1, 2)), -1) and np.all(data["monitor"] >= 1)
    grid = jnp.asarray(np.arange(16.0).reshape(4, 4))      # cell centres (i + 0.5) / 4
    x = jnp.array([[0.125, 0.125], [0.375, 0.125], [0.25, 0.375], [0.0, 1.0]])
    assert np.allclose(snapshots.bilinear(grid, x), [0.0, 1.0, 4.5, 12.0])
    batch = snapshots.make_batch(jax.random.PRNGKey(0), jnp.asarray(data["u"]),
                                 jnp.asarray(data["monitor"]), batch=3, points=16)
    assert batch.points.shape == (3, 16, 2) and np.allclose(
        batch.theta, batch.monitor.mean(axis=(1, 2)))


def test_shipped_moving_network_improved_on_held_out_runs():
    from sciml.mesh_movers.weights import load
    _, meta = load("moving")
    before, after = meta["validation_initial"], meta["validation"]
    assert after["equidistribution"] < 0.6 * before["equidistribution"]
    assert meta["held_out_snapshots"] > 0 and meta["config"]["init"] == "fronts"


def test_shipped_moving_dmm_lowers_the_burgers_error_in_the_loop():
    pde = Burgers(T=0.125)
    common = dict(seed=7001, dt=0.005, record_every=5)
    reference = simulate(pde, meshes.unit_square(48), **common)
    uniform = errors(simulate(pde, meshes.unit_square(16), **common), reference)
    run = simulate(pde, meshes.unit_square(16), mover=DMMMover("moving"), every=4, **common)
    moved = errors(run, reference)
    assert moved.mean() < 0.6 * uniform.mean() and moved[-1] < 0.6 * uniform[-1]
    assert run.max_inverted == 0 and run.max_mass_drift < 1e-12
