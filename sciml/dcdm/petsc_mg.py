r"""DCDM's learned multigrid (``learned-mg`` kind) distributed over MPI ranks as PETSc's PCMG.

The serial preconditioner (:mod:`sciml.dcdm.learned_prolongation`) is a symmetric V-cycle
whose prolongation ``P`` on every level is black-box multigrid's (Dendy's weights,
:func:`solvers.multigrid.blackbox.interpolation`), corrected by a small convolutional network,
with Galerkin coarse operators ``A_c = P^T A P``. Here each rank builds the rows of ``P`` of
the fine nodes it owns, from its own rows of ``A`` and a halo, and PETSc does the rest:

1. **Stencil entries.** The grid is split into slabs of whole planes along the slowest axis
   (PETSc's row ownership in natural order; the finest slabs must start at even planes).
   Each rank reads the ``3^d`` entries of each of its rows (``A_{i, i+o}``, ``o`` in
   ``{-1, 0, 1}^d``) into a ``Vec`` of block size ``3^d`` and receives the entries of
   ``w`` further planes on each side by a PETSc ``Scatter`` (the ghost update of a DMDA
   with ``dof = 3^d`` and stencil width ``w``, without needing ``w`` planes on every
   neighbour). On the finest level of a ``(2d+1)``-point matrix the couplings to the
   Dirichlet boundary, which the matrix does not store, are filled in as the serial
   context does (each boundary face copies its interior neighbour), since the collapsed
   rows of black-box interpolation read them.
2. **Weights.** On its patch (starting at an even plane, so that the parity classes are the
   global ones) the rank runs the *same* JAX code as the serial cycle,
   ``interpolation(entries, axes, correct=net.correct)``, and keeps the weights of the coarse
   cells that hold its own fine nodes. The weights of cell ``I`` read the rows of cells
   ``I - 1 .. I`` (black-box, one cell below) and the network's ``layers + 1`` convolutions
   of radius one read ``layers + 1`` cells on each side, so the halo is

   .. math:: w = 2\,(\ell + 2) \text{ fine planes (network of } \ell \text{ layers)}, \qquad
             w = 2 \text{ (black-box weights only)},

   (:func:`halo_planes`; a test checks that a perturbation further away leaves the weights
   unchanged).
3. **P and A_c.** Row ``f`` of ``P`` holds the corner weights of its class (coarse node ``I``
   is fine node ``2I + 1``, so coarse ownership follows fine ownership: a rank owns the coarse
   planes ``[s/2, e/2)`` of its fine planes ``[s, e)``); ``P`` is an MPIAIJ matrix and
   ``A_c = P^T A P`` is PETSc's ``MatPtAP``. Recursion stops where the serial one does
   (at most ``coarsest`` unknowns, or no axis of even length >= 4).
4. **Cycle.** PCMG, multiplicative V-cycle, Galerkin off (the operators are the ones just
   computed). The smoothers are the serial ones: ``degree`` Chebyshev steps in
   ``D^{-1} A`` on the fixed interval ``[2/(2d), 2]``, ``D`` the diagonal on the finest level
   and half the row's l1 norm on the box-stencil coarse levels (PETSc:
   ``-pc_jacobi_type rowl1``, the diagonal plus the off-diagonal l1 norm, the interval
   halved); both rank-independent. The coarsest level (at most
   ``coarsest`` unknowns) is solved exactly: LU, redundantly on every rank (``PCREDUNDANT``).

So the V-cycle equals the serial JAX one (to rounding) on any number of ranks, and CG with it
takes the serial iterations; no rank holds more than its slab plus ``w`` planes, the coarsest
grid excepted. Per level the work of a rank is proportional to its slab, the halo traffic to
``w`` planes, and the coarsest gather to ``coarsest`` unknowns.

Use: ``solve(p, p.b, method="cg", pc="dcdm", model="fixed-mg" | "contrast2d" | <learned-mg
file>, backend="petsc")`` (the PETSc context of ``pc="dcdm"``, :mod:`sciml.dcdm.petsc`,
dispatches here for a ``learned-mg`` model), the options ``-pc_type python -pc_python_type
sciml.dcdm.petsc_mg.LearnedMGContext -pc_dcdm_model fixed-mg``, or :func:`configure` on a
``PC`` of one's own. The float64 verdict is the caller's residual check as for every pc.

References
----------
.. [1] J. E. Dendy, "Black box multigrid", J. Comput. Phys. 48 (1982) 366-386.
.. [2] S. Balay et al., *PETSc/TAO Users Manual*, ANL-21/39, "PCMG" (multigrid with
   user-provided interpolation and operators).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from petsc4py import PETSc

from solvers.errors import InvalidOptionError, InvalidSystemError

#: Stop coarsening at this many unknowns or fewer (the serial cycle's default).
COARSEST = 100
#: The largest coarsest level the redundant LU accepts.
MAX_COARSEST = 100_000


@dataclass
class Level:
    """One level of the distributed hierarchy: its operator, grid and owned planes ``[s,
    e)`` of the first axis; ``patch``: the planes ``[lo, hi)`` (owned and halo) this rank
    read to build the prolongation to the next coarser level (``None`` on the coarsest)."""

    A: PETSc.Mat
    shape: tuple[int, ...]
    planes: tuple[int, int]
    patch: tuple[int, int] | None = None


def halo_planes(net: Any) -> int:
    """Fine planes of halo each rank needs below and above its slab (see the module
    docstring): ``2 (layers + 2)`` with a network, 2 for black-box weights alone."""
    if getattr(net, "out", None) is None:
        return 2
    return 2 * (int(net.arch.layers) + 2)


def check_parameters(shape: Sequence[int], degree: int, coarsest: int) -> tuple[int, ...]:
    """Validate the hierarchy's parameters before anything is built."""
    if not (isinstance(shape, tuple | list) and len(shape) in (2, 3)
            and all(isinstance(s, int | np.integer) and s >= 2 for s in shape)):
        raise InvalidOptionError(
            f"shape={shape!r}: the learned multigrid needs a 2-D or 3-D grid shape of ints "
            f">= 2, e.g. (64, 64) or (32, 32, 32)")
    if not (isinstance(degree, int | np.integer) and 1 <= degree <= 16):
        raise InvalidOptionError(f"degree={degree!r}: Chebyshev steps must be an int in [1, 16]")
    if not (isinstance(coarsest, int | np.integer) and 1 <= coarsest <= MAX_COARSEST):
        raise InvalidOptionError(
            f"coarsest={coarsest!r}: the coarsest level's size must be an int in "
            f"[1, {MAX_COARSEST}]")
    return tuple(int(s) for s in shape)


