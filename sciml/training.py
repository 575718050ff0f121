"""One training loop for equinox models with optax, with checkpoints and exact resume.

Step ``t`` (``t = 0, 1, ..., steps - 1``) draws its batch from the step's own key and takes one
optimiser step on the loss,

.. math:: B_t = \\mathrm{batches}(t, \\mathrm{fold\\_in}(k, t)), \\qquad
          g_t = \\nabla_\\theta L(\\theta_t, B_t), \\qquad
          (u_t, s_{t+1}) = \\mathrm{opt.update}(g_t, s_t, \\theta_t), \\qquad
          \\theta_{t+1} = \\theta_t + u_t,

where ``k = PRNGKey(seed)`` and ``L`` is ``loss_fn``; the gradient is taken with respect to
the array leaves of the model (:func:`equinox.filter_value_and_grad`). The loop stops after
``steps`` steps; there is no other stopping rule (a schedule, early stopping or validation
belongs in the optimiser, in ``on_step`` or in the caller).

A checkpoint holds everything the next step depends on: the model and the optimiser state
(``step-<t>.eqx``, :func:`equinox.tree_serialise_leaves`), and, in ``latest.json`` (a
:func:`sciml.persist.write_state` file, written after the arrays), the step, the key, the loss
history and the run's configuration. Because batch ``t`` depends on ``(k, t)`` alone, a run
resumed from step ``t`` performs exactly the arithmetic of the uninterrupted run: the final
parameters are bit-for-bit the same (on the same device and library versions). A resume with
another configuration is refused (:func:`sciml.persist.check_resume`). ``Ctrl-C`` writes a
checkpoint of the last finished step before the ``KeyboardInterrupt`` propagates.

Files in ``out_dir``: ``step-<t>.eqx`` (the newest ``keep`` are kept) and ``latest.json``.

Examples
--------
Fit ``y = 2 x + 1`` with a linear model:

>>> import tempfile
>>> import equinox as eqx, jax, jax.numpy as jnp, optax
>>> def batches(t, key):
...     x = jax.random.normal(key, (32, 1))
...     return x, 2 * x + 1
>>> def loss(model, batch):
...     x, y = batch
...     return jnp.mean((jax.vmap(model)(x) - y) ** 2)
>>> model = eqx.nn.Linear(1, 1, key=jax.random.PRNGKey(0))
>>> state = train(loss, model, optax.adam(0.1), batches, 300, out_dir=tempfile.mkdtemp(),
...               seed=0, config={"lr": 0.1}, progress=False)
>>> state.step, bool(abs(state.params.weight[0, 0] - 2) < 1e-2)
(300, True)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from sciml.persist import atomic_write, check_resume, read_state, write_state
from solvers.errors import InvalidOptionError

__all__ = ["LATEST", "TrainState", "read_checkpoint", "train"]

#: Name of the checkpoint index in ``out_dir``.
LATEST = "latest.json"
_KIND, _VERSION = "sciml.training.checkpoint", 1


@dataclass(frozen=True)
class TrainState:
    """Where a training run stands after ``step`` optimiser steps.

    ``params`` is the model, ``opt_state`` the optimiser state, ``key`` the run's base key
    (step ``t`` uses ``fold_in(key, t)``), ``losses`` the loss of every step so far (from
    step 0, also across resumes) and ``resumed_from`` the step the last resume started at
    (0 for a run that never stopped).
    """

    params: Any
    opt_state: Any
    step: int
    key: jax.Array
    losses: list[float] = field(default_factory=list)
    resumed_from: int = 0


def train(loss_fn: Callable[[Any, Any], jax.Array], params: Any,
          optimiser: optax.GradientTransformation, batches: Callable[[int, jax.Array], Any],
          steps: int, *, out_dir: str | os.PathLike, seed: int, config: dict[str, Any],
          checkpoint_every: int = 250, resume: bool = False, keep: int = 2,
          progress: bool = True, desc: str = "train",
          on_step: Callable[[TrainState], None] | None = None) -> TrainState:
    """Minimise ``loss_fn(params, batch)`` for ``steps`` steps, checkpointing into ``out_dir``.

    Parameters
    ----------
    loss_fn
        ``loss_fn(model, batch) -> scalar``, differentiable in the model's array leaves
        (jitted with :func:`equinox.filter_jit`).
    params
        The initial model (any equinox module or pytree); ignored when resuming.
    optimiser
        An optax transformation, applied to ``eqx.filter(params, eqx.is_array)``.
    batches
        ``batches(t, key) -> batch``, a pure function of the step and its key (this is what
        makes a resumed run identical to an uninterrupted one).
    steps
        Total number of steps, counted from the start of the run (not of this call).
    out_dir
        Folder of the checkpoints (created).
    seed
        The run's base key is ``jax.random.PRNGKey(seed)``.
    config
        JSON-serialisable description of everything that determines the run; stored in each
        checkpoint and compared on resume.
    checkpoint_every
        Write a checkpoint after every ``checkpoint_every`` steps, and always after the last.
    resume
        Continue the run in ``out_dir`` if it holds one; without it an existing checkpoint is
        an error (never overwritten).
    keep
        How many ``step-<t>.eqx`` files to keep.
    progress, desc
        Show a tqdm bar labelled ``desc`` (only when standard error is a terminal).
    on_step
        Called with the :class:`TrainState` after every step (logging, validation).

    Returns
    -------
    TrainState
        The state after ``steps`` steps (also written as the last checkpoint).

    Raises
    ------
    InvalidOptionError
        ``steps``, ``checkpoint_every`` or ``keep`` is invalid, or ``out_dir`` holds a
        checkpoint and ``resume`` is false.
    sciml.persist.ResumeMismatchError
        ``resume`` and the checkpoint in ``out_dir`` was made with another ``config``.
    """
    _check_counts(steps=steps, checkpoint_every=checkpoint_every, keep=keep)
    out = Path(out_dir)
    params = _strong(params)
    opt_state = optimiser.init(eqx.filter(params, eqx.is_array))
    state = TrainState(params, opt_state, 0, jax.random.PRNGKey(seed))
    saved = read_checkpoint(out)
    if saved is not None and not resume:
        raise InvalidOptionError(
            f"{out} already holds a training checkpoint (step {saved['step']}); pass "
            f"resume=True (--resume) to continue it, or choose another output folder")
    if saved is not None:
        check_resume(saved["config"], config, out)
        state = _restore(out, saved, state)
    update = _make_update(loss_fn, optimiser)
    losses = list(state.losses)
    bar = tqdm(total=steps, initial=state.step, desc=desc,
               disable=None if progress else True)
    try:
        for t in range(state.step, steps):
            batch = batches(t, jax.random.fold_in(state.key, t))
            params, opt_state, loss = update(state.params, state.opt_state, batch)
            losses.append(float(loss))
            state = replace(state, params=params, opt_state=opt_state, step=t + 1, losses=losses)
            _report(bar, losses)
            if on_step is not None:
                on_step(state)
            if state.step % checkpoint_every == 0 and state.step < steps:
                _save(out, state, config, keep)
    except KeyboardInterrupt:
        bar.close()
        _save(out, state, config, keep)
        print(f"\ninterrupted: checkpoint at step {state.step} in {out}; run the same again "
              f"with resume=True (--resume) to continue")
        raise
    bar.close()
    _save(out, state, config, keep)
    return state


def read_checkpoint(out_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The index of the newest checkpoint in ``out_dir`` (``step``, ``file``, ``key``,
    ``losses``, ``config``), or ``None`` if there is none."""
    path = Path(out_dir) / LATEST
    return read_state(path, _KIND, _VERSION) if path.exists() else None


