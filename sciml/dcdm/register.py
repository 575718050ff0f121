"""Entry point ``solvers.methods: dcdm`` — registers ``method="dcdm"`` and ``pc="dcdm"``.

Called by :mod:`solvers.registry` the first time the name ``"dcdm"`` is looked up, so
``import solvers`` stays free of JAX until DCDM is asked for. Both run their own compiled
JAX code from the host pipeline, also on ``backend="jax"``: the JAX spec declares that
delegation (the result says ``info["delegated"] = True``) instead of naming a kernel. On
``backend="petsc"`` the network is a ``PCPYTHON`` context (:mod:`sciml.dcdm.petsc`, MPI
included) and ``method="dcdm"`` is PETSc's FCG around it (``truncation=`` sets ``-ksp_fcg_mmax``).

The parameters are declared here (:data:`METHOD_PARAMS`, :data:`PC_PARAMS`) and checked
before anything is built; the constructors of :class:`~sciml.dcdm.method.DCDM` and
:class:`~sciml.dcdm.preconditioner.DCDMPreconditioner` check their arguments against the same
declarations (:func:`check_arguments`). Whether a model file exists is checked when it is loaded
(:class:`solvers.errors.ModelLoadError`, naming the command that regenerates it).
"""

from __future__ import annotations

import math
import os
from numbers import Integral
from typing import Any

import numpy as np

from solvers import registry
from solvers.builtins import MAX_BASIS
from solvers.params import Param, positive_int
from solvers.registry import JaxSpec, PetscSpec

_PC_PARAMS = {"model": "pc_dcdm_model", "shape": "pc_dcdm_shape"}
#: The largest grid ``shape=`` may name (unknowns; 16 GiB per float64 vector).
MAX_GRID_POINTS = 2**31 - 1
#: The largest ``replace_every``: the compiled loop's counter is an int32.
MAX_REPLACE_EVERY = 2**31 - 1
#: The most directions ``truncation`` keeps: two ``(m, n)`` arrays, and the compiled step
#: orthogonalises against each in turn, so its compile time grows with ``m`` (about 6 s for
#: ``m = 100`` on a CPU, a minute for 1000). The paper uses 2.
MAX_TRUNCATION = 100


def _model_problem(value: Any) -> str | None:
    """A shipped name, ``"fixed"`` or a path: a non-empty ``str``/``os.PathLike`` (whether
    it names a model that exists is answered by the loader, with the regeneration hint)."""
    text = os.fspath(value) if isinstance(value, str | os.PathLike) else None
    if isinstance(text, str) and 0 < len(text) <= 4096:
        return None
    from sciml.dcdm.weights import AVAILABLE, FIXED  # loaded with the method: no new import

    names = ", ".join(map(repr, (*AVAILABLE, FIXED)))
    return f"a model name ({names}) or the path of a .eqx/.json weight file"


def _shape_problem(value: Any) -> str | None:
    """A 2-D or 3-D grid shape: positive ints, at most :data:`MAX_GRID_POINTS` points."""
    wanted = (f"a grid shape of 2 or 3 positive ints such as (64, 64) or (32, 32, 32), with "
              f"at most {MAX_GRID_POINTS:,} points")
    if isinstance(value, np.ndarray):
        value = value.tolist() if value.ndim == 1 else None
    if not isinstance(value, tuple | list) or len(value) not in (2, 3):
        return wanted
    if not all(isinstance(s, Integral) and not isinstance(s, bool) and s >= 1 for s in value):
        return wanted
    return None if math.prod(int(s) for s in value) <= MAX_GRID_POINTS else wanted


MODEL = Param("model", "any", None, none_ok=True, check_value=_model_problem,
              doc="network: shipped name, 'fixed' or weight-file path")
SHAPE = Param("shape", "any", None, none_ok=True, check_value=_shape_problem,
              doc="grid shape of the unknowns (a Problem has it)")
#: ``method="dcdm"``'s parameters (:class:`sciml.dcdm.method.DCDM`).
METHOD_PARAMS = (
    MODEL,
    positive_int("truncation", 2, MAX_TRUNCATION, "previous directions each new one is "
                 "A-orthogonalised against"),
    positive_int("replace_every", 10, MAX_REPLACE_EVERY, "iterations between true-residual "
                 "replacements"),
    SHAPE,
    positive_int("record_directions", 0, MAX_BASIS, "first search directions kept in "
                 "info['directions']", low=0),
    Param("loop", "choice", "auto", choices=("auto", "device", "host"),
          doc="one compiled loop on the device, or a Python loop over compiled pieces"),
)
#: ``pc="dcdm"``'s parameters (:class:`sciml.dcdm.preconditioner.DCDMPreconditioner`).
PC_PARAMS = (MODEL, SHAPE)


def check_arguments(params: tuple[Param, ...], owner: str, values: dict[str, Any]) -> None:
    """Check the constructor arguments ``values`` against the declarations ``params``."""
    for param in params:
        param.check(values[param.name], owner)


def register() -> None:
    """Register the DCDM method and preconditioner (idempotent)."""
    from sciml.dcdm.method import DCDM
    from sciml.dcdm.preconditioner import DCDMPreconditioner

    registry.register(
        "dcdm", DCDM, "method", jax=JaxSpec(delegate=True), requires_symmetric=True,
        petsc=PetscSpec("fcg", side="left", pc="dcdm",
                        params={"truncation": "ksp_fcg_mmax", **_PC_PARAMS}),
        replace=True, params=METHOD_PARAMS,
        summary="deep conjugate direction method: CNN directions, A-orthogonalised (SPD grids)")
    registry.register(
        "dcdm", DCDMPreconditioner, "pc", jax=JaxSpec(delegate=True), requires_symmetric=True,
        petsc=PetscSpec(pc_type="python", context="sciml.dcdm.petsc:DCDMContext",
                        params=_PC_PARAMS),
        replace=True, params=PC_PARAMS,
        summary="DCDM network as a nonlinear preconditioner (use inside method='fcg')")
