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

**Solution-space directions.** Beside ``U`` the method keeps ``Z = M U`` and the directions
``M V_j`` of each cycle (the products ``A (M v)`` compute them anyway), updates
``Z <- [Z~, M V_j] P R^{-1}`` like ``U``, and corrects ``x += Z (C^H r - G_k y) + M V_j y``;
the exact relation is ``A Z = C``. Across systems the triple ``(U, Z, C)`` is the method's
carried state (:class:`RecycleSpace`; see :mod:`solvers.method`), reused as it is while the
matrix and the preconditioner are those it was built for (only ``b`` changed). For a new
matrix (and the preconditioner rebuilt for it) ``carry`` chooses what survives:

- ``"preconditioned"`` (default; Parks et al., who assume a fixed ``M``): ``U``, with
  ``Z = M_new U`` and ``C = A Z`` recomputed (``k`` products ``A M``). Consistent: the
  harmonic Ritz vectors are those of ``A M_new``. But ``M_new U`` are not the directions
  the last solve found: on Darcy + Jacobi (12 systems, GCRO-DR(60, 20)) the carried space
  saved nothing over a fresh start (3,796 steps against 3,676).
- ``"solution"``: ``Z``, with ``C = A Z`` recomputed (``k`` products with ``A``, no
  preconditioner): 2,737 steps there. ``U`` stays ``M_old^{-1} Z`` and only chooses the next
  harmonic Ritz vectors, now inconsistently: on indefinite Helmholtz + ILU restarts stalled
  on it (8,468 steps on 20 systems against 3,512-4,489).

Near-dependent columns are dropped when ``C`` is orthonormalised. The price of ``Z`` is
memory: ``m + 1`` (``W``) + ``m - k`` (``M V``) + ``2 k`` (``U``, ``Z``) vectors.

**Outer vectors** (``outer > 0``, GCROT-style, de Sturler 1999): the harmonic Ritz update
costs ``O(k (k + j) n)`` per cycle (four block products and an eigenproblem of order ``k + j``),
about a third of the run time with Jacobi on a 5-point grid. With ``outer = s`` the harmonic
update runs only on the last cycle of a system (and the first cycle of the first one); the
other cycles append their correction ``z = M V_j y - Z G_k y`` with ``c = A z`` from the
Arnoldi relation (``V_{j+1} H_j y``, no product), orthonormalised against ``C``, keeping the
``s`` newest: ``O((k + j) n)``. On definite or mildly nonsymmetric sequences (Darcy, thermal
with Jacobi) this is as good in products and cheaper; on indefinite Helmholtz, where the
per-cycle deflation is what keeps restarts from stalling, it is far worse (default 0).

Pitfalls handled: for real matrices complex-conjugate harmonic Ritz pairs are kept together
(their real and imaginary parts; ``k`` may become ``k + 1``); near-dependent columns of
``G P`` and of ``A Z`` are dropped (rank-revealing); ``C`` is re-orthonormalised when a
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
L. M. Carvalho, S. Gratton, R. Lago, X. Vasseur, "A flexible generalized conjugate residual
method with inner orthogonalization and deflated restarting", SIAM J. Matrix Anal. Appl.
32(4), 2011 (the recycled space kept as preconditioned directions ``Z``).
E. de Sturler, "Truncation strategies for optimal Krylov subspace methods", SIAM J. Numer.
Anal. 36(3), 1999 (GCROT outer vectors).
L. Giraud, J. Langou, M. Rozloznik, J. van den Eshof, "Rounding error analysis of the
classical Gram-Schmidt orthogonalization process", Numer. Math. 101(1), 2005 (CGS2).
A. Stathopoulos, K. Wu, "A block orthogonalization procedure with constant synchronization
requirements", SIAM J. Sci. Comput. 23(6), 2002 (SVQB, used for ``A Z``).
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
#: Columns per block of :func:`orthogonalise`'s fused pass.
BLOCK = 4096
#: What the recycle space keeps across a change of matrix and preconditioner (module notes).
CARRY = ("preconditioned", "solution")


