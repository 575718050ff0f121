"""Krylov methods in JAX, each one ``lax.while_loop`` that ``jax.jit`` compiles whole.

One file per method. Each is a pure function::

    method(matvec, b, x0, M, rtol, atol, maxiter, *, history, **options)
        -> (x, iterations, residuals, code)

``matvec`` and ``M`` are jittable callables (``M=None``: no preconditioner), ``rtol``, ``atol``
and ``maxiter`` may be traced values (changing them does not recompile), ``history`` (the
length of the residual buffer) and the ``options`` (``restart``, ``truncation``) are static.
``residuals`` is a fixed-size buffer and ``code`` a status code; :mod:`solvers.jaxkrylov.loop`
turns both into what :class:`solvers.SolveResult` holds. Every method stops when its
residual norm (recurrence or, for GMRES, the Givens estimate checked against the true
residual at each restart) satisfies ``||r|| <= max(rtol ||b||, atol)``; the backend checks
the true residual once more on return.

Which name runs which kernel, with which static options, is the registry's
(``JaxSpec(kernel="solvers.jaxkrylov.fcg:fcg", options=("truncation",))`` in
:mod:`solvers.builtins`). :mod:`solvers.jaxkrylov.fcg` also exposes its loop in pieces
(``initial``, ``step``, ``run``) for a caller that drives FCG itself: the DCDM method runs
it with its network as the preconditioner.

This package imports JAX; within :mod:`solvers` only the JAX backend imports it.
"""

from solvers.jaxkrylov.bicgstab import bicgstab
from solvers.jaxkrylov.cg import cg
from solvers.jaxkrylov.fcg import fcg
from solvers.jaxkrylov.gmres import gmres

__all__ = ["bicgstab", "cg", "fcg", "gmres"]