def hierarchy(A: PETSc.Mat, shape: Sequence[int], net: Any,
              coarsest: int = COARSEST) -> tuple[list[Level], list[PETSc.Mat]]:
    """The levels (finest first) and prolongations ``P_l`` (level ``l + 1`` to ``l``) of
    ``A`` on the grid ``shape`` with the prolongation network ``net`` (collective)."""
    from solvers.multigrid.coarsen import coarsenable

    shape = check_parameters(tuple(shape), int(net.arch.degree), coarsest)
    comm = A.getComm().tompi4py()
    if len(shape) != net.arch.ndim:
        raise InvalidOptionError(
            f"model: the network is for {net.arch.ndim}-D grids but the grid {shape} is "
            f"{len(shape)}-D")
    if A.getSize()[0] != math.prod(shape):
        raise InvalidOptionError(
            f"shape={shape} has {math.prod(shape)} points but A has {A.getSize()[0]} rows")
    _check_coarsest(shape, coarsest, comm.size)
    planes = _owned_planes(A, shape)
    slabs = comm.allgather(planes)  # one pair of ints a rank
    odd = [f"rank {k}: planes {s}:{e}" for k, (s, e) in enumerate(slabs) if s % 2 and s < e]
    if odd:
        raise InvalidSystemError(
            "the learned multigrid needs every rank's rows to start at an even plane of the "
            f"slowest axis (grid {shape}; {', '.join(odd)}); use a rank count that divides "
            f"the first axis into slabs of even thickness")
    levels, transfers = [Level(A, shape, planes)], []
    while math.prod(levels[-1].shape) > coarsest and coarsenable(levels[-1].shape):
        fine = levels[-1]
        axes = coarsenable(fine.shape)
        P, coarse, fine.patch = _prolongation(fine, axes, net, finest=len(levels) == 1)
        transfers.append(P)
        levels.append(Level(fine.A.ptap(P), coarse.shape, coarse.planes))
    return levels, transfers


