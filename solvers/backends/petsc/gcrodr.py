"""GCRO-DR as a PETSc ``KSPPYTHON`` context: :class:`solvers.krylov.gcrodr.GCRODR` on each
rank's part of distributed ``Vec``s, so it runs under ``mpiexec -n N`` with any PETSc PC.

Selected with ``solve(A, b, backend="petsc", method="gcrodr", restart=40, recycle=20)`` or
by options::

    -ksp_type python -ksp_python_type solvers.backends.petsc.gcrodr.GCRODRContext
    -ksp_gcrodr_restart 40 -ksp_gcrodr_recycle 20 [-ksp_gcrodr_outer 10]
    [-ksp_gcrodr_carry preconditioned|solution]

The algorithm is the host one, run on local row blocks: inner products are local products
summed with one ``MPI_Allreduce`` per block (two per Arnoldi step, classical Gram-Schmidt
applied twice: ``[C, V]^H w``, then ``[C, V]^H w'`` and ``||w'||^2`` together), ``A`` is applied
with ``MatMult`` and the preconditioner with the KSP's ``PCApply`` on the right (the
preconditioned directions ``M V`` are kept, ``x = x0 + Z c + M V y``). The stopping test and
history are PETSc's (:class:`KrylovContext`): the Arnoldi estimate at each step, the
recomputed ``||b - A x||`` at the end of each cycle.

The recycle space lives on the context, hence on the KSP, across ``KSPSolve`` calls (the
:class:`solvers.Solver` caches the KSP). It is reused while the operator and preconditioning
matrices are the same objects in the same state (PETSc's object state counter changes with
their values; with ``carry="solution"`` the operator alone) and rebuilt otherwise (``Z = M U``,
``C = A Z``; ``C = A Z`` alone, ``k`` ``MatMult`` and no ``PCApply``, with ``"solution"``);
``KSPReset`` drops it.
"""

from __future__ import annotations

import numpy as np
from petsc4py import PETSc

from solvers.backends.petsc.contexts import KrylovContext
from solvers.backends.petsc.typed import convergence_test, set_array, set_reason
from solvers.krylov.gcrodr import GCRODR, Operator, RecycleSpace

_Reason = PETSc.KSP.ConvergedReason


class GCRODRContext(KrylovContext):
    """GCRO-DR(m, k) on PETSc Vecs; options ``-ksp_gcrodr_restart`` (m, default 40) and
    ``-ksp_gcrodr_recycle`` (k, default 20), ``-ksp_gcrodr_outer`` (default 0),
    ``-ksp_gcrodr_carry`` (default ``preconditioned``); ``space`` is the carried space."""

    work_vectors = 3

    def __init__(self) -> None:
        super().__init__()
        self.method = GCRODR()
        self.space = RecycleSpace()

    def setFromOptions(self, ksp: PETSc.KSP) -> None:  # noqa: N802 (PETSc's name)
        """Read ``-ksp_gcrodr_restart``, ``-ksp_gcrodr_recycle``, ``-ksp_gcrodr_outer`` and
        ``-ksp_gcrodr_carry`` (validated as on the host)."""
        options = PETSc.Options(ksp.getOptionsPrefix())
        restart = options.getInt("ksp_gcrodr_restart", self.method.restart)
        recycle = options.getInt("ksp_gcrodr_recycle", self.method.recycle)
        outer = options.getInt("ksp_gcrodr_outer", self.method.outer)
        carry = options.getString("ksp_gcrodr_carry", self.method.carry)
        if (restart, recycle, outer, carry) != (self.method.restart, self.method.recycle,
                                                self.method.outer, self.method.carry):
            self.method = GCRODR(restart, recycle, outer, carry)
            self.space = RecycleSpace()

    def reset(self, ksp: PETSc.KSP) -> None:
        """Free the work vectors and drop the recycle space (the operator may change size)."""
        super().reset(ksp)
        self.space = RecycleSpace()

    destroy = reset

    def solve(self, ksp: PETSc.KSP, b: PETSc.Vec, x: PETSc.Vec) -> None:
        A, P = ksp.getOperators()
        vin, vz, vout = self.work
        self.initial_residual(ksp, b, x, vout)
        r = vout.getArray().copy()
        xk = x.getArray().copy()
        op = self.operator(ksp, b)
        key = ((A.getId(), A.stateGet()), (P.getId(), P.stateGet(), ksp.getPC().getType()))
        space = self.method.start(op, self.space, key, xk)
        xk, _, self.space, _ = self.method.iterate(op, xk, r, space, self.monitor(ksp, x))
        set_array(x, xk)
        if not ksp.getConvergedReason():  # stagnated, or an Arnoldi step impossible
            set_reason(ksp, _Reason.DIVERGED_BREAKDOWN)

    def operator(self, ksp: PETSc.KSP, b: PETSc.Vec) -> Operator:
        """``A M``, ``M``, ``b - A x``, the sum over ranks and ``A`` on local arrays."""
        A = ksp.getOperators()[0]
        pc = ksp.getPC()
        vin, vz, vout = self.work
        bl = b.getArray(readonly=True)

        def precond(v: np.ndarray) -> np.ndarray:
            set_array(vin, v)
            pc.apply(vin, vz)
            return vz.getArray().copy()

        def apply(v: np.ndarray) -> np.ndarray:
            set_array(vin, v)
            pc.apply(vin, vz)
            A.mult(vz, vout)
            return vout.getArray().copy()

        def matvec(v: np.ndarray) -> np.ndarray:
            set_array(vin, v)
            A.mult(vin, vout)
            return vout.getArray().copy()

        def residual(v: np.ndarray) -> np.ndarray:
            return bl - matvec(v)

        comm = ksp.getComm()
        if comm.getSize() == 1:
            return Operator(apply, precond, residual, matvec=matvec)
        from mpi4py import MPI

        mpi = comm.tompi4py()

        def reduce(a: np.ndarray) -> np.ndarray:
            a = np.ascontiguousarray(a)
            mpi.Allreduce(MPI.IN_PLACE, a, op=MPI.SUM)
            return a

        return Operator(apply, precond, residual, reduce, matvec)

    def monitor(self, ksp: PETSc.KSP, x: PETSc.Vec):
        """PETSc's test on the Arnoldi estimate; on a recomputed residual (``xk`` given) the
        test again, without a second history entry, and ``x`` written back."""

        def monitor(its: int, rnorm: float, xk: np.ndarray | None) -> bool:
            if xk is None or its == 0:
                return self.converged(ksp, its, rnorm)
            set_array(x, xk)
            ksp.setIterationNumber(its)
            ksp.setResidualNorm(rnorm)
            reason = convergence_test(ksp, its, rnorm) if np.isfinite(rnorm) else \
                _Reason.DIVERGED_NANORINF
            if not reason and its >= ksp.getTolerances()[3]:
                reason = _Reason.DIVERGED_MAX_IT
            set_reason(ksp, reason)
            return bool(reason)

        return monitor
