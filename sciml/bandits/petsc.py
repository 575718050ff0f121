r"""The bandit on ``backend="petsc"``: PETSc's SOR with :math:`\omega` chosen per ``KSPSolve``.

``Solver(method="bandit-sor", backend="petsc")`` runs ``KSPRICHARDSON`` with a ``PCPYTHON``
preconditioner, :class:`BanditSORContext`, that wraps PETSc's own ``PCSOR`` (one forward sweep,
:math:`x_{k+1} = x_k + (D/\omega + L)^{-1}(b - A x_k)`, the host ``bandit-sor``'s iteration)
and sets its :math:`\omega` before each solve; ``pc="bandit-ssor"`` does the same with
symmetric sweeps inside any Krylov method (:class:`BanditSSORContext`). The round of
:class:`~sciml.bandits.omega.OmegaBandit` is driven by PETSc's own hooks:

* ``preSolve`` (``PCPreSolve``, at the start of ``KSPSolve``): compute the context (the
  matrix feature, e.g. the diagonal dominance, reduced over the ranks), draw the arm and
  set ``-pc_sor_omega`` on the inner ``PCSOR``;
* ``postSolve``: report the KSP's iteration count (converged iff its reason is positive).

Under MPI (``mpiexec -n N``) PETSc's SOR is **processor-local**: each rank sweeps over its own
rows (``SOR_LOCAL_FORWARD_SWEEP``/``..._SYMMETRIC_SWEEP``), using the other ranks' values of
the previous iterate, i.e. block-Jacobi outside and SOR inside the blocks; its iteration
counts (and best :math:`\omega`) differ from the serial ones. Every rank holds a copy of the
learner: the ranks build it with the same options and seed and feed it the same (global)
iteration counts and contexts, and rank 0's arm is broadcast before each solve, so every rank
uses the same :math:`\omega`.

What PETSc cannot carry: the options travel through PETSc's options database as strings
(``-<prefix>bandit_seed 0``), so ``context`` must be a matrix feature (``"dominance"``) or
``None`` and ``learner`` a name. The learned state lives in the context, kept with the
solver's cached KSP: :func:`bandit_state` returns it. A refinement restart of the backend is a
second ``KSPSolve`` and so a second round (rare: the Richardson iteration stops on the true
residual).

References
----------
.. [1] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
   Parameters Across a Sequence of Linear System Instances", ICLR 2024.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from petsc4py import PETSc

from .features import FEATURES
from .learner import BanditError
from .omega import BanditState, OmegaBandit
from .register import PETSC_OPTIONS

__all__ = ["FEATURES", "BanditSORContext", "BanditSSORContext", "bandit_state"]

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _value(name: str, text: str) -> Any:
    """A parameter back from its ``str()`` in the options database."""
    if name == "omegas":  # a list or a NumPy array
        return [float(v) for v in _NUMBER.findall(text)]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        if text.startswith("<"):  # the str() of a callable or an object
            raise BanditError(f"{name}={text} cannot reach PETSc, whose options are strings: "
                              f"on backend='petsc' pass names, numbers and lists (context: "
                              f"'dominance' or None)") from None
        return text  # a name: 'dominance', 'tsallis', 'quantile', a path


class BanditSORContext:
    """``PCPYTHON`` context: PETSc ``PCSOR`` forward sweeps with a bandit-chosen omega."""

    #: ``PCSOR`` sweep option, serial and on more than one rank.
    sweeps = ("pc_sor_forward", "pc_sor_local_forward")

    def __init__(self) -> None:
        self.bandit: OmegaBandit | None = None
        self.state: BanditState | None = None
        self.inner: PETSc.PC | None = None

    def setFromOptions(self, pc: PETSc.PC) -> None:  # noqa: N802 (PETSc's name)
        """Build the bandit from the ``bandit_*`` options (once per KSP)."""
        options = PETSc.Options(pc.getOptionsPrefix())
        given = {k: _value(k, options.getString(v)) for k, v in PETSC_OPTIONS.items()
                 if options.hasName(v)}
        self.bandit = OmegaBandit(**given)
        if self.bandit.context is not None and self.bandit.context not in FEATURES:
            raise BanditError(f"context={self.bandit.context!r}: on backend='petsc' the context "
                              f"is computed from the matrix: context='dominance' or None")
        self.state = self.bandit.initial_state()

    def setUp(self, pc: PETSc.PC) -> None:  # noqa: N802
        """(Re)create the inner ``PCSOR`` on the operator (PETSc calls this when it changes)."""
        if self.bandit is None:
            self.setFromOptions(pc)
        A, P = pc.getOperators()
        if self.inner is None:
            self.inner = PETSc.PC().create(A.getComm())
            self.inner.setOptionsPrefix(f"{pc.getOptionsPrefix() or ''}bandit_inner_")
            self.inner.setType("sor")
        self.inner.setOperators(A, P)
        self._set_omega(float(self.bandit.omegas[0]))

    def preSolve(self, pc: PETSc.PC, ksp: PETSc.KSP, b: PETSc.Vec,  # noqa: N802
                 x: PETSc.Vec) -> None:
        """Draw this solve's omega (the same on every rank) and set it on the inner PC."""
        A = pc.getOperators()[0]
        context = None if self.bandit.context is None else FEATURES[self.bandit.context](A)
        self.bandit.draw(self.state, context, ksp.getTolerances()[3])
        arm = A.getComm().tompi4py().bcast(self.state.pending["arm"], root=0)
        self.state.pending["arm"] = arm
        self._set_omega(float(self.bandit.omegas[arm]))

    def postSolve(self, pc: PETSc.PC, ksp: PETSc.KSP, b: PETSc.Vec,  # noqa: N802
                  x: PETSc.Vec) -> None:
        """One round: the KSP's iteration count (global, the same on every rank)."""
        self.bandit.learn(self.state, ksp.getIterationNumber(), ksp.getConvergedReason() > 0)

    def apply(self, pc: PETSc.PC, x: PETSc.Vec, y: PETSc.Vec) -> None:
        """One sweep of the inner ``PCSOR`` with the current omega."""
        self.inner.apply(x, y)

    def _set_omega(self, omega: float) -> None:
        prefix = self.inner.getOptionsPrefix()
        sweep = self.sweeps[self.inner.getComm().getSize() > 1]
        options = PETSc.Options(prefix)
        options["pc_sor_omega"] = omega
        options[sweep] = None
        try:
            self.inner.setFromOptions()
            self.inner.setUp()
        finally:
            options.delValue("pc_sor_omega")
            options.delValue(sweep)

    def destroy(self, pc: PETSc.PC) -> None:
        """Free the inner PC."""
        if self.inner is not None:
            self.inner.destroy()
            self.inner = None


class BanditSSORContext(BanditSORContext):
    """``PCPYTHON`` context: one PETSc SSOR sweep (``pc_sor_symmetric``) with a bandit omega."""

    sweeps = ("pc_sor_symmetric", "pc_sor_local_symmetric")


def bandit_state(solver: Any) -> BanditState:
    """The bandit state of ``solver``'s PETSc ``bandit-sor``/``bandit-ssor`` (its last KSP)."""
    backend = solver.cache.backends.get("petsc")
    for entry in reversed(list({} if backend is None else backend.ksps.values())):
        context = entry.ksp.getPC().getPythonContext() if \
            entry.ksp.getPC().getType() == "python" else None
        if isinstance(context, BanditSORContext):
            return context.state
    raise BanditError("this solver has run no bandit-sor/bandit-ssor solve on backend='petsc'")