def _check_coarsest(shape: tuple[int, ...], coarsest: int, ranks: int) -> None:
    """Refuse a grid whose coarsest level (gathered whole on every rank, ``PCREDUNDANT``)
    would not be small: more than :data:`MAX_COARSEST` unknowns, or, on several ranks, the
    whole grid (no axis can be halved: odd lengths)."""
    from solvers.multigrid.blackbox import coarse_shape
    from solvers.multigrid.coarsen import coarsenable

    level, count = shape, 1
    while math.prod(level) > coarsest and coarsenable(level):
        level, count = coarse_shape(level, coarsenable(level)), count + 1
    n = math.prod(level)
    limit = coarsest if ranks > 1 and count == 1 else MAX_COARSEST
    if n > limit:
        raise InvalidSystemError(
            f"shape={shape}: the learned multigrid halves only axes of even length >= 4, so "
            f"its coarsest level would be {level} ({n} unknowns, solved whole on every "
            f"rank; at most {limit} here); use grid sides with more factors of 2")


def configure(pc: PETSc.PC, A: PETSc.Mat, shape: Sequence[int], net: Any,
              coarsest: int = COARSEST) -> list[Level]:
    """Make ``pc`` the distributed learned V-cycle of ``A`` (a PCMG; collective).

    ``net`` is a :class:`sciml.dcdm.learned_prolongation.ProlongationNet` (``fixed(d)``: plain
    black-box multigrid). Returns the levels, finest first.
    """
    from solvers.backends.petsc.options import options_inserted

    levels, transfers = hierarchy(A, shape, net, coarsest)
    count = len(levels)
    pc.setOperators(A, A)
    pc.setType(PETSc.PC.Type.MG)
    pc.setMGLevels(count)
    pc.setMGType(PETSc.PC.MGType.MULTIPLICATIVE)
    pc.setMGCycleType(PETSc.PC.MGCycleType.V)
    for k, P in enumerate(transfers):  # PCMG's level count - 1 is the finest
        pc.setMGInterpolation(count - 1 - k, P)
    ndim, degree = len(shape), int(net.arch.degree)
    options: dict[str, str | None] = {"pc_mg_galerkin": "none"}
    for k, level in enumerate(levels):
        index = count - 1 - k
        if index == 0:
            pc.getMGCoarseSolve().setOperators(level.A, level.A)
            continue
        pc.getMGSmoother(index).setOperators(level.A, level.A)
        # D^{-1} A on [2/(2d), 2] with D the diagonal (finest level, as the serial cycle's
        # stencil centre) or half the l1 norm of the row (PETSc: the full l1 norm, interval
        # halved)
        scale = 1.0 if k == 0 else 0.5
        prefix = f"mg_levels_{index}_"
        options |= {prefix + "ksp_type": "chebyshev", prefix + "ksp_max_it": str(degree),
                    prefix + "ksp_chebyshev_eigenvalues":
                        f"{scale * 2.0 / (2 * ndim)!r},{scale * 2.0!r}",
                    prefix + "ksp_norm_type": "none", prefix + "pc_type": "jacobi",
                    prefix + "pc_jacobi_type": "diagonal" if k == 0 else "rowl1",
                    prefix + "pc_jacobi_rowl1_scale": "1"}
    parallel = A.getComm().getSize() > 1
    options |= {"mg_coarse_ksp_type": "preonly",
                "mg_coarse_pc_type": "redundant" if parallel else "lu",
                "mg_coarse_redundant_pc_type": "lu"}
    with options_inserted(pc.getOptionsPrefix() or "", options):
        pc.setFromOptions()
        pc.setUp()
    return levels


