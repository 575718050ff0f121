"""Trained operators on disk: ``<name>.eqx`` (the arrays) + ``<name>.json`` (everything else).

The JSON file holds the architecture (``model``: ``"fno"`` or ``"mgno"``, and its config),
the :class:`~sciml.neural_operators.data.Normaliser`, the problem it was trained for, the
training configuration and results, and the SHA-256 of the ``.eqx`` file. Loading rebuilds
the network skeleton from the architecture, checks the hash and deserialises the arrays
(:func:`equinox.tree_deserialise_leaves`). Anything missing or inconsistent raises
:class:`solvers.errors.ModelLoadError` saying how to rebuild the file.

Shipped models live in ``sciml/neural_operators/weights/`` (package data) and are addressed
by name, optionally prefixed by their architecture (``"darcy"``, ``"fno:darcy"``); any other
model by the path of its ``.eqx`` or ``.json`` file.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np

from sciml.neural_operators.data import Normaliser
from sciml.neural_operators.fno import FNO, FNOConfig
from sciml.neural_operators.mgno import MgNO, MgNOConfig
from sciml.persist import load_weights, save_weights
from solvers.errors import InvalidOptionError, ModelLoadError

__all__ = ["ARCHITECTURES", "SHIPPED", "WEIGHTS_DIR", "TrainedOperator", "build", "load",
           "save"]

#: Model classes and their configuration classes by name.
ARCHITECTURES: dict[str, tuple[type, type]] = {"fno": (FNO, FNOConfig),
                                               "mgno": (MgNO, MgNOConfig)}
#: Where the shipped models live, and their names.
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
SHIPPED = ("darcy",)
FORMAT_VERSION = 1
REBUILD_SHIPPED = ("rebuild it with `bash scripts/train-operator-weights.sh` (datagen + "
                   "training, seed 0), or reinstall the package")
REBUILD_OWN = ("retrain it with `python -m sciml train-operator --model fno|mgno --data DIR "
               "--out DIR`")


def build(model: str, config: dict[str, Any] | None = None, *, seed: int = 0) -> eqx.Module:
    """A freshly initialised ``"fno"`` or ``"mgno"`` with ``config`` overriding the defaults."""
    if model not in ARCHITECTURES:
        raise InvalidOptionError(f"unknown neural operator {model!r}; choose one of "
                                 f"{', '.join(ARCHITECTURES)}")
    cls, config_cls = ARCHITECTURES[model]
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(config or {}) - fields)
    if unknown:
        raise InvalidOptionError(f"{model} has no option {', '.join(unknown)}; its options are "
                                 f"{', '.join(sorted(fields))}")
    return cls(config_cls(**(config or {})), seed=seed)


@dataclass(frozen=True)
class TrainedOperator:
    """A network with its normalisation: ``op(K)`` maps parameter fields ``(..., H, W)`` to
    solutions ``(..., H, W)`` (NumPy in, NumPy float64 out)."""

    model: eqx.Module
    normaliser: Normaliser
    metadata: dict[str, Any]

    @property
    def kind(self) -> str:
        return "fno" if isinstance(self.model, FNO) else "mgno"

    @property
    def parameter_count(self) -> int:
        return sum(x.size for x in jax.tree_util.tree_leaves(eqx.filter(self.model, eqx.is_array)))

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        a = self.normaliser.encode_input(inputs)
        flat = a.reshape((-1,) + a.shape[-3:])
        y = _predict(self.model, flat)
        u = np.asarray(self.normaliser.decode_output(y), dtype=np.float64)
        return u.reshape(np.shape(inputs))


@eqx.filter_jit
def _predict(model: eqx.Module, a: jax.Array) -> jax.Array:
    return jax.vmap(model)(a)


def save(op: TrainedOperator, path: str | os.PathLike) -> Path:
    """Write ``path`` (``.eqx``) and its ``.json`` sidecar atomically; returns the .eqx path."""
    meta = dict(op.metadata, format=FORMAT_VERSION, model=op.kind,
                architecture=dataclasses.asdict(op.model.config),
                normaliser=op.normaliser.to_json(), parameters=op.parameter_count)
    return save_weights(path, op.model, meta)


def resolve(name: str | os.PathLike) -> tuple[str | None, Path, str]:
    """``(required kind or None, eqx path, rebuild hint)`` of a shipped name or a path."""
    text = os.fspath(name)
    kind, _, rest = text.partition(":")
    if rest and kind in ARCHITECTURES and rest in SHIPPED:
        return kind, WEIGHTS_DIR / f"{rest}.eqx", REBUILD_SHIPPED
    if text in SHIPPED:
        return None, WEIGHTS_DIR / f"{text}.eqx", REBUILD_SHIPPED
    path = Path(text).expanduser()
    if path.suffix not in (".eqx", ".json"):
        raise ModelLoadError(
            f"unknown neural operator {text!r}: not a shipped model ({', '.join(SHIPPED)}, "
            f"optionally as 'fno:darcy') nor a path to a .eqx/.json model file")
    return None, path.with_suffix(".eqx"), REBUILD_OWN


def load(name: str | os.PathLike) -> TrainedOperator:
    """Load a shipped model by name or any model by path.

    Raises
    ------
    solvers.errors.ModelLoadError
        A file is missing, its metadata is corrupt, its hash differs, or the arrays do not fit
        the architecture; the message says how to rebuild it.
    """
    kind, eqx_path, hint = resolve(name)
    model, meta = load_weights(eqx_path, _skeleton, "neural operator", hint)
    if kind is not None and meta["model"] != kind:
        raise ModelLoadError(f"{name!r} asks for an {kind} but {eqx_path.with_suffix('.json')} "
                             f"holds an {meta['model']}; use '{meta['model']}:{eqx_path.stem}'")
    return TrainedOperator(model, Normaliser(**meta["normaliser"]), meta)


def _skeleton(meta: dict[str, Any]) -> eqx.Module:
    """A model of the saved architecture (its normaliser checked too)."""
    Normaliser(**meta["normaliser"])
    return build(meta["model"], meta["architecture"])
