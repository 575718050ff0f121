"""Linear solvers behind one interface: ``solve(A, b)`` on SciPy, PETSc or JAX.

``import solvers`` imports nothing: every public name is loaded on first use (PEP 562), so
``import solvers.errors`` (the exceptions, which every layer may raise) costs two small
modules, and ``solvers.solve`` imports the classical layer (NumPy, SciPy, pyamg) when it is
first touched. The built-in methods register the first time the registry is used
(:func:`solvers.registry.lookup`, :func:`~solvers.registry.names`, ...).

>>> from solvers import solve
"""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = ["Reason", "SolveResult", "Solver", "errors", "registry", "solve"]
__version__ = "0.1.0"

#: Public name -> the module that defines it, imported on first access. ``linear_solve`` and
#: ``JaxSolution`` import JAX; the others the host layer.
_LAZY = {
    "Reason": "solvers.reasons",
    "SolveResult": "solvers.result",
    "Solver": "solvers.api",
    "solve": "solvers.api",
    "linear_solve": "solvers.functional",
    "JaxSolution": "solvers.functional",
}


def __getattr__(name: str) -> Any:
    """Load a public name (``solvers.solve``) or a submodule (``solvers.registry``) on use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if not name.startswith("__") and importlib.util.find_spec(f"{__name__}.{name}"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'solvers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_LAZY))
