"""DCDM's compiled programs, traced once per machine: :mod:`jax.export` on top of JAX's cache.

JAX's persistent compilation cache (:mod:`solvers.backends.jax.cache`) spares a second
process the XLA compilation, but not the tracing and lowering that precede it, and for
DCDM's network (an encoder and its transpose through :func:`jax.vjp`, a dozen levels of
shifted slices) those dominate: on the project's CPU about 1.2 s of the 1.5 s left of a
second process's setup at 64^3. So each program is also *exported*
(:func:`jax.export.export`: its StableHLO, serialised) to ``<cache>/dcdm-export/<key>.bin``;
a later process deserialises it and hands it to XLA, whose compilation the persistent cache
then answers. Nothing is traced again.

The programs take the network's weights as arguments (not as constants), so the key holds
only what shapes the program: the piece (``"network"``, ``"initial"``, ...), the flat input
structure and the shapes and dtypes of its leaves, the options the caller passes (truncation,
grid, ...), and the JAX version. Inputs and outputs cross the exported boundary as flat lists
of arrays; the caller gives the output structure (cheap to get with :func:`jax.eval_shape` of
a light function, or known). A file that cannot be read is ignored and rewritten. With the
cache off (``SCIML_NO_JAX_CACHE=1``), or without ``flatbuffers`` (which serialisation needs;
a dependency of the package), programs are traced as usual.

A program may also return its own pytree (``out_tree=None``), such as the V-cycle hierarchy
of a ``learned-mg`` model (a :class:`solvers.multigrid.Multigrid`, whose structure, the
number of levels and their shapes, is only known by building it); then its dataclass nodes
are registered for serialisation (:func:`register_tree`) and the structure is read back from
the file with the program.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from sciml.persist import atomic_write
from solvers.backends.jax.cache import cache_dir

#: How this process got each program: ``"loaded"`` (a serialised export read back, nothing
#: traced) or ``"traced"`` (and exported for the next process). Read by the tests.
ORIGINS: Counter[str] = Counter()


def compile_program(fn: Callable[..., Any], args: tuple, out_tree: Any,
                    key: tuple) -> Callable[..., Any]:
    """``fn`` compiled for ``args`` (arrays or ``ShapeDtypeStruct``s, any pytree).

    The returned callable takes arguments with the structure of ``args`` and returns the
    structure ``out_tree`` (a :class:`jax.tree_util.PyTreeDef`), or, if ``out_tree`` is
    None, ``fn``'s own output pytree, stored with the program (its dataclass nodes
    registered with :func:`register_tree`). ``key`` names everything besides the argument
    shapes that changes the program.
    """
    leaves, in_tree = jax.tree_util.tree_flatten(args)
    avals = [jax.ShapeDtypeStruct(np.shape(x), x.dtype) for x in leaves]

    def flat(*xs: jax.Array) -> Any:
        out = fn(*jax.tree_util.tree_unflatten(in_tree, xs))
        return out if out_tree is None else jax.tree_util.tree_leaves(out)

    path = _path(key + (("tree",) if out_tree is None else ()), in_tree, avals)
    exported = _read(path) if path is not None else None
    ORIGINS["loaded" if exported is not None else "traced"] += 1
    if exported is None:
        exported = jax.export.export(jax.jit(flat))(*avals)
        if path is not None:
            _write(path, exported)
    compiled = jax.jit(exported.call).lower(*avals).compile()
    if out_tree is None:
        return lambda *call_args: compiled(*jax.tree_util.tree_leaves(call_args))

    def call(*call_args: Any) -> Any:
        out = compiled(*jax.tree_util.tree_leaves(call_args))
        return jax.tree_util.tree_unflatten(out_tree, out)

    return call


#: The dataclass pytree nodes registered for serialisation, by class.
_REGISTERED: set[type] = set()


def register_tree(*classes: type) -> None:
    """Let exported programs return these dataclass pytree nodes (registered with
    :func:`jax.tree_util.register_dataclass`): their static fields (ints and tuples of ints)
    are stored as JSON. Registering a class again does nothing."""
    for cls in classes:
        if cls in _REGISTERED:
            continue
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls!r} is not a dataclass")
        jax.export.register_pytree_node_serialization(
            cls, serialized_name=f"{cls.__module__}.{cls.__qualname__}",
            serialize_auxdata=lambda aux: json.dumps(aux).encode(),
            deserialize_auxdata=lambda data: _tuples(json.loads(data)))
        _REGISTERED.add(cls)


def _tuples(value: Any) -> Any:
    """JSON's lists back to the tuples a pytree's static fields were."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _path(key: tuple, in_tree: Any, avals: list) -> Path | None:
    root = cache_dir()
    if root is None or importlib.util.find_spec("flatbuffers") is None:
        return None
    text = repr((key, str(in_tree), [(a.shape, str(a.dtype)) for a in avals], jax.__version__))
    return root / "dcdm-export" / f"{hashlib.sha256(text.encode()).hexdigest()[:32]}.bin"


def _read(path: Path) -> Any:
    try:
        return jax.export.deserialize(bytearray(path.read_bytes()))
    except Exception:  # a missing or damaged file (flatbuffers raises struct.error, ...)
        return None


def _write(path: Path, exported: Any) -> None:
    # a read-only cache costs nothing but the next process's tracing
    with contextlib.suppress(OSError):
        atomic_write(path, lambda f: f.write(exported.serialize()))
