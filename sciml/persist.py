"""One place for the files ``sciml`` writes: atomic writes, versioned JSON state, resume checks.

Every state file, checkpoint, weight file, manifest and data shard of :mod:`sciml` is written
with :func:`atomic_write`: the bytes go to a temporary file in the target's directory, are
flushed and ``fsync``-ed, and the temporary file is renamed over the target with
:func:`os.replace` (atomic on POSIX and Windows). A reader therefore sees either the old file or
the new one, never half of one, even if the writer is killed.

Small state (a bandit's weights, a training checkpoint's metadata, a batch manifest) is JSON
in one envelope, ``{"kind": ..., "version": ..., "payload": {...}}``, written by
:func:`write_state` and read back by :func:`read_state`, which refuses a file of another kind
or version with a :class:`StateFileError` that says what to do.

A run that writes into an output folder and can be resumed (training, batch solves) records its
configuration there; :func:`check_resume` compares it with the configuration of the run that
wants to continue and raises :class:`ResumeMismatchError` listing every difference.

Trained weights are an equinox ``.eqx`` file (:func:`equinox.tree_serialise_leaves`) with a
``.json`` sidecar holding the metadata needed to rebuild the model and the file's SHA-256:
:func:`save_weights` writes both, :func:`load_weights` checks both and raises
:class:`~solvers.errors.ModelLoadError` (with the caller's rebuild hint) on anything missing,
corrupt or not matching.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = write_state(folder / "state.json", "example", 1, {"step": 3})
>>> read_state(folder / "state.json", "example", 1)
{'step': 3}
>>> check_resume({"lr": 0.1}, {"lr": 0.1}, folder)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from solvers.errors import ModelLoadError, SolverError

__all__ = ["ResumeMismatchError", "StateFileError", "atomic_write", "atomic_write_text",
           "check_resume", "load_weights", "read_arrays", "read_state", "save_weights",
           "sha256_of", "write_state"]


class StateFileError(SolverError, OSError):
    """A state/checkpoint file is missing, corrupt, of another kind or version."""


class ResumeMismatchError(SolverError, ValueError):
    """An output folder holds a run with another configuration."""


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Write ``path`` through ``write(file)`` so that readers never see a partial file.

    ``write`` receives a binary file open on a temporary file in the same directory as
    ``path`` (created if needed), named ``.<name>.<random>.tmp`` (so a folder's leftovers
    from killed writers match the glob ``.*.tmp``). The file is flushed and synced to disk,
    given the usual permissions (``0o666`` less the umask) and renamed over ``path`` with
    :func:`os.replace`. If ``write`` raises (or the process is interrupted), the temporary
    file is removed and ``path`` is unchanged.

    Returns
    -------
    Path
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write`."""
    data = text.encode("utf-8")
    return atomic_write(path, lambda f: f.write(data))


def write_state(path: str | os.PathLike, kind: str, version: int, payload: dict) -> Path:
    """Write ``{"kind": kind, "version": version, "payload": payload}`` as JSON, atomically.

    The JSON is indented by one space with sorted keys, so files diff well and the same state
    always gives the same bytes. ``payload`` must be JSON-serialisable (a ``TypeError`` says
    which value is not, before anything is written).
    """
    text = json.dumps({"kind": kind, "version": int(version), "payload": payload},
                      indent=1, sort_keys=True, allow_nan=True) + "\n"
    return atomic_write_text(path, text)


