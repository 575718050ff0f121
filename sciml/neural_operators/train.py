"""Training a neural operator on a datagen directory, on :func:`sciml.training.train`.

One optimiser step takes a batch of ``batch_size`` training samples (see
:mod:`sciml.neural_operators.data`), evaluates the network on the normalised inputs, decodes
its output to the physical solution and minimises the mean relative H1 (default) or L2 error
(:mod:`sciml.neural_operators.losses`) with Adam/AdamW and a cosine or one-cycle learning-rate
schedule over ``epochs * (n_train // batch_size)`` steps. There is no other stopping rule.
The held-out samples are evaluated every ``eval_every`` epochs and at the end (relative L2
and H1, ``history.json``).

Files in ``out``: the checkpoints of :func:`sciml.training.train` (``latest.json``,
``step-*.eqx``; ``resume=True`` continues bit-identically), ``history.json``, the final
``model.eqx`` + ``model.json`` (:mod:`sciml.neural_operators.saving`), ``loss.png`` and
``predictions.png``.

References
----------
.. [1] I. Loshchilov, F. Hutter, "Decoupled weight decay regularization", ICLR 2019 (AdamW).
.. [2] L. N. Smith, N. Topin, "Super-convergence: very fast training of neural networks using
   large learning rates", 2019 (one-cycle schedule).
.. [3] I. Loshchilov, F. Hutter, "SGDR: stochastic gradient descent with warm restarts",
   ICLR 2017.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from sciml.neural_operators import data as datamod
from sciml.neural_operators.figures import plot_losses, plot_predictions
from sciml.neural_operators.losses import LOSSES, relative_h1, relative_l2
from sciml.neural_operators.saving import TrainedOperator, build, load, save
from sciml.persist import read_state, write_state
from sciml.training import TrainState, train
from solvers.errors import InvalidOptionError

__all__ = ["DEFAULTS", "DEFAULT_BATCH", "DEFAULT_TEST", "TrainResult", "evaluate", "sizes",
           "train_operator"]

#: Per-model defaults of the optimiser settings (the papers' choices).
DEFAULTS: dict[str, dict[str, Any]] = {
    "fno": {"optimiser": "adamw", "lr": 5e-3, "schedule": "cosine", "weight_decay": 1e-4},
    "mgno": {"optimiser": "adam", "lr": 1e-3, "schedule": "onecycle", "weight_decay": 0.0},
}
#: Held-out samples by default (a fifth of a data set under 1,000 samples).
DEFAULT_TEST = 200
#: Samples per optimiser step by default (all training samples when there are fewer).
DEFAULT_BATCH = 20
_HISTORY = ("sciml.neural_operators.history", 1)


@dataclass(frozen=True)
class TrainResult:
    """The trained operator, its held-out errors, timing and the final training state."""

    operator: TrainedOperator
    test_l2: float
    test_h1: float
    seconds_per_epoch: float
    history: list[dict[str, float]]
    state: TrainState = field(repr=False)
    path: Path


def _optimiser(name: str, lr: float, schedule: str, steps: int,
               weight_decay: float) -> optax.GradientTransformation:
    schedules = {"cosine": lambda: optax.cosine_decay_schedule(lr, steps),
                 "onecycle": lambda: optax.cosine_onecycle_schedule(steps, lr),
                 "constant": lambda: optax.constant_schedule(lr)}
    if schedule not in schedules:
        raise InvalidOptionError(f"unknown schedule {schedule!r}; choose one of "
                                 f"{', '.join(schedules)}")
    rate = schedules[schedule]()
    if name == "adam":
        return optax.adam(rate)
    if name == "adamw":
        return optax.adamw(rate, weight_decay=weight_decay)
    raise InvalidOptionError(f"unknown optimiser {name!r}; choose adam or adamw")


def evaluate(model: eqx.Module, normaliser: datamod.Normaliser, inputs: np.ndarray,
             outputs: np.ndarray, chunk: int = 50) -> tuple[float, float]:
    """Mean relative L2 and H1 errors of the model on physical ``inputs``/``outputs``."""
    total = np.zeros(2)
    for start in range(0, len(inputs), chunk):
        a = jnp.asarray(normaliser.encode_input(inputs[start:start + chunk]))
        u = jnp.asarray(outputs[start:start + chunk], dtype=jnp.float32)
        total += len(a) * np.asarray(_errors(model, normaliser, a, u), dtype=np.float64)
    return float(total[0]) / len(inputs), float(total[1]) / len(inputs)


@eqx.filter_jit
def _errors(model: eqx.Module, normaliser: datamod.Normaliser, a: jax.Array,
            u: jax.Array) -> jax.Array:
    pred = normaliser.decode_output(jax.vmap(model)(a))
    return jnp.stack([relative_l2(pred, u), relative_h1(pred, u)])


def train_operator(model: str, data: str | os.PathLike | Mapping[str, np.ndarray],
                   out: str | os.PathLike, *, epochs: int = 100, batch_size: int | None = None,
                   seed: int = 0, lr: float | None = None, loss: str = "h1",
                   optimiser: str | None = None, schedule: str | None = None,
                   weight_decay: float | None = None,
                   architecture: dict[str, Any] | None = None, test: int | None = None,
                   train_count: int | None = None, eval_every: int | None = None,
                   checkpoint_every: int | None = None, resume: bool = False,
                   progress: bool = True, figures: bool = True,
                   init: str | os.PathLike | None = None) -> TrainResult:
    """Train an ``"fno"`` or ``"mgno"`` on ``data`` (a datagen directory or its arrays).

    Parameters
    ----------
    model
        ``"fno"`` or ``"mgno"``; ``architecture`` overrides fields of its config class
        (:class:`~sciml.neural_operators.fno.FNOConfig`, ``MgNOConfig``).
    data
        A ``python -m sciml datagen`` directory, or a mapping with ``inputs`` and
        ``solutions`` arrays ``(samples, H, W)``.
    out
        Output folder (checkpoints, model, history, figures).
    epochs, batch_size, seed
        Passes over the training set, samples per step (default :data:`DEFAULT_BATCH`, or
        every training sample when there are fewer), seed of weights and batch order.
    lr, optimiser, schedule, weight_decay
        Peak learning rate, ``"adam"``/``"adamw"``, ``"cosine"``/``"onecycle"``/``"constant"``
        and AdamW's decoupled weight decay; defaults per model in :data:`DEFAULTS`.
    loss
        ``"h1"`` or ``"l2"`` (relative).
    test, train_count
        Held-out samples (the last ``test``; default :data:`DEFAULT_TEST`, or a fifth of a
        data set under 1,000 samples) and training samples (the first ``train_count``;
        default all the others); see :func:`sizes`.
    eval_every
        Evaluate the held-out set every this many epochs (default: only at the end).
    checkpoint_every
        Steps between checkpoints (default: one epoch).
    resume
        Continue the run in ``out`` (same configuration and data required).
    progress, figures
        Show a progress bar; write ``loss.png`` and ``predictions.png``.
    init
        Start from this trained model (a shipped name or a path; same ``model`` and
        architecture) with its normaliser, instead of random weights: a second schedule
        after a finished run (a warm restart [3]_). Its hash goes into the run's config.

    Returns
    -------
    TrainResult

    Raises
    ------
    solvers.errors.InvalidOptionError
        A bad setting, or sizes the data set cannot provide (the message says what to pass).
    """
    if loss not in LOSSES:
        raise InvalidOptionError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if epochs < 1:
        raise InvalidOptionError(f"epochs must be >= 1, not {epochs}")
    settings = {**DEFAULTS.get(model, {}), **{k: v for k, v in {
        "lr": lr, "optimiser": optimiser, "schedule": schedule,
        "weight_decay": weight_decay}.items() if v is not None}}
    net = build(model, architecture, seed=seed)
    start = _initial(init, model, net) if init is not None else None
    arrays = data if isinstance(data, Mapping) else datamod.load(data)
    train_count, test, batch_size = sizes(len(arrays["inputs"]), train_count, test, batch_size)
    parts = datamod.split(arrays, test=test, train=train_count)
    normaliser = datamod.Normaliser.fit(parts.train_inputs, parts.train_outputs)
    if start is not None:
        net, normaliser = start.model, start.normaliser
    x = jnp.asarray(normaliser.encode_input(parts.train_inputs))
    y = jnp.asarray(normaliser.encode_output(parts.train_outputs))
    batches, per_epoch = datamod.epoch_batches(x, y, batch_size, seed)
    steps = epochs * per_epoch
    config = {"model": model, "architecture": asdict(net.config), "epochs": epochs,
              "batch_size": batch_size, "seed": seed, "loss": loss, **settings,
              "data": datamod.source_name(data), "train": len(x), "test": test,
              "fingerprint": datamod.fingerprint(parts.train_inputs, parts.train_outputs)}
    if start is not None:
        config["init"] = start.metadata.get("sha256", str(init))
    opt = _optimiser(settings["optimiser"], settings["lr"], settings["schedule"], steps,
                     settings["weight_decay"])
    loss_fn = _loss(LOSSES[loss], normaliser)
    out = Path(out)
    log = _Log(out, normaliser, parts, per_epoch, epochs, eval_every, resume)
    state = train(loss_fn, net, opt, batches, steps, out_dir=out, seed=seed, config=config,
                  checkpoint_every=checkpoint_every or per_epoch, resume=resume,
                  progress=progress, desc=f"train {model}", on_step=log)
    log.finish(state)
    op = TrainedOperator(state.params, normaliser, {
        "problem": _problem(data), "grid": list(x.shape[-2:]), "training": config,
        "results": {"test_rel_l2": log.history[-1]["test_l2"],
                    "test_rel_h1": log.history[-1]["test_h1"],
                    "seconds_per_epoch": log.seconds_per_epoch()}})
    path = save(op, out / "model.eqx")
    if figures:
        plot_losses(out / "loss.png", state.losses, per_epoch, log.history)
        plot_predictions(out / "predictions.png", op, parts.test_inputs[:3],
                         parts.test_outputs[:3])
    last = log.history[-1]
    return TrainResult(op, last["test_l2"], last["test_h1"], log.seconds_per_epoch(),
                       log.history, state, path)


def sizes(count: int, train: int | None, test: int | None,
          batch: int | None) -> tuple[int, int, int]:
    """``(train, test, batch)`` for a data set of ``count`` samples: each ``None`` replaced by
    its default, scaled down to what the data set holds.

    Defaults: ``test = min(DEFAULT_TEST, count // 5)`` (at least 1), ``train = count - test``,
    ``batch = min(DEFAULT_BATCH, train)``. A value given explicitly is kept; one the data set
    cannot provide raises with the values that would work.

    Examples
    --------
    >>> sizes(1200, None, None, None)
    (1000, 200, 20)
    >>> sizes(8, None, None, None)
    (7, 1, 7)
    """
    if count < 2:
        raise InvalidOptionError(
            f"a data set of {count} sample(s) cannot be split into training and held-out "
            f"samples; generate at least 2 (python -m sciml datagen --count N)")
    if test is None:
        test = min(DEFAULT_TEST, max(1, count // 5))
    if not 1 <= test < count:
        raise InvalidOptionError(
            f"--test (test=) {test} is not between 1 and {count - 1} for a data set of {count} "
            f"samples: pass --test {max(1, count // 5)}, or leave it out (the default takes a "
            f"fifth of a data set under {5 * DEFAULT_TEST} samples)")
    train = count - test if train is None else train
    if not 1 <= train <= count - test:
        raise InvalidOptionError(
            f"--train (train_count=) {train} is not between 1 and {count - test} (the {count} "
            f"samples less the {test} held out): pass --train {count - test} or less, or leave "
            f"it out (default: all samples not held out)")
    batch = min(DEFAULT_BATCH, train) if batch is None else batch
    if not 1 <= batch <= train:
        raise InvalidOptionError(
            f"--batch-size (batch_size=) {batch} is not between 1 and the {train} training "
            f"samples: pass --batch-size {min(DEFAULT_BATCH, train)}, or leave it out")
    return train, test, batch


def _loss(metric: Any, normaliser: datamod.Normaliser) -> Any:
    def loss_fn(net: eqx.Module, batch: tuple[jax.Array, jax.Array]) -> jax.Array:
        a, y = batch
        pred = normaliser.decode_output(jax.vmap(net)(a))
        return metric(pred, normaliser.decode_output(y))

    return loss_fn


def _initial(init: str | os.PathLike, model: str, net: eqx.Module) -> TrainedOperator:
    """The trained model ``init``, checked to be a ``model`` of ``net``'s architecture."""
    start = load(init)
    if start.metadata.get("model") != model or start.model.config != net.config:
        raise InvalidOptionError(
            f"--init (init=) {os.fspath(init)!r} holds an {start.metadata.get('model')} with "
            f"{asdict(start.model.config)}, not the {model} with {asdict(net.config)} being "
            f"trained: pass the same --model and --set options as the run that made it")
    return start


def _problem(data: Any) -> dict[str, Any]:
    """The datagen manifest's parameters (``problem``, ``grid``, ``seed``...), if any."""
    if isinstance(data, Mapping):
        return {"name": "arrays"}
    payload = read_state(Path(data) / "datagen.json", "sciml.datagen", 1)
    return {"name": payload.get("problem"), **{k: payload[k] for k in ("grid", "seed", "count")
                                                if k in payload}}


class _Log:
    """``on_step`` hook: epoch timing and held-out evaluation, kept in ``history.json``."""

    def __init__(self, out: Path, normaliser: datamod.Normaliser, parts: datamod.Split,
                 per_epoch: int, epochs: int, eval_every: int | None, resume: bool) -> None:
        self.path, self.normaliser, self.parts = out / "history.json", normaliser, parts
        self.per_epoch, self.epochs, self.eval_every = per_epoch, epochs, eval_every
        self.history: list[dict[str, float]] = []
        self.epoch_seconds: list[float] = []
        if resume and self.path.exists():
            self.history = read_state(self.path, *_HISTORY)["evaluations"]
        self.tick = time.perf_counter()

    def __call__(self, state: TrainState) -> None:
        if state.step % self.per_epoch:
            return
        self.history = [h for h in self.history if h["step"] < state.step]
        epoch = state.step // self.per_epoch
        self.epoch_seconds.append(time.perf_counter() - self.tick)
        if self.eval_every and epoch % self.eval_every == 0 and epoch < self.epochs:
            self._evaluate(state, epoch)
        self.tick = time.perf_counter()

    def _evaluate(self, state: TrainState, epoch: int) -> None:
        l2, h1 = evaluate(state.params, self.normaliser, self.parts.test_inputs,
                          self.parts.test_outputs)
        train_loss = float(np.mean(state.losses[-self.per_epoch:]))
        self.history.append({"epoch": epoch, "step": state.step, "train_loss": train_loss,
                             "test_l2": l2, "test_h1": h1})
        write_state(self.path, *_HISTORY, {"evaluations": self.history})

    def finish(self, state: TrainState) -> None:
        self.history = [h for h in self.history if h["step"] < state.step]
        self._evaluate(state, state.step // self.per_epoch)

    def seconds_per_epoch(self) -> float:
        """Median wall time of this call's epochs, the first (compilation) left out."""
        times = self.epoch_seconds[1:] or self.epoch_seconds
        return float(np.median(times)) if times else float("nan")
