"""``python -m sciml batch``: many seeded diffusion solves, split across MPI ranks, resumable.

Sample ``i`` is ``-div(K_i grad u) = 1`` with ``K_i`` the log-normal field drawn from
``SeedSequence([seed, i])`` (:func:`operators.random_diffusion`), so every sample is fixed by
``(seed, i)`` alone. Samples are grouped into shards of consecutive global indices
``[k s, (k + 1) s)`` (``s`` the shard size); the unfinished shards are dealt round-robin to
the ranks (mpi4py when installed, one process otherwise), and each finished shard is written
as one ``.npz`` (:func:`sciml.persist.atomic_write`). A restart, with any number of ranks,
skips the shards on disk: no sample is lost or computed twice. The run's parameters are kept
in ``batch.json`` (a :func:`sciml.persist.write_state` file); a restart with other parameters
is refused (:class:`sciml.persist.ResumeMismatchError`).

Shard contents: ``indices``, ``coefficients`` (``K``), ``solutions``, ``iterations``,
``residuals`` (true residual norms), ``converged`` and ``seconds``, one row per sample.
:func:`load_batch` merges the shards in index order and checks that no index appears twice.

Examples
--------
``OPENBLAS_NUM_THREADS=1 mpiexec -n 2 python -m sciml batch --count 64 --grid 64 64 --seed 0
--method cg --pc amg --backend petsc --out runs/k64 --shard-size 8``

(one BLAS thread per rank: threaded BLAS in every rank oversubscribes the cores.)
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from operators.fields import gaussian_random_field, random_diffusion
from operators.validate import as_shape
from sciml.persist import atomic_write, check_resume, read_state, write_state
from solvers import Solver
from solvers.errors import InvalidOptionError

MANIFEST = "batch.json"
_KIND, _VERSION = "sciml.batch", 1
_FIELD_OPTIONS = ("length_scale", "variance", "mean", "kernel", "nu", "periodic")


@dataclass
class BatchSummary:
    """What one rank did: shards written, shards found finished, samples solved."""

    rank: int
    ranks: int
    written: list[str] = field(default_factory=list)
    skipped: int = 0
    samples: int = 0
    not_converged: int = 0
    sort_seconds: float = 0.0


#: ``work(start, stop, bar) -> (arrays, sort_seconds)``: the rows of samples ``start..stop-1``
#: in index order (one array per shard key) and the seconds spent ordering them.
ShardWork = Callable[[int, int, Any], tuple[dict[str, np.ndarray], float]]


@dataclass
class ShardJob:
    """A validated, resumable sharded run: what :func:`run_shards` needs, nothing written yet.

    ``params`` (JSON-serialisable) is saved as the manifest ``out / manifest``, a
    :func:`sciml.persist.write_state` file of ``kind`` and ``version``; a resumed run must
    have equal ``params``. ``work`` computes one shard.
    """

    out: Path
    manifest: str
    kind: str
    version: int
    params: dict[str, Any]
    count: int
    shard_size: int
    work: ShardWork
    desc: str


class _SerialComm:
    """The two collectives :func:`run_shards` needs, for a run without MPI."""

    rank, size = 0, 1

    def barrier(self) -> None:
        """Nothing to wait for."""

    def allreduce(self, value: Any) -> Any:
        return value


def default_comm() -> Any:
    """``mpi4py.MPI.COMM_WORLD`` when mpi4py is installed, else a one-process stand-in."""
    try:
        from mpi4py import MPI
    except ImportError:
        return _SerialComm()
    return MPI.COMM_WORLD


def shard_ranges(count: int, shard_size: int) -> list[tuple[int, int]]:
    """Global index ranges ``[start, stop)`` of the shards; they depend on no rank count."""
    return [(s, min(s + shard_size, count)) for s in range(0, count, shard_size)]


def shard_path(out: Path, start: int, stop: int) -> Path:
    return out / f"shard-{start:08d}-{stop:08d}.npz"


def check_counts(count: int, shard_size: int) -> None:
    """``count >= 0`` and ``shard_size >= 1`` (integers), else a one-line ``ValueError``."""
    if not all(isinstance(v, (int, np.integer)) for v in (count, shard_size)):
        raise ValueError(f"count and shard_size must be integers, not {count!r} and "
                         f"{shard_size!r}")
    if count < 0 or shard_size < 1:
        raise ValueError(f"count must be >= 0 and shard_size >= 1, got {count} and {shard_size}")


def run_shards(job: ShardJob, *, comm: Any = None, max_shards: int | None = None,
               progress: bool = True) -> BatchSummary:
    """Run ``job``: manifest, pending shards dealt round-robin to the ranks, atomic shards.

    Collective over ``comm``. Every rank first compares an existing manifest with
    ``job.params`` (:class:`sciml.persist.ResumeMismatchError` before anything is written);
    rank 0 then creates the folder, writes the manifest once and removes the temporary files
    of killed writers. The shards not on disk are dealt round-robin (``max_shards`` per rank
    at most) and each is written atomically as soon as it is complete, so a killed run loses
    at most the shards in progress and a rerun, with any number of ranks, skips the others.
    """
    comm = default_comm() if comm is None else comm
    if max_shards is not None and max_shards < 0:
        raise ValueError(f"max_shards must be >= 0 or None, not {max_shards}")
    manifest = job.out / job.manifest
    if manifest.exists():
        check_resume(read_state(manifest, job.kind, job.version), job.params, job.out)
    comm.barrier()
    if comm.rank == 0:
        _prepare(job)
    comm.barrier()
    check_resume(read_state(manifest, job.kind, job.version), job.params, job.out)
    ranges = shard_ranges(job.count, job.shard_size)
    pending = [r for r in ranges if not shard_path(job.out, *r).exists()]
    comm.barrier()  # every rank has listed the finished shards before any new one appears
    mine = pending[comm.rank :: comm.size][:max_shards]
    summary = BatchSummary(comm.rank, comm.size, skipped=len(ranges) - len(pending))
    bar = tqdm(total=sum(b - a for a, b in mine), disable=not progress or comm.rank != 0,
               desc=f"{job.desc} (rank 0 of {comm.size})", unit="sample")
    for start, stop in mine:
        arrays, sort_seconds = job.work(start, stop, bar)
        path = shard_path(job.out, start, stop)
        atomic_write(path, lambda f, arrays=arrays: np.savez(f, **arrays))
        summary.written.append(path.name)
        summary.samples += stop - start
        summary.not_converged += int(np.sum(~arrays["converged"]))
        summary.sort_seconds += sort_seconds
    bar.close()
    comm.barrier()
    return summary


def _prepare(job: ShardJob) -> None:
    """Rank 0: create the folder, write the manifest once, drop temporaries of killed runs."""
    job.out.mkdir(parents=True, exist_ok=True)
    for stale in job.out.glob(".*.tmp"):
        stale.unlink()
    if not (job.out / job.manifest).exists():
        write_state(job.out / job.manifest, job.kind, job.version, job.params)


def read_shards(out: Path, ranges: list[tuple[int, int]]) -> list[dict[str, np.ndarray]]:
    """The arrays of the shards of ``ranges`` that are on disk, in range order."""
    shards = []
    for path in filter(Path.exists, (shard_path(out, *r) for r in ranges)):
        with np.load(path) as data:
            shards.append(dict(data))
    return shards


def merge_shards(shards: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Shards concatenated and sorted by ``indices``; ``{}`` for none."""
    if not shards:
        return {}
    merged = {key: np.concatenate([s[key] for s in shards]) for key in shards[0]}
    order = np.argsort(merged["indices"], kind="stable")
    return {key: value[order] for key, value in merged.items()}


