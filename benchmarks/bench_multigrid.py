r"""Black-box multigrid (issue 28): CG + MG (rediscretised and black-box coarse levels)
against pyamg, PETSc GAMG and DCDM, on smooth and sharp high-contrast coefficients, 2D and 3D.

Rows, per case and grid (``--cases``, ``--sizes2d``, ``--sizes3d``):

- ``MG rediscretise``: ``solve(p, p.b, method="cg", pc="mg", backend="jax",
  coarsening="rediscretise")``: cell-centred linear interpolation, face-averaged coarse
  stencils (the MG before issue 28);
- ``MG black-box``: the same with ``coarsening="galerkin"`` (the default):
  operator-dependent interpolation and ``P^T A P`` (:mod:`solvers.multigrid.blackbox`);
- ``pyamg SA-CG``: ``method="cg", pc="amg"`` (pyamg smoothed aggregation, host);
- ``PETSc GAMG-CG``: ``method="cg", pc="amg", backend="petsc"`` (serial);
- ``DCDM trained`` / ``DCDM fixed``: ``method="dcdm"`` with the shipped model of the
  problem's kind (``diffusion2d``/``diffusion3d``, ``poisson2d``/``poisson3d``) and with
  ``model="fixed"`` (the untrained hierarchy), capped at ``--dcdm-maxiter``;
- ``DCDM-MG trained`` / ``DCDM-MG fixed``: ``method="dcdm"`` with the learned multigrid
  prolongation ``model="contrast2d"`` (:mod:`sciml.dcdm.learned_prolongation`, 2D only;
  trained on inclusions, channels, boxes and cracks of other seeds, 32^2 and 64^2) and with
  ``model="fixed-mg"``, the same V-cycle with black-box weights (the network removed).

Cases: ``poisson``; ``lognormal`` (log-normal K, variance 1.5, length scale 0.15, seed
1000); ``disk-1e2``, ``disk-1e4`` (a centred disk/ball of that contrast);
``checker-1e4`` (8x8 checkerboard in 2D, 4^3 in 3D); ``channels-1e4`` (random sinusoidal
channels, seed 1001); ``inclusions-1e4`` / ``inclusions-1e-4`` (12 random conducting /
insulating disks, seed 1002); ``cracks-1e4`` / ``cracks-1e-4`` (8 random thin segments at
any angle, seed 1003; the learned prolongation trained on other seeds); ``tiles-1e4`` (a
checkerboard of random tile sizes, seed 1004: thin tiles and cross points anywhere) -- all from
:mod:`operators.contrast` and :mod:`operators.fields`. One seeded random right-hand side,
``x0 = 0``, float64, the same stopping rule ``||b - A x|| <= rtol ||b||`` (``--rtol``,
default 1e-8; the library's float64 verdict).

Every case runs in fresh worker processes, twice: the first process compiles (``cold s``:
its first call, compilation included) and fills JAX's persistent compilation cache; the
second (``2nd-proc s``: the first call of a second process, imports excluded) is what a
user pays in a new process (with ``--isolate`` each contender runs in its own processes;
otherwise they share them, and the first JAX contender of a process pays JAX's start-up for
the others). ``warm s``: then a new Solver on the same problem in that process
(setup -- hierarchy, AMG, GAMG -- built again; imports and compiled programs warm);
``rep s``: a second call of the first Solver (setup kept: the solve alone). Ratios against
pyamg's figure of the same kind in the same run. Header: load average and thread settings.

The 3D Poisson line at the largest ``--sizes3d`` adds the memory-traffic bound of one CG +
black-box MG iteration: the bytes a V-cycle and the CG update must move at least (each
vector pass of the cycle and the update once, every stencil, coefficient and interpolation
array once per use; :func:`traffic_bytes`) divided by the bandwidth of a fused triad
``a = b + s c`` on 2^24 float64s measured in the same process.

Usage::

    python benchmarks/bench_multigrid.py --quick        # 64^2 and 16^3, three cases
    flock /tmp/bench.lock python benchmarks/bench_multigrid.py --out results/
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CONTENDERS: dict[str, dict[str, Any]] = {
    "MG rediscretise": {"method": "cg", "pc": "mg", "backend": "jax",
                        "coarsening": "rediscretise"},
    "MG black-box": {"method": "cg", "pc": "mg", "backend": "jax", "coarsening": "galerkin"},
    "pyamg SA-CG": {"method": "cg", "pc": "amg"},
    "PETSc GAMG-CG": {"method": "cg", "pc": "amg", "backend": "petsc"},
    "DCDM trained": {"method": "dcdm"},
    "DCDM fixed": {"method": "dcdm", "model": "fixed"},
    "DCDM-MG trained": {"method": "dcdm", "model": "contrast2d"},
    "DCDM-MG fixed": {"method": "dcdm", "model": "fixed-mg"},
}
CASES = ("poisson", "lognormal", "disk-1e2", "disk-1e4", "checker-1e4", "channels-1e4",
         "inclusions-1e4", "inclusions-1e-4", "cracks-1e4", "cracks-1e-4", "tiles-1e4")


def coefficient(case: str, shape: tuple[int, ...]) -> Any:
    """The coefficient of ``case`` on ``shape`` (None for Poisson)."""
    from operators import contrast, lognormal_coefficient

    name, _, value = case.partition("-")
    high = float(value) if value else 1.0
    if name == "poisson":
        return None
    if name == "lognormal":
        return lognormal_coefficient(shape, seed=1000, variance=1.5, length_scale=0.15)
    if name == "disk":
        return contrast.disk(shape, high)
    if name == "checker":
        return contrast.checkerboard(shape, high, 8 if len(shape) == 2 else 4)
    if name == "channels":
        return contrast.channels(shape, high, seed=1001)
    if name == "inclusions":
        return contrast.inclusions(shape, high, seed=1002)
    if name == "cracks":
        return contrast.cracks(shape, high, seed=1003)
    if name == "tiles":
        return contrast.tiles(shape, high, seed=1004)
    raise ValueError(f"unknown case {case!r}; cases: {', '.join(CASES)}")


def problem(case: str, shape: tuple[int, ...]) -> Any:
    import operators

    K = coefficient(case, shape)
    return operators.poisson(shape) if K is None else operators.diffusion(K)


def traffic_bytes(M: Any, n: int, itemsize: int = 8) -> float:
    """Least bytes one CG + V-cycle iteration moves (see the module docstring).

    Vector passes: CG's update 11 (``A p``: read, write; ``x``, ``r``, ``p`` updates: 3
    each), and per level of ``m`` unknowns 17 (degree-2 Chebyshev before and after, the
    residual, restriction and prolongation, each read or write of a grid array once).
    Operator arrays: every leaf of a level's stencil read 4 times a cycle (the fine one once
    more by CG), every interpolation array twice (prolong, restrict), the smoother's
    diagonal 4 times.
    """
    import jax
    import numpy as np

    total = 11 * n * itemsize
    for level, A in enumerate(M.stencils):
        m = int(np.prod(A.shape))
        arrays = sum(leaf.size for leaf in jax.tree_util.tree_leaves(A))
        total += (17 * m + (4 + (level == 0)) * arrays
                  + 4 * M.inverse_diagonals[level].size) * itemsize
    for P in M.transfers:
        total += 2 * sum(leaf.size for leaf in jax.tree_util.tree_leaves(P)) * itemsize
    return float(total)


def triad_bandwidth() -> float:
    """Bytes per second of a jitted ``a = b + s c`` on 2^24 float64s (best of 5)."""
    import jax
    import jax.numpy as jnp

    n = 2**24
    b, c = jnp.ones(n), jnp.full(n, 2.0)
    triad = jax.jit(lambda b, c: b + 3.0 * c)
    triad(b, c).block_until_ready()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        triad(b, c).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return 3 * n * 8 / best


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run every contender of one case in this process; timings exclude imports."""
    import jax
    import numpy as np

    jax.config.update("jax_enable_x64", True)
    import pyamg  # noqa: F401 -- imported before the clock

    from solvers import Solver, registry

    registry.names()  # the plugins' modules (DCDM's among them) too: imports are not timed
    importlib.import_module("solvers.backends.jax")

    shape = tuple(spec["shape"])
    p = problem(spec["case"], shape)
    b = np.random.default_rng(7).standard_normal(p.n)
    out: dict[str, Any] = {"rows": {}}
    for name in spec["contenders"]:
        options = dict(CONTENDERS[name])
        method, pc = options.pop("method"), options.pop("pc", None)
        if method == "dcdm":
            options["maxiter"] = spec["dcdm_maxiter"]
        try:
            solver = Solver(method, pc, rtol=spec["rtol"], **options)
            start = time.perf_counter()
            res = solver.solve(p, b)
            first = time.perf_counter() - start
            start = time.perf_counter()
            Solver(method, pc, rtol=spec["rtol"], **options).solve(p, b)
            warm = time.perf_counter() - start
            start = time.perf_counter()
            solver.solve(p, b)
            repeat = time.perf_counter() - start
            row = {"iterations": res.iterations, "converged": bool(res.converged),
                   "reason": str(res.reason), "first": first, "warm": warm, "repeat": repeat}
            if spec.get("triad") and name == "MG black-box":
                M = _hierarchy(p)
                row["traffic"] = traffic_bytes(M, p.n)
                row["bandwidth"] = triad_bandwidth()
        except Exception as exc:  # noqa: BLE001 -- an optional backend or model is missing
            row = {"error": f"{type(exc).__name__}: {str(exc)[:80]}"}
        out["rows"][name] = row
    return out


