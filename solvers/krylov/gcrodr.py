r"""GCRO-DR(m, k): restarted GMRES with deflated restarting and a recycled subspace carried
from one system of a sequence to the next.

With right preconditioning the method works on ``B = A M``. It keeps ``k`` vectors ``U``
and ``C = B U`` with orthonormal ``C``. Each cycle projects the residual onto the
complement of ``C`` (``x += M U C^H r``, ``r -= C C^H r``), runs ``m - k`` Arnoldi steps
on the projected operator ``(I - C C^H) B``, which gives

.. math::

    B \, [\tilde U, V_j] = [C, V_{j+1}] \, \bar G_j, \qquad
    \bar G_j = \begin{bmatrix} D & C^H B V_j \\ 0 & \bar H_j \end{bmatrix}

(``D`` scales ``U`` to unit columns), and minimises the residual over ``range([U, V_j])``:
``y = argmin ||beta e_1 - H_j y||`` and ``x += M (U (C^H r - C^H B V_j y) + V_j y)``. At
the end of every cycle the recycle space is replaced by the ``k`` harmonic Ritz vectors of
smallest magnitude of ``B`` in ``range([U, V_j])``, the generalised eigenproblem

.. math::

    \bar G_j^H \bar G_j \, z = \theta \, \bar G_j^H [C, V_{j+1}]^H [\tilde U, V_j] \, z,

``U <- [U~, V_j] P``, ``C <- [C, V_{j+1}] Q`` with ``Q R = G P`` (``U <- U R^{-1}``). The
first cycle of the first system is GMRES(m) with the same update (``k = 0``).

Across systems the pair ``(U, C)`` is the method's carried state (:class:`RecycleSpace`;
see :mod:`solvers.method`). It is reused as it is while the matrix and the preconditioner
are those it was computed for (only ``b`` changed); otherwise ``C = A_new M U`` is recomputed
and orthonormalised (``U <- U R^{-1}``), dropping near-dependent columns.

Pitfalls handled: for real matrices complex-conjugate harmonic Ritz pairs are kept together
(their real and imaginary parts; ``k`` may become ``k + 1``); near-dependent columns of
``G P`` and of ``A U`` are dropped (rank-revealing); ``C`` is re-orthonormalised when a
reused space has lost orthogonality; ``k < m``; ``[C, V]`` is kept orthonormal by
Gram-Schmidt applied twice (:func:`orthogonalise`): the update assumes it, and one pass let
``C`` drift far from orthonormal within one cycle on a Jacobi-preconditioned Darcy system.

Stopping rule: ``||b - A x|| <= max(rtol ||b||, atol)``. Inside a cycle the least-squares
residual (the Arnoldi estimate, exact in exact arithmetic) is tested at each step; the true
residual is recomputed and tested at the end of each cycle; ``maxiter`` counts Arnoldi steps.
A restarted run can sit at a fixed point (GMRES(m) and GCRO-DR stagnate on some indefinite
systems): when ten cycles reduce ``||r||`` by less than 0.1 %, a run that began with a carried
space starts again from ``x0`` without it (once; seen on one system of an indefinite
Helmholtz sequence, which then converged), and otherwise ends with ``Reason.STAGNATION``
instead of spending ``maxiter``; ``info["rescued"]`` says whether that happened. On the host
the divergence and stagnation guard (:class:`solvers.stopping.Guard`) also sees the residual
recomputed at the end of every cycle, as in :mod:`solvers.krylov.gmres` (PETSc applies its
own ``-ksp_divtol``).

The dense algebra runs on row blocks (one vector per row) with a ``reduce`` that sums over
MPI ranks, so :mod:`solvers.backends.petsc.gcrodr` runs this same code on each rank's part.

References
----------
M. L. Parks, E. de Sturler, G. Mackey, D. D. Johnson, S. Maiti, "Recycling Krylov subspaces
for sequences of linear systems", SIAM J. Sci. Comput. 28(5), 2006, Algorithm 2.1.
L. Giraud, J. Langou, M. Rozloznik, J. van den Eshof, "Rounding error analysis of the
classical Gram-Schmidt orthogonalization process", Numer. Math. 101(1), 2005 (CGS2).
A. Stathopoulos, K. Wu, "A block orthogonalization procedure with constant synchronization
requirements", SIAM J. Sci. Comput. 23(6), 2002 (SVQB, used for ``A U``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.sparse.linalg as spla

from solvers.errors import InvalidOptionError
from solvers.krylov.gmres import HINTS
from solvers.method import Callback, Iterate, initial_state
from solvers.reasons import Reason
from solvers.stopping import Guard, StoppingRule
from solvers.system import LinearSystem

Array = np.ndarray
#: Relative size below which a direction is dropped as dependent (QR diagonal, SVQB).
DROP = 1e-10
#: Stalled: ``STALL_CYCLES`` cycles reduced ``||r||`` by less than ``STALL_REDUCTION``
#: (relative). A run that began with a carried space then starts afresh from ``x0`` without
#: it, once; otherwise (or again) it ends with ``Reason.STAGNATION``.
STALL_CYCLES, STALL_REDUCTION = 10, 1e-3
#: Loss of orthonormality of a reused ``C`` (``max |C^H C - I|``) that triggers a re-QR.
ORTHO = 1e-10


@dataclass(frozen=True)
class RecycleSpace:
    """The carried state: ``U`` and ``C = A M U`` as row blocks (``k x n``; on PETSc each
    rank's columns), ``C`` orthonormal, and ``key``: what ``C`` was computed for (the matrix
    fingerprint and the preconditioner object), compared by :meth:`valid_for`."""

    U: Array | None = None
    C: Array | None = None
    key: tuple = ()

    @property
    def k(self) -> int:
        return 0 if self.U is None else self.U.shape[0]

    def valid_for(self, key: tuple) -> bool:
        """Whether ``C`` is ``A M U`` for the operator with this ``key``."""
        return len(key) == len(self.key) and all(
            a is b or (type(a) is type(b) and a == b) for a, b in zip(key, self.key, strict=True))


@dataclass
class Operator:
    """What the algorithm needs from a backend, on (local) 1D arrays.

    ``apply(v) = A M v``; ``precond(v) = M v``; ``residual(x) = b - A x``; ``reduce`` sums
    a small array of partial inner products over the ranks (identity on one process).
    """

    apply: Callable[[Array], Array]
    precond: Callable[[Array], Array]
    residual: Callable[[Array], Array]
    reduce: Callable[[Array], Array] = field(default=lambda a: a)

    def gram(self, X: Array, Y: Array) -> Array:
        """``X^H Y`` for row blocks (or a vector ``Y``), summed over the ranks."""
        return self.reduce(X.conj() @ Y.T)

    def norm(self, v: Array) -> float:
        return float(np.sqrt(self.reduce(np.array([np.vdot(v, v).real]))[0]))


#: ``monitor(iterations, residual_norm, x)``: record, test, return True to stop. ``x`` is the
#: iterate when the norm is its recomputed ``||b - A x||`` (start, end of a cycle), ``None``
#: when it is the Arnoldi estimate inside a cycle.
Monitor = Callable[[int, float, Array | None], bool]


class GCRODR:
    """GCRO-DR(``restart``, ``recycle``), right-preconditioned, carrying its recycle space.

    Parameters
    ----------
    restart
        ``m``: the dimension of the search space per cycle (recycled plus new Krylov vectors).
        ``m - k`` new vectors per cycle: ``restart=60, recycle=20`` stores as many vectors as
        SciPy's ``gcrotmk(m=40, k=20)`` and solved indefinite Helmholtz systems on which
        ``restart=40`` stalls (docs/design.md, GCRO-DR).
    recycle
        ``k < m``: the number of harmonic Ritz vectors kept (``k + 1`` to keep a
        complex-conjugate pair together on a real matrix).

    Examples
    --------
    >>> import operators
    >>> from solvers import Solver
    >>> s = Solver(method="gcrodr", restart=20, recycle=5, rtol=1e-8)
    >>> first = s.solve(operators.poisson((24, 24)), operators.poisson((24, 24)).b)
    >>> first.converged, first.state.k
    (True, 5)
    """

    requires_symmetric = False
    carries_state = True

    def __init__(self, restart: int = 40, recycle: int = 20) -> None:
        for name, value in (("restart", restart), ("recycle", recycle)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidOptionError(f"{name} must be an int >= 1, not {value!r}")
        if recycle >= restart:
            raise InvalidOptionError(
                f"recycle (k={recycle}) must be smaller than restart (m={restart}): each cycle "
                f"adds m - k new Krylov vectors; e.g. restart=40, recycle=20")
        self.restart = restart
        self.recycle = recycle

    def initial_state(self) -> RecycleSpace:
        """No recycle space before the first system."""
        return RecycleSpace()

    def setup(self, system: LinearSystem) -> None:
        """Nothing to prepare (the recycle space is carried state)."""

    def solve(self, system: LinearSystem, b: Array, x0: Array | None,
              M: spla.LinearOperator | None, stop: StoppingRule,
              callback: Callback | None = None, state: RecycleSpace | None = None) -> Iterate:
        """Solve ``A x = b`` from ``x0`` starting with the recycle space ``state``."""
        matvec = system.matvec
        precond = (lambda v: v) if M is None else M.matvec
        x, r, tol, residuals = initial_state(matvec, b, x0, stop)
        budget = stop.iterations(system.n)
        guard = Guard(stop, residuals[0], HINTS)
        guarded: Reason | None = None

        def monitor(its: int, rnorm: float, xk: Array | None) -> bool:
            nonlocal guarded
            if xk is None:
                residuals.append(rnorm)
            else:  # the true residual replaces the estimate
                residuals[-1] = rnorm
                if callback is not None and its:
                    callback(xk)
            if rnorm <= tol or its >= budget or not np.isfinite(rnorm):
                return True
            if xk is not None and its:
                guarded = guarded or guard.update(rnorm, steps=its - guard.k)
            return guarded is not None

        op = Operator(lambda v: matvec(precond(v)), precond, lambda y: b - matvec(y))
        space = self.start(op, state or RecycleSpace(), (system.fingerprint(), M), x)
        x, its, space, info = self.iterate(op, x, r, space, monitor)
        rnorm = residuals[-1]
        reason = (Reason.DIVERGED_NAN if not np.isfinite(rnorm) else Reason.RTOL
                  if rnorm <= tol else guarded or Reason(info["end"] or "maxiter"))
        if reason in HINTS:
            info.update(guard.info(reason))
        return Iterate(x, its, residuals, reason, info, space)

    # -- the recycle space across systems ------------------------------------------------------

    def start(self, op: Operator, state: RecycleSpace, key: tuple, x: Array) -> RecycleSpace:
        """The recycle space for this system (``x``: a vector like the solution): ``state``
        if valid for ``key``, else with ``C`` recomputed as ``A M U`` (none if ``state`` has
        another size or a type that does not cast to ``x``'s)."""
        dtype = x.dtype
        if (state.U is None or state.U.shape[1] != x.size
                or not np.can_cast(state.U.dtype, dtype)):
            return RecycleSpace(key=key)
        assert state.C is not None  # a RecycleSpace holds U and C = A M U together
        U, C = state.U[: self.restart - 1], state.C[: self.restart - 1]
        if state.valid_for(key):
            gram = op.gram(C, C)
            if np.max(np.abs(gram - np.eye(len(C)))) <= ORTHO:
                return RecycleSpace(U, C, key)
        else:
            C = np.stack([op.apply(u) for u in U.astype(dtype)])
        U, C = orthonormalise(op, U.astype(dtype), C)
        return RecycleSpace(U, C, key)

    # -- one system ----------------------------------------------------------------------------

    def iterate(self, op: Operator, x: Array, r: Array, space: RecycleSpace,
                monitor: Monitor) -> tuple[Array, int, RecycleSpace, dict[str, Any]]:
        """Cycles until ``monitor`` says stop: ``(x, iterations, space, info)``."""
        its, cycles = 0, 0
        rnorm = op.norm(r)
        if monitor(0, rnorm, x):
            return x, 0, space, {"recycle": space.k, "cycles": 0, "end": None, "rescued": False}
        m = self.restart
        W = np.zeros((m + 1, r.size), dtype=x.dtype)  # rows: C (k), then V (m - k + 1)
        k = space.k
        U = np.zeros((0, r.size), dtype=x.dtype)
        if space.U is not None and space.C is not None and k:
            U, W[:k] = space.U, space.C
        start, rescued = (x, r), False
        history = [rnorm]
        while True:
            cycles += 1
            t, steps, G = self._cycle(op, x, r, U, W, k, its, monitor)
            x = x + op.precond(t)
            its += steps
            r = op.residual(x)
            history.append(op.norm(r))
            stalled = len(history) > STALL_CYCLES and history[-1] > (
                1 - STALL_REDUCTION) * history[-1 - STALL_CYCLES]
            stopped = monitor(its, history[-1], x)
            if stalled and not stopped and space.k and not rescued:  # carried space led here
                (x, r), U, k, rescued = start, U[:0], 0, True  # start afresh, once
                history = [rnorm]
                continue
            if steps:
                U, k = self._update(op, U, W, k, G)
            if stopped or stalled or not steps:
                break
        space = RecycleSpace(U.copy(), W[:k].copy(), space.key) if k else RecycleSpace(
            key=space.key)
        end = None if stopped else "stagnation" if stalled else "breakdown"
        return x, its, space, {"recycle": k, "cycles": cycles, "end": end, "rescued": rescued}

    def _cycle(self, op: Operator, x: Array, r: Array, U: Array, W: Array, k: int,
               its: int, monitor: Monitor) -> tuple[Array, int, Array]:
        """Project out ``C``, run up to ``m - k`` deflated Arnoldi steps (Gram-Schmidt
        against ``[C, V]`` in place in ``W``, :func:`orthogonalise`) until ``monitor`` stops
        them. ``W[:k]`` holds ``C``, ``W[k:]`` receives ``V``. Returns ``(t, steps j, G)``:
        the correction ``x <- x + M t`` and ``G = [C^H B V_j; H_j]``.

        The least-squares residual ``min ||beta e_1 - H_j y||`` tested at each step is
        ``beta / ||z||`` with ``z`` spanning the null space of ``H_j^H`` (``z_0 = 1``,
        ``z_{i+1} = -(H[:i+1, i]^H z[:i+1]) / h_{i+1,i}``): one short dot product per step
        instead of applying all previous Givens rotations; ``y`` is solved once at the end.
        """
        m = self.restart
        steps = m - k
        c = np.zeros(k, dtype=x.dtype)
        for _ in range(2 if k else 0):  # r -= C C^H r, twice
            h = op.gram(W[:k], r)
            r = r - h @ W[:k]
            c += h
        beta = op.norm(r)
        G = np.zeros((m + 1, steps), dtype=x.dtype)
        z = np.zeros(steps + 1, dtype=x.dtype)
        z[0], zz = 1, 1.0
        j, stop = 0, beta == 0
        if not stop:
            np.divide(r, beta, out=W[k])
        while not stop and j < steps:
            p = k + j + 1
            W[p] = op.apply(W[p - 1])
            G[:p, j], hnorm = orthogonalise(op, W, p)
            G[p, j] = hnorm
            j += 1
            # B v in the span of [C, V] (relative to ||B v||): exact solution or breakdown
            happy = bool(hnorm <= 1e-14 * np.linalg.norm(G[:p, j - 1]) or not np.isfinite(hnorm))
            if happy:
                W[p] = 0
            else:
                z[j] = -(np.vdot(G[k:p, j - 1], z[:j]) / hnorm)
                zz += abs(z[j]) ** 2
                W[p] /= hnorm
            stop = monitor(its + j, 0.0 if happy else beta / np.sqrt(zz), None) or happy
        rhs = np.zeros(j + 1, dtype=x.dtype)
        rhs[0] = beta
        y, _, rank, _ = np.linalg.lstsq(G[k:k + j + 1, :j], rhs, rcond=None)  # small: LAPACK
        if j == 0 or rank < j or not np.all(np.isfinite(y)):  # e.g. B V_j in range(C)
            return c @ U, 0, G[:, :0]
        t = (c - G[:k, :j] @ y) @ U + y @ W[k:k + j]
        return t, j, G[:, :j]

    def _update(self, op: Operator, U: Array, W: Array, k: int,
                G: Array) -> tuple[Array, int]:
        """The new recycle space from the cycle's ``[U~, V_j]`` and ``G`` (harmonic Ritz
        vectors): returns ``U`` and its size; ``W[:k_new]`` receives ``C``."""
        j = G.shape[1]
        scale = 1 / np.sqrt(op.reduce(np.einsum("ij,ij->i", U.conj(), U).real)) if k else \
            np.zeros(0)
        p = k + j + 1
        Gbar = np.zeros((p, k + j), dtype=W.dtype)
        Gbar[:k, :k] = np.diag(scale)
        Gbar[:, k:] = G[:p]
        WV = np.zeros((p, k + j), dtype=W.dtype)
        WV[:, :k] = op.gram(W[:p], U) * scale  # [C, V_{j+1}]^H U~, U~ = U D
        WV[k:, k:] = np.eye(j + 1, j)
        P = harmonic_ritz(Gbar, WV, self.recycle, min(self.recycle + 1, self.restart - 1))
        if P is None:
            return U, k
        Q, Rq, piv = sla.qr(Gbar @ P, mode="economic", pivoting=True)
        rank = int(np.sum(np.abs(np.diag(Rq)) > DROP * abs(Rq[0, 0]))) if Rq.size else 0
        if rank == 0:
            return U, k
        T = np.linalg.solve(Rq[:rank, :rank].T, P[:, piv[:rank]].T)
        U = (T[:, :k] * scale) @ U + T[:, k:] @ W[k:k + j]  # rows of [U~, V_j] P R^{-1}
        W[:rank] = Q[:, :rank].T @ W[:p]
        return U, rank


def harmonic_ritz(G: Array, WV: Array, k: int, most: int) -> Array | None:
    """Columns spanning the ``k`` harmonic Ritz vectors of smallest ``|theta|`` of
    ``G^H G z = theta G^H WV z`` (``None`` if the eigensolver fails).

    ``G`` has full column rank (an Arnoldi breakdown ends the cycle first), so the problem
    is solved as the standard one ``G^+ WV z = mu z`` with ``mu = 1 / theta`` (``G^+`` from
    the QR of ``G``), largest ``|mu|`` first. For real ``G`` a complex pair ``z, conj(z)``
    (adjacent in LAPACK's output) enters as ``Re z, Im z`` and whole: the count may reach
    ``k + 1`` (at most ``most``) or stop at ``k - 1``.
    """
    try:
        Q, R = np.linalg.qr(G)
        mu, Z = np.linalg.eig(np.linalg.solve(R, Q.conj().T @ WV))
    except (np.linalg.LinAlgError, ValueError):
        return None
    order = np.argsort(-np.where(np.isfinite(mu), np.abs(mu), -1.0), kind="stable")
    if np.iscomplexobj(G):
        return Z[:, order[:k]]
    columns: list[Array] = []
    for i in order:
        if len(columns) >= k:
            break
        if mu[i].imag == 0:
            columns.append(Z[:, i].real)
        elif mu[i].imag > 0 or i == 0 or mu[i - 1].imag <= 0:  # first of its pair
            if len(columns) + 2 > most:
                break
            columns += [Z[:, i].real, Z[:, i].imag]
    return np.stack(columns, axis=1) if columns else None


def orthogonalise(op: Operator, W: Array, p: int) -> tuple[Array, float]:
    """``W[p] <- W[p] - W[:p]^T conj(W[:p]) W[p]`` in place, for orthonormal rows ``W[:p]``:
    classical Gram-Schmidt applied twice (CGS2), which keeps ``[C, V]`` orthonormal to
    working precision (Giraud, Langou, Rozloznik, van den Eshof 2005). Returns
    ``(W[:p]^H w, ||w''||)``; two reductions per step: ``h = W^H w``, then ``h_2`` and
    ``||w'||^2`` in one product with ``W[:p + 1]`` (its last entry), and
    ``||w''||^2 = ||w'||^2 - ||h_2||^2`` (accurate: ``h_2`` is small next to ``w'`` unless
    the first pass cancelled to rounding level, a breakdown for the caller).

    One pass is not enough, nor is a second pass only when the first cancelled below
    ``0.1 ||w||`` with the norm taken from Pythagoras (``||w||^2 - ||h||^2``, which assumes
    orthonormal rows, so rows of ``V`` drift off unit length as soon as they drift off
    orthogonal): each step cancelled to ``0.3-0.5 ||w||`` (no second pass) and
    ``max |V^H V - I|`` grew about threefold per step, from ``1e-16`` to ``1`` in 35 Arnoldi
    steps on a Jacobi-preconditioned Darcy system (10^2 grid, ``tests/solvers/test_gcrodr.py``);
    ``C = [C, V] Q`` was then not orthonormal, ``r - C C^H r`` not a projection, and GCRO-DR
    diverged after its first cycle. (The true norm instead of Pythagoras slowed the growth
    but did not stop it: ``1e-7`` after 36 steps.)
    """
    w = W[p]
    h = op.reduce(_dots(W[:p], w))
    w -= h @ W[:p]
    both = op.reduce(_dots(W[:p + 1], w))
    h2, ww = both[:p], float(both[p].real)
    w -= h2 @ W[:p]
    return h + h2, float(np.sqrt(max(ww - float(np.vdot(h2, h2).real), 0.0)))


def _dots(X: Array, w: Array) -> Array:
    """``X^H w`` (rows ``X``) as one gemv, without conjugating a copy of ``X``."""
    return (X @ w.conj()).conj() if np.iscomplexobj(X) else X @ w


def orthonormalise(op: Operator, U: Array, C: Array) -> tuple[Array, Array]:
    """``C <- C T``, ``U <- U T`` with ``C`` orthonormal (SVQB twice: ``C^H C = V L V^H``,
    ``T = V L^{-1/2}``), dropping directions with ``sqrt(l / l_max) < DROP``.

    Keeps ``A M U = C`` and needs only inner products summed over the ranks.
    """
    for _ in range(2):
        if not len(C):
            break
        lam, V = np.linalg.eigh(op.gram(C, C))
        keep = lam > (DROP**2) * lam[-1] if lam[-1] > 0 else np.zeros_like(lam, bool)
        T = V[:, keep] / np.sqrt(lam[keep])
        C, U = T.T @ C, T.T @ U
    return U, C
