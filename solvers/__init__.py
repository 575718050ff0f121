"""Linear solvers behind one interface: ``solve(A, b)`` on SciPy, PETSc or JAX.

>>> from solvers import solve
"""

from solvers import errors, registry
from solvers.api import Solver, solve
from solvers.builtins import register_builtins
from solvers.reasons import Reason
from solvers.result import SolveResult

register_builtins()

__all__ = ["Reason", "SolveResult", "Solver", "errors", "registry", "solve"]
__version__ = "0.1.0"

#: Names loaded on first use (they import JAX; ``import solvers`` does not).
_LAZY = {"linear_solve": "solvers.functional", "JaxSolution": "solvers.functional"}


def __getattr__(name: str):
    """``solvers.linear_solve`` / ``solvers.JaxSolution``: the functional JAX solve."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'solvers' has no attribute {name!r}")
