"""PETSc backend benchmark: MPI scaling, AMG comparison and ``solve()`` overhead, one table.

3D Poisson on an ``n^3`` grid (default 128^3, 2.1M unknowns), ``rtol = 1e-8``:

1. GAMG-preconditioned CG with ``mpiexec -n 1`` and ``-n 2`` (spawned here), the matrix
   assembled distributed (:mod:`operators.distributed`); speedup = time(-n 1) / time(-n 2);
2. PETSc GAMG vs pyamg smoothed aggregation vs unpreconditioned CG (SciPy backend),
   setup and solve times and iterations;
3. ``Solver.solve(A, b)`` (``backend="petsc"``) against the same KSP driven by raw petsc4py
   calls, on the same ``Mat``/``Vec`` of an ``--overhead-n``^3 grid (default 64^3): first
   solve (setup + solve) and repeated solve (KSP and GAMG hierarchy reused), medians of 8
   alternating pairs (medians, because single runs on a shared machine vary by 10-20 %).

Times of 1. and 2. are the best of ``--repeat`` runs (the ``-n 1`` and ``-n 2`` runs
alternate, so that both meet the same background load). Run:
``python benchmarks/bench_petsc.py [--n 128] [--repeat 3] [--overhead-n 64]``.

``--learned`` instead: DCDM's learned multigrid distributed as PCMG
(:mod:`sciml.dcdm.petsc_mg`, ``pc="dcdm", model="fixed-mg"``: in 3D the learned part is the
black-box weights, no 3D prolongation network is shipped) against PETSc GAMG-CG, both CG to
``rtol = 1e-8``, on the 3D Poisson matrix and on a high-contrast diffusion matrix
(:func:`operators.contrast.inclusions`, contrast 1e4, seed 0), ``-n 1`` and ``-n 2``: setup,
solve and total times, iterations, peak RSS per rank (``ru_maxrss``, the largest over the
ranks; each method runs in its own ``mpiexec`` so the peaks are its own). One untimed run per
rank count first fills JAX's persistent compilation cache (the weights' programs), as a
second use of the preconditioner would find it. Timings
depend on the machine and on whatever else runs on it; the ranks of ``-n 2`` need two free
cores. Every process runs one BLAS thread (``OPENBLAS_NUM_THREADS=1`` unless set).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: One BLAS/OpenMP thread per process (each MPI rank, and the SciPy runs): the usual MPI
#: setting, and on a small shared machine threaded BLAS oversubscribes the cores (measured
#: here: CG with 2 OpenBLAS threads 250x slower than with 1 while other jobs ran).
THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
for _name, _value in THREADS.items():
    os.environ.setdefault(_name, _value)  # before NumPy is imported; a user's value wins

RTOL = 1e-8
MARK = "BENCH-JSON "
#: Alternating (raw KSP, solve()) pairs of the overhead comparison; medians are reported.
OVERHEAD_RUNS = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=128, help="grid points per axis")
    parser.add_argument("--repeat", type=int, default=3,
                        help="alternating -n 1 / -n 2 runs (best of each taken)")
    parser.add_argument("--overhead-n", type=int, default=64,
                        help="grid per axis of the solve() overhead comparison")
    parser.add_argument("--learned", action="store_true",
                        help="the distributed learned multigrid vs GAMG-CG (see above)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--overhead", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--method", default="gamg", help=argparse.SUPPRESS)
    parser.add_argument("--case", default="poisson", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker and args.learned:
        learned_worker(args.n, args.method, args.case)
        return
    if args.worker:
        worker(args.n, args.overhead)
        return
    if args.learned:
        learned_main(args.n, args.repeat)
        return
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    for _ in range(args.repeat):  # alternate, so both see the same (shared) machine
        for ranks in runs:
            runs[ranks].append(spawn(ranks, args.n))
    serial, parallel = (min(runs[r], key=lambda rec: rec["total"]) for r in (1, 2))
    overhead = spawn(1, args.overhead_n, overhead=True)["overhead"]
    host = scipy_side(args.n)
    report(args.n, args.overhead_n, serial, parallel, host, overhead)


def spawn(ranks: int, n: int, overhead: bool = False,
          extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run :func:`worker` under ``mpiexec -n ranks``; return rank 0's JSON record."""
    mpiexec = shutil.which("mpiexec") or str(Path(sys.executable).with_name("mpiexec"))
    command = [mpiexec, "-n", str(ranks), sys.executable, __file__, "--worker", "--n", str(n)]
    command += ["--overhead"] if overhead else []
    command += list(extra)
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    if done.returncode != 0 or not lines:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(lines[-1][len(MARK):])


