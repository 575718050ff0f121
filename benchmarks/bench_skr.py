"""SKR benchmark: sorted GCRO-DR over sequences of PDE systems vs GMRES(40), gcrotmk, AMG, LU.

For each family of :mod:`operators.families` (Darcy, indefinite Helmholtz, Poisson with a
random source, thermal convection-diffusion) a sequence of ``--count`` systems on the
``G x G`` grid is solved, with the same preconditioner and ``rtol`` (zero ``atol``) for every
iterative method, by:

- ``GMRES(40)``: the library's restarted GMRES, ``Solver("gmres", restart=40)``, index order;
- ``gcrotmk``: SciPy's ``gcrotmk(m=40, k=20)`` with its ``CU`` list carried from system to
  system (``c`` reset to ``None`` when the matrix changes, so SciPy recomputes ``C = A U``),
  the same preconditioner operator, index order; its iterations are counted as products
  with ``A`` (ours count Krylov steps: about one product each);
- ``GCRO-DR``: ``Solver("gcrodr", restart=40, recycle=20)`` carrying its recycle space, index
  order;
- ``SKR``: the same, solving in greedy nearest-neighbour order of the parameter fields
  (:func:`sciml.recycling.greedy_order`); its time includes the sort;
- ``SKR(60,20)``: sorted GCRO-DR(60, 20), the same storage as ``gcrotmk(40, 20)`` (61 + 20
  vectors against 40 + 2 x 20): GCRO-DR(40, ...) stalls on some indefinite Helmholtz systems
  that GCRO-DR(60, 20) solves in ~130 steps (``--skr-restart`` sets its ``m``, 0 drops it);
- what a user would otherwise pick per system: AMG-preconditioned CG (pyamg) for the SPD
  families, sparse LU (SuperLU through ``method="direct"``, the factor reused while the
  matrix is unchanged) for every family.

Times are wall-clock seconds for the whole sequence (systems assembled beforehand, setup of
the preconditioner per system included); ``sort`` is the greedy sort's own cost, and the fast
sort's (:func:`sciml.recycling.fast_order`) for comparison. Ratios are time of GMRES(40)
resp. gcrotmk divided by the method's time (> 1: the method is faster).

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_skr.py            # full: 200 x G=80, G=200
    python benchmarks/bench_skr.py --quick                           # smoke run, seconds
    python -m cProfile -s cumtime benchmarks/bench_skr.py --quick --families darcy
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse.linalg as spla

import operators
from sciml.recycling import fast_order, greedy_order, path_length
from solvers import Solver, registry
from solvers.system import LinearSystem

Run = tuple[float, int, int]  # seconds, iterations, converged systems


def _pc_operator(pc: str, options: dict[str, Any], p: Any) -> spla.LinearOperator | None:
    """The library's own preconditioner ``pc`` for ``p.A`` as a SciPy operator (for gcrotmk)."""
    if pc == "none":
        return None
    system = LinearSystem(spla.aslinearoperator(p.A), p.A, p.b)
    return registry.lookup(pc, "pc").factory(**options).setup(system)


def _ours(method: str, pc: str, rtol: float, maxiter: int, **params: Any) -> Callable:
    """A fresh :class:`Solver` kept over the sequence: ``solve(p) -> (iterations, ok)``."""
    solver = Solver(method, pc, rtol=rtol, maxiter=maxiter, **params)

    def solve(p: Any) -> tuple[int, bool]:
        result = solver.solve(p.A, p.b)
        return result.iterations, result.converged

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
    start, iterations, converged = time.perf_counter(), 0, 0
    for i in order:
        its, ok = solve(problems[i])
        iterations += its
        converged += ok
    seconds = time.perf_counter() - start
    print(f"  {label}: {seconds:.2f} s, {iterations} iterations, {converged} converged",
          file=sys.stderr, flush=True)
    return seconds, iterations, converged