def _hierarchy(p: Any) -> Any:
    import jax

    from operators.stencils import stencil
    from solvers.multigrid import multigrid

    with jax.enable_x64(True):
        return jax.jit(multigrid)(stencil(p))


def run_case(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The case in two fresh processes: (first process, second process)."""
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    results = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                              capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": path})
        if proc.returncode:
            raise RuntimeError(f"worker failed for {spec}:\n{proc.stderr[-2000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return results[0], results[1]


def run_isolated(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`run_case` for each contender alone: its second process pays its own first
    JAX (or PETSc) costs instead of sharing them with the contenders before it."""
    cold: dict[str, Any] = {"rows": {}}
    second: dict[str, Any] = {"rows": {}}
    for name in spec["contenders"]:
        first, again = run_case({**spec, "contenders": [name]})
        cold["rows"].update(first["rows"])
        second["rows"].update(again["rows"])
    return cold, second


def _fmt(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def table(args: argparse.Namespace) -> str:
    header = (f"CG to rtol={args.rtol:g}, float64, random b (seed 7), x0 = 0; threads: "
              f"OMP={os.environ.get('OMP_NUM_THREADS', 'default')} "
              f"XLA_FLAGS={os.environ.get('XLA_FLAGS', 'default')!r}; "
              f"load average {tuple(round(x, 1) for x in os.getloadavg())}; "
              f"{os.cpu_count()} CPUs")
    lines = [header,
             f"{'case':<16} {'grid':>9} {'contender':<16} {'iters':>5} {'conv':>4} "
             f"{'cold s':>7} {'2nd-proc s':>10} {'warm s':>7} {'rep s':>7} {'it/amg':>6} "
             f"{'2nd/amg':>7} {'warm/amg':>8}", "-" * 112]
    grids = [(n, n) for n in args.sizes2d] + [(n, n, n) for n in args.sizes3d]
    triad_line = None
    for shape in grids:
        for case in args.cases:
            triad = case == "poisson" and len(shape) == 3 and shape[0] == max(args.sizes3d)
            spec = {"case": case, "shape": shape, "rtol": args.rtol,
                    "contenders": args.contenders, "dcdm_maxiter": args.dcdm_maxiter,
                    "triad": triad}
            cold, second = run_isolated(spec) if args.isolate else run_case(spec)
            amg = second["rows"].get("pyamg SA-CG", {})
            for name in args.contenders:
                row, first_row = second["rows"][name], cold["rows"][name]
                grid = "x".join(map(str, shape))
                if "error" in row:
                    lines.append(f"{case:<16} {grid:>9} {name:<16} {row['error']}")
                    continue
                it_ratio = (row["iterations"] / amg["iterations"]
                            if amg.get("iterations") else None)
                t_ratio = row["first"] / amg["first"] if amg.get("first") else None
                w_ratio = row["warm"] / amg["warm"] if amg.get("warm") else None
                lines.append(
                    f"{case:<16} {grid:>9} {name:<16} {row['iterations']:>5} "
                    f"{'yes' if row['converged'] else 'NO':>4} {_fmt(first_row.get('first')):>7} "
                    f"{_fmt(row['first']):>10} {_fmt(row['warm']):>7} {_fmt(row['repeat']):>7} "
                    f"{_fmt(it_ratio, 2):>6} "
                    f"{_fmt(t_ratio, 2):>7} {_fmt(w_ratio, 2):>8}")
                if "traffic" in row and row["iterations"]:
                    per_iteration = row["repeat"] / row["iterations"]
                    bound = row["traffic"] / row["bandwidth"]
                    triad_line = (
                        f"3D Poisson {grid}: one CG + black-box MG iteration {per_iteration:.4f} s "
                        f"(solve {row['repeat']:.3f} s / {row['iterations']} it); traffic "
                        f"{row['traffic'] / 1e6:.0f} MB at triad bandwidth "
                        f"{row['bandwidth'] / 1e9:.2f} GB/s = bound {bound:.4f} s; ratio "
                        f"{per_iteration / bound:.1f}x (goal <= 3x)")
            print("\n".join(lines[-len(args.contenders):]), flush=True)
    if triad_line:
        lines.append(triad_line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--sizes2d", nargs="*", type=int, default=[128, 256])
    parser.add_argument("--sizes3d", nargs="*", type=int, default=[32, 64])
    parser.add_argument("--contenders", nargs="+", default=list(CONTENDERS),
                        choices=list(CONTENDERS))
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--dcdm-maxiter", type=int, default=200)
    parser.add_argument("--quick", action="store_true",
                        help="64^2 and 16^3; poisson, checker-1e4, inclusions-1e4")
    parser.add_argument("--isolate", action="store_true",
                        help="each contender in its own processes (2nd-proc s then includes "
                             "the process's first JAX/PETSc costs for every contender)")
    parser.add_argument("--out", type=Path, help="directory for bench_multigrid.txt")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if args.quick:
        args.sizes2d, args.sizes3d = [64], [16]
        args.cases = ["poisson", "checker-1e4", "inclusions-1e4"]
    text = table(args)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench_multigrid.txt").write_text(text + "\n")


if __name__ == "__main__":
    main()