class LearnedMGContext:
    """``PCPYTHON`` context: the distributed learned V-cycle (an inner PCMG, :func:`configure`).

    Options (under the PC's prefix): ``-pc_dcdm_model`` (a ``learned-mg`` weight file or
    shipped name, default ``fixed-mg``), ``-pc_dcdm_shape 64,64,64`` (default: read off the
    stencil's offsets, :func:`infer_shape`).
    """

    def __init__(self) -> None:
        self.inner: PETSc.PC | None = None
        self.levels: list[Level] = []
        self.model = ""

    def setUp(self, pc: PETSc.PC) -> None:  # noqa: N802 (PETSc's name)
        """Build the hierarchy from the PC's operator (collective)."""
        from sciml.dcdm.petsc import parse_shape

        A = pc.getOperators()[1]
        options = PETSc.Options(pc.getOptionsPrefix() or "")
        self.setup_from(A, options.getString("pc_dcdm_model", "") or "fixed-mg",
                        parse_shape(options.getString("pc_dcdm_shape", "")),
                        (pc.getOptionsPrefix() or "") + "dcdm_")

    def setup_from(self, A: PETSc.Mat, model: str, shape: tuple[int, ...] | None,
                   prefix: str = "dcdm_") -> None:
        """Build the hierarchy of ``A`` with ``model`` (collective)."""
        shape = shape or infer_shape(A)
        if shape is None:
            raise InvalidOptionError(
                "shape: the matrix is not a (2d+1)-point grid stencil whose grid can be read "
                "off its offsets; pass shape=(nx, ny[, nz])")
        net = load_network(model, len(shape))
        if self.inner is not None:
            self.inner.destroy()
        self.inner = PETSc.PC().create(A.getComm())
        self.inner.setOptionsPrefix(prefix)
        self.levels = configure(self.inner, A, shape, net)
        self.model = model

    def apply(self, pc: PETSc.PC, r: PETSc.Vec, z: PETSc.Vec) -> None:
        """``z = B r``: one V-cycle."""
        assert self.inner is not None
        self.inner.apply(r, z)

    def reset(self, pc: PETSc.PC) -> None:
        if self.inner is not None:
            self.inner.destroy()
            self.inner = None

    destroy = reset

    def view(self, pc: PETSc.PC, viewer: PETSc.Viewer) -> None:
        viewer.printfASCII(f"learned multigrid {self.model!r} as PCMG, "
                           f"{len(self.levels)} levels\n")


def default_model(A: PETSc.Mat, shape: tuple[int, ...] | None) -> str | None:
    """``pc="dcdm"``'s model on PETSc when none is named: the learned multigrid, which runs
    distributed (``"contrast2d"`` on 2-D grids, ``"fixed-mg"`` on 3-D ones: no 3-D network is
    shipped); ``None`` (the gathered CNN's default and its error) when ``A`` is not a grid
    stencil whose grid can be read off its offsets and no ``shape`` is given (collective)."""
    from sciml.dcdm import weights

    grid = shape or infer_shape(A)
    if grid is None:
        return None
    return weights.MG_SHIPPED[0] if len(grid) == 2 else weights.FIXED_MG


def is_multigrid_model(model: str | None) -> bool:
    """Whether ``model`` names a ``learned-mg`` network (``fixed-mg``, a shipped one, or a
    weight file whose JSON says so)."""
    import json

    from sciml.dcdm import weights

    if model is None:
        return False
    if model in (weights.FIXED_MG, *weights.MG_SHIPPED):
        return True
    if model == weights.FIXED or model in weights.AVAILABLE:
        return False
    try:  # an unreadable or unknown model is the gather path's to report
        json_path = weights.resolve(model)[2]
        return bool(json.loads(json_path.read_text()).get("kind") == "learned-mg")
    except Exception:
        return False


def load_network(model: str, ndim: int) -> Any:
    """The ``learned-mg`` network ``model`` for ``ndim``-D grids (float64 leaves)."""
    from sciml.dcdm import weights
    from sciml.dcdm.learned_prolongation import ProlongationNet

    net, _ = weights.load(model, ndim=ndim)
    if not isinstance(net, ProlongationNet):
        raise InvalidOptionError(
            f"model={model!r} is not a learned multigrid (learned-mg) network")
    if net.arch.ndim != ndim:
        raise InvalidOptionError(
            f"model={model!r} is for {net.arch.ndim}-D grids, the grid is {ndim}-D; the "
            f"{ndim}-D learned multigrid is 'fixed-mg' (black-box weights)")
    return net