def bench_family(name: str, grid: int, count: int, pc: str, options: dict[str, Any],
                 rtol: float, maxiter: int, seed: int,
                 skr_restart: int = 60) -> list[dict[str, Any]]:
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
    if skr_restart:
        methods[skr_m] = (_ours("gcrodr", pc, rtol, maxiter, recycle=20,
                                **{**krylov, "restart": skr_restart}), order)
    if all(p.positive_definite for p in problems):
        methods["AMG-CG"] = (_ours("cg", "amg", rtol, maxiter), identity)
    methods["direct (splu)"] = (_ours("direct", "none", rtol, maxiter), identity)
    runs = {method: _sequence(solve, problems, path, f"{name} G={grid} {method}")
            for method, (solve, path) in methods.items()}
    for sorted_run in ("SKR (sorted)", skr_m):
        if sorted_run in runs:
            seconds, its, ok = runs[sorted_run]
            runs[sorted_run] = (seconds + sort_seconds, its, ok)
    lengths = (path_length(fields, identity, scalars), path_length(fields, order, scalars),
               path_length(fields, fast, scalars))
    base, peer = runs["GMRES(40)"][0], runs["gcrotmk(40,20)+CU"][0]
    pc_name = pc + (f"({','.join(f'{v:g}' for v in options.values())})" if options else "")
    rows = []
    for method, (seconds, its, ok) in runs.items():
        iterative = method not in ("AMG-CG", "direct (splu)")
        rows.append({"family": name, "n": grid * grid, "N": count,
                     "pc": pc_name if iterative else "-", "method": method,
                     "seconds": seconds, "iterations": its, "converged": f"{ok}/{count}",
                     "vs_gmres": base / seconds, "vs_gcrotmk": peer / seconds})
    rows.append({"family": name, "n": grid * grid, "N": count, "pc": "-",
                 "method": "sort: greedy / fast", "seconds": sort_seconds,
                 "iterations": None, "converged": f"{fast_seconds:.3f} s",
                 "vs_gmres": None, "vs_gcrotmk": None,
                 "note": "path length identity/greedy/fast: "
                         + " / ".join(f"{v:.4g}" for v in lengths)})
    return rows


HEAD = (f"{'family':10} {'n':>6} {'N':>4} {'pc':18} {'method':20} {'time s':>9} "
        f"{'iters':>9} {'conv':>8} {'GMRES/x':>8} {'gcrotmk/x':>9}")


def _print(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        ratio = ("" if r["vs_gmres"] is None else f"{r['vs_gmres']:8.2f} {r['vs_gcrotmk']:9.2f}")
        its = "" if r["iterations"] is None else r["iterations"]
        print(f"{r['family']:10} {r['n']:>6} {r['N']:>4} {r['pc']:18} {r['method']:20} "
              f"{r['seconds']:9.3f} {its:>9} {r['converged']:>8} {ratio}", flush=True)
        if "note" in r:
            print(f"{'':>42}{r['note']}")


#: Default preconditioner per family (the same for every iterative method of that family):
#: Jacobi where it converges; threshold ILU(drop_tol, fill_factor) for indefinite Helmholtz.
DEFAULT_PC = {"darcy": "jacobi", "helmholtz": "ilu", "poisson": "jacobi", "thermal": "jacobi"}
DEFAULT_PC_OPTIONS = {"helmholtz": {"drop_tol": 1e-3, "fill_factor": 5}}


def main(argv: list[str] | None = None) -> None:
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
    args = parser.parse_args(argv)
    if args.quick:
        args.count, args.grid, args.large_grid, args.large_count = 12, 24, 40, 6
    print(f"SKR benchmark: float64, rtol={args.rtol:g}, atol=0, maxiter={args.maxiter}, "
          f"seed={args.seed}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '-')}"
          f", {os.cpu_count()} CPU(s); times in seconds for the whole sequence")
    print(HEAD)
    print("-" * len(HEAD))
    cases = [(f, args.grid, args.count) for f in args.families]
    if args.large:
        cases.append((args.large, args.large_grid, args.large_count))
    for name, grid, count in cases:  # one family's rows as soon as they are measured
        _print(bench_family(name, grid, count, DEFAULT_PC[name],
                            DEFAULT_PC_OPTIONS.get(name, {}), args.rtol, args.maxiter,
                            args.seed, args.skr_restart))


if __name__ == "__main__":
    main()