def sample_solver(method: str, pc: str | None, backend: str, rtol: float,
                  **params: Any) -> Callable[[Any, np.ndarray], tuple[np.ndarray, Any]]:
    """``solve(A, b) -> (x as ndarray, SolveResult)``: one :class:`Solver` per rank, reused.

    Building it checks ``method``, ``pc``, ``rtol`` and ``params`` (a
    :class:`solvers.errors.SolverError` before anything is written). With
    ``backend="petsc"`` each system is solved on its own rank (``PETSc.COMM_SELF``).
    """
    if backend not in ("scipy", "petsc"):
        raise InvalidOptionError(f"backend must be 'scipy' or 'petsc', not {backend!r}")
    solver = Solver(method, pc, backend=backend, rtol=rtol, **params)
    if backend == "scipy":
        return lambda A, b: _plain(solver.solve(A, b))
    from petsc4py import PETSc

    from solvers.backends.petsc import to_petsc

    def solve(A: Any, b: np.ndarray) -> tuple[np.ndarray, Any]:
        result = solver.solve(*to_petsc(A, b, comm=PETSc.COMM_SELF))
        return result.x.getArray().copy(), result

    return solve


def _plain(result: Any) -> tuple[np.ndarray, Any]:
    return np.asarray(result.x), result


def run_batch(count: int, grid: tuple[int, ...], *, seed: int = 0, method: str = "cg",
              pc: str | None = "amg", backend: str = "scipy", rtol: float = 1e-8,
              out: str | os.PathLike = "sciml-out/batch", shard_size: int = 16,
              max_shards: int | None = None, field: dict[str, Any] | None = None,
              comm: Any = None, progress: bool = True) -> BatchSummary:
    """Solve ``count`` seeded diffusion problems on ``grid``; write and resume shards in ``out``.

    Parameters
    ----------
    count, grid, seed
        Samples ``0 .. count-1`` on the interior grid ``grid``; sample ``i`` draws its field
        from ``SeedSequence([seed, i])``.
    method, pc, backend, rtol
        As for :func:`solvers.solve` (``backend`` is ``"scipy"`` or ``"petsc"``; PETSc
        solves each sample on its own rank, ``PETSc.COMM_SELF``).
    out
        Output directory (created); holds ``batch.json`` and the shards.
    shard_size
        Samples per shard (the unit of work, of output and of restart).
    max_shards
        Stop after this many shards on each rank (time-limited jobs); run again to go on.
    field
        Keywords of :func:`operators.lognormal_coefficient` (``length_scale``, ``variance``).
    comm
        mpi4py communicator; default :func:`default_comm`.
    progress
        Show a tqdm bar on rank 0 (its own samples).

    Returns
    -------
    BatchSummary
        This rank's work.

    Raises
    ------
    ValueError, solvers.errors.SolverError
        A bad argument, before anything is written.
    """
    job = batch_job(count, grid, seed=seed, method=method, pc=pc, backend=backend, rtol=rtol,
                    out=out, shard_size=shard_size, field=field)
    return run_shards(job, comm=comm, max_shards=max_shards, progress=progress)


