"""SKR benchmark: sorted GCRO-DR over sequences of PDE systems vs GMRES(40), gcrotmk, AMG, LU.

For each family of :mod:`operators.families` (Darcy, indefinite Helmholtz, Poisson with a
random source, thermal convection-diffusion) a sequence of ``--count`` systems on the
``G x G`` grid is solved, with the same preconditioner and ``rtol`` (zero ``atol``) for every
iterative method, by:

- ``GMRES(40)``: the library's restarted GMRES, ``Solver("gmres", restart=40)``, index order;
- ``gcrotmk``: SciPy's ``gcrotmk(m=40, k=20)`` with its ``CU`` list carried from system to
  system (``c`` reset to ``None`` when the matrix changes, so SciPy recomputes ``C = A U``),
  the same preconditioner operator, index order;
- ``GCRO-DR``: ``Solver("gcrodr", restart=40, recycle=20)`` carrying its recycle space, index
  order;
- ``SKR``: the same, solving in greedy nearest-neighbour order of the parameter fields
  (:func:`sciml.recycling.greedy_order`); its time includes the sort;
- ``SKR(60,20)``: sorted GCRO-DR(60, 20), the same number of vectors per cycle as
  ``gcrotmk(40, 20)`` (40 new, 20 recycled; 141 stored vectors against SciPy's 121, 101 for
  GCRO-DR(40, 20)): GCRO-DR(40, ...) stalls on some indefinite Helmholtz systems
  that GCRO-DR(60, 20) solves in ~130 steps (``--skr-restart`` sets its ``m``, 0 drops it);
- ``SKR(60,20,10,Z)``: the same with ``outer=10, carry="solution"``: the recycle space
  carried as solution-space directions ``Z`` (``C = A Z``) rather than rebuilt from the
  preconditioned ``U`` for each new preconditioner, and between the harmonic Ritz updates at
  the end of each system each cycle appends its correction as a GCROT outer vector (at most
  10), an ``O((k + j) n)`` update instead of ``O(k (k + j) n)`` (``--skr-outer``, 0 drops
  the row);
- what a user would otherwise pick per system: AMG-preconditioned CG (pyamg) for the SPD
  families, sparse LU (SuperLU through ``method="direct"``, the factor reused while the
  matrix is unchanged) for every family.

Times are wall-clock and CPU seconds of this (single-threaded) process for the whole sequence
(systems assembled beforehand, setup of the preconditioner per system included); ``sort`` is
the greedy sort's own cost, and the fast sort's (:func:`sciml.recycling.fast_order`) for
comparison. ``iters`` counts every product with ``A`` for the Krylov methods (Arnoldi steps,
recomputed residuals, GCRO-DR's ``C = A Z`` for a new matrix; SciPy's through a counting
operator). Ratios: CPU time of GMRES(40) resp. gcrotmk divided by the method's (CPU time, not
wall time, so that other jobs on a shared machine do not skew them), and ``products``: gcrotmk's
products divided by the method's (> 1: the method is faster / uses fewer).

``--scale`` (issue 30) runs the large indefinite Helmholtz sequences instead:
``operators.family("helmholtz", G, dim=3 or 2, boundary="absorbing", kh=(0.2, 0.5))``,
complex128, with ``pc="shifted-laplacian"`` (one pyamg V-cycle on ``-Laplace - (1 - i beta2)
(k/c)^2``, ``beta2 = 1`` by default here: with the pc's default 0.5 one V-cycle is too weak
at 64^3 and GMRES(60) stagnates). Each method runs in its own subprocess (one BLAS
thread), so its peak resident memory (Linux ``VmHWM``, reset after the imports, minus the
resident memory then) is its own:

- ``SKR``: GCRO-DR(60, 20) + shifted Laplacian, greedy-sorted order, recycle space carried
  as solution-space directions (``carry="solution"``: ``C = A Z`` for a new matrix, ``k``
  products with ``A`` and no V-cycle) (the sort's time included);
- ``GMRES``: GMRES(60) + the same preconditioner, index order, no recycling;
- ``direct``: SuperLU (``scipy.sparse.linalg.splu``, ``MMD_AT_PLUS_A`` ordering, which
  fills less than the default ``COLAMD`` on these structurally symmetric matrices), measured
  on one system of each smaller grid (``--direct-grids``) and extrapolated to ``n`` by a
  power law (time and factor size) fitted to them; run on the first ``--direct-count``
  systems of the case itself, under an address-space cap (``--mem-cap-gb``), only when the
  extrapolated factor fits in the cap / 1.5. The table says which.

Per system: wall seconds (assembly excluded, preconditioner setup included), products
(Krylov steps, each one ``A M``, plus GCRO-DR's ``k`` products ``C = A Z`` with ``A`` alone
refreshing the recycle space for each new matrix), true relative residual. Samples are
assembled inside the workers. With ``--out DIR`` each worker appends its per-system rows to
``DIR/<dim>d-<grid>-<method>.jsonl`` and a rerun resumes after the last row written (a
resumed SKR run starts without its recycle space).

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_skr.py            # full: 200 x G=80, G=200
    python benchmarks/bench_skr.py --quick                           # smoke run, seconds
    python -m cProfile -s cumtime benchmarks/bench_skr.py --quick --families darcy
    flock /tmp/bench.lock python benchmarks/bench_skr.py --scale     # 3D 64^3 x 50, 2D 512^2
    python benchmarks/bench_skr.py --scale --quick                   # 3D 16^3, 2D 64^2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse.linalg as spla

import operators
from sciml.recycling import fast_order, greedy_order, path_length
from sciml.recycling.datagen import peak_memory, reset_peak_memory
from solvers import Solver, registry
from solvers.system import LinearSystem

Run = tuple[float, int, int, float]  # seconds, iterations, converged systems, CPU seconds


def _pc_operator(pc: str, options: dict[str, Any], p: Any) -> spla.LinearOperator | None:
    """The library's own preconditioner ``pc`` for ``p.A`` as a SciPy operator (for gcrotmk)."""
    if pc == "none":
        return None
    system = LinearSystem(spla.aslinearoperator(p.A), p.A, p.b)
    return registry.lookup(pc, "pc").factory(**options).setup(system)


