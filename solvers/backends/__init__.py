"""Backends: ``scipy`` (host, default), ``petsc`` (petsc4py, MPI) and ``jax`` (jit, GPU).

Each backend module exposes ``solve(solver, A, b, x0, callback) -> SolveResult`` and
``accepts(A, b) -> bool`` (used by ``backend="auto"``). Modules are imported on first use,
so a missing optional dependency only matters when that backend is asked for.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from solvers.errors import BackendUnavailableError, InvalidOptionError

BACKENDS = {
    "scipy": ("solvers.backends.scipy", None),
    "petsc": ("solvers.backends.petsc", "bash scripts/install-petsc.sh (MPICH, mpi4py, "
              "PETSc and petsc4py from PyPI; PETSc builds from source in about 15 min)"),
    "jax": ("solvers.backends.jax", "pip install jax"),
}

#: Order in which ``backend="auto"`` asks the backends whether they own the input types.
AUTO_ORDER = ("petsc", "jax")

#: Keyword parameters a backend reads itself (not a method's or a preconditioner's), so that
#: ``Solver(backend="jax", matrix_free=True)`` is accepted. Kept here, not in the backend
#: modules, so that checking them imports no optional dependency.
PARAMS: dict[str, tuple[str, ...]] = {"scipy": (), "petsc": (), "jax": ("matrix_free",)}


def get(name: str) -> ModuleType:
    """Import and return the backend module ``name``."""
    if name not in BACKENDS:
        raise InvalidOptionError(
            f"unknown backend {name!r}; valid: 'auto', {', '.join(map(repr, BACKENDS))}"
        )
    module, install = BACKENDS[name]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend {name!r} is not available ({exc}). Install it with: {install}"
        ) from None


def params(name: str) -> set[str]:
    """The backend parameters of backend ``name`` (of every backend for ``"auto"``)."""
    names = PARAMS if name == "auto" else (name,)
    return {p for backend in names for p in PARAMS.get(backend, ())}


def detect(A: Any, b: Any) -> str:
    """The backend owning the input types: petsc4py objects -> petsc, jax arrays -> jax."""
    for name in AUTO_ORDER:
        if _is_family(A, b, name):
            return name
    return "scipy"


def _is_family(A: Any, b: Any, name: str) -> bool:
    prefix = {"petsc": "petsc4py", "jax": "jax"}[name]
    return any(type(obj).__module__.startswith(prefix) for obj in (A, b))
