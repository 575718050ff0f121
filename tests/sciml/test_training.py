"""Tests for sciml.training: the generic loop, checkpoints, Ctrl-C and bit-identical resume.

A 2 -> 8 -> 1 MLP (33 parameters) fitted to a seeded regression problem, a few dozen steps on
the CPU.
"""

from __future__ import annotations

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from sciml.persist import ResumeMismatchError
from sciml.training import LATEST, TrainState, read_checkpoint, train
from solvers.errors import InvalidOptionError

SEED = 7
CONFIG = {"model": "mlp", "width": 8, "lr": 0.01}


def _model() -> eqx.nn.MLP:
    return eqx.nn.MLP(2, 1, 8, 1, key=jax.random.PRNGKey(SEED))


def _batches(t: int, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    x = jax.random.normal(key, (16, 2))
    return x, jnp.sin(x[:, :1]) + 0.5 * x[:, 1:]


def _loss(model: eqx.nn.MLP, batch: tuple[jax.Array, jax.Array]) -> jax.Array:
    x, y = batch
    return jnp.mean((jax.vmap(model)(x) - y) ** 2)


def _run(out: Path, steps: int, **kwargs) -> TrainState:
    kwargs.setdefault("checkpoint_every", 4)
    return train(_loss, _model(), optax.adam(CONFIG["lr"]), _batches, steps, out_dir=out,
                 seed=SEED, config=CONFIG, progress=False, **kwargs)


def _interrupt_at(step: int):
    def on_step(state: TrainState) -> None:
        if state.step == step:
            raise KeyboardInterrupt

    return on_step


def _leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))]


def test_interrupted_and_resumed_run_is_bit_identical(tmp_path: Path) -> None:
    straight = _run(tmp_path / "straight", 20)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "resumed", 20, on_step=_interrupt_at(10))
    assert read_checkpoint(tmp_path / "resumed")["step"] == 10
    resumed = _run(tmp_path / "resumed", 20, resume=True)
    assert resumed.step == straight.step == 20 and resumed.resumed_from == 10
    assert resumed.losses == straight.losses and len(resumed.losses) == 20
    for a, b in zip(_leaves(straight.params), _leaves(resumed.params), strict=True):
        assert np.array_equal(a, b)
    for a, b in zip(_leaves(straight.opt_state), _leaves(resumed.opt_state), strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(resumed.key, jax.random.PRNGKey(SEED))
    assert np.mean(straight.losses[-5:]) < np.mean(straight.losses[:5])


def test_ctrl_c_inside_a_step_checkpoints_the_last_finished_step(tmp_path: Path) -> None:
    seen = []

    def batches(t: int, key: jax.Array):
        if t == 6:
            raise KeyboardInterrupt
        seen.append(np.asarray(key))
        return _batches(t, key)

    with pytest.raises(KeyboardInterrupt):
        train(_loss, _model(), optax.adam(0.01), batches, 10, out_dir=tmp_path, seed=SEED,
              config=CONFIG, checkpoint_every=100, progress=False)
    saved = read_checkpoint(tmp_path)
    assert saved["step"] == 6 and len(saved["losses"]) == 6 and saved["config"] == CONFIG
    assert sorted(p.name for p in tmp_path.iterdir()) == [LATEST, "step-00000006.eqx"]
    base = jax.random.PRNGKey(SEED)
    for t, key in enumerate(seen):
        assert np.array_equal(key, jax.random.fold_in(base, t))


def test_checkpoints_are_periodic_and_only_the_newest_are_kept(tmp_path: Path) -> None:
    assert read_checkpoint(tmp_path) is None
    _run(tmp_path, 10, checkpoint_every=3, keep=2)
    assert sorted(p.name for p in tmp_path.glob("step-*.eqx")) == [
        "step-00000009.eqx", "step-00000010.eqx"]
    assert read_checkpoint(tmp_path)["file"] == "step-00000010.eqx"


def test_existing_run_needs_resume_and_the_same_configuration(tmp_path: Path) -> None:
    _run(tmp_path, 4)
    with pytest.raises(InvalidOptionError, match="resume=True"):
        _run(tmp_path, 4)
    with pytest.raises(ResumeMismatchError, match="lr: saved=0.01 now=0.1"):
        train(_loss, _model(), optax.adam(0.1), _batches, 8, out_dir=tmp_path, seed=SEED,
              config={**CONFIG, "lr": 0.1}, resume=True, progress=False)
    finished = _run(tmp_path, 4, resume=True)
    assert finished.step == 4 and finished.resumed_from == 4


@pytest.mark.parametrize("bad", [{"steps": 0}, {"checkpoint_every": 0}, {"keep": 0}])
def test_counts_below_one_are_refused(tmp_path: Path, bad: dict) -> None:
    kwargs = {"steps": 3, "checkpoint_every": 1, "keep": 1, **bad}
    steps = kwargs.pop("steps")
    with pytest.raises(InvalidOptionError, match=f"{next(iter(bad))} must be >= 1"):
        _run(tmp_path, steps, **kwargs)