def worker(n: int, overhead: bool) -> None:
    """Under mpiexec: distributed assembly and one GAMG-CG solve, or the overhead runs."""
    from petsc4py import PETSc

    from operators import distributed

    comm = PETSc.COMM_WORLD
    comm.barrier()
    start = time.perf_counter()
    problem = distributed.poisson((n, n, n))
    comm.barrier()
    record: dict[str, Any] = {"ranks": comm.getSize(), "assembly": time.perf_counter() - start}
    if overhead:
        record["overhead"] = overhead_runs(problem.A, problem.b, OVERHEAD_RUNS)
    else:
        record.update(gamg_cg(problem.A, problem.b))
    if comm.getRank() == 0:
        print(MARK + json.dumps(record), flush=True)


def gamg_cg(A: Any, b: Any) -> dict[str, Any]:
    """One ``solve()`` with GAMG-CG, timed on rank 0 after a barrier."""
    from solvers import solve

    A.getComm().barrier()
    start = time.perf_counter()
    result = solve(A, b, "cg", "amg", backend="petsc", rtol=RTOL)
    total = time.perf_counter() - start
    return {"setup": result.timings["setup"], "solve": result.timings["solve"], "total": total,
            "iterations": result.iterations, "converged": bool(result.converged)}


def overhead_runs(A: Any, b: Any, runs: int) -> dict[str, float]:
    """Median times of ``Solver.solve`` and of the raw KSP over ``runs`` alternating pairs."""
    times: dict[str, list[float]] = {}
    for k in range(runs):
        for run in (raw_ksp, ours) if k % 2 == 0 else (ours, raw_ksp):
            for key, value in run(A, b).items():
                times.setdefault(key, []).append(value)
    return {key: statistics.median(values) for key, values in times.items()}


def ours(A: Any, b: Any) -> dict[str, float]:
    """``Solver.solve`` on the Mat/Vec: first (with setup) and repeated (KSP reused)."""
    from solvers import Solver

    solver = Solver("cg", "amg", backend="petsc", rtol=RTOL)
    return {"ours_first": timed(solver.solve, A, b), "ours_again": timed(solver.solve, A, b)}


def raw_ksp(A: Any, b: Any) -> dict[str, float]:
    """The same solve written directly in petsc4py: first (with setup) and repeated."""
    from petsc4py import PETSc

    def first() -> Any:
        ksp = PETSc.KSP().create(A.getComm())
        ksp.setOperators(A)
        ksp.setType("cg")
        ksp.getPC().setType("gamg")
        ksp.setTolerances(rtol=RTOL, atol=0.0, max_it=10 * A.getSize()[0])
        ksp.setNormType(PETSc.KSP.NormType.UNPRECONDITIONED)
        ksp.setFromOptions()
        ksp.solve(b, b.duplicate())
        return ksp

    start = time.perf_counter()
    ksp = first()
    first_time = time.perf_counter() - start
    return {"raw_first": first_time, "raw_again": timed(lambda: ksp.solve(b, b.duplicate()))}


def timed(step: Any, *args: Any) -> float:
    """Seconds taken by ``step(*args)``."""
    start = time.perf_counter()
    step(*args)
    return time.perf_counter() - start


