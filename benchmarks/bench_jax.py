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

Issue #20 adds three tables to the same run: CG + geometric multigrid (``pc="mg"``, JAX,
matrix-free) vs pyamg's SA-AMG-CG vs PETSc's GAMG-CG (serial) end to end on 3D Poisson
(``--mg-sizes``, default 32 64 128; goal: JAX <= 0.5x pyamg's time at 128^3, <= 15
iterations everywhere); the gradient ``d/dK sum(w x(K))`` of a 3D diffusion solve through
:func:`solvers.linear_solve` vs lineax's ``linear_solve`` with its CG (``--grad-size``,
default 32; goals: central finite differences to 1e-6, gradient <= 2x a forward solve,
<= 1.2x lineax's time; lineax is not a dependency, the table says so when it is missing);
and the time per iteration of FCG/BiCGStab/GMRES(30) over CG's at ``--krylov-size``
(default 64; goals 1.5x/2.5x/3x; BiCGStab does two matvecs per iteration).

Usage: ``python benchmarks/bench_jax.py [--sizes 64 128] [--rtol 1e-8] [--maxiter 200]
[--repeat 1] [--bcoo] [--mg-sizes 32 64 128] [--grad-size 32] [--krylov-size 64]
[--quick] [--out DIR]``; ``--quick`` is a smoke run on tiny grids; ``--out`` writes
``bench_jax.json`` and ``bench_jax.txt`` there.
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


# --- issue #20: multigrid, gradients, Krylov loop costs --------------------------------------


