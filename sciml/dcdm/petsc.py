"""``pc="dcdm"`` on ``backend="petsc"``: the network as a ``PCPYTHON`` context, under MPI too.

Default (no ``model=``) on a grid: DCDM's learned multigrid, distributed with no gather
(``"contrast2d"`` on 2-D grids, ``"fixed-mg"`` on 3-D ones; :mod:`sciml.dcdm.petsc_mg`, see
the end of this docstring). A CNN-kind model named explicitly (``model="poisson2d"``, ...)
takes the scheme below.

Scheme for the CNN kinds: *gather, apply on rank 0, scatter*. Each application of the
preconditioner

.. math:: z = f\\!\\left(r / \\mathrm{rms}(r)\\right)

gathers the distributed residual ``r`` onto rank 0 (:meth:`petsc4py.PETSc.Scatter.toZero`),
applies the network to the whole grid there (the same jitted function as the serial
``pc="dcdm"``, :class:`sciml.dcdm.preconditioner.DCDMPreconditioner`) and scatters ``z`` back
to its owners. It is the serial preconditioner exactly, whatever the number of ranks, so
PETSc's FCG/FGMRES take the serial iteration counts (tested under ``mpiexec -n 2``).

Cost per application: two messages of ``n`` doubles through rank 0 and one network pass on
one rank, while the other ranks wait. It does not scale the network's work with the ranks:
it makes a learned preconditioner *available* in an MPI job (the Krylov vectors, the matrix
products and everything else stay distributed), and it is sensible while the network pass
is cheaper than the rest of the iteration or the grid fits on one node. A halo-exchange
scheme (each rank applies the network to its slab plus the halo its receptive field needs)
cannot be exact here: the coarse levels of the hierarchy reach across the whole grid.

Setup (``PCSetUp``, once per matrix): every rank sends its rows (CSR) to rank 0, which reads
the grid shape (``shape=``, i.e. the option ``-pc_dcdm_shape 64,64,64``, else inferred from
the stencil's offsets, :func:`sciml.dcdm.stencil.infer_shape`) and the model (``model=``,
``-pc_dcdm_model``; a CNN kind, or no model on a matrix whose grid cannot be read: the
Poisson network of the grid's dimension, or the diffusion network when the diagonal
varies), loads and compiles the network. A failure there (no grid
stencil, a missing weight file) is broadcast, so every rank raises the same error.

A ``learned-mg`` model (``model="fixed-mg"``, ``"contrast2d"`` or such a weight file) is not
gathered: :class:`DCDMContext` hands it to :mod:`sciml.dcdm.petsc_mg`, which builds the
learned V-cycle distributed (each rank its slab's rows of the prolongations, halo exchange,
PCMG with Galerkin coarse operators, only the small coarsest level gathered). The CNN kinds
above keep this gather scheme: their networks' coarse levels reach across the whole grid.

Use: ``solve(p, p.b, method="fcg", pc="dcdm", backend="petsc")``, ``method="fgmres"``, or
``method="dcdm"`` (``KSPFCG`` and this preconditioner, ``truncation=2`` giving the DCDM
iteration's ``-ksp_fcg_mmax 2``, with PETSc's vectors), or ``-pc_type python -pc_python_type
sciml.dcdm.petsc.DCDMContext`` in an options string.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import scipy.sparse as sp
from petsc4py import PETSc

from solvers.errors import InvalidOptionError


class DCDMContext:
    """``PCPYTHON`` context: the DCDM network applied on rank 0 to the gathered residual."""

    def __init__(self) -> None:
        self.apply_fn: Any = None
        self.scatter: PETSc.Scatter | None = None
        self.whole: PETSc.Vec | None = None
        self.model: str | None = None
        self.multigrid: Any = None

    def setUp(self, pc: PETSc.PC) -> None:  # noqa: N802 (PETSc's name)
        """Gather the matrix on rank 0 and build the network there (collective); for a
        ``learned-mg`` model, build the distributed V-cycle instead (no gather)."""
        from sciml.dcdm import petsc_mg

        A = pc.getOperators()[1]
        options = PETSc.Options(pc.getOptionsPrefix() or "")
        model = options.getString("pc_dcdm_model", "") or None
        shape = parse_shape(options.getString("pc_dcdm_shape", ""))
        self.multigrid = None
        if model is None:  # PETSc's default: the distributed learned multigrid, if a grid
            model = petsc_mg.default_model(A, shape)
        if petsc_mg.is_multigrid_model(model):  # distributed: no gather (see the docstring)
            assert model is not None
            self.multigrid = petsc_mg.LearnedMGContext()
            try:
                self.multigrid.setup_from(A, model, shape, (pc.getOptionsPrefix() or "") + "dcdm_")
            except Exception as exc:  # collective checks: the same error on every rank
                raise InvalidOptionError(
                    f"pc='dcdm' (model={model!r}) on PETSc could not be set up: "
                    f"{type(exc).__name__}: {exc}") from exc
            self.model = model
            return
        comm = A.getComm().tompi4py()
        rows = comm.gather(_local_rows(A), root=0)
        error, name = None, None
        if comm.rank == 0:
            try:
                self.apply_fn, name = _build(sp.vstack(rows, format="csr"), model, shape)
            except Exception as exc:  # re-raised on every rank below
                error = f"{type(exc).__name__}: {exc}"
        error, self.model = comm.bcast((error, name), root=0)
        if error is not None:
            raise InvalidOptionError(f"pc='dcdm' on PETSc could not be set up: {error}")
        self.scatter, self.whole = PETSc.Scatter.toZero(A.createVecs("right"))

    def apply(self, pc: PETSc.PC, r: PETSc.Vec, z: PETSc.Vec) -> None:
        """``z = f(r / rms(r))``: gather ``r`` on rank 0, apply the network, scatter back
        (a ``learned-mg`` model: one distributed V-cycle, :mod:`sciml.dcdm.petsc_mg`)."""
        if self.multigrid is not None:
            self.multigrid.apply(pc, r, z)
            return
        forward, reverse = PETSc.ScatterMode.FORWARD, PETSc.ScatterMode.REVERSE
        insert = PETSc.InsertMode.INSERT_VALUES
        self.scatter.scatter(r, self.whole, insert, forward)
        if self.apply_fn is not None:
            self.whole.setArray(self.apply_fn(self.whole.getArray(readonly=True)))
        self.scatter.scatter(self.whole, z, insert, reverse)

    def view(self, pc: PETSc.PC, viewer: PETSc.Viewer) -> None:
        if self.multigrid is not None:
            self.multigrid.view(pc, viewer)
            return
        viewer.printfASCII(f"DCDM network {self.model!r}, applied on rank 0\n")


def _local_rows(A: PETSc.Mat) -> sp.csr_matrix:
    """This rank's rows of ``A`` as a SciPy CSR block with global column indices."""
    indptr, indices, data = A.getValuesCSR()
    start, stop = A.getOwnershipRange()
    return sp.csr_matrix((data, indices, indptr), shape=(stop - start, A.getSize()[1]))


