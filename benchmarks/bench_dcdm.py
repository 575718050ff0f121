"""DCDM against classical solvers on 3D and 2D Poisson: iterations and wall time.

One table: for each problem, DCDM (``method="dcdm"``), the DCDM network as preconditioner in
flexible CG (``method="fcg", pc="dcdm"``), CG, IC(0)-preconditioned CG and pyamg
smoothed-aggregation AMG-preconditioned CG. Every solver runs through ``solvers.Solver`` with
the same stopping rule, the true relative residual ``||b - A x|| / ||b|| <= 1e-6`` (checked by
the library on return), from ``x0 = 0``, on the same seeded random right-hand side. Setup
(network loading and jit compilation; IC factorisation; AMG hierarchy) is timed separately
from the solve. The same shipped weights serve every size: ``poisson3d`` for 32^3 ... 128^3,
``poisson2d`` for 256^2 ... 1024^2.

Usage::

    python benchmarks/bench_dcdm.py                      # 3D 32 64 128, 2D 256 512 1024
    python benchmarks/bench_dcdm.py --quick              # 3D 16 32, 2D 64 128 (a minute)
    python benchmarks/bench_dcdm.py --sizes3d 64 --sizes2d --out results/

Results are also written to ``<out>/bench_dcdm.json`` and ``.csv``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

import operators
from solvers import Solver

RTOL = 1e-6
METHODS = {
    "DCDM": {"method": "dcdm"},
    "FCG+DCDM-pc": {"method": "fcg", "pc": "dcdm"},
    "CG": {"method": "cg"},
    "IC(0)-PCG": {"method": "cg", "pc": "icc"},
    "SA-AMG-PCG": {"method": "cg", "pc": "amg"},
}


def run_one(problem: operators.Problem, b: np.ndarray, name: str, maxiter: int) -> dict:
    """Solve once with method ``name``; the record of one table row."""
    solver = Solver(rtol=RTOL, maxiter=maxiter, **METHODS[name])
    start = time.perf_counter()
    res = solver.solve(problem, b)
    wall = time.perf_counter() - start
    bnorm = float(np.linalg.norm(b))
    return {
        "problem": f"{problem.kind} {'x'.join(map(str, problem.shape))}",
        "n": problem.n, "method": name, "iterations": res.iterations,
        "setup_s": res.timings["setup"], "solve_s": res.timings["solve"], "wall_s": wall,
        "rel_residual": res.residual_norm / bnorm, "converged": bool(res.converged),
        "reason": str(res.reason),
    }


def table(rows: list[dict]) -> str:
    """Format the rows, with iteration and time ratios against CG on the same problem."""
    cg = {r["problem"]: r for r in rows if r["method"] == "CG"}
    head = (f"{'problem':<20} {'method':<12} {'iters':>6} {'setup s':>8} {'solve s':>8} "
            f"{'total s':>8} {'rel.res':>9} {'iters/CG':>8} {'total/CG':>8}")
    lines = [head, "-" * len(head)]
    last = None
    for r in rows:
        if last is not None and r["problem"] != last:
            lines.append("")
        last = r["problem"]
        ref = cg.get(r["problem"])
        total = r["setup_s"] + r["solve_s"]
        it_ratio = (f"{r['iterations'] / ref['iterations']:.3f}"
                    if ref and ref["iterations"] else "-")
        t_ratio = (f"{total / (ref['setup_s'] + ref['solve_s']):.3f}" if ref else "-")
        flag = "" if r["converged"] else f"  NOT CONVERGED ({r['reason']})"
        lines.append(
            f"{r['problem']:<20} {r['method']:<12} {r['iterations']:>6} {r['setup_s']:>8.2f} "
            f"{r['solve_s']:>8.2f} {total:>8.2f} {r['rel_residual']:>9.2e} {it_ratio:>8} "
            f"{t_ratio:>8}{flag}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes3d", nargs="*", type=int, default=[32, 64, 128])
    parser.add_argument("--sizes2d", nargs="*", type=int, default=[256, 512, 1024])
    parser.add_argument("--quick", action="store_true", help="3D 16 32 and 2D 64 128")
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seed", type=int, default=0, help="seed of the right-hand sides")
    parser.add_argument("--maxiter", type=int, default=20000)
    parser.add_argument("--out", type=Path, default=Path("sciml-out") / "bench-dcdm")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes3d, args.sizes2d = [16, 32], [64, 128]
    shapes = [(s,) * 3 for s in args.sizes3d] + [(s,) * 2 for s in args.sizes2d]
    rows: list[dict] = []
    bar = tqdm(total=len(shapes) * len(args.methods), desc="bench-dcdm")
    for shape in shapes:
        problem = operators.poisson(shape)
        b = np.random.default_rng(args.seed).standard_normal(problem.n)
        for name in args.methods:
            bar.set_postfix_str(f"{'x'.join(map(str, shape))} {name}")
            rows.append(run_one(problem, b, name, args.maxiter))
            bar.update()
    bar.close()
    text = table(rows)
    cpu = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    print(f"\nPoisson, Dirichlet, random rhs (seed {args.seed}), x0 = 0, stop at "
          f"||b - A x|| <= {RTOL:g} ||b|| (true residual); {cpu}\n")
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_dcdm.json").write_text(json.dumps(rows, indent=1) + "\n")
    with open(args.out / "bench_dcdm.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (args.out / "bench_dcdm.txt").write_text(text + "\n")
    print(f"\nwritten: {args.out}/bench_dcdm.(json|csv|txt)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
