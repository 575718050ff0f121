r"""The HINTS preconditioner (:mod:`sciml.neural_operators.hints`) on PETSc, across MPI ranks.

One application is the serial two-grid cycle with the error operator ``N`` (an FNO) as the
coarse solver, on a grid finer than the network's (``G x G`` against the training grid
``g x g``, 64^2 for the shipped models):

.. math:: z \leftarrow S^{\nu}(z; r) \text{ from } 0, \qquad
          z \leftarrow z + P\, N\!\big(a_c, R (r - A z)\big), \qquad z \leftarrow S^{\nu}(z; r),

``S`` a damped-Jacobi sweep, ``R = R_x \otimes R_y`` and ``P = P_x \otimes P_y`` the separable
resampling of :func:`sciml.neural_operators.hints.transfer`. The spectral layers of ``N``
need a global FFT, but only over the network's small grid, so nothing on the fine grid is
gathered:

1. the sweeps are distributed (PETSc products ``A z``; each rank its own rows);
2. the restriction is distributed: a rank owning the rows ``[s, e)`` of axis 0 (a slab of
   whole grid lines) contributes ``R_x[:, s:e]\, U_{s:e}\, R_y^T``, a ``g x g`` partial sum,
   and one ``allreduce`` of ``g^2`` doubles (4,096 for 64^2) adds them up on every rank;
3. every rank applies ``N`` to that coarse residual (redundantly: a 64^2 network pass costs
   less than a gather, a broadcast and the other ranks' idle wait);
4. each rank prolongs its own rows, ``P_x[s:e, :]\, E\, P_y^T``.

The coefficient channel ``a`` (the network's encoding of the diagonal) is restricted the same
way once at setup. On a grid no finer than the network's, ``R`` and ``P`` are the identity
and step 2 collects the (small) residual. The smoothing runs in float64 on the rank's rows
(the serial pc runs its compiled grid cycle in float32), the network in float32; a
non-finite correction is dropped (every rank sees the same coarse result, so all agree).

Use (options; ``pc="hints"`` on ``backend="petsc"`` needs a registry entry, see the
module's section in ``docs/guide/mpi.md``)::

    -pc_type python -pc_python_type sciml.neural_operators.hints_petsc.HintsContext
    -pc_hints_model darcy-error -pc_hints_sweeps 16 -pc_hints_omega 0.6667

with ``method="fcg"`` (SPD) or ``"fgmres"``: the cycle is nonlinear in ``r``.

References
----------
.. [1] E. Zhang, A. Kahana, A. Kopanicakova, E. Turkel, R. Ranade, J. Pathak, G. E.
   Karniadakis, "Blending neural operators and relaxation methods in PDE numerical solvers",
   Nature Machine Intelligence 6 (2024) 1303-1313.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from petsc4py import PETSc

from sciml.neural_operators.register import MAX_SWEEPS
from solvers.errors import InvalidOptionError, InvalidSystemError


class HintsContext:
    """``PCPYTHON`` context of the distributed HINTS cycle (see the module docstring)."""

    def __init__(self) -> None:
        self.sweeps = 16
        self.omega = 2.0 / 3.0
        self.model = ""
        self.weight: PETSc.Vec | None = None
        self.work: list[PETSc.Vec] = []
        self.op: Any = None
        self.a: Any = None
        self.rows: tuple[int, int] = (0, 0)
        self.shape: tuple[int, int] = (0, 0)
        self.restrict_x: np.ndarray | None = None  # R_x[:, s:e] (None: identity)
        self.prolong_x: np.ndarray | None = None  # P_x[s:e, :]
        self.transfers: tuple[np.ndarray, ...] | None = None
        self.applications = 0
        self.dropped = 0

    def setUp(self, pc: PETSc.PC) -> None:  # noqa: N802 (PETSc's name)
        """Read the options, load the network, encode and restrict the coefficient."""
        from sciml.dcdm.petsc import parse_shape

        A = pc.getOperators()[1]
        options = PETSc.Options(pc.getOptionsPrefix() or "")
        self.setup_from(A, options.getString("pc_hints_model", "") or None,
                        _number(options, "pc_hints_sweeps", int, 16),
                        _number(options, "pc_hints_omega", float, 2.0 / 3.0),
                        parse_shape(options.getString("pc_hints_shape", ""), "pc_hints_shape"))

    def setup_from(self, A: PETSc.Mat, model: str | None, sweeps: int, omega: float,
                   shape: tuple[int, ...] | None) -> None:
        """Set up for ``A`` (collective); parameters checked before anything is built."""
        import jax.numpy as jnp
        from mpi4py import MPI

        from sciml.dcdm.petsc_mg import infer_shape
        from sciml.neural_operators import error_operator as eo
        from sciml.neural_operators.hints import NO_NETWORK, transfer

        if not (isinstance(sweeps, int) and 0 <= sweeps <= MAX_SWEEPS):
            raise InvalidOptionError(f"sweeps={sweeps!r}: an int in [0, {MAX_SWEEPS}]")
        if not (isinstance(omega, int | float) and 0 < omega <= 1):
            raise InvalidOptionError(f"omega={omega!r}: the Jacobi weight must be in (0, 1]")
        inferred = infer_shape(A)
        grid = shape or inferred
        if grid is None or len(grid) != 2 or int(np.prod(grid)) != A.getSize()[0]:
            raise InvalidOptionError(
                f"shape={grid!r}: the error operators are 2-D; pass -pc_hints_shape G0,G1 "
                f"with G0 G1 = {A.getSize()[0]} (or a 5-point grid stencil)")
        if inferred is not None and tuple(grid) != inferred:
            raise InvalidOptionError(
                f"shape={tuple(grid)}: the matrix is a grid stencil on {inferred}")
        self.shape = (int(grid[0]), int(grid[1]))
        start, stop = A.getOwnershipRange()
        comm = A.getComm().tompi4py()
        if not comm.allreduce(start % self.shape[1] == 0 and stop % self.shape[1] == 0,
                              op=MPI.LAND):
            raise InvalidSystemError(
                f"distributed HINTS needs each rank to own whole lines of the grid "
                f"{self.shape} along its first axis; rows {start}:{stop} are not")
        self.rows = (start // self.shape[1], stop // self.shape[1])
        self.model = model or eo.default_model("diffusion", self.shape)
        self.op = None if self.model == NO_NETWORK else eo.load(self.model)
        self.sweeps, self.omega = sweeps, float(omega)
        diagonal = A.getDiagonal()
        local = diagonal.getArray(readonly=True).copy()  # outlives `diagonal`
        if not comm.allreduce(bool(np.all(local != 0) and np.all(np.isfinite(local))),
                              op=MPI.LAND):
            raise InvalidSystemError("HINTS needs a nonzero finite diagonal (Jacobi smoother)")
        self.weight = diagonal.duplicate()
        self.weight.setArray(self.omega / local)
        self.work = [diagonal.duplicate() for _ in range(2)]
        diagonal.destroy()
        self.applications = self.dropped = 0
        if self.op is None:  # the smoother alone
            return
        trained = tuple(int(g) for g in self.op.metadata.get("grid", self.shape))
        s, e = self.rows
        if any(g > t for g, t in zip(self.shape, trained, strict=True)):
            self.transfers = transfer(self.shape, trained)
            Px, _, Rx, _ = self.transfers
            self.restrict_x, self.prolong_x = Rx[:, s:e], Px[s:e, :]
        else:
            trained = self.shape
        if 2 * self.op.model.config.modes > min(trained):
            raise InvalidOptionError(f"shape={self.shape}: the error operator keeps "
                                     f"{self.op.model.config.modes} Fourier modes")
        raw = eo.feature(_Diagonal(local), (e - s, self.shape[1]), eo.spacing_of(self.shape),
                         self.op.scaling.feature)
        encoded = (raw - self.op.scaling.feature_mean) / self.op.scaling.feature_std
        self.a = jnp.asarray(self._restrict(comm, encoded)[None], jnp.float32)

    def _restrict(self, comm: Any, local: np.ndarray) -> np.ndarray:
        """``R u`` of the grid field whose rows ``[s, e)`` this rank holds (``allreduce``)."""
        if self.transfers is None:  # the network's own grid: collect the small field
            s, e = self.rows
            whole = np.zeros(self.shape)
            whole[s:e] = local
        else:
            whole = self.restrict_x @ local @ self.transfers[3].T
        from mpi4py import MPI

        out = np.empty_like(whole)
        comm.Allreduce(np.ascontiguousarray(whole), out, op=MPI.SUM)
        return out

    def _prolong(self, coarse: np.ndarray) -> np.ndarray:
        """This rank's rows of ``P E``."""
        if self.transfers is None:
            s, e = self.rows
            return coarse[s:e]
        return self.prolong_x @ coarse @ self.transfers[1].T

    def _smooth(self, A: PETSc.Mat, r: PETSc.Vec, z: PETSc.Vec) -> None:
        """``sweeps`` damped-Jacobi sweeps on ``A z = r`` from ``z`` (in place)."""
        t = self.work[0]
        for _ in range(self.sweeps):
            A.mult(z, t)
            t.aypx(-1.0, r)  # r - A z
            t.pointwiseMult(t, self.weight)
            z.axpy(1.0, t)

    def apply(self, pc: PETSc.PC, r: PETSc.Vec, z: PETSc.Vec) -> None:
        """``z = B(r)``: smooth, coarse network correction, smooth."""
        import jax.numpy as jnp

        A = pc.getOperators()[0]
        comm = A.getComm().tompi4py()
        z.zeroEntries()
        self._smooth(A, r, z)
        if self.op is None:  # model="none": the smoother alone
            self._smooth(A, r, z)
            return
        res = self.work[1]
        A.mult(z, res)
        res.aypx(-1.0, r)
        s, e = self.rows
        coarse = self._restrict(comm, res.getArray(readonly=True).reshape(e - s, self.shape[1]))
        c = np.asarray(_correction()(self.op.model, self.a, jnp.asarray(coarse, jnp.float32),
                                     float(self.op.scaling.output_std)), np.float64)
        self.applications += 1
        if np.all(np.isfinite(c)):  # the same c on every rank: all agree
            z.setArray(z.getArray() + self._prolong(c).ravel())
        else:
            self.dropped += 1
        self._smooth(A, r, z)

    def reset(self, pc: PETSc.PC) -> None:
        for vec in [*self.work, *([self.weight] if self.weight is not None else [])]:
            vec.destroy()
        self.work, self.weight = [], None

    destroy = reset

    def view(self, pc: PETSc.PC, viewer: PETSc.Viewer) -> None:
        viewer.printfASCII(f"HINTS, error operator {self.model!r}, {self.sweeps} sweeps, "
                           f"omega {self.omega:g}; network redundant on every rank\n")


def _number(options: PETSc.Options, name: str, kind: type, default: Any) -> Any:
    """The option ``name`` as a ``kind`` (``int`` or ``float``), checked in Python: a bad value
    raises :class:`~solvers.errors.InvalidOptionError` naming the option (not PETSc's
    error 63 from deep inside ``PetscOptionsGetInt``)."""
    text = options.getString(name, "")
    if not text.strip():
        return default
    try:
        return kind(text)
    except ValueError:
        raise InvalidOptionError(f"-{name} {text!r}: expected {kind.__name__}") from None


class _Diagonal:
    """A stand-in with a ``diagonal()`` method for :func:`error_operator.feature`."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def diagonal(self) -> np.ndarray:
        return self.values


@functools.cache
def _correction() -> Any:
    """``error_operator.correction`` jitted once per process."""
    import equinox as eqx

    from sciml.neural_operators import error_operator as eo

    return eqx.filter_jit(eo.correction)