def infer_shape(A: PETSc.Mat) -> tuple[int, ...] | None:
    """The grid of a ``(2d+1)``-point stencil ``A`` from the offsets of its nonzeros (the
    strides of the axes), collectively: only the sets of offsets travel."""
    from sciml.dcdm.stencil import shape_from_offsets

    indptr, cols, _ = A.getValuesCSR()
    start = A.getOwnershipRange()[0]
    rows = np.repeat(np.arange(start, start + len(indptr) - 1), np.diff(indptr))
    local = np.unique(cols - rows)
    offsets = np.unique(np.concatenate(A.getComm().tompi4py().allgather(local)))
    shape = shape_from_offsets(offsets, A.getSize()[0])
    return shape if shape is not None and len(shape) in (2, 3) else None


def _owned_planes(A: PETSc.Mat, shape: tuple[int, ...]) -> tuple[int, int]:
    """This rank's planes ``[s, e)`` of the slowest axis; raises unless the rows are slabs."""
    start, stop = A.getOwnershipRange()
    plane = math.prod(shape[1:])
    comm = A.getComm().tompi4py()
    ranges = comm.allgather((start, stop))  # one pair of ints a rank
    cut = [f"rank {k}: rows {a}:{b}" for k, (a, b) in enumerate(ranges) if a % plane or b % plane]
    if cut:
        raise InvalidSystemError(
            f"the learned multigrid needs each rank to own whole planes of the grid {shape} "
            f"({plane} rows each) along its first axis (slabs); {', '.join(cut)} do not")
    return start // plane, stop // plane


