"""Saving and loading DCDM networks: ``<name>.eqx`` (the arrays) + ``<name>.json`` (the rest).

The JSON file holds the architecture (:class:`sciml.dcdm.model.Architecture`), the training
configuration and command, the seed, the grid, a loss-history summary, validation results and
the SHA-256 of the ``.eqx`` file. Loading rebuilds the network skeleton from the architecture,
checks the hash and reads the arrays (:func:`equinox.tree_serialise_leaves`' format).
Anything missing or inconsistent raises :class:`solvers.errors.ModelLoadError` naming the
command that regenerates the file.

Shipped networks live in ``sciml/dcdm/weights/`` (package data) and are addressed by name
(``"poisson2d"``, ``"poisson3d"``, ``"diffusion2d"``, and ``"paper-poisson2d"``, the
paper's architecture); any other model by
the path of its ``.eqx`` or ``.json`` file or of a directory holding one pair. The name
``"fixed"`` is the untrained baseline :func:`sciml.dcdm.model.fixed_hierarchy` (no file).

Three architectures: the JSON's ``kind`` says which class the arrays belong to,
``"multilevel"`` (:class:`~sciml.dcdm.model.DCDMNet`, the default for files without the
field, as written before it existed), ``"paper"`` (:class:`~sciml.dcdm.paper_net.PaperNet`)
or ``"learned-mg"``
(:class:`~sciml.dcdm.learned_prolongation.ProlongationNet`: a correction of black-box
multigrid's prolongation; shipped ``"contrast2d"``, and ``"fixed-mg"``, its baseline without
a network).

Loading is light: the skeleton the arrays are read into is built abstractly
(:func:`sciml.dcdm.model.skeleton`, no random initialisation run) and the arrays are read as
NumPy arrays, so loading costs the file read and the hash, no JAX computation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax

from sciml.dcdm import learned_prolongation, paper_net
from sciml.dcdm.learned_prolongation import MGConfig, ProlongationNet
from sciml.dcdm.model import Architecture, DCDMNet, fixed_hierarchy, skeleton
from sciml.dcdm.paper_net import PaperConfig, PaperNet
from sciml.persist import load_weights, read_arrays, save_weights
from solvers.errors import ModelLoadError

#: Where the shipped weights live (inside the package).
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: The networks shipped with the package.
SHIPPED = ("poisson2d", "poisson3d", "diffusion2d", "diffusion3d")
#: Shipped networks of the paper's architecture (:mod:`sciml.dcdm.paper_net`), for comparison.
PAPER_SHIPPED = ("paper-poisson2d",)
#: Shipped learned prolongations of black-box multigrid (:mod:`sciml.dcdm.learned_prolongation`).
MG_SHIPPED = ("contrast2d",)
#: The untrained baseline, built in code: :func:`sciml.dcdm.model.fixed_hierarchy`.
FIXED = "fixed"
#: The ``learned-mg`` kind's baseline: the same V-cycle with black-box weights, no network
#: (:func:`sciml.dcdm.learned_prolongation.fixed`).
FIXED_MG = "fixed-mg"
#: Every name ``model=`` accepts besides a path and ``"fixed"``.
AVAILABLE = SHIPPED + PAPER_SHIPPED + MG_SHIPPED + (FIXED_MG,)
#: By a weight file's ``kind``: (configuration class, network class, skeleton builder).
KINDS = {"multilevel": (Architecture, DCDMNet, skeleton),
         "paper": (PaperConfig, PaperNet, paper_net.skeleton),
         learned_prolongation.KIND: (MGConfig, ProlongationNet, learned_prolongation.skeleton)}
FORMAT_VERSION = 1

Network = DCDMNet | PaperNet | ProlongationNet
_CACHE: dict[tuple[str, int, int], tuple[Network, dict]] = {}


def kind_of(arch: Architecture | PaperConfig | MGConfig) -> str:
    """The ``kind`` a weight file records for ``arch``: ``"multilevel"`` or ``"paper"``."""
    return getattr(arch, "kind", "multilevel")


def network(arch: Architecture | PaperConfig | MGConfig, key: jax.Array) -> Network:
    """A freshly initialised network of ``arch``'s kind."""
    return KINDS[kind_of(arch)][1](arch, key)


