"""``python -m sciml datagen``: input/solution pairs of a problem family, sorted and recycled (SKR).

Sample ``i`` of a run is sample ``i`` of the family :func:`operators.family` ``(problem, grid,
seed=seed)``, fixed by ``(seed, i)`` alone. The run is :mod:`sciml.batch`'s sharded runner:
shards of consecutive global indices ``[k s, (k+1) s)`` (``s = shard_size``), the unfinished
ones dealt round-robin to the MPI ranks, each written atomically when complete, a manifest,
and resume (with any number of ranks) after a kill with no sample lost or computed twice.

Within a shard the samples are ordered by their parameter fields (``sort="greedy"``: greedy
nearest neighbour, :func:`sciml.recycling.greedy_order`, starting from the sample nearest to
the last one this rank solved; ``"fast"``: :func:`sciml.recycling.fast_order`; ``"none"``:
index order) and solved in that order by ONE :class:`solvers.Solver` per rank, which carries
the recycle space of ``method="gcrodr"`` from each system to the next (and across shards).
The shard is the unit of sorting, output and restart: a larger shard sorts better and loses
more work to a kill (default 100 samples, the sequence length of Wang et al. [1]_).

Data format
-----------
``DIR/datagen.json``
    A :func:`sciml.persist.write_state` file, kind ``"sciml.datagen"``, version 1; payload:
    ``problem``, ``count``, ``grid``, ``seed``, ``method``, ``pc``, ``rtol``, ``restart``,
    ``recycle``, ``shard_size``, ``sort``, ``backend``, and, when not the defaults, ``dim``
    (3 for a ``G x G x G`` grid), ``outer``, ``carry``, ``model`` (the preconditioner's
    network, e.g. ``--pc dcdm --model fixed-mg``) and the family options (``boundary``,
    ``kh``). A restart
    with other values is refused.
``DIR/shard-<start:08d>-<stop:08d>.npz``
    One per range of global indices ``[start, stop)``, rows in index order:

    - ``indices``: int64 ``(s,)``, the global sample indices;
    - ``inputs``: float64 ``(s, G, G)`` (``(s, G, G, G)`` in 3D), the parameter field (Darcy
      ``K``, Helmholtz wave speed ``c``, Poisson source ``f``, thermal conductivity ``K``);
    - ``solutions``: ``(s, G, G)`` (``(s, G, G, G)``), float64 (complex128 for a complex
      family: Helmholtz with ``boundary="absorbing"``);
    - ``iterations``: int64 ``(s,)``; ``residuals``: float64 ``(s,)``, the true residual norms
      ``||b - A x||``; ``converged``: bool ``(s,)``; ``seconds``: float64 ``(s,)``, solve time
      (assembly of the sample excluded); ``memory``: int64 ``(s,)``, the process's peak
      resident memory in bytes during the solve (Linux ``VmHWM``, reset before each solve
      through ``/proc/self/clear_refs``; where that cannot be reset, the peak so far).

:func:`load_dataset` merges the shards in index order.

References
----------
.. [1] H. Wang, Z. Hao, Z. Wang, H. Su, J. Zhu, "Accelerating Data Generation for Neural
   Operators via Krylov Subspace Recycling", ICLR 2024.

Examples
--------
``OPENBLAS_NUM_THREADS=1 mpiexec -n 2 python -m sciml datagen --problem darcy --count 400
--grid 80 --out runs/darcy --method gcrodr --pc jacobi --rtol 1e-8 --restart 40 --recycle 20``

``python -m sciml datagen --problem helmholtz --grid 64x64x64 --boundary absorbing --kh 0.2
0.5 --count 200 --out runs/h3d --pc shifted-laplacian --restart 60 --recycle 20``

``OPENBLAS_NUM_THREADS=1 mpiexec -n 2 python -m sciml datagen --problem darcy --count 200
--grid 64 --out runs/darcy-mg --method cg --pc dcdm --model contrast2d --backend petsc``: a
learned preconditioner (DCDM's learned multigrid, :mod:`sciml.dcdm.petsc_mg`) under MPI; each
rank solves its own samples whole (``PETSc.COMM_SELF``), so nothing is gathered.

>>> import tempfile
>>> out = tempfile.mkdtemp()
>>> _ = run_datagen("poisson", 4, 8, out=out, method="gmres", shard_size=2, progress=False)
>>> data = load_dataset(out)
>>> data["indices"].tolist(), data["inputs"].shape, bool(data["converged"].all())
([0, 1, 2, 3], (4, 8, 8), True)
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from operators.families import FAMILIES, family
from operators.gallery import BOUNDARIES
from operators.validate import choice
from sciml.batch import (
    BatchSummary,
    ShardJob,
    check_counts,
    default_comm,
    merge_shards,
    read_shards,
    run_shards,
    sample_solver,
    shard_path,
    shard_ranges,
)
from sciml.persist import StateFileError, read_state
from sciml.recycling.fast_sort import fast_order
from sciml.recycling.sort import greedy_order
from solvers import registry
from solvers.errors import DatasetError, InvalidOptionError

__all__ = ["KEYS", "MANIFEST", "SORTS", "datagen_job", "load_dataset", "run_datagen"]

MANIFEST = "datagen.json"
_KIND, _VERSION = "sciml.datagen", 1
#: The arrays of every shard, one row per sample.
KEYS = ("indices", "inputs", "solutions", "iterations", "residuals", "converged", "seconds",
        "memory")
#: Keys a shard written before ``memory`` was recorded may lack.
OPTIONAL = ("memory",)
#: Orderings of a shard: ``(fields, scalars, start) -> permutation``.
SORTS = {
    "greedy": lambda fields, scalars, start: greedy_order(fields, scalars, start=start),
    "fast": lambda fields, scalars, start: fast_order(fields, scalars),
    "none": lambda fields, scalars, start: np.arange(len(fields)),
}


def datagen_job(problem: str, count: int, grid: int, *, out: str | os.PathLike,
                seed: int = 0, method: str = "gcrodr", pc: str | None = "ilu",
                rtol: float = 1e-8, restart: int = 40, recycle: int = 20,
                shard_size: int = 100, sort: str = "greedy",
                backend: str = "scipy", dim: int = 2,
                family_options: dict[str, Any] | None = None, outer: int = 0,
                carry: str = "preconditioned", model: str | None = None) -> ShardJob:
    """The checked :class:`sciml.batch.ShardJob` of :func:`run_datagen`; nothing is written.

    Raises
    ------
    ValueError, solvers.errors.SolverError
        A bad argument (unknown problem, method, pc or sort; negative count; ...).
    """
    check_counts(count, shard_size)
    options = dict(family_options or {})
    fam = family(problem, grid, seed=seed, dim=dim, **options)
    order = choice(sort, SORTS, "sort")
    if not 0 <= recycle < restart:
        raise ValueError(f"need 0 <= recycle < restart, got recycle={recycle}, "
                         f"restart={restart}")
    if outer and (outer < 0 or recycle + outer >= restart - 1):
        raise ValueError(f"need recycle + outer < restart - 1 (outer >= 0), got recycle="
                         f"{recycle}, outer={outer}, restart={restart}")
    params = {"problem": problem, "count": int(count), "grid": int(grid), "seed": int(seed),
              "method": method, "pc": pc, "rtol": float(rtol), "restart": int(restart),
              "recycle": int(recycle), "shard_size": int(shard_size), "sort": sort,
              "backend": backend}
    if dim != 2:
        params["dim"] = int(dim)
    if outer:
        params["outer"] = int(outer)
    if carry != "preconditioned":
        params["carry"] = carry
    if model is not None:
        params["model"] = str(model)
    params.update({key: _plain(value) for key, value in sorted(options.items())})
    accepted = registry.lookup(method, "method").parameters() if method != "auto" else set()
    pc_params = {"model": params["model"]} if "model" in params else {}
    if pc_params and (pc is None or "model" not in registry.lookup(pc, "pc").parameters()):
        raise InvalidOptionError(f"model={model!r} is a preconditioner's network: use it with "
                                 f"a pc that takes one (--pc dcdm), not pc={pc!r}")
    solve = sample_solver(method, pc, backend, rtol, **{
        k: params[k] for k in ("restart", "recycle", "outer", "carry")
        if k in accepted and k in params}, **pc_params)
    if pc_params:  # after the parameter checks of sample_solver
        _check_model(str(pc), params["model"], dim)
    whole = backend == "scipy"  # the host solver takes the problem (pcs read its params)
    last: list[np.ndarray] = []  # the features of the last sample this rank solved

    def work(start: int, stop: int, bar: Any) -> tuple[dict[str, np.ndarray], float]:
        indices = np.arange(start, stop)
        fields = np.stack([fam.parameters(i) for i in indices])
        scalars = np.stack([fam.scalars(i) for i in indices])
        clock = time.perf_counter()
        first = _nearest(fields, scalars, last[0]) if last else 0
        path = order(fields, scalars, first)
        sort_seconds = time.perf_counter() - clock
        rows: dict[int, dict[str, Any]] = {}
        for j in path:
            rows[j] = _solve(fam.sample(indices[j]), solve, whole)
            bar.update(1)
        last[:] = [np.concatenate([fields[path[-1]].ravel(), scalars[path[-1]]])]
        arrays = {key: np.stack([rows[j][key] for j in range(len(indices))])
                  for key in KEYS[2:]}
        return {"indices": indices.astype(np.int64), "inputs": fields, **arrays}, sort_seconds

    return ShardJob(Path(out), MANIFEST, _KIND, _VERSION, params, int(count), int(shard_size),
                    work, f"datagen {problem}")


def _nearest(fields: np.ndarray, scalars: np.ndarray, previous: np.ndarray) -> int:
    """The sample closest to ``previous`` (features of the last solved sample)."""
    features = np.concatenate([fields.reshape(len(fields), -1), scalars], axis=1)
    return int(np.argmin(np.linalg.norm(features - previous, axis=1)))


def _plain(value: Any) -> Any:
    """A family option as the manifest's JSON stores it (a tuple becomes a list)."""
    return [float(v) for v in value] if isinstance(value, (tuple, list)) else value