def local_entries(A: PETSc.Mat, shape: tuple[int, ...], finest: bool,
                  out: np.ndarray | None = None) -> np.ndarray:
    """This rank's rows as ``(rows, 3^d)`` stencil entries ``A_{i, i+o}`` (``o`` in C order).

    Entry ``o`` of row ``i`` is the diagonal ``i -> i + sum_a o_a stride_a`` of the local
    rows where ``i + o`` is inside the grid; raises
    :class:`~solvers.errors.InvalidSystemError` on every rank if the entries found are not
    all the nonzeros (a coupling beyond the box, or one wrapping around a grid line). On the
    ``finest`` level of a ``(2d+1)``-point stencil the Dirichlet couplings are filled in: at
    the first node along an axis the ``-e_a`` entry copies the ``+e_a`` one, at the last the
    other way round (as :func:`sciml.dcdm.context._grid_stencil` does for a matrix).
    Written into ``out`` (shape ``(planes, *shape[1:], 3^d)``) if given.
    """
    from solvers.multigrid.galerkin import offsets

    d = len(shape)
    indptr, cols, vals = A.getValuesCSR()
    start, stop = A.getOwnershipRange()
    rows = sp.csr_matrix((vals, cols, indptr), shape=(stop - start, A.getSize()[1]))
    strides = [math.prod(shape[a + 1:]) for a in range(d)]
    local = (stop - start) // strides[0]
    grid = np.zeros((local,) + tuple(shape[1:]) + (3**d,)) if out is None else out
    coords = list(np.ogrid[tuple(slice(0, n) for n in (local,) + tuple(shape[1:]))])
    coords[0] = coords[0] + start // strides[0]
    found, present = 0, set()
    for k, o in enumerate(offsets(d)):
        inside = np.ones((1,) * d, bool)
        for a in range(d):
            inside = inside & (coords[a] + o[a] >= 0) & (coords[a] + o[a] < shape[a])
        shift = start + sum(s * t for s, t in zip(o, strides, strict=True))
        band = rows.diagonal(shift)  # rows max(-shift, 0) ..: pad to all local rows
        if not band.any():  # an offset the stencil does not have (20 of 27 for 7 points)
            continue
        before = max(-shift, 0)
        band = np.concatenate([np.zeros(before), band,
                               np.zeros(stop - start - before - band.size)])
        band = np.where(inside, band.reshape(grid.shape[:-1]), 0.0)
        count = np.count_nonzero(band)
        found += count
        if count:
            present.add(o)
        grid[..., k] = band
    comm = A.getComm().tompi4py()
    if not comm.allreduce(found == np.count_nonzero(vals), op=_land()):
        raise InvalidSystemError(
            f"the learned multigrid needs a 3^d-point (or (2d+1)-point) stencil on the grid "
            f"{shape}: some nonzero couples two nodes that are not neighbours")
    star = all(sum(map(abs, o)) <= 1 for o in present)
    if finest and comm.allreduce(star, op=_land()):
        _dirichlet_couplings(grid, shape, start // strides[0])
    return grid


def _dirichlet_couplings(grid: np.ndarray, shape: tuple[int, ...], first: int) -> None:
    """Fill the couplings of a ``(2d+1)``-point stencil to the Dirichlet boundary in place
    (``grid``: the entries of the planes ``first ..``): on the first node along axis ``a``
    the ``-e_a`` entry copies the ``+e_a`` one, on the last the other way round."""
    d = len(shape)
    centre = 3**d // 2
    for a in range(d):
        minus, plus = centre - 3 ** (d - 1 - a), centre + 3 ** (d - 1 - a)
        ends = [(0, minus, plus), (shape[a] - 1, plus, minus)]
        for end, target, source in ends:
            local = end - first if a == 0 else end
            if not 0 <= local < grid.shape[a]:
                continue  # that end of axis 0 is on another rank
            index = (slice(None),) * a + (local,)
            grid[index + (Ellipsis, target)] = grid[index + (Ellipsis, source)]


def _land() -> Any:
    from mpi4py import MPI

    return MPI.LAND


def patch_entries(A: PETSc.Mat, shape: tuple[int, ...], patch: np.ndarray,
                  planes: tuple[int, int], lo: int) -> None:
    """Fill the halo planes of ``patch`` (the planes ``[lo, lo + len(patch))``, whose own
    ``planes`` hold this rank's entries) from the neighbours' entries, by a PETSc
    ``Scatter`` from the distributed ``Vec`` of every rank's entries (collective; only the
    halo travels)."""
    s, e = planes
    hi = lo + patch.shape[0]
    k = patch.shape[-1]
    block = math.prod(shape[1:]) * k
    owned = patch[s - lo:e - lo] if e > s else patch[:0]
    vec = PETSc.Vec().createWithArray(owned.reshape(-1), size=(owned.size, PETSc.DECIDE),
                                      bsize=k, comm=A.getComm())
    below = np.arange(lo * block, s * block) if s > lo else np.zeros(0, int)
    above = np.arange(e * block, hi * block) if hi > e else np.zeros(0, int)
    index = PETSc.IS().createGeneral(np.concatenate([below, above]).astype(PETSc.IntType),
                                     comm=PETSc.COMM_SELF)
    halo = PETSc.Vec().createSeq(index.getLocalSize(), comm=PETSc.COMM_SELF)
    scatter = PETSc.Scatter().create(vec, index, halo, None)
    scatter.scatter(vec, halo, PETSc.InsertMode.INSERT_VALUES, PETSc.ScatterMode.FORWARD)
    values = halo.getArray()
    patch[:max(s - lo, 0)] = values[:below.size].reshape((-1,) + patch.shape[1:])
    patch[e - lo:] = values[below.size:].reshape((-1,) + patch.shape[1:])
    for obj in (scatter, halo, index, vec):
        obj.destroy()


def _prolongation(fine: Level, axes: tuple[int, ...], net: Any,
                  finest: bool) -> tuple[PETSc.Mat, Level, tuple[int, int]]:
    """``P`` from the coarse grid to ``fine`` (MPIAIJ, this rank's fine rows), the coarse
    level's grid and planes (its operator is set by the caller) and the patch read."""
    from solvers.multigrid.blackbox import coarse_shape

    shape, (s, e) = fine.shape, fine.planes
    halved = 0 in axes
    w = halo_planes(net) if halved else 0
    first_cell, stop_cell = (s // 2, (e + 1) // 2) if halved else (s, e)
    lo = max(2 * first_cell - w, 0) if halved else s
    hi = min(2 * stop_cell + w, shape[0]) if halved else e
    if s == e:
        lo = hi = s
    patch = np.zeros((hi - lo,) + tuple(shape[1:]) + (3 ** len(shape),))
    local_entries(fine.A, shape, finest, out=patch[s - lo:e - lo])
    patch_entries(fine.A, shape, patch, (s, e), lo)
    coarse = coarse_shape(shape, axes)
    table = _weights(patch, axes, net) if s < e else {}
    del patch
    offset = lo // 2 if halved else lo
    rows, cols, vals = _rows_of_p(table, shape, coarse, axes, (s, e), offset)
    cs, ce = (s // 2, e // 2) if halved else (s, e)
    cplane, fplane = math.prod(coarse[1:]), math.prod(shape[1:])
    nloc, ncloc = (e - s) * fplane, (ce - cs) * cplane
    local = sp.csr_matrix((vals, (rows - s * fplane, cols)),
                          shape=(nloc, math.prod(coarse)))
    local.sort_indices()
    csr = (local.indptr.astype(PETSc.IntType), local.indices.astype(PETSc.IntType), local.data)
    P = PETSc.Mat().createAIJ(size=((nloc, math.prod(shape)), (ncloc, math.prod(coarse))),
                              csr=csr, comm=fine.A.getComm())
    P.assemble()
    return P, Level(fine.A, coarse, (cs, ce)), (lo, hi)


def _weights(patch: np.ndarray, axes: tuple[int, ...], net: Any) -> dict:
    """The corrected black-box weights on a patch, by the serial JAX code (float64), as one
    compiled program per patch shape (JAX's persistent cache keeps it across processes)."""
    import jax

    from solvers.backends.jax.cache import enable
    from solvers.multigrid.blackbox import keys

    enable()
    with jax.enable_x64(True):
        weights = _interpolate()(jax.numpy.asarray(patch), axes, net)
        return {key: np.asarray(w, np.float64)
                for key, w in zip(keys(axes), weights, strict=True)}


def _interpolate_impl(patch: Any, axes: tuple[int, ...], net: Any) -> tuple[Any, ...]:
    from solvers.multigrid.blackbox import interpolation
    from solvers.multigrid.galerkin import offsets

    entries = {o: patch[..., k] for k, o in enumerate(offsets(patch.ndim - 1))}
    correct = None if getattr(net, "out", None) is None else net.correct
    return interpolation(entries, axes, correct).weights


@functools.cache
def _interpolate() -> Any:
    """:func:`_interpolate_impl` under ``equinox.filter_jit`` (``axes`` static), made once."""
    import equinox as eqx

    return eqx.filter_jit(_interpolate_impl)


def _rows_of_p(table: dict, shape: tuple[int, ...], coarse: tuple[int, ...],
               axes: tuple[int, ...], planes: tuple[int, int],
               offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COO triples of ``P``'s rows of the fine planes ``planes``: fine node ``f`` of class
    ``S`` in cell ``I`` takes ``table[(S, delta)][I]`` at coarse node ``I + delta``."""
    s, e = planes
    d = len(shape)
    if s == e:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    coords = np.indices((e - s,) + tuple(shape[1:])).reshape(d, -1)
    coords[0] += s
    flat = np.ravel_multi_index(tuple(coords), shape)
    even = {a: coords[a] % 2 == 0 for a in axes}
    out_r, out_c, out_v = [], [], []
    for (S, delta), w in table.items():
        mask = np.ones(flat.shape, bool)
        for a in axes:
            mask &= even[a] if a in S else ~even[a]
        cell = [coords[a][mask] // 2 if a in axes else coords[a][mask] for a in range(d)]
        target = [c.copy() for c in cell]
        for a, step in zip(S, delta, strict=True):
            target[a] += step
        keep = np.all([t >= 0 for t in target], axis=0)
        local = list(cell)
        local[0] = local[0] - offset
        values = w[tuple(c[keep] for c in local)]
        out_r.append(flat[mask][keep])
        out_c.append(np.ravel_multi_index(tuple(t[keep] for t in target), coarse))
        out_v.append(values)
    rows, cols, vals = (np.concatenate(x) for x in (out_r, out_c, out_v))
    nonzero = vals != 0
    return rows[nonzero], cols[nonzero], vals[nonzero]