def regenerate_hint(name: str) -> str:
    """How to rebuild the weights of ``name``."""
    if name in MG_SHIPPED:
        return (f"regenerate them with `bash scripts/train-dcdm-mg.sh` (writes "
                f"sciml/dcdm/weights/{name}.eqx), or reinstall the package")
    if name in AVAILABLE:
        return (f"regenerate them with `python -m sciml train-dcdm --model {name} --install` "
                f"(or all shipped models: `bash scripts/train-dcdm-weights.sh`), or reinstall "
                f"the package")
    return ("retrain with `python -m sciml train-dcdm --model <family> --out DIR` and pass "
            "model='DIR/<family>.eqx'")


def resolve(model: str | os.PathLike) -> tuple[str, Path, Path]:
    """``(name, eqx_path, json_path)`` for a shipped name or a path; nothing is read yet."""
    text = os.fspath(model)
    if text in (FIXED, FIXED_MG):
        return text, Path(), Path()
    if text in AVAILABLE:
        return text, WEIGHTS_DIR / f"{text}.eqx", WEIGHTS_DIR / f"{text}.json"
    path = Path(text).expanduser()
    if path.is_dir():
        found = sorted(path.glob("*.eqx"))
        if len(found) != 1:
            raise ModelLoadError(
                f"model directory {path} must hold exactly one .eqx file, found {len(found)}; "
                f"pass the .eqx path instead")
        path = found[0]
    if path.suffix not in (".eqx", ".json"):
        if not path.exists() and os.sep not in text and "." not in text:
            raise ModelLoadError(
                f"unknown DCDM model {text!r}: not a shipped model ({', '.join(AVAILABLE)}), "
                f"'{FIXED}' nor a path to a .eqx/.json weight file")
        raise ModelLoadError(f"DCDM model path {path} must end in .eqx or .json")
    return path.stem, path.with_suffix(".eqx"), path.with_suffix(".json")


def save(net: Network, path: str | os.PathLike, metadata: dict[str, Any]) -> Path:
    """Write ``path`` (``.eqx``) and its ``.json`` sidecar atomically; returns the .eqx path."""
    return save_weights(path, net, dict(metadata, format=FORMAT_VERSION, kind=kind_of(net.arch),
                                        architecture=net.arch.to_json(),
                                        parameters=net.parameter_count))


def load(model: str | os.PathLike, ndim: int | None = None,
         coefficient: bool = False) -> tuple[Network, dict[str, Any]]:
    """Load a network by shipped name or path; raises :class:`ModelLoadError` on any problem.

    ``model="fixed"`` builds the untrained baseline for ``ndim``-D grids instead (with the
    coefficient channel if ``coefficient``). Results are cached per file (path, size,
    modification time). The JSON's ``kind`` picks the class (``"multilevel"`` if absent).
    """
    if os.fspath(model) == FIXED_MG:
        if ndim is None:
            raise ModelLoadError("model='fixed-mg' needs the grid dimension (ndim=2 or 3)")
        return (learned_prolongation.fixed(ndim),
                {"model": FIXED_MG, "family": "black-box multigrid (no network)"})
    if os.fspath(model) == FIXED:
        if ndim is None:
            raise ModelLoadError("model='fixed' needs the grid dimension (ndim=2 or 3)")
        return (fixed_hierarchy(ndim, coefficient),
                {"model": FIXED, "family": "untrained BPX-like hierarchy"})
    name, eqx_path, json_path = resolve(model)
    key = None
    if eqx_path.is_file() and json_path.is_file():
        stat = eqx_path.stat()
        key = (str(eqx_path), stat.st_size, stat.st_mtime_ns)
        if key in _CACHE:
            return _CACHE[key]
    net, meta = load_weights(eqx_path, _skeleton, "DCDM weight", regenerate_hint(name),
                             read=read_arrays)
    _CACHE[key] = (net, meta)
    return net, meta


def _skeleton(meta: dict[str, Any]) -> Network:
    """The network of the JSON's ``kind`` and architecture, with NumPy leaves to read into."""
    config_class, _, build_skeleton = KINDS[meta.get("kind", "multilevel")]
    return build_skeleton(config_class.from_json(meta["architecture"]))
