"""Matrix-free geometric multigrid for the grid stencils of :mod:`operators.stencils`.

:func:`multigrid` builds a :class:`Multigrid`, a jittable symmetric V-cycle usable as the
preconditioner of CG/FCG (``pc="mg"`` on ``backend="jax"``, or in
:func:`solvers.linear_solve`). One file per piece: :mod:`~solvers.multigrid.blackbox`
(operator-dependent interpolation of black-box multigrid, the default) and
:mod:`~solvers.multigrid.galerkin` (``3^d``-point stencils, ``P^T A P`` by probing);
:mod:`~solvers.multigrid.transfer` (cell-centred interpolation and full weighting) and
:mod:`~solvers.multigrid.coarsen` (rediscretised coarse stencils with series/parallel face
averaging) for ``coarsening="rediscretise"``;
:mod:`~solvers.multigrid.smoothers` (Chebyshev / weighted Jacobi) and
:mod:`~solvers.multigrid.vcycle` (the hierarchy and the cycle).

This package imports JAX.
"""

from solvers.multigrid.vcycle import Multigrid, multigrid

__all__ = ["Multigrid", "multigrid"]
