r"""Matrix-free JAX CG against SciPy CG on the 3D Poisson problem, one table, one run.

For each ``N`` in ``--sizes`` (default 64 128): ``operators.poisson((N, N, N))`` (7-point
stencil, ``n = N^3``), ``b = 1``, ``x0 = 0``, float64, no preconditioner, the same stopping
rule ``||r|| <= rtol ||b||`` (``--rtol``, default 1e-8) and the same iteration cap
``--maxiter`` (default 200). Both methods run the same CG recurrence, so they take the same
iterations: at 64^3 CG converges (159 iterations), at 128^3 it needs more than 200 and both
stop at the cap. The fair comparison is the **time per iteration**; ``total`` is the time for
the iterations done. Pass ``--maxiter 2000`` to time full solves at 128^3 as well (a few
minutes on 2 cores).

Contenders, all measured in this run, on the device JAX uses (the header says which):

* ``scipy cg`` — ``scipy.sparse.linalg.cg`` on the assembled CSR matrix ``p.A`` (baseline);
* ``jax cg, stencil`` — ``solve(p, p.b, backend="jax", method="cg")``: the jitted
  ``lax.while_loop`` CG with the matrix-free stencil (:mod:`operators.stencils`, no matrix);
* ``jax cg, bcoo`` (``--bcoo``) — the same loop on the assembled matrix as a JAX ``BCOO``.

Times: JAX's first call compiles (``compile s``: tracing + XLA compilation, once per size),
then ``--repeat`` warm calls are timed by ``SolveResult.timings["solve"]`` (the device loop
until the result is ready; the warm call's setup, a cache lookup and input validation, is
excluded). SciPy's time is its whole ``cg`` call. Each time is the median of ``--repeat``
runs. ``vs scipy`` = SciPy's time per iteration / this one's (above 1: faster than SciPy).
SciPy's sparse matvec runs on one core; OpenBLAS (SciPy's inner products) is held to one
thread unless ``OPENBLAS_NUM_THREADS`` is set (on a loaded 2-core machine its threaded
``ddot`` was 10-100x slower than the serial one), and XLA's CPU backend uses its own thread
pool (``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` holds it to one thread).

Usage: ``python benchmarks/bench_jax.py [--sizes 64 128] [--rtol 1e-8] [--maxiter 200]
[--repeat 1] [--bcoo] [--out DIR]``; ``--out`` writes ``bench_jax.json`` and
``bench_jax.txt`` there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads: see the docstring

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # float64, like SciPy; before any jax array exists

import numpy as np  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402
from tqdm import tqdm  # noqa: E402

import operators  # noqa: E402
from solvers import Solver  # noqa: E402


@dataclass
class Row:
    """One line of the table."""

    size: int
    contender: str
    iterations: int
    seconds: float
    compile_seconds: float | None
    relative_residual: float

    @property
    def per_iteration(self) -> float:
        return self.seconds / max(self.iterations, 1)


def scipy_cg(p: operators.Problem, rtol: float, maxiter: int) -> tuple[int, float, float]:
    """``(iterations, seconds, ||b - A x|| / ||b||)`` of ``scipy.sparse.linalg.cg``."""
    count = [0]
    start = time.perf_counter()
    x, _ = spla.cg(p.A, p.b, rtol=rtol, atol=0.0, maxiter=maxiter,
                   callback=lambda xk: count.__setitem__(0, count[0] + 1))
    seconds = time.perf_counter() - start
    return count[0], seconds, float(np.linalg.norm(p.b - p.A @ x) / np.linalg.norm(p.b))


def jax_cg(p: operators.Problem, rtol: float, maxiter: int,
           matrix_free: bool) -> tuple[Callable[[], tuple[int, float, float]], float]:
    """A warm JAX CG run, and the compile time of the first call that compiled it."""
    solver = Solver("cg", backend="jax", rtol=rtol, maxiter=maxiter, matrix_free=matrix_free)
    first = solver.solve(p, p.b)

    def run() -> tuple[int, float, float]:
        res = solver.solve(p, p.b)
        return res.iterations, res.timings["solve"], res.residual_norm / float(
            np.linalg.norm(p.b))

    return run, first.timings.get("compile", 0.0)


def measure(size: int, name: str, run: Callable[[], tuple[int, float, float]], repeat: int,
            compile_seconds: float | None) -> Row:
    results = [run() for _ in range(repeat)]
    seconds = statistics.median(r[1] for r in results)
    iterations, _, residual = results[-1]
    return Row(size, name, iterations, seconds, compile_seconds, residual)


def table(rows: list[Row], header: str) -> str:
    lines = [header, f"{'N':>4} {'n':>9} {'contender':<17} {'iters':>6} {'ms/iter':>8} "
             f"{'total s':>8} {'compile s':>9} {'vs scipy':>8} {'||r||/||b||':>11}",
             "-" * 88]
    base = {r.size: r.per_iteration for r in rows if r.contender == "scipy cg"}
    for r in rows:
        compiled = "" if r.compile_seconds is None else f"{r.compile_seconds:.2f}"
        lines.append(f"{r.size:>4} {r.size**3:>9} {r.contender:<17} {r.iterations:>6} "
                     f"{1e3 * r.per_iteration:>8.2f} {r.seconds:>8.3f} {compiled:>9} "
                     f"{base[r.size] / r.per_iteration:>8.2f} {r.relative_residual:>11.2e}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--maxiter", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--bcoo", action="store_true", help="also time JAX CG on a BCOO matrix")
    parser.add_argument("--out", type=Path, default=None, help="directory for json/txt output")
    args = parser.parse_args()

    device = jax.devices()[0]
    header = (f"3D Poisson, CG without preconditioner, float64, rtol={args.rtol:g}, "
              f"maxiter={args.maxiter}; device: {device} ({device.platform}), jax "
              f"{jax.__version__}, {os.cpu_count()} CPU cores")
    contenders = ["scipy cg", "jax cg, stencil"] + (["jax cg, bcoo"] if args.bcoo else [])
    rows = []
    with tqdm(total=len(args.sizes) * len(contenders), desc="bench_jax") as bar:
        for size in args.sizes:
            p = operators.poisson((size, size, size))
            for name in contenders:
                bar.set_postfix_str(f"{size}^3 {name}")
                if name == "scipy cg":
                    rows.append(measure(size, name, lambda p=p: scipy_cg(p, args.rtol,
                                        args.maxiter), args.repeat, None))
                else:
                    run, compiled = jax_cg(p, args.rtol, args.maxiter,
                                           matrix_free=name.endswith("stencil"))
                    rows.append(measure(size, name, run, args.repeat, compiled))
                bar.update()
    text = table(rows, header)
    print("\n" + text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench_jax.txt").write_text(text + "\n")
        payload = {"header": header, "args": {k: str(v) for k, v in vars(args).items()},
                   "rows": [asdict(r) | {"per_iteration": r.per_iteration} for r in rows]}
        (args.out / "bench_jax.json").write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