#: Products with ``A`` made by the library's solvers (:func:`_count_products`).
_PRODUCTS = [0]


def _count_products() -> None:
    """Count every product with ``A`` our solvers make (``LinearSystem.matvec``: Arnoldi
    steps, recomputed residuals, GCRO-DR's ``C = A Z`` refresh), as the wrapper of
    ``gcrotmk``'s operator counts SciPy's."""
    if getattr(vars(LinearSystem)["matvec"].fget, "counted", False):
        return
    plain = LinearSystem.matvec

    def matvec(self: LinearSystem) -> Callable[[np.ndarray], np.ndarray]:
        product = plain.fget(self)

        def counted(v: np.ndarray) -> np.ndarray:
            _PRODUCTS[0] += 1
            return product(v)

        return counted

    counting = property(matvec)
    counting.fget.counted = True  # type: ignore[attr-defined]
    LinearSystem.matvec = counting  # type: ignore[method-assign]


def _ours(method: str, pc: str, rtol: float, maxiter: int, **params: Any) -> Callable:
    """A fresh :class:`Solver` kept over the sequence: ``solve(p) -> (products with A, ok)``
    (Krylov iterations for ``direct``)."""
    _count_products()
    solver = Solver(method, pc, rtol=rtol, maxiter=maxiter, **params)

    def solve(p: Any) -> tuple[int, bool]:
        before = _PRODUCTS[0]
        result = solver.solve(p.A, p.b)
        products = _PRODUCTS[0] - before
        return (result.iterations if method == "direct" else products), result.converged

    return solve


