r"""The geometric multigrid V-cycle for matrix-free stencils, as a jittable preconditioner.

:func:`multigrid` builds the hierarchy of a :class:`operators.stencils.Stencil`: halve every
axis of even length >= 4 (:mod:`solvers.multigrid.transfer`) with rediscretised coarse
stencils (:mod:`solvers.multigrid.coarsen`) until at most ``coarsest`` unknowns remain (or
no axis can be halved), and factor the coarsest operator densely (if it has at most
``max_dense`` unknowns; otherwise the coarsest level is smoothed ``4 * degree`` times
instead). The returned :class:`Multigrid` is a pytree (the stencils' arrays and the coarse
inverse are its leaves), callable as ``z = B r`` with one V-cycle from ``x = 0``::

    level l < L:  x = S_l(r, 0);  x += P V_{l+1}(R (r - A_l x));  x = S_l(r, x)
    level L:      x = A_L^{-1} r

with ``S_l`` ``degree`` Chebyshev steps (:mod:`solvers.multigrid.smoothers`), ``R = 2^{-d}
P^T``. The same polynomial smoother before and after the correction and ``R ~ P^T`` make
``B`` symmetric positive definite: a valid preconditioner for CG (and FCG). Everything is
JAX operations on device arrays: no host round trip inside the cycle, and the hierarchy
itself can be built inside ``jax.jit`` (from a traced coefficient, say). Cost per cycle
on the finest grid: ``2 degree`` stencil applications, one restriction and one prolongation;
the coarser levels add ``1/2^d`` of that each.

References
----------
.. [1] W. L. Briggs, V. E. Henson, S. F. McCormick, *A Multigrid Tutorial*, 2nd ed., SIAM,
   2000.
.. [2] O. Tatebe, "The multigrid preconditioned conjugate gradient method", Proc. Sixth
   Copper Mountain Conference on Multigrid Methods (1993) 621-634 (symmetric V-cycle as CG
   preconditioner).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from operators.stencils import Stencil
from solvers.multigrid.coarsen import coarsen, coarsenable
from solvers.multigrid.smoothers import chebyshev
from solvers.multigrid.transfer import prolong, restrict


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Multigrid:
    """One symmetric V-cycle ``r -> z ~ A^{-1} r`` (see the module docstring).

    Attributes
    ----------
    stencils
        The operator on each level, finest first.
    coarse
        The inverse of the coarsest operator as a dense matrix, or None (then smoothing).
    axes
        The axes halved between level ``l`` and ``l + 1`` (static).
    degree
        Chebyshev steps before and after each coarse correction (static).
    """

    stencils: tuple[Stencil, ...]
    coarse: jax.Array | None
    axes: tuple[tuple[int, ...], ...] = field(metadata={"static": True})
    degree: int = field(default=2, metadata={"static": True})

    #: The V-cycle is a symmetric operator (its transpose is itself).
    symmetric = True

    def __call__(self, r: jax.Array) -> jax.Array:
        grid = r.reshape(self.stencils[0].shape).astype(self.stencils[0].dtype)
        return self._cycle(0, grid).reshape(r.shape)

    def _cycle(self, level: int, r: jax.Array) -> jax.Array:
        A = self.stencils[level]
        ndim = len(A.shape)
        if level == len(self.axes):
            if self.coarse is not None:
                return (self.coarse @ r.reshape(-1)).reshape(r.shape)
            return chebyshev(A, 1 / A.center, r, None, 4 * self.degree, ndim)
        x = chebyshev(A, 1 / A.center, r, None, self.degree, ndim)
        axes = self.axes[level]
        correction = self._cycle(level + 1, restrict(r - A(x), axes))
        x = x + prolong(correction, axes)
        return chebyshev(A, 1 / A.center, r, x, self.degree, ndim)


def multigrid(stencil: Stencil, *, degree: int = 2, coarsest: int = 100,
              max_dense: int = 1024) -> Multigrid:
    """The V-cycle preconditioner of ``stencil`` (jittable: JAX operations only).

    Parameters
    ----------
    stencil
        A ``-div(K grad u)`` stencil (:func:`operators.stencils.poisson_stencil`,
        :func:`operators.stencils.diffusion_stencil`), 1D to 3D.
    degree
        Chebyshev smoothing steps before and after the coarse correction (1: weighted Jacobi).
    coarsest
        Stop coarsening at this many unknowns or fewer.
    max_dense
        Largest coarsest level solved by a dense inverse.
    """
    if int(degree) < 1:
        raise ValueError(f"degree must be a positive number of smoothing steps, not {degree!r}")
    stencils, axes = [stencil], []
    while np.prod(stencils[-1].shape) > coarsest and coarsenable(stencils[-1].shape):
        axes.append(coarsenable(stencils[-1].shape))
        stencils.append(coarsen(stencils[-1], axes[-1]))
    return Multigrid(tuple(stencils), _dense_inverse(stencils[-1], max_dense), tuple(axes),
                     int(degree))


def _dense_inverse(stencil: Stencil, max_dense: int) -> jax.Array | None:
    """``A^{-1}`` of a small stencil (symmetrised), or None above ``max_dense`` unknowns."""
    n = stencil.n
    if n > max_dense:
        return None
    matrix = jax.vmap(stencil)(jnp.eye(n, dtype=stencil.dtype))
    inverse = jnp.linalg.inv(matrix)
    return (inverse + inverse.T) / 2
