"""PDE problems as linear systems: a gallery of model problems, random fields, sequences.

Layers: ``meshes`` < ``operators`` < ``solvers`` < ``sciml``. This package imports NumPy,
SciPy and :mod:`meshes`; of :mod:`solvers` only the error hierarchy :mod:`solvers.errors`
(which imports nothing of ours). So ``import operators`` loads neither the solvers and their
registry, pyamg nor JAX (``tests/project/test_layers.py`` checks it; the JAX stencils of
:mod:`operators.stencils` and PETSc in :mod:`operators.distributed` load on use).

Examples
--------
>>> import operators
>>> p = operators.poisson((16, 16))             # a GridProblem, which is a Problem
>>> p.A.shape, p.b.shape, isinstance(p, operators.Problem)
((256, 256), (256,), True)
"""

from operators.families import FAMILIES, family
from operators.fem import FEMProblem, p1_poisson
from operators.fields import gaussian_random_field, lognormal_coefficient, random_diffusion
from operators.gallery import convection_diffusion, diffusion, helmholtz, poisson
from operators.problem import GridProblem, Problem
from operators.sequences import HeatSequence, heat_sequence, shifted_laplacian_sequence

__all__ = [
    "FAMILIES",
    "FEMProblem",
    "GridProblem",
    "HeatSequence",
    "Problem",
    "convection_diffusion",
    "diffusion",
    "family",
    "gaussian_random_field",
    "heat_sequence",
    "helmholtz",
    "lognormal_coefficient",
    "p1_poisson",
    "poisson",
    "random_diffusion",
    "shifted_laplacian_sequence",
]
