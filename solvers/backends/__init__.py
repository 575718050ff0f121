"""Backends: ``scipy`` (host, default), ``petsc`` (petsc4py, MPI) and ``jax`` (jit, GPU).

The protocol (:class:`Backend`). A backend module exposes

- ``prepare(request, store, A, b, x0, callback, choice) -> Prepared``: validate and convert
  the input, resolve ``method="auto"`` (or take ``choice``, an :class:`solvers.auto.Choice`),
  build or reuse the setup (by matrix fingerprint, in the :class:`solvers.request.Store`);
  ``request`` (:class:`solvers.request.Request`) holds the resolved entries, validated
  parameters and stopping rule;
- the returned :class:`Prepared` runs the method (``run(x0, stop, state) -> Iterate``), and
  computes the float64 residual norm of an ``x`` on the caller's own system.

What follows a run is the same for every backend (:mod:`solvers.finish`): refinement restarts,
per-solve hooks and carried state, timings and the float64 verdict. Helpers more than one
backend uses live in :mod:`solvers.backends.common`.

Modules are imported on first use, so a missing optional dependency only matters when that
backend is asked for.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np

from solvers.auto import Choice
from solvers.errors import BackendUnavailableError, InvalidOptionError
from solvers.method import Callback, Iterate, Method, Preconditioner
from solvers.stopping import StoppingRule

if TYPE_CHECKING:
    from solvers.request import Request, Store

BACKENDS = {
    "scipy": ("solvers.backends.host", None),
    "petsc": ("solvers.backends.petsc", "bash scripts/install-petsc.sh (MPICH, mpi4py, "
              "PETSc and petsc4py from PyPI; PETSc builds from source in about 15 min)"),
    "jax": ("solvers.backends.jax", "pip install jax"),
}

#: ``run(x0, stop, state) -> Iterate`` of a :class:`Prepared` system.
Run = Callable[[Any, StoppingRule, Any], Iterate]

#: Order in which ``backend="auto"`` asks whether the input types belong to a backend.
AUTO_ORDER = ("petsc", "jax")


@dataclass
class Prepared:
    """A system ready to run on one backend.

    ``run(x0, stop, state)`` runs the method from ``x0`` (working form; ``None``: zero) under
    ``stop`` with the method's carried ``state`` and returns an :class:`Iterate` whose ``x``
    is in working form. ``residual_norm(x)`` is ``||b - A x||`` in float64 (complex128) on the
    caller's own ``A`` and ``b``; ``bnorm`` is ``||b||`` likewise; ``output(x)`` gives ``x``
    in the family of the caller's ``b``. ``components`` maps ``(kind, name)`` to the objects
    whose hooks and carried state :mod:`solvers.finish` handles; ``hook_system`` is what
    their ``before_solve`` receives. ``choices`` are the ``auto`` plan (first, then fallbacks)
    when ``method="auto"``.
    """

    run: Run
    residual_norm: Callable[[Any], float]
    bnorm: float
    output: Callable[[Any], Any]
    n: int
    dtype: np.dtype
    method: str
    pc: str
    x0: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    components: dict[tuple[str, str], Method | Preconditioner | None] = field(
        default_factory=dict)
    hook_system: Any = None
    choices: list[Choice] = field(default_factory=list)
    refine: bool = True


class Backend(Protocol):
    """What :mod:`solvers.finish` calls on a backend module (``host``, ``petsc``, ``jax``)."""

    def prepare(self, request: Request, store: Store, A: Any, b: Any, x0: Any,
                callback: Callback | None, choice: Choice | None) -> Prepared: ...


def get(name: str) -> Backend:
    """The backend module ``name``, imported on first use."""
    module = sys.modules.get(BACKENDS[name][0]) if name in BACKENDS else None
    return cast(Backend, module) if module is not None else _import(name)


def _import(name: str) -> Backend:
    if name not in BACKENDS:
        raise InvalidOptionError(
            f"unknown backend {name!r}; valid: 'auto', {', '.join(map(repr, BACKENDS))}"
        )
    module, install = BACKENDS[name]
    try:
        backend: Backend = importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailableError(
            f"backend {name!r} is not available ({exc}). Install it with: {install}"
        ) from None
    return backend


def detect(A: Any, b: Any, request: Request | None = None) -> str:
    """The backend owning the input types: petsc4py objects -> petsc, jax arrays -> jax;
    and for ``method="auto"`` without a named preconditioner, an SPD grid problem with a
    stencil -> jax where :func:`solvers.auto.jax_route` says so (CG + black-box MG)."""
    if type(b) is np.ndarray and type(A).__module__.startswith("scipy"):
        return "scipy"  # the common case, without asking every family
    for name in AUTO_ORDER:
        if _is_family(A, b, name):
            return name
    if request is not None and _grid_route(A, request):
        return "jax"
    return "scipy"


def _grid_route(A: Any, request: Request) -> bool:
    """An SPD stencil problem under ``method="auto"`` that :func:`solvers.auto.jax_route`
    sends to JAX."""
    from solvers import auto
    from solvers.system import has_stencil

    if not (request.auto and request.pc is None and request.user_pc is None
            and has_stencil(A) and A.positive_definite):
        return False
    return auto.jax_route(A.n)[0]


def _is_family(A: Any, b: Any, name: str) -> bool:
    prefix = {"petsc": "petsc4py", "jax": "jax"}[name]
    return any(type(obj).__module__.startswith(prefix) for obj in (A, b))