def read_state(path: str | os.PathLike, kind: str, version: int) -> dict:
    """The payload of a file written by :func:`write_state` with this ``kind`` and ``version``.

    Raises
    ------
    StateFileError
        The file is missing, unreadable, not JSON, not a state envelope, or holds another
        kind or version; the message names the file and what to do.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StateFileError(f"state file {path} does not exist; check the path, or start "
                             f"without it to create a new {kind!r} state") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateFileError(f"state file {path} cannot be read ({exc}); check its "
                             f"permissions or delete it to start over") from None
    try:
        envelope = json.loads(text)
    except ValueError as exc:
        raise StateFileError(f"state file {path} is not valid JSON ({exc}); it is corrupt: "
                             f"delete it to start over") from None
    if not isinstance(envelope, dict) or not {"kind", "version", "payload"} <= envelope.keys():
        raise StateFileError(f"state file {path} is not a state file (expected keys 'kind', "
                             f"'version', 'payload'); it was written by another program or an "
                             f"older version: pass the right file, or delete it to start over")
    if envelope["kind"] != kind:
        raise StateFileError(f"state file {path} holds kind {envelope['kind']!r}, expected "
                             f"{kind!r}; pass the state file of a {kind!r}")
    if envelope["version"] != version:
        raise StateFileError(f"state file {path} has version {envelope['version']!r}, this code "
                             f"reads version {version} of {kind!r}; use the library version "
                             f"that wrote it, or delete it to start over")
    if not isinstance(envelope["payload"], dict):
        raise StateFileError(f"state file {path} has a payload of type "
                             f"{type(envelope['payload']).__name__}, expected an object; "
                             f"it is corrupt: delete it to start over")
    return envelope["payload"]


#: Kind and version of the state file of a learning ``Solver`` (:mod:`solvers.learned`).
SOLVER_STATE = ("learned-auto", 1)


def write_solver_state(path: str | os.PathLike, state: dict) -> Path:
    """Save ``res.state`` of ``Solver(learn=True)`` (its learners) atomically as JSON."""
    return write_state(path, *SOLVER_STATE, state)


def read_solver_state(path: str | os.PathLike) -> dict:
    """The state saved by :func:`write_solver_state`, for ``Solver.solve(..., state=)``."""
    return read_state(path, *SOLVER_STATE)


def save_weights(path: str | os.PathLike, model: Any, metadata: dict[str, Any]) -> Path:
    """Write ``model``'s arrays to ``path`` (``.eqx``) and ``metadata`` plus the file's
    ``sha256`` and ``bytes`` to its ``.json`` sidecar, both atomically; returns the .eqx path."""
    import equinox as eqx

    eqx_path = atomic_write(Path(path).with_suffix(".eqx"),
                            lambda f: eqx.tree_serialise_leaves(f, model))
    meta = dict(metadata, sha256=sha256_of(eqx_path), bytes=eqx_path.stat().st_size)
    atomic_write_text(eqx_path.with_suffix(".json"),
                      json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return eqx_path


def sha256_of(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_weights(eqx_path: Path, skeleton: Callable[[dict[str, Any]], Any], what: str,
                 hint: str, read: Callable[[Path, Any], Any] | None = None
                 ) -> tuple[Any, dict[str, Any]]:
    """``(model, metadata)`` from ``eqx_path`` and its ``.json`` sidecar.

    ``skeleton(metadata)`` builds a model of the right structure for the arrays; ``what``
    names the file in messages (``"DMM weight"``) and ``hint`` says how to rebuild it.
    ``read(eqx_path, skeleton)`` reads the arrays into it (default
    :func:`equinox.tree_deserialise_leaves`; :func:`read_arrays` gives NumPy leaves).

    Raises
    ------
    solvers.errors.ModelLoadError
        A file is missing, the metadata is corrupt, the SHA-256 differs, or the arrays do not
        fit the skeleton.
    """
    if read is None:
        import equinox as eqx

        read = eqx.tree_deserialise_leaves
    json_path = eqx_path.with_suffix(".json")
    for path in (eqx_path, json_path):
        if not path.is_file():
            raise ModelLoadError(f"{what} file {path} is missing; {hint}")
    try:
        meta = json.loads(json_path.read_text())
        like = skeleton(meta)
        expected = meta["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{what} metadata {json_path} is corrupt ({exc}); {hint}") from None
    if sha256_of(eqx_path) != expected:
        raise ModelLoadError(f"{what} file {eqx_path} is corrupt (SHA-256 differs from "
                             f"{json_path.name}); {hint}")
    try:
        model = read(eqx_path, like)
    except Exception as exc:  # equinox/numpy raise various types on a bad file
        raise ModelLoadError(f"{what} file {eqx_path} cannot be read ({exc}); {hint}") from None
    return model, meta


def read_arrays(path: Path, like: Any) -> Any:
    """The arrays of ``path`` read into the leaves of ``like`` as NumPy arrays, shapes and
    dtypes checked.

    The format is :func:`equinox.tree_serialise_leaves`' (one ``.npy`` per leaf, in leaf
    order), read with NumPy: equinox's reader makes JAX arrays, one small compiled op each,
    which is most of a light model's loading time in a fresh process.
    """
    import jax
    import numpy as np

    leaves, treedef = jax.tree_util.tree_flatten(like)
    with open(path, "rb") as f:
        arrays = [np.load(f) for _ in leaves]
        if f.read(1):
            raise ValueError("trailing data after the last array")
    for old, new in zip(leaves, arrays, strict=True):
        if old.shape != new.shape or old.dtype != new.dtype:
            raise ValueError(f"an array is {new.dtype}{list(new.shape)}, expected "
                             f"{old.dtype}{list(old.shape)}")
    return jax.tree_util.tree_unflatten(treedef, arrays)


def check_resume(saved: dict, current: dict, where: str | os.PathLike) -> None:
    """Refuse to continue the run in ``where`` unless ``current`` equals ``saved``.

    Values are compared after a JSON round trip, so a tuple and a list, or an ``int`` and the
    same ``float``, are equal as they would be once saved. Keys present on one side only count
    as differences (shown as ``<missing>``).

    Raises
    ------
    ResumeMismatchError
        Listing each differing key as ``key: saved=.. now=..``.
    """
    saved, current = _normalised(saved), _normalised(current)
    diffs = [f"{key}: saved={_shown(saved, key)} now={_shown(current, key)}"
             for key in sorted(saved.keys() | current.keys())
             if saved.get(key, _MISSING) != current.get(key, _MISSING)]
    if diffs:
        raise ResumeMismatchError(
            f"{where} holds a run with another configuration ({'; '.join(diffs)}); use another "
            f"output folder, or delete {where} to start over")


_MISSING = object()


def _shown(config: dict[str, Any], key: str) -> str:
    return repr(config[key]) if key in config else "<missing>"


def _normalised(config: dict) -> dict[str, Any]:
    return json.loads(json.dumps(config, sort_keys=True))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