def _make_update(loss_fn: Callable[[Any, Any], jax.Array],
                 optimiser: optax.GradientTransformation) -> Callable:
    @eqx.filter_jit
    def update(params: Any, opt_state: Any, batch: Any) -> tuple[Any, Any, jax.Array]:
        loss, grads = eqx.filter_value_and_grad(loss_fn)(params, batch)
        updates, opt_state = optimiser.update(grads, opt_state, eqx.filter(params, eqx.is_array))
        return eqx.apply_updates(params, updates), opt_state, loss

    return update


def _save(out: Path, state: TrainState, config: dict[str, Any], keep: int) -> None:
    """Arrays first, then the index that points at them, then drop the oldest array files."""
    name = f"step-{state.step:08d}.eqx"
    atomic_write(out / name, lambda f: eqx.tree_serialise_leaves(f, (state.params,
                                                                      state.opt_state)))
    write_state(out / LATEST, _KIND, _VERSION, {
        "step": state.step, "file": name, "key": np.asarray(state.key).tolist(),
        "losses": state.losses[: state.step], "config": config})
    for old in sorted(out.glob("step-*.eqx"))[:-keep]:
        old.unlink(missing_ok=True)


def _restore(out: Path, saved: dict[str, Any], like: TrainState) -> TrainState:
    params, opt_state = eqx.tree_deserialise_leaves(out / saved["file"],
                                                    (like.params, like.opt_state))
    key = jnp.asarray(np.asarray(saved["key"], dtype=np.uint32))
    step = int(saved["step"])
    return TrainState(params, opt_state, step, key, list(saved["losses"]), resumed_from=step)


def _strong(params: Any) -> Any:
    """The model with weakly typed array leaves made strong, as every update returns them
    (otherwise the first update would be compiled twice)."""
    return jax.tree_util.tree_map(
        lambda x: jnp.asarray(x, dtype=x.dtype) if eqx.is_array(x) else x, params)


def _report(bar: tqdm, losses: list[float]) -> None:
    bar.update(1)
    if len(losses) % 10 == 0:
        bar.set_postfix(loss=f"{np.mean(losses[-10:]):.4g}")


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        if value < 1:
            raise InvalidOptionError(f"{name} must be >= 1, not {value}")