def _solve(p: Any, solve: Any, whole: bool) -> dict[str, Any]:
    """Solve one sample (``whole``: pass the problem, not only its matrix); its row of the
    shard (without ``indices`` and ``inputs``)."""
    reset_peak_memory()
    clock = time.perf_counter()
    x, result = solve(p if whole else p.A, p.b)
    return {"solutions": p.grid(x), "iterations": np.int64(result.iterations),
            "residuals": np.float64(result.residual_norm),
            "converged": np.bool_(result.converged),
            "seconds": np.float64(time.perf_counter() - clock),
            "memory": np.int64(peak_memory())}


def reset_peak_memory() -> bool:
    """Reset the process's peak resident memory (Linux: ``5`` to ``/proc/self/clear_refs``);
    False where that is not possible (then :func:`peak_memory` is the peak so far)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def peak_memory() -> int:
    """Peak resident memory of this process in bytes since :func:`reset_peak_memory`
    (``VmHWM``; ``ru_maxrss`` where ``/proc`` is absent)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _check_model(pc: str, model: str, dim: int) -> None:
    """Load ``model`` once before anything is written (an unknown name, a missing file or a
    network of the other dimension would otherwise fail every sample's solve, recorded as
    not converged): :class:`~solvers.errors.ModelLoadError` or
    :class:`~solvers.errors.InvalidOptionError`."""
    if pc == "dcdm":
        from sciml.dcdm import weights

        net, _ = weights.load(model, ndim=dim)
        ndim = getattr(getattr(net, "arch", None), "ndim", dim)
        if ndim != dim:
            raise InvalidOptionError(f"model={model!r} is for {ndim}-D grids, the problem's "
                                     f"grid is {dim}-D")
    elif pc == "hints" and model != "none":
        from sciml.neural_operators import error_operator

        error_operator.load(model)


