r"""Training the DMM for a simulation: monitors of numerical solutions from seeded runs.

The shipped ``"fronts"`` network knows one tanh front with an exact monitor. Inside a time
loop (:mod:`~sciml.mesh_movers.simulation`) the mover sees a *numerical* solution -- several
fronts, bumps steepening into shocks -- and the monitor of the classical mover is built from
its recovered, smoothed gradient (:func:`meshes.gradient_monitor`, ``smooth`` passes). This
module trains a network on exactly that, still data-free in the DMM sense (no mesh from a
classical mover enters; only ``u`` and its monitor):

1. :func:`generate` runs the problems of :mod:`~sciml.mesh_movers.pdes` on a uniform
   ``fine x fine`` mesh from seeds (disjoint from the benchmark's) and keeps, every
   ``record_every`` steps, ``u`` sampled on the network's ``grid x grid`` input grid
   (rescaled to ``[-1, 1]``, as :class:`~sciml.mesh_movers.movers.DMMMover` does) and the
   monitor ``m = 1 + s / (alpha mean s)`` (``s`` the smoothed recovered ``|grad u|``) at the
   centres of a ``128 x 128`` grid of cells, into ``<out>/snapshots.npz``;
2. :func:`train` minimises the DMM loss (:func:`sciml.mesh_movers.loss.residual_terms`) with
   ``m(x)`` the bilinear interpolant of the gridded monitor (differentiable in ``x``),
   ``theta`` its mean, collocation points half ``~ m``, half uniform; it starts from the
   shipped ``"fronts"`` weights (``init``) and takes Adam steps as
   :mod:`~sciml.mesh_movers.train` does (checkpoints, exact resume: :func:`sciml.training.train`).
   The last ``holdout`` runs are not trained on; their loss terms before and after are in
   the metadata.

``bash scripts/train-dmm-moving.sh`` rebuilds the shipped ``"moving"`` weights.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm import tqdm

import meshes
from meshes.interpolate import PointLocator
from sciml import training
from sciml.mesh_movers import loss as dmm_loss
from sciml.mesh_movers import weights
from sciml.mesh_movers.model import DMMNet
from sciml.mesh_movers.pdes import make_pde
from sciml.mesh_movers.simulation import simulate

__all__ = ["SnapshotConfig", "generate", "grid_monitor", "train"]

#: Cells per axis of the gridded monitor.
MONITOR_GRID = 128


@dataclass(frozen=True)
class SnapshotConfig:
    """Everything that determines the data and the training run (stored with the weights)."""

    name: str = "moving"
    pdes: tuple[str, ...] = ("burgers", "allen-cahn")
    seeds: int = 24
    first_seed: int = 1000
    holdout: int = 2
    fine: int = 96
    record_every: int = 20
    alpha: float = 1.0
    smooth: int = 4
    steps: int = 1000
    batch: int = 8
    points: int = 512
    lr: float = 5e-4
    convexity_weight: float = 1.0
    init: str = "fronts"
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class GridBatch(NamedTuple):
    """``u`` ``(B, G, G)``, ``monitor`` ``(B, 128, 128)`` at cell centres, ``theta``
    ``(B,)``, ``points`` ``(B, P, 2)``, ``boundary``/``normals`` ``(B, Pb, 2)``."""

    u: jax.Array
    monitor: jax.Array
    theta: jax.Array
    points: jax.Array
    boundary: jax.Array
    normals: jax.Array


#: The time step of the runs (the benchmark's).
DT = 0.005


def generate(config: SnapshotConfig, grid: int, out: str | os.PathLike,
             progress: bool = True) -> Path:
    """Run the seeded simulations and write ``<out>/snapshots.npz`` (``u``, ``monitor``,
    ``run``: the index of the run each snapshot came from); reused if it exists."""
    path = Path(out) / "snapshots.npz"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    mesh = meshes.unit_square(config.fine)
    axis = np.linspace(0.0, 1.0, grid)
    inputs = np.stack(np.meshgrid(axis, axis, indexing="xy"), axis=-1).reshape(-1, 2)
    us, ms, runs = [], [], []
    jobs = [(name, config.first_seed + k) for k in range(config.seeds) for name in config.pdes]
    for index, (name, seed) in enumerate(tqdm(jobs, desc="snapshots", disable=not progress)):
        pde = make_pde(name)
        run = simulate(pde, mesh, seed=seed, dt=DT, record_every=config.record_every)
        for snap in run.snapshots:
            sampled = PointLocator(snap.mesh).interpolate(snap.u, inputs)
            low, high = sampled.min(), sampled.max()
            us.append((2 * (sampled - low) / max(high - low, 1e-12) - 1).reshape(grid, grid))
            ms.append(grid_monitor(snap.mesh, snap.u, config.alpha, config.smooth))
            runs.append(index)
    np.savez_compressed(path, u=np.array(us, np.float32), monitor=np.array(ms, np.float32),
                        run=np.array(runs))
    return path


def grid_monitor(mesh: meshes.Mesh, u: np.ndarray, alpha: float, smooth: int) -> np.ndarray:
    """:func:`meshes.gradient_monitor` of ``u`` at the centres of the ``128 x 128`` cells,
    ``[j, i]`` (y then x)."""
    axis = (np.arange(MONITOR_GRID) + 0.5) / MONITOR_GRID
    centres = np.stack(np.meshgrid(axis, axis, indexing="xy"), axis=-1).reshape(-1, 2)
    monitor = meshes.gradient_monitor(mesh, u, alpha=alpha, smooth=smooth)
    return monitor(centres).reshape(MONITOR_GRID, MONITOR_GRID)


def bilinear(grid: jax.Array, x: jax.Array) -> jax.Array:
    """The bilinear interpolant of cell-centre values ``grid[j, i]`` at points ``x (P, 2)``
    (constant beyond the outer centres)."""
    n = grid.shape[0]
    coords = jnp.clip(x * n - 0.5, 0.0, n - 1.0)
    return jax.scipy.ndimage.map_coordinates(grid, [coords[:, 1], coords[:, 0]], order=1)


def make_batch(key: jax.Array, u: jax.Array, monitor: jax.Array, *, batch: int,
               points: int) -> GridBatch:
    """Draw ``batch`` snapshots and their collocation/boundary points from ``key``."""
    k_pick, k_points, k_boundary = jax.random.split(key, 3)
    pick = jax.random.randint(k_pick, (batch,), 0, u.shape[0])
    mon = monitor[pick]
    keys = jax.random.split(k_points, batch)
    pts = jax.vmap(dmm_loss.collocation, (0, 0, None))(keys, mon.reshape(batch, -1), points)
    boundary, normals = dmm_loss.boundary_points(k_boundary, batch, max(points // 8, 8))
    return GridBatch(u[pick], mon, mon.mean(axis=(1, 2)), pts, boundary, normals)


def loss_terms(net: DMMNet, batch: GridBatch) -> dmm_loss.LossTerms:
    """The unweighted loss terms, averaged over the batch."""
    def one(u, mon, theta, pts, bnd, nrm):
        return dmm_loss.residual_terms(net, u, functools.partial(bilinear, mon), theta, pts,
                                       bnd, nrm)
    terms = jax.vmap(one)(*batch)
    return dmm_loss.LossTerms(*(jnp.mean(t) for t in terms))


def train(config: SnapshotConfig, out: str | os.PathLike, *, resume: bool = False,
          progress: bool = True, checkpoint_every: int = 100) -> tuple[DMMNet, dict[str, Any]]:
    """Generate the snapshots (once) and train; writes ``<out>/<name>.eqx`` + ``.json``."""
    out = Path(out)
    net, init_meta = weights.load(config.init)
    data = np.load(generate(config, net.arch.grid, out, progress))
    held = data["run"] >= len(config.pdes) * (config.seeds - config.holdout)
    u_train, m_train = jnp.asarray(data["u"][~held]), jnp.asarray(data["monitor"][~held])
    make = jax.jit(functools.partial(make_batch, u=u_train, monitor=m_train,
                                     batch=config.batch, points=config.points))
    check = make_batch(jax.random.PRNGKey(config.seed + 2), jnp.asarray(data["u"][held]),
                       jnp.asarray(data["monitor"][held]), batch=min(16, int(held.sum())),
                       points=config.points)

    def objective(model: DMMNet, batch: GridBatch) -> jax.Array:
        t = loss_terms(model, batch)
        return t.equidistribution + config.convexity_weight * t.convexity

    schedule = optax.warmup_cosine_decay_schedule(
        0.0, config.lr, min(100, max(config.steps // 10, 1)), config.steps, config.lr / 20)
    optimiser = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))
    evaluate = eqx.filter_jit(loss_terms)
    initial = evaluate(net, check)
    state = training.train(objective, net, optimiser, lambda t, key: make(key), config.steps,
                           out_dir=out / "checkpoints", seed=config.seed,
                           config=config.to_json(), checkpoint_every=checkpoint_every,
                           resume=resume, progress=progress, desc=f"train-dmm {config.name}")
    terms = evaluate(state.params, check)
    tail = state.losses[-50:]
    meta = {"config": dict(config.to_json(), alpha=config.alpha),
            "loss_every_25": state.losses[::25], "final_loss": sum(tail) / len(tail),
            "validation": {k: float(v) for k, v in terms._asdict().items()},
            "validation_initial": {k: float(v) for k, v in initial._asdict().items()},
            "snapshots": int((~held).sum()), "held_out_snapshots": int(held.sum()),
            "initial_weights": init_meta.get("sha256", config.init),
            "command": "bash scripts/train-dmm-moving.sh"}
    weights.save(state.params, out / f"{config.name}.eqx", meta)
    return state.params, meta


def main(argv: list[str] | None = None) -> int:
    """``python -m sciml.mesh_movers.snapshots [--out DIR] [--steps N] [--seed S]
    [--resume] [--install] [--no-progress]``."""
    import argparse
    import shutil

    from sciml.cli_options import add_run_options

    defaults = SnapshotConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=defaults.steps, help="optimiser steps")
    parser.add_argument("--seeds", type=int, default=defaults.seeds, help="runs per problem")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="training seed")
    add_run_options(parser, Path("sciml-out") / "dmm-moving",
                    install="sciml/mesh_movers/weights")
    args = parser.parse_args(argv)
    config = dataclasses.replace(defaults, steps=args.steps, seeds=args.seeds, seed=args.seed)
    out = args.out.expanduser().resolve()
    _, meta = train(config, out, resume=args.resume, progress=not args.no_progress)
    print(f"final loss {meta['final_loss']:.4g}; held-out {meta['validation']} (before: "
          f"{meta['validation_initial']}); weights in {out / config.name}.eqx")
    if args.install:
        for suffix in (".eqx", ".json"):
            shutil.copyfile(out / f"{config.name}{suffix}",
                            weights.WEIGHTS_DIR / f"{config.name}{suffix}")
        print(f"installed into {weights.WEIGHTS_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
