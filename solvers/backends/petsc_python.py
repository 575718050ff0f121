"""The former home of the PETSc Python contexts, kept so that the option string
``-ksp_python_type solvers.backends.petsc_python.CGContext`` keeps working; the contexts live
in :mod:`solvers.backends.petsc.contexts`."""

from solvers.backends.petsc.contexts import CGContext, FunctionPC, KrylovContext

__all__ = ["CGContext", "FunctionPC", "KrylovContext"]