def batch_job(count: int, grid: tuple[int, ...], *, seed: int = 0, method: str = "cg",
              pc: str | None = "amg", backend: str = "scipy", rtol: float = 1e-8,
              out: str | os.PathLike = "sciml-out/batch", shard_size: int = 16,
              field: dict[str, Any] | None = None) -> ShardJob:
    """The checked :class:`ShardJob` of :func:`run_batch` (raises on a bad argument)."""
    check_counts(count, shard_size)
    grid = as_shape(tuple(grid))
    field = dict(field or {})
    unknown = sorted(set(field) - set(_FIELD_OPTIONS))
    if unknown:
        raise ValueError(f"unknown field option(s) {', '.join(unknown)}; accepted: "
                         f"{', '.join(_FIELD_OPTIONS)}")
    gaussian_random_field((2,) * len(grid), seed=0, **field)  # checks the field's values
    params = {"count": int(count), "grid": list(grid), "seed": int(seed), "method": method,
              "pc": pc, "backend": backend, "rtol": float(rtol),
              "shard_size": int(shard_size), "field": field}
    solve = sample_solver(method, pc, backend, rtol)

    def work(start: int, stop: int, bar: Any) -> tuple[dict[str, np.ndarray], float]:
        rows = []
        for i in range(start, stop):
            rows.append(_solve_sample(i, params, solve))
            bar.update(1)
        return {key: np.stack([np.asarray(r[key]) for r in rows]) for key in rows[0]}, 0.0

    return ShardJob(Path(out), MANIFEST, _KIND, _VERSION, params, int(count), int(shard_size),
                    work, "batch")