def _gcrotmk(pc: str, options: dict[str, Any], rtol: float, maxiter: int) -> Callable:
    """SciPy's GCROT(40, 20) with its ``CU`` recycle list carried across the sequence."""
    cu: list[tuple[np.ndarray | None, np.ndarray]] = []
    previous: list[Any] = [None]

    def solve(p: Any) -> tuple[int, bool]:
        if previous[0] is not p.A:  # a new matrix: C = A U must be recomputed
            cu[:] = [(None, u) for _, u in cu]
        previous[0] = p.A
        products = [0]

        def matvec(v: np.ndarray) -> np.ndarray:
            products[0] += 1
            return p.A @ v

        A = spla.LinearOperator(p.A.shape, matvec=matvec, dtype=p.A.dtype)
        x, _ = spla.gcrotmk(A, p.b, M=_pc_operator(pc, options, p), m=40, k=20, CU=cu,
                            rtol=rtol, atol=0.0, maxiter=max(1, maxiter // 40))
        ok = np.linalg.norm(p.b - p.A @ x) <= rtol * np.linalg.norm(p.b)
        return products[0], bool(ok)

    return solve


def _sequence(solve: Callable, problems: list[Any], order: np.ndarray, label: str) -> Run:
    start, cpu, iterations, converged = time.perf_counter(), time.process_time(), 0, 0
    for i in order:
        its, ok = solve(problems[i])
        iterations += its
        converged += ok
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"  {label}: {seconds:.2f} s ({cpu:.2f} s CPU), {iterations} iterations, "
          f"{converged} converged", file=sys.stderr, flush=True)
    return seconds, iterations, converged, cpu


def bench_family(name: str, grid: int, count: int, pc: str, options: dict[str, Any],
                 rtol: float, maxiter: int, seed: int,
                 skr_restart: int = 60, skr_outer: int = 10) -> list[dict[str, Any]]:
    """Every method on one sequence; one row per method."""
    fam = operators.family(name, grid, seed=seed)
    problems = [fam.sample(i) for i in range(count)]
    fields = np.stack([fam.parameters(i) for i in range(count)])
    scalars = np.stack([fam.scalars(i) for i in range(count)])
    clock = time.perf_counter()
    order = greedy_order(fields, scalars)
    sort_seconds = time.perf_counter() - clock
    clock = time.perf_counter()
    fast = fast_order(fields, scalars)
    fast_seconds = time.perf_counter() - clock
    identity = np.arange(count)
    krylov = {"restart": 40, **options}
    methods = {
        "GMRES(40)": (_ours("gmres", pc, rtol, maxiter, **krylov), identity),
        "gcrotmk(40,20)+CU": (_gcrotmk(pc, options, rtol, maxiter), identity),
        "GCRO-DR(40,20)": (_ours("gcrodr", pc, rtol, maxiter, recycle=20, **krylov), identity),
        "SKR (sorted)": (_ours("gcrodr", pc, rtol, maxiter, recycle=20, **krylov), order),
    }
    skr_m = f"SKR({skr_restart},20) sorted"
    skr_o = f"SKR({skr_restart},20,{skr_outer},Z) sorted"
    if skr_restart:
        methods[skr_m] = (_ours("gcrodr", pc, rtol, maxiter, recycle=20,
                                **{**krylov, "restart": skr_restart}), order)
    if skr_restart and skr_outer:
        methods[skr_o] = (_ours("gcrodr", pc, rtol, maxiter, recycle=20, outer=skr_outer,
                                carry="solution",
                                **{**krylov, "restart": skr_restart}), order)
    if all(p.positive_definite for p in problems):
        methods["AMG-CG"] = (_ours("cg", "amg", rtol, maxiter), identity)
    methods["direct (splu)"] = (_ours("direct", "none", rtol, maxiter), identity)
    runs = {method: _sequence(solve, problems, path, f"{name} G={grid} {method}")
            for method, (solve, path) in methods.items()}
    for sorted_run in ("SKR (sorted)", skr_m, skr_o):
        if sorted_run in runs:
            seconds, its, ok, cpu = runs[sorted_run]
            runs[sorted_run] = (seconds + sort_seconds, its, ok, cpu + sort_seconds)
    lengths = (path_length(fields, identity, scalars), path_length(fields, order, scalars),
               path_length(fields, fast, scalars))
    base, peer = runs["GMRES(40)"][3], runs["gcrotmk(40,20)+CU"][3]
    peer_products = runs["gcrotmk(40,20)+CU"][1]
    pc_name = pc + (f"({','.join(f'{v:g}' for v in options.values())})" if options else "")
    rows = []
    for method, (seconds, its, ok, cpu) in runs.items():
        iterative = method not in ("AMG-CG", "direct (splu)")
        rows.append({"family": name, "n": grid * grid, "N": count,
                     "pc": pc_name if iterative else "-", "method": method,
                     "seconds": seconds, "cpu": cpu, "iterations": its,
                     "converged": f"{ok}/{count}", "vs_gmres": base / cpu,
                     "vs_gcrotmk": peer / cpu,
                     "products_vs_gcrotmk": peer_products / its if iterative else None})
    rows.append({"family": name, "n": grid * grid, "N": count, "pc": "-",
                 "method": "sort: greedy / fast", "seconds": sort_seconds, "cpu": sort_seconds,
                 "iterations": None, "converged": f"{fast_seconds:.3f} s",
                 "vs_gmres": None, "vs_gcrotmk": None, "products_vs_gcrotmk": None,
                 "note": "path length identity/greedy/fast: "
                         + " / ".join(f"{v:.4g}" for v in lengths)})
    return rows


HEAD = (f"{'family':10} {'n':>6} {'N':>4} {'pc':18} {'method':20} {'wall s':>8} {'CPU s':>8} "
        f"{'iters':>9} {'conv':>8} {'GMRES/x':>8} {'gcrotmk/x':>9} {'products':>8}")


def _print(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        ratio = ("" if r["vs_gmres"] is None else f"{r['vs_gmres']:8.2f} {r['vs_gcrotmk']:9.2f}")
        if r["products_vs_gcrotmk"] is not None:
            ratio += f" {r['products_vs_gcrotmk']:8.2f}"
        its = "" if r["iterations"] is None else r["iterations"]
        print(f"{r['family']:10} {r['n']:>6} {r['N']:>4} {r['pc']:18} {r['method']:20} "
              f"{r['seconds']:8.3f} {r['cpu']:8.3f} {its:>9} {r['converged']:>8} {ratio}",
              flush=True)
        if "note" in r:
            print(f"{'':>42}{r['note']}")


#: Default preconditioner per family (the same for every iterative method of that family):
#: Jacobi where it converges; threshold ILU(drop_tol, fill_factor) for indefinite Helmholtz.
DEFAULT_PC = {"darcy": "jacobi", "helmholtz": "ilu", "poisson": "jacobi", "thermal": "jacobi"}
DEFAULT_PC_OPTIONS = {"helmholtz": {"drop_tol": 1e-3, "fill_factor": 5}}


# -- --scale: large Helmholtz sequences, one subprocess per method (issue 30) ----------------


def _scale_family(case: dict[str, Any]) -> Any:
    return operators.family("helmholtz", case["grid"], dim=case["dim"], seed=case["seed"],
                            boundary="absorbing", kh=tuple(case["kh"]))


def _worker(case: dict[str, Any]) -> dict[str, Any]:
    """One method over one sequence in this process: per-system rows and the peak memory."""
    fam = _scale_family(case)
    count, method = case["count"], case["method"]
    base = _resident()
    reset_peak_memory()
    clock = time.perf_counter()
    order = np.arange(count)
    if method == "SKR":
        fields = np.stack([fam.parameters(i) for i in range(count)])
        order = greedy_order(fields, np.stack([fam.scalars(i) for i in range(count)]))
        del fields
    sort_seconds = time.perf_counter() - clock
    if method == "direct":
        import resource

        cap = int(case["cap_gb"] * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    else:
        name, extra = (("gcrodr", {"recycle": 20, "carry": "solution"}) if method == "SKR"
                       else ("gmres", {}))
        solver = Solver(name, "shifted-laplacian", rtol=case["rtol"], maxiter=case["maxiter"],
                        restart=case["restart"], beta2=case["beta2"], **extra)
    log = Path(case["out"]) / f"{case['dim']}d-{case['grid']}-{method}.jsonl" if case.get(
        "out") else None
    rows, k = _done_rows(log, case), 0
    done = {r["index"] for r in rows}
    for i in order:
        if int(i) in done:  # resumed: solved by an earlier run (its recycle space is lost)
            continue
        if case.get("stop_at") and time.time() > case["stop_at"]:
            break
        p = fam.sample(int(i))
        clock = time.perf_counter()
        if method == "direct":
            lu = spla.splu(p.A.tocsc(), permc_spec="MMD_AT_PLUS_A")
            x, its, products = lu.solve(p.b), 1, 0
            factor = (lu.L.nnz + lu.U.nnz) * (p.A.dtype.itemsize + 4)
            del lu
        else:
            r = solver.solve(p, p.b)
            x, its, factor = r.x, r.iterations, 0
            products = its + k  # counted as products: GCRO-DR's C = A Z (k with A, no M)
            k = r.state.k if method == "SKR" and r.state is not None else 0
        seconds = time.perf_counter() - clock
        relres = float(np.linalg.norm(p.b - p.A @ x) / np.linalg.norm(p.b))
        rows.append({"index": int(i), "seconds": seconds, "iterations": int(its),
                     "products": int(products), "relres": relres, "factor": factor,
                     "converged": relres <= case["rtol"], "memory": peak_memory() - base})
        if log is not None:
            with open(log, "a") as f:
                f.write(json.dumps(rows[-1]) + "\n")
        print(f"    {method} system {i}: {seconds:.2f} s, {its} its, relres {relres:.1e}",
              file=sys.stderr, flush=True)
    return {"rows": rows, "peak": peak_memory(), "base": base, "sort_seconds": sort_seconds}


def _done_rows(log: Path | None, case: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows an earlier run of this case wrote to ``log`` (``--out``; ``[]`` if none)."""
    if log is None:
        return []
    log.parent.mkdir(parents=True, exist_ok=True)
    if not log.exists():
        return []
    with open(log) as f:
        return [json.loads(line) for line in f if line.strip()]


def _resident() -> int:
    """This process's resident memory now, in bytes (``VmRSS``; 0 where ``/proc`` is absent)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def _spawn(case: dict[str, Any], timeout: float) -> dict[str, Any] | str:
    """:func:`_worker` in a subprocess (one BLAS thread); its result, or why it failed."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    try:
        done = subprocess.run([sys.executable, __file__, "--worker", json.dumps(case)],
                              env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    sys.stderr.write(done.stderr[-4000:])
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"failed (exit {done.returncode}: {last[:80]})"
    return json.loads(done.stdout.strip().splitlines()[-1])


def _power_law(sizes: list[int], values: list[float], n: int) -> tuple[float, float]:
    """``c n^e`` fitted (least squares in logs) to ``values`` at ``sizes``: (value at n, e)."""
    e, c = np.polyfit(np.log(sizes), np.log(values), 1)
    return float(np.exp(c) * n**e), float(e)


def _direct(case: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Sparse direct on smaller grids (``--direct-grids``), a power law extrapolated to the
    case's ``n``, and the case itself when the extrapolated factor fits the memory cap."""
    n = case["grid"] ** case["dim"]
    sizes, seconds, factors = [], [], []
    for grid in args.direct_grids if case["dim"] == 3 else args.direct_grids_2d:
        small = _spawn({**case, "grid": grid, "method": "direct", "count": 1,
                        "cap_gb": args.mem_cap_gb}, args.timeout)
        if isinstance(small, dict):
            sizes.append(grid ** case["dim"])
            seconds.append(small["rows"][0]["seconds"])
            factors.append(small["rows"][0]["factor"])
            print(f"    direct at {grid}^{case['dim']}: {seconds[-1]:.2f} s, factor "
                  f"{factors[-1] / 2**30:.3f} GiB", file=sys.stderr, flush=True)
    guess = {"seconds": np.nan, "factor": np.nan, "note": "no smaller grid measured"}
    if len(sizes) >= 2:
        t, et = _power_law(sizes, seconds, n)
        f, ef = _power_law(sizes, factors, n)
        grids = ", ".join(f"{round(m ** (1 / case['dim']))}^{case['dim']}" for m in sizes)
        guess = {"seconds": t, "factor": f,
                 "note": f"EXTRAPOLATED from {grids} (time ~ n^{et:.2f}, factor ~ n^{ef:.2f})"}
    if not guess["factor"] <= args.mem_cap_gb * 2**30 / 1.5:
        return {**guess, "peak": guess["factor"], "converged": 0, "count": 0,
                "note": f"{guess['note']}; not run: the factor would exceed the "
                        f"{args.mem_cap_gb:g} GiB cap / 1.5; peak taken = factor size"}
    count = min(args.direct_count, case["count"])
    run = _spawn({**case, "method": "direct", "count": count, "cap_gb": args.mem_cap_gb},
                 args.timeout)
    if not isinstance(run, dict):
        return {**guess, "peak": guess["factor"], "converged": 0, "count": 0,
                "note": f"{run} under the {args.mem_cap_gb:g} GiB cap; {guess['note']}"}
    rows = run["rows"]
    return {"seconds": float(np.mean([r["seconds"] for r in rows])),
            "factor": float(np.mean([r["factor"] for r in rows])),
            "peak": _peak(run), "converged": sum(r["converged"] for r in rows),
            "count": count, "note": f"measured on {count} system(s)"}


def _peak(run: dict[str, Any]) -> float:
    """A worker's peak memory above its resident memory after the imports: the largest of its
    rows' (rows of a resumed run were measured in the earlier process)."""
    return max([run["peak"] - run["base"]] + [r.get("memory", 0) for r in run["rows"]])


def _krylov_summary(run: dict[str, Any] | str) -> dict[str, Any]:
    """Per-system means over the systems a worker solved (all, unless ``--stop-after``)."""
    if not isinstance(run, dict) or not run["rows"]:
        return {"note": run if not isinstance(run, dict) else "no system solved"}
    rows = run["rows"]
    count = len(rows)
    return {"count": count, "indices": sorted(r["index"] for r in rows),
            "seconds": (sum(r["seconds"] for r in rows) + run["sort_seconds"]) / count,
            "products": sum(r["products"] for r in rows) / count,
            "iterations": [r["iterations"] for r in rows], "peak": _peak(run),
            "converged": sum(r["converged"] for r in rows),
            "worst": max(r["relres"] for r in rows)}


def scale(args: argparse.Namespace) -> None:
    """The ``--scale`` table: SKR vs GMRES (same pc) vs sparse direct, per case."""
    cases = [(3, args.grid3d, args.count3d, args.beta2), (2, args.grid2d, args.count2d,
                                                          args.beta2_2d)]
    load = os.getloadavg()
    print(f"SKR at scale: Helmholtz, absorbing boundary, k h in {args.kh}, complex128, "
          f"rtol={args.rtol:g}, seed={args.seed}; 1 BLAS thread per method, 1 rank; load "
          f"average {load[0]:.1f}/{load[1]:.1f}, {os.cpu_count()} CPU(s); pc = "
          f"shifted-laplacian (1 pyamg V-cycle, beta = (1, beta2)); restart {args.restart}")
    head = (f"{'case':9} {'n':>8} {'N':>3} {'method':16} {'s/system':>9} {'products':>9} "
            f"{'conv':>6} {'peak MiB':>9} {'direct/x':>8} {'mem/direct':>10} {'GMRES/x':>8}")
    print(head)
    print("-" * len(head))
    for dim, grid, count, beta2 in cases:
        if not count:
            continue
        case = {"grid": grid, "dim": dim, "count": count, "seed": args.seed,
                "kh": args.kh, "rtol": args.rtol, "maxiter": args.maxiter,
                "restart": args.restart, "beta2": beta2, "out": args.out}
        print(f"{dim}D {grid}^{dim}: beta2 = {beta2:g}", flush=True)
        stop = {"stop_at": time.time() + args.stop_after} if args.stop_after else {}
        runs = {m: _krylov_summary(_spawn({**case, **stop, "method": m}, args.timeout))
                for m in ("SKR", "GMRES")}
        direct = _direct(case, args)
        label, n = f"{dim}D {grid}^{dim}", grid**dim
        for method, run in runs.items():
            if "seconds" not in run:
                print(f"{label:9} {n:>8} {count:>3} {method:16} {run['note']}")
                continue
            base = runs["GMRES"].get("products", np.nan)
            print(f"{label:9} {n:>8} {run['count']:>3} {method + '+shifted-L':16} "
                  f"{run['seconds']:9.2f} {run['products']:9.1f} "
                  f"{run['converged']:>3}/{run['count']:<2} {run['peak'] / 2**20:9.0f} "
                  f"{direct['seconds'] / run['seconds']:8.2f} "
                  f"{run['peak'] / direct['peak']:10.3f} {base / run['products']:8.2f}")
            print(f"{'':>9} iterations per system: {run['iterations']}; worst relres "
                  f"{run['worst']:.1e}; systems {run['indices']}")
        print(f"{label:9} {n:>8} {direct['count']:>3} {'direct (SuperLU)':16} "
              f"{direct['seconds']:9.2f} {'-':>9} {direct['converged']:>3}/{direct['count']:<2} "
              f"{direct['peak'] / 2**20:9.0f}   factor {direct['factor'] / 2**20:.0f} MiB; "
              f"{direct['note']}", flush=True)


def main(argv: list[str] | None = None) -> None:
    if argv is None and len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(_worker(json.loads(sys.argv[2]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 12 systems, G=24")
    parser.add_argument("--families", nargs="+", default=sorted(operators.FAMILIES))
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--grid", type=int, default=80)
    parser.add_argument("--large", default="darcy", help="family run at --large-grid too")
    parser.add_argument("--large-grid", type=int, default=200)
    parser.add_argument("--large-count", type=int, default=200)
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--maxiter", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skr-restart", type=int, default=60,
                        help="m of the extra SKR(m,20) row (0: no such row)")
    parser.add_argument("--skr-outer", type=int, default=10,
                        help="outer vectors of the SKR(m,20,outer) row (0: no such row)")
    scale_options = parser.add_argument_group("--scale (large Helmholtz, issue 30)")
    scale_options.add_argument("--scale", action="store_true",
                               help="large Helmholtz: SKR vs GMRES vs sparse direct")
    scale_options.add_argument("--grid3d", type=int, default=64)
    scale_options.add_argument("--count3d", type=int, default=50)
    scale_options.add_argument("--grid2d", type=int, default=512)
    scale_options.add_argument("--count2d", type=int, default=20)
    scale_options.add_argument("--kh", type=float, nargs=2, default=[0.2, 0.5])
    scale_options.add_argument("--restart", type=int, default=60)
    scale_options.add_argument("--beta2", type=float, default=1.0,
                               help="3D pc damping (0.5: one V-cycle too weak at 64^3, GMRES "
                                    "stagnates)")
    scale_options.add_argument("--beta2-2d", type=float, default=1.0,
                               help="2D pc damping (0.5: one V-cycle too weak at k h = 0.5)")
    scale_options.add_argument("--direct-count", type=int, default=2)
    scale_options.add_argument("--direct-grids", type=int, nargs="+", default=[24, 32, 40])
    scale_options.add_argument("--direct-grids-2d", type=int, nargs="+",
                               default=[128, 256])
    scale_options.add_argument("--mem-cap-gb", type=float, default=6.0,
                               help="address-space cap of the direct solver's process")
    scale_options.add_argument("--out", default=None,
                               help="directory for per-system rows (JSON lines); a rerun with "
                                    "the same --out resumes each method where it stopped")
    scale_options.add_argument("--stop-after", type=float, default=0,
                               help="seconds after which each method starts no new system "
                                    "(0: none); the table averages over the systems solved")
    scale_options.add_argument("--timeout", type=float, default=3600,
                               help="seconds per method and case")
    args = parser.parse_args(argv)
    if args.scale:
        if args.quick:
            args.grid3d, args.grid2d = 16, 64
            args.count3d, args.count2d = min(args.count3d, 6), min(args.count2d, 4)
            args.direct_grids, args.direct_grids_2d, args.direct_count = [8, 12], [32, 48], 2
        args.seed = args.seed or 20261207  # not a seed anything was tuned on
        scale(args)
        return
    if args.quick:
        args.count, args.grid, args.large_grid, args.large_count = 12, 24, 40, 6
    print(f"SKR benchmark: float64, rtol={args.rtol:g}, atol=0, maxiter={args.maxiter}, "
          f"seed={args.seed}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '-')}"
          f", {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}; times in seconds "
          f"for the whole sequence; iters = products with A for the Krylov methods")
    print(HEAD)
    print("-" * len(HEAD))
    cases = [(f, args.grid, args.count) for f in args.families]
    if args.large:
        cases.append((args.large, args.large_grid, args.large_count))
    for name, grid, count in cases:  # one family's rows as soon as they are measured
        _print(bench_family(name, grid, count, DEFAULT_PC[name],
                            DEFAULT_PC_OPTIONS.get(name, {}), args.rtol, args.maxiter,
                            args.seed, args.skr_restart, args.skr_outer))


if __name__ == "__main__":
    main()
