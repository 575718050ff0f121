"""The former home of the PETSc Python contexts: importing it names their new home.

The option string ``-ksp_python_type solvers.backends.petsc_python.CGContext`` of the first
release now fails with this message; write ``solvers.backends.petsc.contexts.CGContext``.
"""

raise ImportError(
    "solvers.backends.petsc_python was removed: the PETSc Python contexts live in "
    "solvers.backends.petsc.contexts (e.g. -ksp_python_type "
    "solvers.backends.petsc.contexts.CGContext, or method='pycg')"
)