def run_datagen(problem: str, count: int, grid: int, *, out: str | os.PathLike,
                seed: int = 0, method: str = "gcrodr", pc: str | None = "ilu",
                rtol: float = 1e-8, restart: int = 40, recycle: int = 20,
                shard_size: int = 100, sort: str = "greedy", backend: str = "scipy",
                max_shards: int | None = None, comm: Any = None,
                progress: bool = True, dim: int = 2,
                family_options: dict[str, Any] | None = None, outer: int = 0,
                carry: str = "preconditioned", model: str | None = None) -> BatchSummary:
    """Generate ``count`` samples of ``problem`` on the ``grid x grid`` grid into ``out``.

    Parameters
    ----------
    problem
        ``"darcy"``, ``"helmholtz"``, ``"poisson"`` or ``"thermal"`` (:data:`operators.FAMILIES`).
    count, grid, seed
        Samples ``0 .. count-1`` of ``operators.family(problem, grid, seed=seed, dim=dim,
        **family_options)``.
    out
        Output directory (created): ``datagen.json`` and the shards (see the module notes).
    method, pc, rtol, backend
        As for :class:`solvers.Solver` (``backend`` ``"scipy"`` or ``"petsc"``).
    restart, recycle
        GCRO-DR's ``m`` and ``k`` (``restart`` also goes to GMRES); passed to the method when
        it takes them, recorded in the manifest in any case.
    outer, carry
        GCRO-DR's GCROT outer vectors between harmonic Ritz updates (0: none) and what its
        recycle space keeps across systems (``"preconditioned"`` or ``"solution"``);
        recorded in the manifest when not the defaults. ``restart=60, recycle=20, outer=10,
        carry="solution"`` for Darcy/thermal with Jacobi.
    shard_size
        Samples per shard: the unit of sorting, output and restart.
    sort
        ``"greedy"``, ``"fast"`` or ``"none"``: the order of solves within a shard.
    max_shards
        Stop after this many shards on each rank; run again to go on.
    comm
        mpi4py communicator; default :func:`sciml.batch.default_comm`.
    progress
        Show a tqdm bar on rank 0.
    dim
        2 (a ``grid x grid`` grid) or 3 (``grid x grid x grid``, 7-point stencils).
    family_options
        Further fields of the family (e.g. ``{"boundary": "absorbing", "kh": (0.2, 0.5)}``
        for Helmholtz); recorded in the manifest.
    model
        The network of a learned preconditioner (``pc="dcdm"``: a DCDM model, e.g.
        ``"contrast2d"`` or ``"fixed-mg"``, the learned multigrid); recorded in the manifest.

    Returns
    -------
    sciml.batch.BatchSummary
        This rank's work, with ``sort_seconds`` the time spent sorting.

    Raises
    ------
    ValueError, solvers.errors.SolverError
        A bad argument, before anything is written; a restart with other parameters
        (:class:`sciml.persist.ResumeMismatchError`).
    """
    job = datagen_job(problem, count, grid, out=out, seed=seed, method=method, pc=pc,
                      rtol=rtol, restart=restart, recycle=recycle, shard_size=shard_size,
                      sort=sort, backend=backend, dim=dim, family_options=family_options,
                      outer=outer, carry=carry, model=model)
    return run_shards(job, comm=comm, max_shards=max_shards, progress=progress)


