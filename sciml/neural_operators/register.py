"""Entry point ``solvers.methods: hints`` — registers ``pc="hints"``.

Called by :mod:`solvers.registry` the first time the name ``"hints"`` is looked up, so
``import solvers`` stays free of JAX until it is asked for. The pc runs its network as a
compiled JAX function from the host pipeline, also on ``backend="jax"`` (the JAX spec
declares that delegation, ``info["delegated"] = True``; for JAX's compiled FCG loop pass
:func:`sciml.neural_operators.hints.jax_preconditioner` as ``pc``). On ``backend="petsc"``
it is a ``PCPYTHON`` context distributed over the ranks
(:class:`sciml.neural_operators.hints_petsc.HintsContext`). The parameters are
declared here (:data:`PC_PARAMS`) and checked before anything is built; whether a model file
exists is answered by the loader (:class:`solvers.errors.ModelLoadError`, naming the
shipped models and the script that rebuilds them).
"""

from __future__ import annotations

import os
from typing import Any

from sciml.dcdm.register import SHAPE
from solvers import registry
from solvers.params import Param, positive_int
from solvers.registry import JaxSpec, PetscSpec

#: Most smoothing sweeps per side of the cycle.
MAX_SWEEPS = 100


def _model_problem(value: Any) -> str | None:
    """A shipped name, ``"none"`` or a path: a non-empty ``str``/``os.PathLike``."""
    text = os.fspath(value) if isinstance(value, str | os.PathLike) else None
    if isinstance(text, str) and 0 < len(text) <= 4096:
        return None
    names = ", ".join(map(repr, (*_shipped(), "none")))
    return f"a model name ({names}) or the path of a .eqx/.json error-operator file"


def _shipped() -> tuple[str, ...]:
    from sciml.neural_operators.error_operator import SHIPPED

    return tuple(SHIPPED)


#: ``pc="hints"``'s parameters (:class:`sciml.neural_operators.hints.HintsPreconditioner`).
PC_PARAMS = (
    Param("model", "any", None, none_ok=True, check_value=_model_problem,
          doc="error operator: shipped name, 'none' (smoother alone) or weight-file path"),
    positive_int("sweeps", 16, MAX_SWEEPS, "damped-Jacobi sweeps before and after the network",
                 low=0),
    Param("omega", "float", 2.0 / 3.0, low=0.0, high=1.0, open_low=True,
          doc="damped-Jacobi weight of the smoother"),
    SHAPE,
)


def register() -> None:
    """Register the HINTS preconditioner (idempotent)."""
    from sciml.neural_operators.hints import HintsPreconditioner

    registry.register(
        "hints", HintsPreconditioner, "pc", jax=JaxSpec(delegate=True), replace=True,
        petsc=PetscSpec(pc_type="python",
                        context="sciml.neural_operators.hints_petsc:HintsContext",
                        params={"model": "pc_hints_model", "sweeps": "pc_hints_sweeps",
                                "omega": "pc_hints_omega", "shape": "pc_hints_shape"}),
        params=PC_PARAMS,
        summary="neural error operator + Jacobi smoothing (HINTS), nonlinear: use inside "
                "method='fcg' (SPD) or 'fgmres'")
