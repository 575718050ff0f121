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
