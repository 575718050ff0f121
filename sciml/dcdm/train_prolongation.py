r"""Training the learned prolongation (:mod:`sciml.dcdm.learned_prolongation`) unsupervised.

Step ``t`` draws one coefficient field on grid ``t mod G`` (``--grid 32 64``): a family in
:data:`TRAIN_FAMILIES` (random inclusions, channels, boxes, cracks of
:mod:`operators.contrast`) with a contrast ``10^u``, ``u`` uniform in ``[1, 6]``, conducting
or (half of the time) insulating, and the field's own seed ``TRAIN_SEEDS + 1000 seed + t``
(so training never sees the evaluation seeds of ``bench_multigrid.py`` nor the held-out
geometries: disks, checkerboards, random tilings). The loss is
:func:`~sciml.dcdm.learned_prolongation.energy_loss` (energy reduction of V-cycles
``skip + 1 .. cycles`` from ``batch`` random errors drawn with the step's key), minimised
with Adam (warm-up, cosine decay, clipping). Float64 throughout (the network itself runs in
float32).

The loop, checkpoints, exact resume and progress bar are :func:`sciml.training.train`;
files under ``<out>/<model>/``: ``checkpoints/`` and the final ``<model>.eqx`` + ``.json``
(kind ``"learned-mg"``, loadable as ``model="<out>/<model>/<model>.eqx"`` or, once copied
into ``sciml/dcdm/weights/``, by name). ``scripts/train-dcdm-mg.sh`` rebuilds the shipped
``contrast2d``.

Reproducibility: initial weights from ``PRNGKey(seed)``, the field of step ``t`` from
``(seed, t)``, its random errors from ``fold_in(PRNGKey(seed + 1), t)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from operators import contrast
from operators.stencils import diffusion_stencil
from sciml import training
from sciml.dcdm import weights
from sciml.dcdm.learned_prolongation import MGConfig, ProlongationNet, energy_loss
from solvers.errors import InvalidOptionError

#: Families of the training fields (held-out geometries: disks, checkerboards, tilings).
TRAIN_FAMILIES = ("inclusions", "channels", "blocks", "cracks")
#: Offset of the training fields' seeds (the benchmarks use seeds below 10^5).
TRAIN_SEEDS = 10**6


@dataclass(frozen=True)
class MGTrainConfig:
    """Everything that determines a training run (stored with checkpoints and weights)."""

    model: str = "contrast2d"
    ndim: int = 2
    grids: tuple[int, ...] = (32, 64)
    steps: int = 2000
    lr: float = 3e-4
    batch: int = 8
    cycles: int = 8
    skip: int = 4
    width: int = 16
    layers: int = 2
    seed: int = 0
    warmup: int = 50
    checkpoint_every: int = 100

    def validate(self) -> None:
        if self.ndim not in (2, 3):
            raise InvalidOptionError(f"ndim must be 2 or 3, not {self.ndim!r}")
        if not self.grids or min(self.grids) < 8 or any(g % 4 for g in self.grids):
            raise InvalidOptionError(f"grids must be multiples of 4, >= 8: {self.grids}")
        if not 0 <= self.skip < self.cycles:
            raise InvalidOptionError(f"need 0 <= skip < cycles: {self.skip}, {self.cycles}")
        for name in ("steps", "batch", "cycles", "width", "layers", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise InvalidOptionError(f"{name} must be >= 1, not {getattr(self, name)}")
        if not self.lr > 0:
            raise InvalidOptionError(f"lr must be > 0, not {self.lr}")

    def architecture(self) -> MGConfig:
        return MGConfig(self.ndim, self.width, self.layers)

    def command(self) -> str:
        return (f"python -m sciml.dcdm.train_prolongation --model {self.model} --ndim "
                f"{self.ndim} --grid {' '.join(map(str, self.grids))} --steps {self.steps} "
                f"--lr {self.lr:g} --batch {self.batch} --cycles {self.cycles} --skip {self.skip} "
                f"--width "
                f"{self.width} --layers {self.layers} --seed {self.seed}")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def training_field(config: MGTrainConfig, t: int) -> np.ndarray:
    """The coefficient of step ``t`` (see the module docstring)."""
    rng = np.random.default_rng([config.seed, t])
    n = config.grids[t % len(config.grids)]
    family = TRAIN_FAMILIES[int(rng.integers(len(TRAIN_FAMILIES)))]
    high = 10 ** rng.uniform(1, 6)
    high = 1 / high if rng.random() < 0.5 else high
    options: dict[str, Any] = {
        "inclusions": {"count": int(rng.integers(4, 25)), "radii": (0.02, 0.15)},
        "channels": {"count": int(rng.integers(2, 8)), "width": float(rng.uniform(0.03, 0.1))},
        "blocks": {"count": int(rng.integers(3, 15))},
        "cracks": {"count": int(rng.integers(3, 12)), "width": float(rng.uniform(0.02, 0.06))},
    }[family]
    seed = TRAIN_SEEDS + 1000 * config.seed + t
    return contrast.FAMILIES[family]((n,) * config.ndim, high, seed=seed, **options)


def train(config: MGTrainConfig, out: Path, *, resume: bool = False,
          progress: bool = True) -> Path:
    """Train; returns the path of the final ``.eqx`` file (see the module docstring)."""
    config.validate()
    run_dir = Path(out) / config.model
    warmup = min(config.warmup, config.steps // 2)
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, config.lr, warmup, max(config.steps, warmup + 1), config.lr / 20)
    optimiser = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))

    def loss(net: ProlongationNet, batch: dict[str, Any]) -> jax.Array:
        return energy_loss(net, diffusion_stencil(batch["K"]), batch["key"], config.batch,
                           config.cycles, config.skip)

    def batches(t: int, key: jax.Array) -> dict[str, Any]:
        return {"K": jnp.asarray(training_field(config, t), jnp.float64), "key": key}

    t0 = time.perf_counter()
    with jax.enable_x64(True):
        state = training.train(
            loss, ProlongationNet(config.architecture(), jax.random.PRNGKey(config.seed)),
            optimiser, batches, config.steps, out_dir=run_dir / "checkpoints",
            seed=config.seed + 1, config={k: v for k, v in config.to_json().items()
                                          if k != "checkpoint_every"},
            checkpoint_every=config.checkpoint_every, resume=resume, progress=progress,
            desc=f"train {config.model}", on_step=_log(config.checkpoint_every, progress))
    losses = state.losses
    chunk = max(1, len(losses) // 20)
    meta = {
        "model": config.model, "config": config.to_json(), "command": config.command(),
        "seed": config.seed, "families": list(TRAIN_FAMILIES),
        "family": "sharp high-contrast diffusion (inclusions, channels, boxes; 1e1-1e6)",
        "loss": {"first": float(np.mean(losses[:20])), "last": float(np.mean(losses[-20:])),
                 "history": [float(np.mean(losses[i:i + chunk]))
                             for i in range(0, len(losses), chunk)]},
        "training_seconds": round(time.perf_counter() - t0, 1),
        "resumed_from_step": state.resumed_from,
        "trained_with": {"jax": jax.__version__, "equinox": eqx.__version__,
                         "optax": optax.__version__, "python": platform.python_version()},
    }
    single = jax.tree_util.tree_map(lambda x: np.asarray(x, np.float32), state.params)
    return weights.save(single, run_dir / f"{config.model}.eqx", meta)


def _log(every: int, progress: bool) -> Any:
    """A line every ``every`` steps (the tqdm bar shows only on a terminal; logs get these)."""
    def on_step(state: training.TrainState) -> None:
        if progress and state.step % every == 0:
            recent = float(np.mean(state.losses[-every:]))
            print(f"step {state.step}: mean loss of the last {every} steps {recent:.4f}",
                  flush=True)
    return on_step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    defaults = MGTrainConfig()
    parser.add_argument("--model", default=defaults.model)
    parser.add_argument("--ndim", type=int, default=defaults.ndim)
    parser.add_argument("--grid", type=int, nargs="+", default=list(defaults.grids))
    for name in ("steps", "batch", "cycles", "skip", "width", "layers", "seed",
                 "checkpoint_every"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int,
                            default=getattr(defaults, name))
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    config = MGTrainConfig(args.model, args.ndim, tuple(args.grid), args.steps, args.lr,
                           args.batch, args.cycles, args.skip, args.width, args.layers,
                           args.seed, checkpoint_every=args.checkpoint_every)
    path = train(config, args.out, resume=args.resume, progress=not args.no_progress)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