def scipy_side(n: int) -> dict[str, dict[str, Any]]:
    """pyamg SA-CG and unpreconditioned CG on the SciPy backend (one process)."""
    import operators
    from solvers import solve

    problem = operators.poisson((n, n, n))
    warm = operators.poisson((8, 8, 8))  # first-call costs (imports, thread pools) excluded
    out = {}
    for label, pc in (("pyamg", "amg"), ("cg", "none")):
        solve(warm, warm.b, "cg", pc, backend="scipy")
        start = time.perf_counter()
        result = solve(problem, problem.b, "cg", pc, backend="scipy", rtol=RTOL)
        out[label] = {"setup": result.timings["setup"], "solve": result.timings["solve"],
                      "total": time.perf_counter() - start, "iterations": result.iterations,
                      "converged": bool(result.converged)}
    return out


def report(n: int, overhead_n: int, serial: dict[str, Any], parallel: dict[str, Any],
           host: dict[str, dict[str, Any]], o: dict[str, float]) -> None:
    """Print the one table."""
    rows = [
        ("PETSc GAMG-CG, mpiexec -n 1", serial),
        ("PETSc GAMG-CG, mpiexec -n 2", parallel),
        ("pyamg SA-CG (scipy backend)", host["pyamg"]),
        ("CG, no preconditioner (scipy backend)", host["cg"]),
    ]
    print(f"3D Poisson {n}^3 = {n**3:,} unknowns, rtol {RTOL:g}; seconds (best of runs)")
    print(f"{'':40s} {'setup':>8s} {'solve':>8s} {'total':>8s} {'iters':>6s} {'conv':>5s}")
    for label, r in rows:
        print(f"{label:40s} {r['setup']:8.2f} {r['solve']:8.2f} {r['total']:8.2f} "
              f"{r['iterations']:6d} {str(r['converged']):>5s}")
    print(f"distributed assembly: {serial['assembly']:.2f} s (-n 1), "
          f"{parallel['assembly']:.2f} s (-n 2)")
    print(f"speedup -n 2 vs -n 1: total {serial['total'] / parallel['total']:.2f}x, "
          f"setup {serial['setup'] / parallel['setup']:.2f}x, "
          f"solve {serial['solve'] / parallel['solve']:.2f}x   (goal >= 1.6x)")
    print(f"PETSc GAMG vs pyamg SA: total {host['pyamg']['total'] / serial['total']:.2f}x faster")
    print(f"solve() vs raw petsc4py KSP, GAMG-CG {overhead_n}^3, -n 1, median of "
          f"{OVERHEAD_RUNS}: "
          f"first solve {o['ours_first']:.3f} s vs {o['raw_first']:.3f} s = "
          f"{o['ours_first'] / o['raw_first']:.3f}x; repeated solve (KSP reused) "
          f"{o['ours_again']:.3f} s vs {o['raw_again']:.3f} s = "
          f"{o['ours_again'] / o['raw_again']:.3f}x   (goal <= 1.05x)")
    print(f"cpus visible: {os.cpu_count()}, load average: "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")


#: ``--learned``: the matrices, and the methods (label, ``solve`` keywords).
CASES = ("poisson", "inclusions")
METHODS = {"gamg": ("PETSc GAMG-CG", {"pc": "amg"}),
           "learned": ("learned MG (PCMG) CG", {"pc": "dcdm", "model": "fixed-mg"})}


def learned_main(n: int, repeat: int) -> None:
    """Spawn the ``--learned`` runs (alternating rank counts and methods) and print a table."""
    for ranks in (1, 2):  # fill JAX's compilation cache: untimed
        spawn(ranks, n, extra=("--learned", "--method", "learned"))
    best: dict[tuple[str, str, int], dict[str, Any]] = {}
    for _ in range(repeat):
        for case in CASES:
            for method in METHODS:
                for ranks in (1, 2):
                    record = spawn(ranks, n, extra=("--learned", "--method", method,
                                                    "--case", case))
                    key = (case, method, ranks)
                    if key not in best or record["total"] < best[key]["total"]:
                        best[key] = record
    learned_report(n, repeat, best)


def learned_worker(n: int, method: str, case: str) -> None:
    """Under mpiexec: assemble ``case`` distributed, one CG solve with ``method``, and the
    peak RSS of every rank."""
    import resource

    from petsc4py import PETSc

    import operators.contrast
    from operators import distributed
    from solvers import solve

    comm = PETSc.COMM_WORLD
    warm = distributed.poisson((8, 8, 8))  # imports and first-call costs excluded
    solve(warm.A, warm.b, "cg", backend="petsc", **METHODS[method][1])
    shape = (n, n, n)
    problem = distributed.poisson(shape) if case == "poisson" else \
        distributed.diffusion(operators.contrast.inclusions(shape, 1e4, seed=0))
    comm.barrier()
    start = time.perf_counter()
    result = solve(problem.A, problem.b, "cg", backend="petsc", rtol=RTOL,
                   **METHODS[method][1])
    total = time.perf_counter() - start
    local = problem.A.getLocalSize()[0]
    peak = comm.tompi4py().allgather(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    record = {"ranks": comm.getSize(), "setup": result.timings["setup"],
              "solve": result.timings["solve"], "total": total,
              "iterations": result.iterations, "converged": bool(result.converged),
              "rss_mb": max(peak), "local_rows": local, "rows": problem.A.getSize()[0]}
    if comm.getRank() == 0:
        print(MARK + json.dumps(record), flush=True)


def learned_report(n: int, repeat: int, best: dict[tuple[str, str, int], dict[str, Any]]) -> None:
    """Print the ``--learned`` table and the goals."""
    print(f"3D {n}^3 = {n**3:,} unknowns, CG to rtol {RTOL:g}, float64, 1 thread per rank; "
          f"seconds, best of {repeat}; peak RSS = max over ranks (MB)")
    print("learned MG = DCDM learned-mg V-cycle as PCMG, model 'fixed-mg' (3D: black-box "
          "weights; no 3D prolongation network is shipped)")
    print(f"{'case':11s} {'method':22s} {'ranks':>5s} {'setup':>7s} {'solve':>7s} {'total':>7s} "
          f"{'iters':>5s} {'conv':>5s} {'RSS MB':>7s} {'rows/rank':>10s}")
    for case in CASES:
        for method, (label, _) in METHODS.items():
            for ranks in (1, 2):
                r = best[(case, method, ranks)]
                print(f"{case:11s} {label:22s} {ranks:5d} {r['setup']:7.2f} {r['solve']:7.2f} "
                      f"{r['total']:7.2f} {r['iterations']:5d} {str(r['converged']):>5s} "
                      f"{r['rss_mb']:7.0f} {r['local_rows']:10,d}")
    print("goals (learned MG): iterations -n 2 vs -n 1 within 2; RSS per rank <= 0.6x; "
          "speed-up >= 1.6x; total <= GAMG-CG's")
    for case in CASES:
        one, two = best[(case, "learned", 1)], best[(case, "learned", 2)]
        gamg = best[(case, "gamg", 2)]
        gamg1 = best[(case, "gamg", 1)]
        print(f"{case:11s} iterations {one['iterations']} vs {two['iterations']}; "
              f"RSS {two['rss_mb'] / one['rss_mb']:.2f}x; "
              f"speed-up {one['total'] / two['total']:.2f}x (GAMG-CG "
              f"{gamg1['total'] / gamg['total']:.2f}x); total vs GAMG-CG "
              f"{one['total'] / gamg1['total']:.2f}x (-n 1), "
              f"{two['total'] / gamg['total']:.2f}x (-n 2)")
    print(f"cpus visible: {os.cpu_count()}, threads per rank: "
          f"{os.environ.get('OMP_NUM_THREADS')}, load average: "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