def _timed(run: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls of ``run`` (results made ready)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(run())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def multigrid_table(sizes: list[int], rtol: float, repeat: int) -> str:
    """CG + geometric MG (JAX, matrix-free) vs pyamg SA-AMG-CG vs PETSc GAMG-CG, end to end.

    ``first s``: the first call in this process (conversion, hierarchy, compilation, solve);
    ``warm s``: a later call of the same Solver on the same problem (hierarchy reused);
    pyamg and PETSc: setup + solve of one call (PETSc serial, its own CG and GAMG).
    """
    import pyamg

    lines = [f"3D Poisson, CG to rtol={rtol:g}, b = 1, float64, one process "
             f"({os.cpu_count()} cores shared)",
             f"{'N':>4} {'n':>9} {'contender':<22} {'iters':>5} {'first s':>8} {'warm s':>8} "
             f"{'vs pyamg':>8}", "-" * 72]
    for size in sizes:
        p = operators.poisson((size, size, size))
        rows = []
        start = time.perf_counter()
        ml = pyamg.smoothed_aggregation_solver(p.A)
        residuals: list[float] = []
        ml.solve(p.b, tol=rtol, accel="cg", residuals=residuals, maxiter=500)
        amg = time.perf_counter() - start
        rows.append(("pyamg SA-AMG-CG", len(residuals) - 1, amg, None))
        solver = Solver("cg", "mg", backend="jax", rtol=rtol)
        start = time.perf_counter()
        res = solver.solve(p, p.b)
        first = time.perf_counter() - start
        warm = _timed(lambda solver=solver, p=p: solver.solve(p, p.b).x, repeat)
        rows.append(("jax CG + mg", res.iterations, first, warm))
        try:
            petsc = Solver("cg", "amg", backend="petsc", rtol=rtol)
            start = time.perf_counter()
            pres = petsc.solve(p, p.b)
            rows.append(("petsc GAMG-CG", pres.iterations, time.perf_counter() - start, None))
        except Exception as exc:  # noqa: BLE001 -- PETSc is optional; the table says why
            rows.append((f"petsc: {type(exc).__name__}", 0, float("nan"), None))
        for name, iters, seconds, again in rows:
            warm_text = "" if again is None else f"{again:.3f}"
            lines.append(f"{size:>4} {size**3:>9} {name:<22} {iters:>5} {seconds:>8.3f} "
                         f"{warm_text:>8} {amg / seconds:>8.2f}")
    return "\n".join(lines)


def gradient_table(size: int, rtol: float, repeat: int) -> str:
    """d/dK of ``sum(w * x(K))`` for 3D diffusion: ours (CG, CG+MG) vs lineax's CG, and the
    central finite difference along a random direction."""
    import jax.numpy as jnp

    from operators.stencils import diffusion_stencil
    from solvers import linear_solve

    rng = np.random.default_rng(0)
    shape = (size,) * 3
    K = jnp.asarray(np.exp(0.5 * rng.standard_normal(shape)))
    b, w = (jnp.asarray(rng.standard_normal(size**3)) for _ in range(2))
    direction = jnp.asarray(rng.standard_normal(shape))

    def ours(pc: str | None) -> Callable:
        return jax.jit(lambda K: jnp.vdot(w, linear_solve(diffusion_stencil(K), b, pc=pc,
                                                           rtol=rtol, maxiter=5000).x))

    contenders = {"ours CG": ours(None), "ours CG + mg": ours("mg")}
    try:
        import lineax as lx

        def lineax_loss(K: jax.Array) -> jax.Array:
            A = lx.FunctionLinearOperator(diffusion_stencil(K), jax.eval_shape(lambda: b),
                                          tags=[lx.symmetric_tag, lx.positive_semidefinite_tag])
            solver = lx.CG(rtol=rtol, atol=0.0, norm=jnp.linalg.norm, max_steps=5000)
            return jnp.vdot(w, lx.linear_solve(A, b, solver, throw=False).value)

        contenders["lineax CG"] = jax.jit(lineax_loss)
        note = f"lineax {lx.__version__}"
    except ImportError:
        note = "lineax not installed (pip install lineax): its rows are missing"
    lines = [f"3D diffusion {size}^3 (lognormal K), d/dK sum(w x), rtol={rtol:g}, float64; "
             f"{note}",
             f"{'contender':<14} {'forward s':>9} {'grad s':>8} {'grad/fwd':>8} {'FD rel err':>10} "
             f"{'grad vs lineax':>14}", "-" * 70]
    base = None
    for name, loss in contenders.items():
        grad = jax.jit(jax.grad(loss))
        jax.block_until_ready((loss(K), grad(K)))  # compile both
        forward = _timed(lambda loss=loss: loss(K), repeat)
        backward = _timed(lambda grad=grad: grad(K), repeat)
        eps = 1e-5
        exact = float(jnp.vdot(grad(K), direction))
        fd = float((loss(K + eps * direction) - loss(K - eps * direction)) / (2 * eps))
        base = backward if name == "lineax CG" else base
        rows = (name, forward, backward, abs(exact - fd) / abs(fd))
        lines.append(rows)
    out = lines[:3]
    for name, forward, backward, err in lines[3:]:
        versus = "" if base is None else f"{backward / base:.2f}"
        out.append(f"{name:<14} {forward:>9.3f} {backward:>8.3f} {backward / forward:>8.2f} "
                   f"{err:>10.1e} {versus:>14}")
    return "\n".join(out)


def krylov_table(size: int, iterations: int, repeat: int) -> str:
    """Time per iteration of the JAX kernels at a fixed iteration count (rtol = 0), no pc."""
    import jax.numpy as jnp

    from operators.stencils import poisson_stencil
    from solvers.jaxkrylov import bicgstab, cg, fcg, gmres

    A = poisson_stencil((size,) * 3)
    b = jnp.ones(A.n)
    kernels = {"cg": (cg, {}, 1), "fcg": (fcg, {}, 1), "bicgstab": (bicgstab, {}, 2),
               "gmres(30)": (gmres, {"restart": 30}, 1)}
    best = {}
    runs = {}
    for name, (kernel, options, _) in kernels.items():
        runs[name] = jax.jit(lambda A, b, kernel=kernel, options=options: kernel(
            A, b, jnp.zeros_like(b), None, 0.0, 0.0, iterations, **options)[:2])
        jax.block_until_ready(runs[name](A, b))
        best[name] = float("inf")
    for _ in range(repeat):  # interleaved, best of: the machine is shared
        for name, run in runs.items():
            start = time.perf_counter()
            _, k = jax.block_until_ready(run(A, b))
            best[name] = min(best[name], (time.perf_counter() - start) / int(k))
    lines = [f"3D Poisson {size}^3 matrix-free, no pc, {iterations} iterations, float64, "
             f"best of {repeat} (interleaved)",
             f"{'kernel':<10} {'matvecs/it':>10} {'ms/iter':>8} {'vs cg':>6} {'goal':>5}",
             "-" * 44]
    goals = {"cg": "", "fcg": "1.5", "bicgstab": "2.5", "gmres(30)": "3"}
    for name, (_, _, matvecs) in kernels.items():
        lines.append(f"{name:<10} {matvecs:>10} {1e3 * best[name]:>8.2f} "
                     f"{best[name] / best['cg']:>6.2f} {goals[name]:>5}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--maxiter", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--bcoo", action="store_true", help="also time JAX CG on a BCOO matrix")
    parser.add_argument("--out", type=Path, default=None, help="directory for json/txt output")
    parser.add_argument("--mg-sizes", type=int, nargs="+", default=[32, 64, 128],
                        help="grids for the CG + multigrid vs pyamg/PETSc table")
    parser.add_argument("--grad-size", type=int, default=32, help="grid of the gradient table")
    parser.add_argument("--krylov-size", type=int, default=64, help="grid of the loop table")
    parser.add_argument("--quick", action="store_true", help="smoke run on tiny grids")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.mg_sizes, args.grad_size, args.krylov_size = [16], [16], 8, 16
        args.maxiter = 50

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
    text = "\n\n".join([table(rows, header),
                         multigrid_table(args.mg_sizes, args.rtol, args.repeat),
                         gradient_table(args.grad_size, min(args.rtol, 1e-10),
                                        max(args.repeat, 3)),
                         krylov_table(args.krylov_size, 30, max(args.repeat, 5))])
    print("\n" + text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench_jax.txt").write_text(text + "\n")
        payload = {"header": header, "args": {k: str(v) for k, v in vars(args).items()},
                   "rows": [asdict(r) | {"per_iteration": r.per_iteration} for r in rows]}
        (args.out / "bench_jax.json").write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
