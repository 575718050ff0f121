r"""Restarted, right-preconditioned GMRES(m) as nested ``lax.while_loop``\ s.

Each cycle builds an Arnoldi basis ``V`` of the Krylov space of ``A M`` from the current
residual (classical Gram-Schmidt as matrix-vector products with ``V``, which vectorise well
on a GPU, re-orthogonalised once when the DGKS criterion asks for it), reduces the
Hessenberg matrix to upper triangular form with Givens rotations as it grows, and reads the
residual norm of the least-squares solution off the rotated right-hand side ``g``::

    beta = ||r||;  v_0 = r / beta;  g = beta e_0
    for j = 0, 1, ...:  w = A M v_j;  h = V^H w;  w -= V h  (again if ||w|| dropped below
                        1/sqrt(2) of its value);  v_{j+1} = w / ||w||
                        apply rotations 0..j-1 to h;  rotation j zeroes h_{j+1}
                        g_{j+1} = -conj(s_j) g_j;  g_j = c_j g_j;  estimate = |g_{j+1}|
    stop the cycle when estimate <= max(rtol ||b||, atol), after m steps or maxiter in all
    y = R^{-1} g;  x += M (V y);  r = b - A x   (the true residual decides the restart)

Right preconditioning makes the estimate that of the unpreconditioned residual, so the
stopping test is the one every backend uses. Iterations count Arnoldi steps (matvecs), as
on the host backend.

References
----------
.. [1] Y. Saad, M. H. Schultz, "GMRES: a generalized minimal residual algorithm for solving
   nonsymmetric linear systems", SIAM J. Sci. Stat. Comput. 7(3) (1986) 856-869.
.. [2] Y. Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed., SIAM, 2003,
   Alg. 6.9 and 9.5.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.linalg import solve_triangular

from solvers.jaxkrylov.loop import (
    BREAKDOWN,
    HISTORY,
    RUNNING,
    Operator,
    Progress,
    advance,
    materialised,
    outcome,
    precondition,
    running,
    start,
    status,
    threshold,
)


class Arnoldi(NamedTuple):
    """One cycle's basis ``V``, rotated Hessenberg ``R``, right-hand side ``g``, rotations
    ``(c, s)`` and the number ``j`` of steps taken."""

    V: jax.Array
    R: jax.Array
    g: jax.Array
    c: jax.Array
    s: jax.Array
    j: jax.Array


def gmres(matvec: Operator, b: jax.Array, x0: jax.Array, M: Operator | None = None,
          rtol: Any = 1e-5, atol: Any = 0.0, maxiter: Any = 1000, *, restart: int = 30,
          history: int = HISTORY) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    r"""Solve ``A x = b`` for a general square ``A`` by restarted GMRES(m).

    Parameters
    ----------
    matvec, b, x0, rtol, atol, maxiter, history
        As for :func:`solvers.jaxkrylov.cg`; ``maxiter`` counts Arnoldi steps.
    M
        Jittable, fixed ``r -> z ~ A^{-1} r`` applied on the right; None for none.
    restart
        ``m``, the Arnoldi steps per cycle (static); memory ``(m + 1) n``.

    Returns
    -------
    x, iterations, residuals, code
        ``residuals`` holds the Givens estimates, and the true residual norm at the end of
        each cycle; ``code`` is ``BREAKDOWN`` when the Hessenberg matrix is singular (the
        last step is then dropped).
    """
    tol = threshold(b, rtol, atol)
    r = b - matvec(x0)
    init = (x0, r, start(jnp.linalg.norm(r), tol, maxiter, history))

    def cycle(state: tuple) -> tuple:
        x, r, progress = state
        basis, inner = _arnoldi(matvec, M, r, progress, tol, maxiter, restart)
        x = x + precondition(M, basis.V[:restart].T @ _coefficients(basis, restart))
        r = b - matvec(x)
        rnorm = jnp.linalg.norm(r)
        slot = jnp.minimum(inner.k, history - 1)
        failed = (inner.code == BREAKDOWN) & (rnorm > tol)
        code = jnp.where(failed, BREAKDOWN, status(rnorm, tol, inner.k, maxiter))
        return x, r, Progress(inner.k, inner.residuals.at[slot].set(rnorm), code)

    x, _, progress = lax.while_loop(running, cycle, init)
    return outcome(x, progress)


def _arnoldi(matvec: Operator, M: Operator | None, r: jax.Array, progress: Progress,
             tol: jax.Array, maxiter: Any, restart: int) -> tuple[Arnoldi, Progress]:
    """Arnoldi steps from ``r`` until the estimate passes, ``restart`` steps, or maxiter."""
    beta = jnp.linalg.norm(r)
    n, dtype = r.shape[0], r.dtype
    V = jnp.zeros((restart + 1, n), dtype).at[0].set(r / beta)
    basis = Arnoldi(V, jnp.zeros((restart + 1, restart), dtype),
                    jnp.zeros(restart + 1, dtype).at[0].set(beta),
                    jnp.ones(restart, beta.dtype), jnp.zeros(restart, dtype), jnp.int32(0))

    def more(state: tuple) -> jax.Array:
        basis, progress = state
        return (progress.code == RUNNING) & (basis.j < restart)

    def step(state: tuple) -> tuple:
        basis, progress = state
        V, g, j = basis.V, basis.g, basis.j
        w, h = _orthogonalise(V, materialised(matvec, precondition(M, V[j]))[1])
        hn = jnp.linalg.norm(w)
        h = _rotate(h.at[j + 1].set(hn), basis.c, basis.s)
        c, s, diagonal = _givens(h[j], h[j + 1])
        ok = diagonal != 0
        rotated = g.at[j + 1].set(-jnp.conj(s) * g[j]).at[j].set(c * g[j])
        basis = Arnoldi(
            V.at[j + 1].set(w / jnp.where(hn > 0, hn, 1)),
            basis.R.at[:, j].set(h.at[j].set(diagonal).at[j + 1].set(0)),
            jnp.where(ok, rotated, g),
            basis.c.at[j].set(jnp.where(ok, c, 1)),
            basis.s.at[j].set(jnp.where(ok, s, 0)),
            j + ok.astype(jnp.int32),
        )
        failed = jnp.where(ok, RUNNING, BREAKDOWN)
        return basis, advance(progress, jnp.abs(basis.g[j + 1]), tol, maxiter, failed)

    return lax.while_loop(more, step, (basis, progress))


def _orthogonalise(V: jax.Array, w: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``w`` minus its projection on the rows of ``V`` (zero rows drop out), and the
    projection coefficients ``h``: classical Gram-Schmidt, repeated once when the first pass
    removed most of ``w`` (``||w'|| < ||w|| / sqrt(2)``, the criterion of Daniel, Gragg,
    Kaufman and Stewart, 1976), which is when one pass can lose orthogonality. Each pass
    reads ``V`` twice; skipping the unneeded second pass halves GMRES's cost per step."""
    h = V.conj() @ w
    projected = w - h @ V
    again = jnp.linalg.norm(projected) < jnp.linalg.norm(w) / np.sqrt(2)

    def second(v: jax.Array) -> tuple[jax.Array, jax.Array]:
        h2 = V.conj() @ v
        return v - h2 @ V, h2

    w, h2 = lax.cond(again, second, lambda v: (v, jnp.zeros_like(h)), projected)
    return w, h + h2


