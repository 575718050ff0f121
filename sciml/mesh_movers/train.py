"""Training the DMM data-free on the tanh-front family, with checkpoints and exact resume.

Step ``t`` draws a fresh batch of fronts and collocation points from ``fold_in(PRNGKey(seed),
t)`` (:func:`sciml.mesh_movers.loss.make_batch`) and takes one Adam step (warm-up, cosine
decay, gradient clipping at norm 1) on :func:`sciml.mesh_movers.loss.loss`; there is no data
set on disk and no mesh from a classical mover. The loop, checkpoints and resume are
:func:`sciml.training.train` (a resume must repeat the configuration). The initial weights
come from ``PRNGKey(seed + 1)``.

Files in ``out``: ``checkpoints/`` (``step-<t>.eqx`` + ``latest.json``) and the final
``<name>.eqx`` + ``<name>.json`` (:func:`sciml.mesh_movers.weights.save`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import optax

from sciml import training
from sciml.mesh_movers import loss as dmm_loss
from sciml.mesh_movers import weights
from sciml.mesh_movers.model import Architecture, DMMNet

__all__ = ["TrainConfig", "train"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (stored with checkpoints and weights)."""

    name: str = "fronts"
    steps: int = 3000
    batch: int = 8
    points: int = 512
    lr: float = 1e-3
    alpha: float = 1.0
    width_min: float = 0.02
    width_max: float = 0.06
    boundary_weight: float = 1000.0
    convexity_weight: float = 1.0
    seed: int = 0
    arch: Architecture = field(default_factory=Architecture)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["arch"] = self.arch.to_json()
        return data


def train(config: TrainConfig, out: str | os.PathLike, *, resume: bool = False,
          progress: bool = True, checkpoint_every: int = 250) -> tuple[DMMNet, dict[str, Any]]:
    """Train a DMM network; returns it and its metadata (also saved as ``<name>.eqx``/``.json``
    in ``out``).

    The metadata holds the loss terms of the initial and of the trained network on one
    held-out batch (key ``seed + 2``): ``validation_initial`` and ``validation``.
    """
    out = Path(out)
    net = DMMNet(config.arch, jax.random.PRNGKey(config.seed + 1))
    make = jax.jit(functools.partial(
        dmm_loss.make_batch, batch=config.batch, points=config.points, grid=config.arch.grid,
        alpha=config.alpha, width=(config.width_min, config.width_max)))

    def objective(model: DMMNet, batch: dmm_loss.Batch) -> jax.Array:
        return dmm_loss.loss(model, batch, config.alpha, config.boundary_weight,
                             config.convexity_weight)

    schedule = optax.warmup_cosine_decay_schedule(
        0.0, config.lr, min(100, max(config.steps // 10, 1)), config.steps, config.lr / 20)
    optimiser = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))
    evaluate = eqx.filter_jit(dmm_loss.loss_terms)
    check = make(jax.random.PRNGKey(config.seed + 2))
    initial = evaluate(net, check, config.alpha)
    state = training.train(objective, net, optimiser, lambda t, key: make(key), config.steps,
                           out_dir=out / "checkpoints", seed=config.seed,
                           config=config.to_json(), checkpoint_every=checkpoint_every,
                           resume=resume, progress=progress, desc=f"train-dmm {config.name}")
    terms = evaluate(state.params, check, config.alpha)
    tail = state.losses[-50:]
    meta = {"config": config.to_json(), "loss_every_25": state.losses[::25],
            "final_loss": sum(tail) / len(tail),
            "validation": {k: float(v) for k, v in terms._asdict().items()},
            "validation_initial": {k: float(v) for k, v in initial._asdict().items()},
            "command": f"python -m sciml train-dmm --seed {config.seed} --steps {config.steps}"}
    weights.save(state.params, out / f"{config.name}.eqx", meta)
    return state.params, meta
