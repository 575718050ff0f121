"""Training a DCDM network: the paper's scale-invariant loss, Adam, checkpoints, resume.

For a training vector ``b`` (unit norm, :mod:`sciml.dcdm.data`) and the network output
``q = f(b)``, the loss is the residual of the best multiple of ``q`` as a solution [1]_ (eq. 7):

.. math:: L(b) = \\left\\| b - \\frac{q^T b}{q^T A q} A q \\right\\|_2^2,

invariant to the scale of ``q`` (the network approximates ``A^{-1}`` only up to a constant)
and of ``A``. The batch mean is minimised with Adam (warm-up, cosine decay, gradient
clipping) for a fixed number of steps.

Reproducibility: the initial weights come from ``PRNGKey(seed)``, the batch of step ``t`` from
``fold_in(PRNGKey(seed + 1), t)``, the Ritz vectors from ``seed`` (:func:`sciml.dcdm.data.build`),
so a run resumed from a checkpoint draws exactly the batches it would have drawn and ends
with bit-identical weights. The loop, checkpoints and resume are :func:`sciml.training.train`;
a resume must repeat the configuration (all of :class:`TrainConfig` but ``checkpoint_every``;
``steps`` included, since it shapes the learning-rate schedule).

The architecture is the family's (``TrainConfig.network``): the multilevel
:class:`~sciml.dcdm.model.DCDMNet`, or the paper's :class:`~sciml.dcdm.paper_net.PaperNet`
(family ``paper-poisson2d``, ``widths[0]`` channels); data, loss and loop are the same.

Several training grids may be given (``--grid 32 64 128``); step ``t`` uses grid
``t mod G``. Training on more than one size pins down how the shared coarse levels of the
network scale from one level to the next, which is what lets the weights serve larger grids.

Files, under ``<out>/<model>/``: ``data-<grid>.npz`` (cached Ritz vectors),
``checkpoints/`` (:mod:`sciml.training` checkpoints: ``step-<t>.eqx`` with network and
optimiser state, the last two kept, and ``latest.json``), and the final ``<model>.eqx`` +
``<model>.json``.

References
----------
.. [1] A. Kaneda et al., "A Deep Conjugate Direction Method for Iteratively Solving Linear
   Systems", ICML 2023.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from sciml import training
from sciml.dcdm import data, stencil, weights
from sciml.dcdm.families import Family, get_family
from sciml.dcdm.model import Architecture, DCDMNet
from sciml.dcdm.paper_net import PaperConfig, PaperNet
from solvers.errors import InvalidOptionError


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (stored with checkpoints and weights)."""

    model: str
    grids: tuple[tuple[int, ...], ...]
    steps: int
    batch: int
    lr: float
    seed: int = 0
    ritz: int = 1000
    widths: tuple[int, ...] = (16,)
    weighting: str = "octave"
    warmup: int = 100
    checkpoint_every: int = 250
    network: str = "multilevel"

    @classmethod
    def for_family(cls, name: str, **overrides: Any) -> TrainConfig:
        """The family's defaults, with ``overrides`` (``None`` values ignored)."""
        family = get_family(name)
        values = {"model": name, "grids": family.grids, "steps": family.steps,
                  "batch": family.batch, "lr": family.lr, "ritz": family.ritz,
                  "widths": family.widths, "network": family.network}
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["grids"] = tuple(
            (g,) * family.ndim if isinstance(g, int) else
            (tuple(g) * family.ndim if len(g) == 1 else tuple(g)) for g in values["grids"])
        values["widths"] = tuple(values["widths"])
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        family = get_family(self.model)
        for grid in self.grids:
            if len(grid) != family.ndim or min(grid) < 4:
                raise InvalidOptionError(
                    f"each grid must have {family.ndim} sides >= 4 for {self.model}, not {grid}")
        if not self.grids:
            raise InvalidOptionError("give at least one training grid")
        for name in ("steps", "batch", "ritz", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise InvalidOptionError(f"{name} must be >= 1, not {getattr(self, name)}")
        if not self.lr > 0:
            raise InvalidOptionError(f"lr must be > 0, not {self.lr}")
        if self.network not in weights.KINDS:
            raise InvalidOptionError(
                f"network must be one of {', '.join(weights.KINDS)}, not {self.network!r}")

    @property
    def family(self) -> Family:
        return get_family(self.model)

    def architecture(self) -> Architecture | PaperConfig:
        """The network's configuration: multilevel, or the paper's (``widths[0]`` channels)."""
        if self.network == "paper":
            return PaperConfig(self.family.ndim, channels=self.widths[0])
        return Architecture(self.family.ndim, self.family.coefficient, self.widths)

    def command(self) -> str:
        """The command line that reproduces this run."""
        grids = " ".join("x".join(map(str, g)) for g in self.grids)
        return (f"python -m sciml train-dcdm --model {self.model} "
                f"--grid {grids} --steps {self.steps} "
                f"--batch {self.batch} --lr {self.lr:g} --seed {self.seed} --ritz {self.ritz} "
                f"--widths {' '.join(map(str, self.widths))} --weighting {self.weighting}")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def resume_key(self) -> dict:
        """What a resumed run must repeat: everything but ``checkpoint_every``.

        ``network`` is left out while it is ``"multilevel"``, so that checkpoints written
        before the field existed still resume.
        """
        return {k: v for k, v in self.to_json().items()
                if k != "checkpoint_every" and (k, v) != ("network", "multilevel")}


def loss_fn(net: DCDMNet | PaperNet, b: jax.Array, diagonal: jax.Array,
            upper: tuple[jax.Array, ...], coefficient: jax.Array | None) -> jax.Array:
    """Batch mean of ``||b - (q^T b / q^T A q) A q||^2`` with ``q = f(b / rms(b))``.

    ``b`` has shape ``(batch, *grid)`` with unit-norm samples; the bands broadcast against it.
    """
    ndim = net.arch.ndim
    grid_axes = tuple(range(1, ndim + 1))
    n = math.prod(b.shape[1:])
    inputs = b * math.sqrt(n)
    q = jax.vmap(net)(inputs, coefficient) if coefficient is not None else jax.vmap(net)(inputs)
    Aq = stencil.apply(diagonal, upper, q)
    alpha = jnp.sum(q * b, axis=grid_axes) / jnp.sum(q * Aq, axis=grid_axes)
    residual = b - alpha.reshape((-1,) + (1,) * ndim) * Aq
    return jnp.mean(jnp.sum(residual**2, axis=grid_axes))


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Adam with linear warm-up, cosine decay to ``lr / 20`` and global-norm clipping at 1."""
    warmup = min(config.warmup, config.steps // 2)
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, config.lr, warmup, max(config.steps, warmup + 1), config.lr / 20)
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))


def make_batches(config: TrainConfig,
                 arrays: list[dict[str, Any]]) -> Callable[[int, jax.Array], dict[str, Any]]:
    """``batches(t, key) -> batch`` for :func:`sciml.training.train`: grid ``t mod G``.

    The batch holds ``b`` (``(batch, *grid)``, unit-norm training vectors drawn with ``key``)
    and the stencil bands (and coefficient) of the matrix each vector belongs to.
    """
    uses_coefficient = config.family.coefficient

    @eqx.filter_jit
    def draw(key: jax.Array, grid: dict[str, Any]) -> dict[str, Any]:
        shape = grid["diagonal"].shape[1:]
        b, index = data.sample(key, grid["vectors"], grid["weights"], config.batch)
        return {"b": b.reshape((config.batch, *shape)), "diagonal": grid["diagonal"][index],
                "upper": tuple(u[index] for u in grid["upper"]),
                "coefficient": grid["coefficient"][index] if uses_coefficient else None}

    return lambda t, key: draw(key, arrays[t % len(arrays)])


def train(config: TrainConfig, out: Path, *, resume: bool = False, progress: bool = True,
          validate: bool = True) -> Path:
    """Train the network of ``config.model``; returns the path of the final ``.eqx`` file.

    The loop, its checkpoints in ``<out>/<model>/checkpoints`` and ``resume`` are those of
    :func:`sciml.training.train`: ``Ctrl-C`` saves a checkpoint at the last finished step
    before re-raising, so ``--resume`` continues from there and ends with the same weights.
    """
    config.validate()
    run_dir = Path(out) / config.model
    arrays = [
        _device_arrays(data.build(config.family, grid, config.ritz, config.seed,
                                  cache=run_dir / f"data-{'x'.join(map(str, grid))}.npz",
                                  progress=progress, weighting=config.weighting))
        for grid in config.grids]
    t0 = time.perf_counter()
    state = training.train(
        _batch_loss, weights.network(config.architecture(), jax.random.PRNGKey(config.seed)),
        make_optimizer(config), make_batches(config, arrays), config.steps,
        out_dir=run_dir / "checkpoints", seed=config.seed + 1, config=config.resume_key(),
        checkpoint_every=config.checkpoint_every, resume=resume, progress=progress,
        desc=f"train-dcdm {config.model}")
    meta = _metadata(config, state.losses, time.perf_counter() - t0, state.resumed_from)
    path = weights.save(state.params, run_dir / f"{config.model}.eqx", meta)
    if validate:
        meta["validation"] = evaluate(path, config)
        path = weights.save(state.params, path, meta)
    return path


def _batch_loss(net: DCDMNet | PaperNet, batch: dict[str, Any]) -> jax.Array:
    return loss_fn(net, **batch)


def _device_arrays(ts: data.TrainingSet) -> dict[str, Any]:
    return {"vectors": jnp.asarray(ts.vectors), "weights": jnp.asarray(ts.weights),
            "diagonal": jnp.asarray(ts.diagonal),
            "upper": tuple(jnp.asarray(u) for u in ts.upper),
            "coefficient": jnp.asarray(ts.coefficient)}


def _metadata(config: TrainConfig, losses: list[float], seconds: float, start: int) -> dict:
    chunk = max(1, len(losses) // 20)
    summary = [{"step": (i + 1) * chunk, "loss": float(np.mean(losses[i * chunk:(i + 1) * chunk]))}
               for i in range(len(losses) // chunk)]
    return {
        "model": config.model, "family": config.family.summary, "config": config.to_json(),
        "command": config.command(), "seed": config.seed,
        "grids": [list(g) for g in config.grids],
        "loss": {"first": float(np.mean(losses[:10])), "last": float(np.mean(losses[-10:])),
                 "history": summary},
        "training_seconds": round(seconds, 1), "resumed_from_step": start,
        "trained_with": {"jax": jax.__version__, "equinox": eqx.__version__,
                         "optax": optax.__version__, "python": platform.python_version(),
                         "device": jax.devices()[0].platform},
    }


def evaluate(path: Path, config: TrainConfig, rtol: float = 1e-6,
             seed: int = 12345) -> list[dict]:
    """DCDM iterations on a held-out random right-hand side, on the largest training grid
    and on twice and four times it."""
    from solvers import solve

    family, results = config.family, []
    rng = np.random.default_rng(seed)
    largest = max(config.grids, key=lambda g: math.prod(g))
    for factor in (1, 2, 4):
        shape = tuple(factor * s for s in largest)
        problem = family.problem(shape, seed=seed + factor)
        b = rng.standard_normal(problem.n)
        res = solve(problem, b, method="dcdm", model=str(path), rtol=rtol, maxiter=1000)
        cg = solve(problem, b, method="cg", rtol=rtol)
        results.append({"grid": list(shape), "rtol": rtol, "dcdm_iterations": res.iterations,
                        "converged": bool(res.converged), "cg_iterations": cg.iterations})
    return results
