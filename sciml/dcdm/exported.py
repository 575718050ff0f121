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
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
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
    structure ``out_tree`` (a :class:`jax.tree_util.PyTreeDef`). ``key`` names everything
    besides the argument shapes that changes the program.
    """
    leaves, in_tree = jax.tree_util.tree_flatten(args)
    avals = [jax.ShapeDtypeStruct(np.shape(x), x.dtype) for x in leaves]

    def flat(*xs: jax.Array) -> list[jax.Array]:
        out = fn(*jax.tree_util.tree_unflatten(in_tree, xs))
        return jax.tree_util.tree_leaves(out)

    path = _path(key, in_tree, avals)
    exported = _read(path) if path is not None else None
    ORIGINS["loaded" if exported is not None else "traced"] += 1
    if exported is None:
        exported = jax.export.export(jax.jit(flat))(*avals)
        if path is not None:
            _write(path, exported)
    compiled = jax.jit(exported.call).lower(*avals).compile()

    def call(*call_args: Any) -> Any:
        out = compiled(*jax.tree_util.tree_leaves(call_args))
        return jax.tree_util.tree_unflatten(out_tree, out)

    return call


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
