"""JAX's persistent compilation cache, per user, so that a second process loads the compiled
programs (DCDM's network, the jitted Krylov loops) instead of compiling them again.

Directory: ``$SCIML_JAX_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/sciml-solvers/jax``, else
``~/.cache/sciml-solvers/jax``. ``SCIML_NO_JAX_CACHE=1`` turns it off. A directory that
the user already gave JAX (``jax_compilation_cache_dir``, ``JAX_COMPILATION_CACHE_DIR``) is
kept. Every program that takes at least :data:`MIN_COMPILE_SECONDS` to compile is cached,
whatever its size (JAX's defaults skip programs compiled in under a second, which are most
of DCDM's). No size cap: JAX's eviction needs the ``filelock`` package, which is not a
dependency (the whole directory may be deleted at any time).

:func:`enable` is called on the first use of the JAX backend and by the DCDM loader; it must
run before the process's first compilation that should be cached (JAX reads the directory
at its first cache access). The first slow compilation of a process (not a cache hit, at
least :data:`LOG_COMPILE_SECONDS`) is logged once, at INFO on the ``"solvers.jax"`` logger
(a child of ``"solvers"``).
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

from solvers.monitor import LOGGER as SOLVERS_LOGGER

#: ``logging.getLogger("solvers.jax")``: compilation messages (they propagate to "solvers").
LOGGER = SOLVERS_LOGGER.getChild("jax")

#: Environment variable that turns the cache off (any value but ``""`` and ``"0"``).
DISABLE_ENV = "SCIML_NO_JAX_CACHE"
#: Environment variable naming the cache directory.
DIR_ENV = "SCIML_JAX_CACHE_DIR"
#: Programs compiled faster than this are not written (they cost less than a file read).
MIN_COMPILE_SECONDS = 0.05
#: A compilation at least this long is announced (once per process).
LOG_COMPILE_SECONDS = 0.5

_state = {"enabled": False, "logged": False}


def cache_dir() -> Path | None:
    """The cache directory for this user, or ``None`` when ``SCIML_NO_JAX_CACHE`` is set.

    Examples
    --------
    >>> import os
    >>> os.environ["SCIML_JAX_CACHE_DIR"] = "/tmp/jc"; str(cache_dir())
    '/tmp/jc'
    >>> os.environ["SCIML_NO_JAX_CACHE"] = "1"; cache_dir() is None
    True
    >>> del os.environ["SCIML_NO_JAX_CACHE"], os.environ["SCIML_JAX_CACHE_DIR"]
    """
    if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
        return None
    if os.environ.get(DIR_ENV):
        return Path(os.environ[DIR_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sciml-solvers" / "jax"


def enable() -> Path | None:
    """Point JAX's persistent compilation cache at :func:`cache_dir` (once per process);
    return the directory in use (``None``: off, or not writable)."""
    if _state["enabled"]:
        return _current()
    _state["enabled"] = True
    jax.monitoring.register_event_listener(_on_event)
    jax.monitoring.register_event_duration_secs_listener(_on_duration)
    path = _current() or cache_dir()
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        LOGGER.debug("JAX compilation cache off: cannot create %s (%s)", path, exc)
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return path


def _current() -> Path | None:
    # jax's Config stub declares none of the flags (they are set as attributes at run time)
    value = jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]
    return Path(value) if value else None


def _on_event(event: str, **kwargs: object) -> None:
    """Note whether the compilation under way was answered from the cache."""
    if event == "/jax/compilation_cache/compile_requests_use_cache":
        _state["hit"] = False
    elif event == "/jax/compilation_cache/cache_hits":
        _state["hit"] = True


def _on_duration(event: str, duration_secs: float, **kwargs: str | int) -> None:
    """Log the first slow compilation (not a cache hit) of this process, once."""
    if (event != "/jax/core/compile/backend_compile_duration" or _state["logged"]
            or _state.pop("hit", False) or duration_secs < LOG_COMPILE_SECONDS):
        return
    _state["logged"] = True
    where = _current()
    saved = f"saved in {where}, so later processes load it" if where else \
        f"not saved: the persistent cache is off ({DISABLE_ENV})"
    LOGGER.info("JAX compiled %s in %.1f s on first use (once per shape and method; %s)",
                kwargs.get("fun_name", "a program"), duration_secs, saved)
