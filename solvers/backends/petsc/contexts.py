"""The library's own methods as PETSc Python contexts (``KSPPYTHON`` / ``PCPYTHON``).

A context runs inside PETSc on distributed ``Vec``s, so an own method written this way works
under ``mpiexec -n N`` with any PETSc preconditioner, and is selected by name at run time::

    -ksp_type python -ksp_python_type solvers.backends.petsc.contexts.CGContext

or with ``solve(A, b, backend="petsc", method="pycg")``. :class:`KrylovContext` holds what
every such method shares (work vectors, PETSc's convergence test, monitors and history), so a
method only writes its recurrence; GCRO-DR and DCDM follow :class:`CGContext`.
:class:`FunctionPC` is the ``PCPYTHON`` side: a user function ``r -> z`` as a preconditioner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
from petsc4py import PETSc

from solvers.backends.petsc.typed import convergence_test, norm, set_array, set_reason, work_vecs

_Reason = PETSc.KSP.ConvergedReason


class KrylovContext:
    """Base ``KSPPYTHON`` context: work vectors and the per-iteration bookkeeping.

    Subclasses set :attr:`work_vectors` and implement ``solve(ksp, b, x)``, calling
    :meth:`converged` once per iteration with the residual norm ``||b - A x_k||``.
    """

    #: Number of work vectors (layout of the solution) the method needs.
    work_vectors = 0

    def __init__(self) -> None:
        self.work: list[PETSc.Vec] = []

    def setUp(self, ksp: PETSc.KSP) -> None:  # noqa: N802 (PETSc's name)
        """Allocate the work vectors (called by ``KSPSetUp``)."""
        if len(self.work) != self.work_vectors:
            self.work = work_vecs(ksp, self.work_vectors)

    def reset(self, ksp: PETSc.KSP) -> None:
        """Free the work vectors (the operator's size may change)."""
        for vec in self.work:
            vec.destroy()
        self.work = []

    destroy = reset

    @staticmethod
    def initial_residual(ksp: PETSc.KSP, b: PETSc.Vec, x: PETSc.Vec, r: PETSc.Vec) -> None:
        """``r = b - A x``, with ``x = 0`` unless the KSP says the guess is nonzero."""
        if ksp.getInitialGuessNonzero():
            ksp.getOperators()[0].mult(x, r)
            r.aypx(-1.0, b)
        else:
            x.zeroEntries()
            b.copy(r)

    @staticmethod
    def converged(ksp: PETSc.KSP, its: int, rnorm: float) -> bool:
        """Record iteration ``its`` with residual norm ``rnorm`` and run PETSc's test.

        History, monitors (``-ksp_monitor``, the backend's residual record) and the
        convergence test (``rtol``, ``atol``, ``dtol``, NaN) are PETSc's own; ``max_it``
        reached sets ``DIVERGED_MAX_IT``. Returns True when the solve must stop.
        """
        ksp.setIterationNumber(its)
        ksp.setResidualNorm(rnorm)
        ksp.logConvergenceHistory(rnorm)
        ksp.monitor(its, rnorm)
        reason = convergence_test(ksp, its, rnorm)
        if not reason and its >= ksp.getTolerances()[3]:
            reason = _Reason.DIVERGED_MAX_IT
        set_reason(ksp, reason)
        return bool(reason)


class CGContext(KrylovContext):
    """Preconditioned conjugate gradients, as :class:`solvers.krylov.cg.CG`, on PETSc Vecs.

    Same recurrence (Saad, *Iterative Methods for Sparse Linear Systems*, Alg. 9.1) and the
    same breakdown reasons: ``p^T A p <= 0`` stops with ``DIVERGED_INDEFINITE_MAT``,
    ``r^T M r <= 0`` with ``DIVERGED_INDEFINITE_PC``. The residual norm is the recurrence
    ``||r_k||`` (unpreconditioned), so the KSP's norm type should be ``UNPRECONDITIONED``.
    """

    work_vectors = 4

    def solve(self, ksp: PETSc.KSP, b: PETSc.Vec, x: PETSc.Vec) -> None:
        A = ksp.getOperators()[0]
        pc = ksp.getPC()
        r, z, p, q = self.work
        self.initial_residual(ksp, b, x, r)
        if self.converged(ksp, 0, norm(r)):
            return
        pc.apply(r, z)
        rho = cast(float, r.dot(z))  # real scalars: CG's tests compare rho and p^T A p with 0
        z.copy(p)
        its = 0
        while True:
            A.mult(p, q)
            pq = cast(float, p.dot(q))
            if not np.isfinite(pq):
                set_reason(ksp, _Reason.DIVERGED_NANORINF)
                return
            if pq <= 0 or rho <= 0:
                set_reason(ksp, _Reason.DIVERGED_INDEFINITE_MAT if pq <= 0
                           else _Reason.DIVERGED_INDEFINITE_PC)
                return
            alpha = rho / pq
            x.axpy(alpha, p)
            r.axpy(-alpha, q)
            its += 1
            if self.converged(ksp, its, norm(r)):
                return
            pc.apply(r, z)
            rho_new = cast(float, r.dot(z))
            p.aypx(rho_new / rho, z)
            rho = rho_new


class FunctionPC:
    """``PCPYTHON`` context applying a user function ``r -> z`` to each rank's own entries.

    On one rank that is the whole vector; under MPI the function sees the local block only
    (a block-diagonal preconditioner).
    """

    def __init__(self, function: Callable[[np.ndarray], Any]) -> None:
        self.function = function

    def apply(self, pc: PETSc.PC, r: PETSc.Vec, z: PETSc.Vec) -> None:
        set_array(z, np.asarray(self.function(r.getArray(readonly=True)), dtype=PETSc.ScalarType))