def load_dataset(out: str | os.PathLike, *, allow_partial: bool = False) -> dict[str, np.ndarray]:
    """The arrays of a ``datagen`` directory, merged over its shards in index order.

    Parameters
    ----------
    out
        The directory a :func:`run_datagen` run wrote.
    allow_partial
        Return the finished shards of an unfinished run instead of raising.

    Returns
    -------
    dict
        ``indices``, ``inputs``, ``solutions``, ``iterations``, ``residuals``, ``converged``,
        ``seconds`` (see the module notes), one row per sample, sorted by index.

    Raises
    ------
    solvers.errors.DatasetError
        The manifest is missing or corrupt, a shard is missing (unless ``allow_partial``),
        unreadable, lacks an array or holds the wrong indices; the message names the file.
    """
    out = Path(out)
    try:
        params = read_state(out / MANIFEST, _KIND, _VERSION)
    except StateFileError as exc:
        raise DatasetError(f"{out} is not a complete datagen directory: {exc}") from None
    ranges = shard_ranges(params["count"], params["shard_size"])
    missing = [shard_path(out, *r).name for r in ranges if not shard_path(out, *r).exists()]
    if missing and not allow_partial:
        raise DatasetError(
            f"{out}: {len(missing)} of {len(ranges)} shard(s) missing (first: {missing[0]}); "
            f"the run was interrupted: rerun the same 'python -m sciml datagen' command to "
            f"finish it")
    try:
        shards = read_shards(out, ranges)
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"{out}: a shard cannot be read ({exc}); delete the corrupt "
                           f"shard-*.npz file and rerun the same command") from None
    done = [r for r in ranges if shard_path(out, *r).exists()]
    for (start, stop), shard in zip(done, shards, strict=True):
        _check_shard(shard_path(out, start, stop), shard, start, stop)
    return merge_shards(shards)