def _solve_sample(index: int, params: dict[str, Any], solve: Any) -> dict[str, Any]:
    """Build sample ``index`` from ``(seed, index)`` and solve it."""
    sequence = np.random.SeedSequence([params["seed"], index])
    problem = random_diffusion(tuple(params["grid"]), seed=sequence, **params["field"])
    start = time.perf_counter()
    x, result = solve(problem.A, problem.b)
    return {"indices": index, "coefficients": problem.coefficient,
            "solutions": problem.grid(x), "iterations": result.iterations,
            "residuals": result.residual_norm, "converged": result.converged,
            "seconds": time.perf_counter() - start}


def load_batch(out: str | os.PathLike) -> dict[str, np.ndarray]:
    """All finished shards of ``out`` merged in sample order.

    Returns the shard arrays (``indices``, ``coefficients``, ``solutions``, ...) stacked over
    every finished sample, sorted by index (``indices`` tells which samples are there); raises
    ``ValueError`` if a sample appears twice.
    """
    out = Path(out)
    params = read_state(out / MANIFEST, _KIND, _VERSION)
    merged = merge_shards(read_shards(out, shard_ranges(params["count"],
                                                        params["shard_size"])))
    if merged and np.unique(merged["indices"]).size != merged["indices"].size:
        raise ValueError(f"{out}: some samples appear in more than one shard")
    return merged


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``batch`` sub-command."""
    p = subparsers.add_parser(
        "batch", help="solve N seeded diffusion problems across MPI ranks, in resumable shards",
        description="Solve many seeded diffusion problems, split across MPI ranks, in "
                    "resumable shards (one .npz per range of sample indices).")
    p.add_argument("--count", type=int, required=True, help="number of samples")
    p.add_argument("--grid", type=int, nargs="+", default=[64, 64], help="interior grid")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", default="cg")
    p.add_argument("--pc", default="amg")
    p.add_argument("--backend", choices=("scipy", "petsc"), default="scipy")
    p.add_argument("--rtol", type=float, default=1e-8)
    p.add_argument("--out", default="sciml-out/batch", help="output directory")
    p.add_argument("--shard-size", type=int, default=16, help="samples per shard")
    p.add_argument("--max-shards", type=int, default=None,
                   help="stop after this many shards per rank, run again to continue "
                        "(default: no limit, every shard)")
    p.add_argument("--length-scale", type=float, default=0.1, help="field correlation length")
    p.add_argument("--variance", type=float, default=1.0, help="variance of log K")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    comm = default_comm()
    job = batch_job(args.count, tuple(args.grid), seed=args.seed, method=args.method,
                    pc=args.pc, backend=args.backend, rtol=args.rtol, out=args.out,
                    shard_size=args.shard_size,
                    field={"length_scale": args.length_scale, "variance": args.variance})
    summary = run_shards(job, comm=comm, max_shards=args.max_shards,
                         progress=not args.no_progress)
    samples = comm.allreduce(summary.samples)
    failed = comm.allreduce(summary.not_converged)
    if comm.rank == 0:
        print(f"batch: {samples} samples solved on {comm.size} rank(s), {failed} not converged, "
              f"{summary.skipped} shard(s) already finished; output in {args.out}")
    return 0