def _rotate(h: jax.Array, c: jax.Array, s: jax.Array) -> jax.Array:
    """Apply the Givens rotations of the previous steps to the new column ``h``.

    Unrolled over all ``m`` slots: the rotations not yet set are the identity (``c = 1``,
    ``s = 0``), and XLA fuses the ``m`` scalar updates into one
    kernel (a ``fori_loop`` to ``j`` cost a loop launch per rotation, which dominated a
    step on small grids).
    """
    for i in range(c.shape[0]):
        top, bottom = h[i], h[i + 1]
        h = h.at[i].set(c[i] * top + s[i] * bottom).at[i + 1].set(
            -jnp.conj(s[i]) * top + c[i] * bottom)
    return h


def _givens(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Rotation ``(c, s)``, ``c`` real, with ``-conj(s) a + c b = 0``, and the new diagonal
    ``c a + s b = phase(a) sqrt(|a|^2 + |b|^2)`` (zero: the Hessenberg matrix is singular)."""
    rho = jnp.sqrt(jnp.abs(a) ** 2 + jnp.abs(b) ** 2)
    safe = jnp.where(rho > 0, rho, 1)
    phase = jnp.where(a == 0, 1, a / jnp.where(a == 0, 1, jnp.abs(a)))
    return jnp.abs(a) / safe, phase * jnp.conj(b) / safe, phase * rho


def _coefficients(basis: Arnoldi, restart: int) -> jax.Array:
    """``y = R^{-1} g`` on the ``j`` steps taken (identity rows and zeros beyond them)."""
    active = jnp.arange(restart) < basis.j
    both = active[:, None] & active[None, :]
    R = jnp.where(both, basis.R[:restart], jnp.eye(restart, dtype=basis.R.dtype))
    return solve_triangular(R, jnp.where(active, basis.g[:restart], 0), lower=False)