def _check_shard(path: Path, shard: dict[str, np.ndarray], start: int, stop: int) -> None:
    """A shard holds every key, with the indices ``start .. stop-1`` in one row each."""
    absent = [key for key in KEYS if key not in shard and key not in OPTIONAL]
    if absent:
        raise DatasetError(f"{path} lacks the array(s) {', '.join(absent)}; it was not written "
                           f"by datagen or is corrupt: delete it and rerun the same command")
    if not np.array_equal(shard["indices"], np.arange(start, stop)) or any(
            len(shard[key]) != stop - start for key in KEYS if key in shard):
        raise DatasetError(f"{path} does not hold one row per sample {start}..{stop - 1}; "
                           f"delete it and rerun the same command")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``datagen`` sub-command."""
    p = subparsers.add_parser(
        "datagen", help="generate input/solution pairs of a PDE family with sorted, recycled "
                        "Krylov solves (SKR), in resumable shards across MPI ranks",
        description="Generate neural-operator training data: samples of a seeded PDE family, "
                    "sorted by their parameter fields and solved with a recycling Krylov "
                    "method, written as resumable shards (see sciml/recycling/datagen.py).")
    p.add_argument("--problem", required=True, choices=sorted(FAMILIES))
    p.add_argument("--count", type=int, required=True, help="number of samples")
    p.add_argument("--grid", type=grid_argument, required=True,
                   help="G (a G x G grid), GxG or GxGxG (e.g. 64x64x64: 3D, 7-point stencils)")
    p.add_argument("--boundary", choices=sorted(BOUNDARIES), default=None,
                   help="Helmholtz boundary condition (default dirichlet; absorbing: first-order "
                        "absorbing condition, complex systems)")
    p.add_argument("--kh", type=float, nargs="+", default=None, metavar="KH",
                   help="Helmholtz k h: one value or LOW HIGH (default 0.2 0.3)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", default="gcrodr")
    p.add_argument("--pc", default="ilu")
    p.add_argument("--model", default=None,
                   help="network of a learned pc (--pc dcdm): a DCDM model, e.g. contrast2d or "
                        "fixed-mg (the learned multigrid; distributed PCMG with --backend petsc) "
                        "(default: the pc's own default network)")
    p.add_argument("--rtol", type=float, default=1e-8)
    p.add_argument("--restart", type=int, default=40, help="Krylov subspace size m")
    p.add_argument("--recycle", type=int, default=20, help="recycle space size k < m")
    p.add_argument("--outer", type=int, default=0,
                   help="GCRO-DR: GCROT outer vectors between the harmonic Ritz updates, once "
                        "per system (default 0: every cycle); 10 with --restart 60 for Darcy")
    p.add_argument("--carry", choices=("preconditioned", "solution"), default="preconditioned",
                   help="GCRO-DR: keep the recycle space as preconditioned U (C = A M U "
                        "recomputed per matrix) or solution-space Z (C = A Z); solution for "
                        "Darcy/thermal")
    p.add_argument("--shard-size", type=int, default=100, help="samples per shard")
    p.add_argument("--sort", choices=sorted(SORTS), default="greedy")
    p.add_argument("--backend", choices=("scipy", "petsc"), default="scipy")
    p.add_argument("--max-shards", type=int, default=None,
                   help="stop after this many shards per rank, run again to continue "
                        "(default: no limit, every shard)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_main)


def grid_argument(text: str) -> tuple[int, int]:
    """``--grid``: ``"G"`` or ``"GxG"`` (2D), ``"GxGxG"`` (3D), every size the same integer
    >= 2; returns ``(G, dim)``."""
    parts = text.lower().split("x")
    try:
        sizes = [int(part) for part in parts]
    except ValueError:
        sizes = []
    if not sizes or len(sizes) > 3 or min(sizes) < 2 or len(set(sizes)) != 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a grid: give G, GxG or GxGxG with one integer G >= 2 "
            f"(e.g. 80 or 64x64x64)")
    return sizes[0], max(len(sizes), 2)


def _main(args: argparse.Namespace) -> int:
    comm = default_comm()
    grid, dim = args.grid
    options: dict[str, Any] = {}
    if args.boundary is not None:
        options["boundary"] = args.boundary
    if args.kh is not None:
        if len(args.kh) > 2:
            raise ValueError(f"--kh takes one value or LOW HIGH, not {len(args.kh)} values")
        options["kh"] = tuple(args.kh) if len(args.kh) == 2 else args.kh[0]
    job = datagen_job(args.problem, args.count, grid, out=args.out, seed=args.seed,
                      method=args.method, pc=args.pc, rtol=args.rtol, restart=args.restart,
                      recycle=args.recycle, shard_size=args.shard_size, sort=args.sort,
                      backend=args.backend, dim=dim, family_options=options,
                      outer=args.outer, carry=args.carry, model=args.model)
    summary = run_shards(job, comm=comm, max_shards=args.max_shards,
                         progress=not args.no_progress)
    samples = comm.allreduce(summary.samples)
    failed = comm.allreduce(summary.not_converged)
    sort_seconds = comm.allreduce(summary.sort_seconds)
    if comm.rank == 0:
        print(f"datagen: {samples} samples solved on {comm.size} rank(s), {failed} not "
              f"converged, {summary.skipped} shard(s) already finished, sorting took "
              f"{sort_seconds:.3f} s; output in {args.out}")
    return 0
