r"""The geometric multigrid V-cycle for matrix-free stencils, as a jittable preconditioner.

:func:`multigrid` builds the hierarchy of a :class:`operators.stencils.Stencil`: halve every
axis of even length >= 4 until at most ``coarsest`` unknowns remain (or no axis can be
halved), with either black-box coarse levels (``coarsening="galerkin"``, the default:
operator-dependent interpolation, :mod:`solvers.multigrid.blackbox`, ``R = P^T`` and
``P^T A P``, :mod:`solvers.multigrid.galerkin`) or rediscretised ones
(``"rediscretise"``: cell-centred linear interpolation, :mod:`solvers.multigrid.transfer`,
and face-averaged stencils, :mod:`solvers.multigrid.coarsen`), and factor the coarsest
operator densely (if it has at most
``max_dense`` unknowns; otherwise the coarsest level is smoothed ``4 * degree`` times
instead). The returned :class:`Multigrid` is a pytree (the stencils' arrays and the coarse
inverse are its leaves), callable as ``z = B r`` with one V-cycle from ``x = 0``::

    level l < L:  x = S_l(r, 0);  x += P V_{l+1}(R (r - A_l x));  x = S_l(r, x)
    level L:      x = A_L^{-1} r

with ``S_l`` ``degree`` Chebyshev steps (:mod:`solvers.multigrid.smoothers`), ``R = P^T``
(black-box) or ``2^{-d} P^T`` (rediscretised). The same polynomial smoother before and
after the correction and ``R ~ P^T`` make
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
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from operators.stencils import Stencil
from solvers.multigrid.blackbox import Correction, coarse_shape, interpolation
from solvers.multigrid.coarsen import coarsen, coarsenable
from solvers.multigrid.galerkin import BoxStencil, entries_of, galerkin
from solvers.multigrid.smoothers import chebyshev
from solvers.multigrid.transfer import prolong, restrict

#: Coarse-grid constructions of :func:`multigrid`.
COARSENINGS = ("galerkin", "rediscretise")


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Geometric:
    """Cell-centred linear interpolation and full weighting along ``axes`` (static)."""

    axes: tuple[int, ...] = field(metadata={"static": True})

    def prolong(self, coarse: jax.Array) -> jax.Array:
        return prolong(coarse, self.axes)

    def restrict(self, fine: jax.Array) -> jax.Array:
        return restrict(fine, self.axes)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Multigrid:
    """One symmetric V-cycle ``r -> z ~ A^{-1} r`` (see the module docstring).

    Attributes
    ----------
    stencils
        The operator on each level, finest first.
    transfers
        The grid transfer between level ``l`` and ``l + 1`` (``prolong``/``restrict``).
    inverse_diagonals
        The smoother's ``D^{-1}`` on each level.
    coarse
        The inverse of the coarsest operator as a dense matrix, or None (then smoothing).
    degree
        Chebyshev steps before and after each coarse correction (static).
    """

    stencils: tuple[Any, ...]
    transfers: tuple[Any, ...]
    inverse_diagonals: tuple[jax.Array, ...]
    coarse: jax.Array | None
    degree: int = field(default=2, metadata={"static": True})

    #: The V-cycle is a symmetric operator (its transpose is itself).
    symmetric = True

    def __call__(self, r: jax.Array) -> jax.Array:
        grid = r.reshape(self.stencils[0].shape).astype(self.stencils[0].dtype)
        return self._cycle(0, grid).reshape(r.shape)

    def _cycle(self, level: int, r: jax.Array) -> jax.Array:
        A, inverse = self.stencils[level], self.inverse_diagonals[level]
        ndim = len(A.shape)
        if level == len(self.transfers):
            if self.coarse is not None:
                return (self.coarse @ r.reshape(-1)).reshape(r.shape)
            return chebyshev(A, inverse, r, None, 4 * self.degree, ndim)
        x = chebyshev(A, inverse, r, None, self.degree, ndim)
        transfer = self.transfers[level]
        correction = self._cycle(level + 1, transfer.restrict(r - A(x)))
        x = x + transfer.prolong(correction)
        return chebyshev(A, inverse, r, x, self.degree, ndim)


def multigrid(stencil: Stencil, *, degree: int = 2, coarsest: int = 100,
              max_dense: int = 1024, coarsening: str = "galerkin",
              correct: Correction | None = None) -> Multigrid:
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
    coarsening
        ``"galerkin"`` (black-box multigrid: operator-dependent interpolation,
        :mod:`solvers.multigrid.blackbox`, and ``P^T A P`` coarse operators,
        :mod:`solvers.multigrid.galerkin`; robust to jumping coefficients) or
        ``"rediscretise"`` (cell-centred linear interpolation and rediscretised coarse
        stencils, :mod:`solvers.multigrid.coarsen`; cheaper to build, for smooth ones).
    """
    if int(degree) < 1:
        raise ValueError(f"degree must be a positive number of smoothing steps, not {degree!r}")
    if coarsening not in COARSENINGS:
        raise ValueError(f"coarsening must be one of {COARSENINGS}, not {coarsening!r}")
    if correct is not None and coarsening != "galerkin":
        raise ValueError("correct= corrects black-box weights: it needs coarsening='galerkin'")
    stencils: list[Any] = [stencil]
    transfers: list[Any] = []
    while np.prod(stencils[-1].shape) > coarsest and coarsenable(stencils[-1].shape):
        axes = coarsenable(stencils[-1].shape)
        if coarsening == "rediscretise":
            transfers.append(Geometric(axes))
            stencils.append(coarsen(stencils[-1], axes))
        else:
            transfers.append(interpolation(entries_of(stencils[-1]), axes, correct))
            stencils.append(_galerkin(stencils[-1], transfers[-1]))
    inverse = tuple(1 / (A.smoothing_diagonal() if isinstance(A, BoxStencil) else A.center)
                    for A in stencils)
    return Multigrid(tuple(stencils), tuple(transfers), inverse,
                     _dense_inverse(stencils[-1], max_dense), int(degree))


def _galerkin(A: Any, P: Any) -> BoxStencil:
    """``P^T A P`` as a box stencil."""
    shape = coarse_shape(A.shape, P.axes)
    return galerkin(lambda v: P.restrict(A(P.prolong(v))), shape, A.dtype)


def _dense_inverse(stencil: Any, max_dense: int) -> jax.Array | None:
    """``A^{-1}`` of a small stencil (symmetrised), or None above ``max_dense`` unknowns."""
    n = stencil.n
    if n > max_dense:
        return None
    matrix = jax.vmap(stencil)(jnp.eye(n, dtype=stencil.dtype))
    inverse = jnp.linalg.inv(matrix)
    return (inverse + inverse.T) / 2
