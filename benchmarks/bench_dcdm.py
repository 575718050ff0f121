"""DCDM (trained) against its untrained hierarchy and classical solvers, second process.

Rows, per problem (3D Poisson 64^3 and 128^3, 2D Poisson 256^2 ... 1024^2 by default;
``--problems diffusion`` adds log-normal diffusion on the same sizes, where ``DCDM trained``
is ``diffusion2d``/``diffusion3d``):

- ``DCDM trained``: ``method="dcdm"`` with the shipped weights (``poisson3d``/``poisson2d``);
- ``DCDM fixed``: the same network class with no learned content (``model="fixed"``,
  :func:`sciml.dcdm.model.fixed_hierarchy`): the baseline training must beat;
- ``DCDM paper``: the paper's nonlinear ReLU CNN (``model="paper-poisson2d"``,
  :mod:`sciml.dcdm.paper_net`, trained on 64^2), 2D problems only: there is no 3D paper
  model, so the row is skipped on 3D grids (it would take ~10 16-channel 3^3 convolutions
  of the whole grid per iteration: tens of seconds each at 128^3 on this CPU);
- ``CG``, ``IC(0)-PCG`` (``pc="icc"``) and ``SA-AMG-PCG`` (``pc="amg"``, pyamg smoothed
  aggregation): the classical solvers a user would otherwise pick.

Every run happens in its own fresh Python process (``--worker``), twice for each DCDM row:
the first fills JAX's persistent compilation cache, the second is the one reported, so
``setup`` is what a user's *second* process pays (network loading, stencil, loading the
compiled programs). Imports (NumPy/SciPy/pyamg, JAX) are done before the clock starts and
reported in their own column. Same stopping rule everywhere: true relative residual
``||b - A x|| / ||b|| <= 1e-6`` (checked by the library on return), ``x0 = 0``, one seeded
random right-hand side. Float64 vectors (DCDM's network in float32), all CPUs of the machine
(XLA's and BLAS's default threading).

Goals of issue #22: trained >= 1.5x fewer iterations than fixed at every size; DCDM's
end-to-end time <= pyamg's at 64^3, 128^3 and from 512^2 on. The table prints the ratios.

Usage::

    python benchmarks/bench_dcdm.py                    # 3D 64 128, 2D 256 512 1024
    python benchmarks/bench_dcdm.py --quick            # 3D 16 32, 2D 64 128 (smoke run)
    python benchmarks/bench_dcdm.py --sizes3d 64 --sizes2d --out results/
    python benchmarks/bench_dcdm.py --problems poisson diffusion   # + log-normal diffusion

Results are also written to ``<out>/bench_dcdm.json`` and ``.txt``, and row by row to
``<out>/bench_dcdm.jsonl`` while the run goes on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm.auto import tqdm

RTOL = 1e-6
METHODS = {
    "DCDM trained": {"method": "dcdm"},
    "DCDM fixed": {"method": "dcdm", "model": "fixed"},
    "DCDM paper": {"method": "dcdm", "model": "paper-poisson2d"},
    "CG": {"method": "cg"},
    "IC(0)-PCG": {"method": "cg", "pc": "icc"},
    "SA-AMG-PCG": {"method": "cg", "pc": "amg"},
}
#: Grid dimensions a row runs on (default both): the paper's network exists for 2D only.
DIMENSIONS = {"DCDM paper": (2,)}


#: ``--problems``: Poisson, or ``-div(K grad u)`` with a log-normal ``K`` (the
#: ``diffusion2d``/``diffusion3d`` training family: correlation length 0.1, variance 1, harmonic
#: faces) drawn with :data:`FIELD_SEED`.
PROBLEMS = ("poisson", "diffusion")
FIELD_SEED = 5


def make_problem(kind: str, shape: tuple[int, ...]):  # noqa: ANN201  (operators.Problem)
    """The benchmark problem ``kind`` (one of :data:`PROBLEMS`) on ``shape``."""
    import operators

    if kind == "poisson":
        return operators.poisson(shape)
    field = operators.lognormal_coefficient(shape, seed=FIELD_SEED, length_scale=0.1,
                                            variance=1.0)
    return operators.diffusion(field)


def worker(shape: tuple[int, ...], name: str, seed: int, maxiter: int,
           kind: str = "poisson") -> dict:
    """One solve in this (fresh) process; imports are timed apart from setup and solve."""
    start = time.perf_counter()
    import numpy as np
    import pyamg  # noqa: F401  (imported before the clock, like JAX below)

    import operators  # noqa: F401  (ditto)
    from solvers import Solver, registry
    if name.startswith("DCDM"):
        registry.lookup("dcdm", "method")  # imports JAX and the DCDM package
    imports = time.perf_counter() - start
    problem = make_problem(kind, shape)
    b = np.random.default_rng(seed).standard_normal(problem.n)
    solver = Solver(rtol=RTOL, maxiter=maxiter, **METHODS[name])
    start = time.perf_counter()
    res = solver.solve(problem, b)
    wall = time.perf_counter() - start
    return {"problem": f"{kind} {'x'.join(map(str, shape))}", "n": problem.n, "method": name,
            "iterations": res.iterations, "import_s": imports,
            "setup_s": res.timings["setup"], "solve_s": res.timings["solve"], "total_s": wall,
            "rel_residual": res.residual_norm / float(np.linalg.norm(b)),
            "converged": bool(res.converged), "reason": str(res.reason),
            "model": res.info.get("model")}


def run_in_process(shape: tuple[int, ...], name: str, seed: int, maxiter: int,
                   cache: str, kind: str = "poisson") -> dict:
    """Run :func:`worker` in a new interpreter (sharing the compilation cache ``cache``)."""
    command = [sys.executable, __file__, "--worker", name, "--shape", *map(str, shape),
               "--seed", str(seed), "--maxiter", str(maxiter), "--problems", kind]
    env = dict(os.environ, SCIML_JAX_CACHE_DIR=cache)
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        raise RuntimeError(f"worker {name} {shape} failed:\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def table(rows: list[dict]) -> str:
    """The rows, with iterations against the fixed hierarchy and time against pyamg."""
    by = {(r["problem"], r["method"]): r for r in rows}
    head = (f"{'problem':<20} {'method':<13} {'iters':>6} {'import s':>8} {'setup s':>8} "
            f"{'solve s':>8} {'total s':>8} {'rel.res':>9} {'fixed/it':>8} {'tot/AMG':>8}")
    lines = [head, "-" * len(head)]
    last = None
    for r in rows:
        if last is not None and r["problem"] != last:
            lines.append("")
        last = r["problem"]
        fixed = by.get((r["problem"], "DCDM fixed"))
        amg = by.get((r["problem"], "SA-AMG-PCG"))
        gain = (f"{fixed['iterations'] / r['iterations']:.2f}"
                if fixed and r["iterations"] and r["method"].startswith("DCDM") else "-")
        versus = f"{r['total_s'] / amg['total_s']:.2f}" if amg else "-"
        flag = "" if r["converged"] else f"  NOT CONVERGED ({r['reason']})"
        lines.append(
            f"{r['problem']:<20} {r['method']:<13} {r['iterations']:>6} {r['import_s']:>8.2f} "
            f"{r['setup_s']:>8.2f} {r['solve_s']:>8.2f} {r['total_s']:>8.2f} "
            f"{r['rel_residual']:>9.2e} {gain:>8} {versus:>8}{flag}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes3d", nargs="*", type=int, default=[64, 128])
    parser.add_argument("--sizes2d", nargs="*", type=int, default=[256, 512, 1024])
    parser.add_argument("--quick", action="store_true", help="3D 16 32 and 2D 64 128")
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--problems", nargs="*", default=["poisson"], choices=PROBLEMS,
                        help="poisson and/or diffusion (log-normal K, field seed "
                             f"{FIELD_SEED}), each on every size")
    parser.add_argument("--seed", type=int, default=0, help="seed of the right-hand sides")
    parser.add_argument("--maxiter", type=int, default=20000)
    parser.add_argument("--out", type=Path, default=Path("sciml-out") / "bench-dcdm")
    parser.add_argument("--worker", choices=list(METHODS), help=argparse.SUPPRESS)
    parser.add_argument("--shape", nargs="*", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(tuple(args.shape), args.worker, args.seed, args.maxiter,
                                args.problems[0])))
        return 0
    if args.quick:
        args.sizes3d, args.sizes2d = [16, 32], [64, 128]
    shapes = [(kind, (s,) * 3) for kind in args.problems for s in args.sizes3d] + \
        [(kind, (s,) * 2) for kind in args.problems for s in args.sizes2d]
    rows: list[dict] = []
    args.out.mkdir(parents=True, exist_ok=True)
    partial = args.out / "bench_dcdm.jsonl"  # one line per finished row, for long runs
    partial.write_text("")
    cache = tempfile.mkdtemp(prefix="bench-dcdm-jax-cache-")
    bar = tqdm(total=len(shapes) * len(args.methods), desc="bench-dcdm")
    for kind, shape in shapes:
        for name in args.methods:
            if len(shape) not in DIMENSIONS.get(name, (2, 3)):
                bar.update()
                continue
            bar.set_postfix_str(f"{kind} {'x'.join(map(str, shape))} {name}")
            if name.startswith("DCDM"):  # first process fills the compilation cache
                run_in_process(shape, name, args.seed, args.maxiter, cache, kind)
            rows.append(run_in_process(shape, name, args.seed, args.maxiter, cache, kind))
            with open(partial, "a") as f:
                f.write(json.dumps(rows[-1]) + "\n")
            bar.update()
    bar.close()
    text = table(rows)
    cpu = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    print(f"\n{' and '.join(args.problems)} (Dirichlet; diffusion: log-normal K, l = 0.1, "
          f"variance 1, field seed {FIELD_SEED}), float64 (DCDM network float32), random rhs (seed "
          f"{args.seed}), x0 = 0, stop at ||b - A x|| <= {RTOL:g} ||b|| (true residual); "
          f"{cpu}, default threading; each row a fresh process, DCDM rows the second one "
          f"(compilation cache warm)\n")
    print(text)
    (args.out / "bench_dcdm.json").write_text(json.dumps(rows, indent=1) + "\n")
    (args.out / "bench_dcdm.txt").write_text(text + "\n")
    print(f"\nwritten: {args.out}/bench_dcdm.(json|txt)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