@dataclass(frozen=True)
class RecycleSpace:
    """The carried state, row blocks (``k x n``; on PETSc each rank's columns): ``Z``, the
    recycled directions in the solution space, ``C = A Z`` orthonormal, ``U`` their
    coordinates for the right-preconditioned operator (``M U = Z`` for the preconditioner
    of the last solve; used only to choose the next space), and ``key``: the matrix ``C``
    was computed for (its fingerprint), compared by :meth:`valid_for`."""

    U: Array | None = None
    C: Array | None = None
    key: tuple = ()
    Z: Array | None = None

    @property
    def k(self) -> int:
        return 0 if self.U is None else self.U.shape[0]

    def valid_for(self, key: tuple, parts: int = 2) -> bool:
        """Whether the space was built for this ``key`` = ``(matrix, preconditioner)``
        (compared on its first ``parts`` entries: 1, the matrix ``C = A Z`` is for)."""
        return len(key) == len(self.key) and all(
            a is b or (type(a) is type(b) and a == b)
            for a, b in zip(key[:parts], self.key[:parts], strict=True))


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
    matvec: Callable[[Array], Array] = field(default=lambda v: v)

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
        ``m - k`` new vectors per cycle: ``restart=60, recycle=20`` searches as many vectors
        per cycle as SciPy's ``gcrotmk(m=40, k=20)`` (and stores 141 against its 121) and
        solved indefinite Helmholtz systems on which ``restart=40`` stalls (docs/design.md,
        GCRO-DR).
    recycle
        ``k < m``: the number of harmonic Ritz vectors kept (``k + 1`` to keep a
        complex-conjugate pair together on a real matrix).
    outer
        ``s >= 0``, ``k + s < m - 1``: GCROT outer vectors appended by the cycles between the
        harmonic Ritz updates, which then run once per system (module notes; 0: update every
        cycle). ``restart=60, recycle=20, outer=10, carry="solution"`` on Darcy/thermal
        sequences with Jacobi; 0 on indefinite problems.
    carry
        ``"preconditioned"`` or ``"solution"``: what the space keeps across a new matrix and
        preconditioner (module notes).

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

    def __init__(self, restart: int = 40, recycle: int = 20, outer: int = 0,
                 carry: str = "preconditioned") -> None:
        for name, value, low in (("restart", restart, 1), ("recycle", recycle, 1),
                                 ("outer", outer, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InvalidOptionError(f"{name} must be an int >= {low}, not {value!r}")
        if recycle + outer >= restart - (outer > 0):
            raise InvalidOptionError(
                f"recycle (k={recycle}) + outer ({outer}) must be smaller than restart "
                f"(m={restart}){' - 1' if outer else ''}: each cycle adds m - k - outer new "
                f"Krylov vectors; e.g. restart=60, recycle=20, outer=10")
        if carry not in CARRY:
            raise InvalidOptionError(
                f"carry must be one of {', '.join(map(repr, CARRY))}, not {carry!r}")
        self.restart = restart
        self.recycle = recycle
        self.outer = outer
        self.carry = carry

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

        op = Operator(lambda v: matvec(precond(v)), precond, lambda y: b - matvec(y),
                      matvec=matvec)
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
        """The recycle space for this system (``x``: a vector like the solution), ``key`` =
        ``(matrix, preconditioner)``: ``state`` as it is while valid (``carry="solution"``:
        the same matrix; ``"preconditioned"``: the same matrix and preconditioner); else
        rebuilt, ``C = A Z`` (``"solution"``, ``k`` products with ``A``) or ``Z = M U``,
        ``C = A Z`` (``"preconditioned"``, ``k`` products ``A M``). None if ``state`` has
        another size or a type that does not cast to ``x``'s."""
        dtype = x.dtype
        if (state.U is None or state.Z is None or state.U.shape[1] != x.size
                or not np.can_cast(state.U.dtype, dtype)):
            return RecycleSpace(key=key)
        assert state.C is not None  # a RecycleSpace holds U, Z and C = A Z together
        k = self.restart - 1
        U, Z, C = state.U[:k].astype(dtype), state.Z[:k].astype(dtype), state.C[:k]
        if state.valid_for(key, 1 if self.carry == "solution" else 2):
            gram = op.gram(C, C)
            if np.max(np.abs(gram - np.eye(len(C)))) <= ORTHO:
                return RecycleSpace(U, C, key, Z)
        else:
            if self.carry == "preconditioned":
                Z = np.stack([op.precond(u) for u in U])
            C = np.stack([op.matvec(z) for z in Z])
        C, U, Z = orthonormalise(op, C, U, Z)
        return RecycleSpace(U, C, key, Z)

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
        MV = np.zeros((m - k, r.size), dtype=x.dtype)  # rows: M V (m - k), m if k = 0
        U = Z = np.zeros((0, r.size), dtype=x.dtype)
        if space.U is not None and space.Z is not None and space.C is not None and k:
            U, Z, W[:k] = space.U, space.Z, space.C
        start, rescued = (x, r), False
        history = [rnorm]
        kh = k  # rows of the space that are harmonic Ritz vectors (the rest: outer vectors)
        rows = (max(k, self.recycle + 1) + self.outer + 1, r.size)  # U, Z with outer vectors
        UB, ZB = (np.zeros(rows, x.dtype), np.zeros(rows, x.dtype)) if self.outer else (U, Z)
        while True:
            cycles += 1
            if len(MV) < m - k:  # the space shrank (rank drop, fresh restart)
                MV = np.zeros((m - k, r.size), dtype=x.dtype)
            t, steps, G, y = self._cycle(op, x, r, Z, W, MV, k, its, monitor)
            x = x + t
            its += steps
            r = op.residual(x)
            history.append(op.norm(r))
            stalled = len(history) > STALL_CYCLES and history[-1] > (
                1 - STALL_REDUCTION) * history[-1 - STALL_CYCLES]
            stopped = monitor(its, history[-1], x)
            if stalled and not stopped and space.k and not rescued:  # carried space led here
                (x, r), U, Z, k, rescued = start, U[:0], Z[:0], 0, True  # afresh, once
                history, kh = [rnorm], 0
                continue
            if steps and self.outer and k and not (stopped or stalled):
                if U.base is not UB:  # the space of the last harmonic update: into the buffer
                    UB[:k], ZB[:k] = U, Z
                U, Z, k = self._outer(op, UB, ZB, W, MV, k, kh, G, y)
            elif steps:
                U, Z, k = self._update(op, U, Z, W, MV, k, G)
                kh = k
            if stopped or stalled or not steps:
                break
        space = RecycleSpace(U.copy(), W[:k].copy(), space.key, Z.copy()) if k else \
            RecycleSpace(key=space.key)
        end = None if stopped else "stagnation" if stalled else "breakdown"
        return x, its, space, {"recycle": k, "cycles": cycles, "end": end, "rescued": rescued}

    def _cycle(self, op: Operator, x: Array, r: Array, Z: Array, W: Array, MV: Array, k: int,
               its: int, monitor: Monitor) -> tuple[Array, int, Array, Array]:
        """Project out ``C``, run up to ``m - k`` deflated Arnoldi steps (Gram-Schmidt
        against ``[C, V]`` in place in ``W``, :func:`orthogonalise`) until ``monitor`` stops
        them. ``W[:k]`` holds ``C``, ``W[k:]`` receives ``V``, ``MV[:j]`` the directions
        ``M V_j``. Returns ``(t, steps j, G, y)``: the correction ``x <- x + t``,
        ``t = Z (C^H r - G_k y) + M V_j y``, ``G = [C^H A M V_j; H_j]`` and ``y``.

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
        z[0], znorm = 1, 1.0  # ||z||, accumulated by hypot: no overflow of its square
        j, stop = 0, beta == 0
        if not stop:
            np.divide(r, beta, out=W[k])
        while not stop and j < steps:
            p = k + j + 1
            MV[j] = op.precond(W[p - 1])
            W[p] = op.matvec(MV[j])
            G[:p, j], hnorm = orthogonalise(op, W, p)
            G[p, j] = hnorm
            j += 1
            # B v in the span of [C, V] (relative to ||B v||): exact solution or breakdown
            happy = bool(hnorm <= 1e-14 * np.linalg.norm(G[:p, j - 1]) or not np.isfinite(hnorm))
            if happy:
                W[p] = 0
            else:
                z[j] = -(np.vdot(G[k:p, j - 1], z[:j]) / hnorm)
                znorm = float(np.hypot(znorm, abs(z[j])))
                W[p] /= hnorm
            stop = monitor(its + j, 0.0 if happy else beta / znorm, None) or happy
        rhs = np.zeros(j + 1, dtype=x.dtype)
        rhs[0] = beta
        y, _, rank, _ = np.linalg.lstsq(G[k:k + j + 1, :j], rhs, rcond=None)  # small: LAPACK
        if j == 0 or rank < j or not np.all(np.isfinite(y)):  # e.g. B V_j in range(C)
            return c @ Z, 0, G[:, :0], y[:0]
        return (c - G[:k, :j] @ y) @ Z + y @ MV[:j], j, G[:, :j], y

    def _outer(self, op: Operator, UB: Array, ZB: Array, W: Array, MV: Array, k: int, kh: int,
               G: Array, y: Array) -> tuple[Array, Array, int]:
        """Append the cycle's correction as a GCROT outer vector: ``z = M V_j y - Z G_k y``
        (the correction less its part along ``Z``), ``c = A z = V_{j+1} H_j y`` from the
        Arnoldi relation (no product), re-orthogonalised against ``C`` and normalised, ``u``
        alike; beyond ``kh + outer`` rows the oldest outer vector is dropped. ``O((k + j) n)``
        work against the ``O(k (k + j) n)`` and ``(k + j)^3`` of :meth:`_update`. ``U`` and
        ``Z`` are the first ``k`` rows of the buffers ``UB``, ``ZB`` (rows appended in place);
        returns them and the new ``k``."""
        j = len(y)
        U, Z = UB[:k], ZB[:k]
        hy = G[k:k + j + 1, :j] @ y
        gy = G[:k, :j] @ y
        c = hy @ W[k:k + j + 1]
        z = -gy @ Z + y @ MV[:j]
        u = -gy @ U + y @ W[k:k + j]
        W[k] = c
        h, norm = orthogonalise(op, W, k)
        if not norm > DROP * np.linalg.norm(hy):
            return U, Z, k
        W[k] /= norm
        ZB[k], UB[k] = (z - h @ Z) / norm, (u - h @ U) / norm
        k += 1
        if k > kh + self.outer:  # drop the oldest outer vector (overlapping copies: NumPy
            for X in (UB, ZB, W):  # buffers them)
                X[kh:k - 1] = X[kh + 1:k]
            k -= 1
        return UB[:k], ZB[:k], k

    def _update(self, op: Operator, U: Array, Z: Array, W: Array, MV: Array, k: int,
                G: Array) -> tuple[Array, Array, int]:
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
            return U, Z, k
        Q, Rq, piv = sla.qr(Gbar @ P, mode="economic", pivoting=True)
        rank = int(np.sum(np.abs(np.diag(Rq)) > DROP * abs(Rq[0, 0]))) if Rq.size else 0
        if rank == 0:
            return U, Z, k
        T = np.linalg.solve(Rq[:rank, :rank].T, P[:, piv[:rank]].T)
        U, Z = ((T[:, :k] * scale) @ U + T[:, k:] @ W[k:k + j],  # rows of [U~, V_j] P R^-1
                (T[:, :k] * scale) @ Z + T[:, k:] @ MV[:j])  # and of [Z~, M V_j] P R^-1
        W[:rank] = Q[:, :rank].T @ W[:p]
        return U, Z, rank


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
    the first pass cancelled to rounding level, a breakdown for the caller). The first
    update and the second products run on column blocks of ``BLOCK`` entries, so the basis
    streams from memory three times instead of four (0.8 against 1.3 ms per step, 45 vectors
    of 6,400 float64, one thread).

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
    both = np.zeros(p + 1, dtype=W.dtype)
    for start in range(0, w.size, BLOCK):  # the first update and the second dot products
        block = W[:p + 1, start:start + BLOCK]  # on one column block while it is in cache
        w[start:start + BLOCK] -= h @ block[:p]
        both += _dots(block, w[start:start + BLOCK])
    both = op.reduce(both)
    h2, ww = both[:p], float(both[p].real)
    w -= h2 @ W[:p]
    return h + h2, float(np.sqrt(max(ww - float(np.vdot(h2, h2).real), 0.0)))


def _dots(X: Array, w: Array) -> Array:
    """``X^H w`` (rows ``X``) as one gemv, without conjugating a copy of ``X``."""
    return (X @ w.conj()).conj() if np.iscomplexobj(X) else X @ w


def orthonormalise(op: Operator, C: Array, *rows: Array) -> tuple[Array, ...]:
    """``C <- C T`` and every block of ``rows`` ``<- rows T`` with ``C`` orthonormal (SVQB
    twice: ``C^H C = V L V^H``, ``T = V L^{-1/2}``), dropping directions with
    ``sqrt(l / l_max) < DROP``: returns ``(C, *rows)``.

    Keeps ``A Z = C`` (and ``M U = Z``) and needs only inner products summed over the ranks.
    """
    for _ in range(2):
        if not len(C):
            break
        lam, V = np.linalg.eigh(op.gram(C, C))
        keep = lam > (DROP**2) * lam[-1] if lam[-1] > 0 else np.zeros_like(lam, bool)
        T = (V[:, keep] / np.sqrt(lam[keep])).T
        C, rows = T @ C, tuple(T @ X for X in rows)
    return (C, *rows)