def parse_shape(text: str, option: str = "pc_dcdm_shape") -> tuple[int, ...] | None:
    """``"64,64,64"``, ``"64x64x64"`` or ``"(64, 64, 64)"`` -> ``(64, 64, 64)``; ``""`` ->
    ``None``; anything else (a sign, a decimal point, a word) raises
    :class:`~solvers.errors.InvalidOptionError` naming ``-option``."""
    body = text.strip()
    if not body:
        return None
    match = re.fullmatch(r"[(\[]?\s*(\d+(?:\s*[,x]\s*\d+)*)\s*,?\s*[)\]]?", body)
    if match is None:
        raise InvalidOptionError(
            f"-{option} {text!r}: a grid shape is positive ints separated by commas, e.g. "
            f"64,64 or 64,64,64")
    return tuple(int(s) for s in re.findall(r"\d+", match.group(1)))


def _build(matrix: sp.csr_matrix, model: str | None,
           shape: tuple[int, ...] | None) -> tuple[Any, str]:
    """The jitted ``r -> z`` on the whole grid (rank 0) and the model's name."""
    from sciml.dcdm import stencil
    from sciml.dcdm.families import default_model
    from sciml.dcdm.preconditioner import DCDMPreconditioner
    from solvers.system import as_system

    shape = shape or stencil.infer_shape(matrix)
    if shape is None:
        raise InvalidOptionError(
            "the matrix is not a (2d+1)-point grid stencil whose grid can be read off its "
            "offsets; pass shape=(nx, ny[, nz])")
    if model is None:
        varies = np.ptp(matrix.diagonal()) > 1e-12 * np.max(np.abs(matrix.diagonal()))
        model = default_model("diffusion" if varies else "poisson", len(shape))
    pc = DCDMPreconditioner(model, shape)
    operator = pc.setup(as_system(matrix, np.zeros(matrix.shape[0])))
    return operator.matvec, pc.ctx.name
