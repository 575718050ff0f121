"""Saving and loading DMM networks: ``<name>.eqx`` (arrays) + ``<name>.json`` (the rest).

The JSON sidecar holds the architecture, the training configuration and command, a loss
summary and the SHA-256 of the ``.eqx`` file. Loading rebuilds the network skeleton from the
architecture, checks the hash and deserialises the arrays; any problem raises
:class:`solvers.errors.ModelLoadError` naming the command that rebuilds the file. The shipped
network (``"fronts"``) lives in ``sciml/mesh_movers/weights/``; other models are addressed by
the path of their ``.eqx`` or ``.json`` file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import equinox as eqx
import jax

from sciml.mesh_movers.model import Architecture, DMMNet
from sciml.persist import atomic_write, atomic_write_text
from solvers.errors import ModelLoadError

__all__ = ["SHIPPED", "WEIGHTS_DIR", "load", "save"]

#: Where the shipped weights live (package data).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: The networks shipped with the package.
SHIPPED = ("fronts",)
_HINT = ("regenerate them with `bash scripts/train-dmm-weights.sh` (or `python -m sciml "
         "train-dmm --install`), or reinstall the package")


def save(net: DMMNet, path: str | os.PathLike, metadata: dict[str, Any]) -> Path:
    """Write ``path`` (``.eqx``) and its ``.json`` sidecar atomically; returns the .eqx path."""
    eqx_path = atomic_write(Path(path).with_suffix(".eqx"),
                            lambda f: eqx.tree_serialise_leaves(f, net))
    meta = dict(metadata, architecture=net.arch.to_json(), parameters=net.parameter_count,
                sha256=hashlib.sha256(eqx_path.read_bytes()).hexdigest(),
                bytes=eqx_path.stat().st_size)
    atomic_write_text(eqx_path.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    return eqx_path


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
    json_path = eqx_path.with_suffix(".json")
    for path in (eqx_path, json_path):
        if not path.is_file():
            raise ModelLoadError(f"DMM weight file {path} is missing; {_HINT}")
    try:
        meta = json.loads(json_path.read_text())
        arch = Architecture.from_json(meta["architecture"])
        expected = meta["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"DMM metadata {json_path} is corrupt ({exc}); {_HINT}") from None
    if hashlib.sha256(eqx_path.read_bytes()).hexdigest() != expected:
        raise ModelLoadError(f"DMM weight file {eqx_path} is corrupt (SHA-256 differs from "
                             f"{json_path.name}); {_HINT}")
    try:
        net = eqx.tree_deserialise_leaves(eqx_path, DMMNet(arch, jax.random.PRNGKey(0)))
    except Exception as exc:  # equinox/numpy raise various types on a bad file
        raise ModelLoadError(f"DMM weight file {eqx_path} cannot be read ({exc}); {_HINT}") \
            from None
    return net, meta
