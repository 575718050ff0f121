"""Saving and loading DMM networks: ``<name>.eqx`` (arrays) + ``<name>.json`` (the rest).

The JSON sidecar holds the architecture, the training configuration and command, a loss
summary and the SHA-256 of the ``.eqx`` file. Loading rebuilds the network skeleton from the
architecture, checks the hash and deserialises the arrays; any problem raises
:class:`solvers.errors.ModelLoadError` naming the command that rebuilds the file. The shipped
network (``"fronts"``) lives in ``sciml/mesh_movers/weights/``; other models are addressed by
the path of their ``.eqx`` or ``.json`` file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax

from sciml.mesh_movers.model import Architecture, DMMNet
from sciml.persist import load_weights, save_weights
from solvers.errors import ModelLoadError

__all__ = ["SHIPPED", "WEIGHTS_DIR", "load", "save"]

#: Where the shipped weights live (package data).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: The networks shipped with the package.
SHIPPED = ("fronts", "moving")
_HINT = ("regenerate them with `bash scripts/train-dmm-weights.sh` (or `python -m sciml "
         "train-dmm --install`), or reinstall the package")


def save(net: DMMNet, path: str | os.PathLike, metadata: dict[str, Any]) -> Path:
    """Write ``path`` (``.eqx``) and its ``.json`` sidecar atomically; returns the .eqx path."""
    return save_weights(path, net, dict(metadata, architecture=net.arch.to_json(),
                                        parameters=net.parameter_count))


def load(model: str | os.PathLike = "fronts") -> tuple[DMMNet, dict[str, Any]]:
    """Load a network by shipped name or by the path of its ``.eqx``/``.json`` file."""
    text = os.fspath(model)
    if text in SHIPPED:
        eqx_path = WEIGHTS_DIR / f"{text}.eqx"
    elif Path(text).suffix in (".eqx", ".json"):
        eqx_path = Path(text).expanduser().with_suffix(".eqx")
    else:
        raise ModelLoadError(f"unknown DMM model {text!r}: use a shipped name "
                             f"({', '.join(SHIPPED)}) or the path of a .eqx/.json weight file")
    return load_weights(eqx_path, lambda meta: DMMNet(
        Architecture.from_json(meta["architecture"]), jax.random.PRNGKey(0)), "DMM weight", _HINT)
