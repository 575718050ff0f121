"""Overhead of the library's SciPy layer against calling SciPy/pyamg directly.

(a) ``solve(A, b, method="cg", pc="none")`` vs ``scipy.sparse.linalg.cg`` on 2D Poisson 512^2,
    same stopping rule ``||r|| <= rtol ||b||``: iterations and time, ratio.
(b) ``solve(A, b)`` (method="auto": AMG-preconditioned CG) vs pyamg on the same problem:
    ``pyamg.solve`` (black box) and ``smoothed_aggregation_solver(A).solve(accel="cg")``,
    setup included, ratio.

Each timing is the median of ``--repeat`` runs, alternating the contenders so that machine
noise hits both alike. Usage: ``python benchmarks/bench_scipy_layer.py [--n 512]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import pyamg
import scipy.sparse.linalg as spla
from tqdm import tqdm

import operators
from solvers import solve


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    iterations = fn()
    return time.perf_counter() - start, iterations


def compare(contenders: dict[str, Callable[[], int]], repeat: int) -> dict[str, tuple]:
    times: dict[str, list[float]] = {name: [] for name in contenders}
    iters: dict[str, int] = {}
    for _ in tqdm(range(repeat), desc="repeats", leave=False):
        for name, fn in contenders.items():
            t, it = timed(fn)
            times[name].append(t)
            iters[name] = it
    return {name: (statistics.median(times[name]), iters[name]) for name in contenders}


def scipy_cg(A, b, rtol: float) -> int:
    count = [0]
    x, info = spla.cg(A, b, rtol=rtol, atol=0.0, maxiter=100_000,
                      callback=lambda xk: count.__setitem__(0, count[0] + 1))
    assert info == 0
    return count[0]


def ours(A, b, rtol: float, **kwargs) -> int:
    res = solve(A, b, rtol=rtol, **kwargs)
    assert res.converged, res
    return res.iterations


def pyamg_blackbox(A, b, rtol: float) -> int:
    residuals: list[float] = []
    pyamg.solve(A, b, tol=rtol, residuals=residuals, verb=False)
    return len(residuals) - 1


def pyamg_sa(A, b, rtol: float) -> int:
    residuals: list[float] = []
    ml = pyamg.smoothed_aggregation_solver(A)
    ml.solve(b, tol=rtol, accel="cg", residuals=residuals, maxiter=1000)
    return len(residuals) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=512, help="grid size per axis (2D Poisson)")
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    p = operators.poisson((args.n, args.n))
    A, b = p.A, p.b
    rows = []
    cg = compare({"scipy.sparse.linalg.cg": lambda: scipy_cg(A, b, args.rtol),
                  "solve(method='cg', pc='none')": lambda: ours(A, b, args.rtol, method="cg",
                                                                pc="none")}, args.repeat)
    rows.append(("(a) CG, no preconditioner", cg, "scipy.sparse.linalg.cg"))
    amg = compare({"pyamg.smoothed_aggregation_solver + cg": lambda: pyamg_sa(A, b, args.rtol),
                   "pyamg.solve (black box)": lambda: pyamg_blackbox(A, b, args.rtol),
                   "solve(A, b)  [auto]": lambda: ours(A, b, args.rtol)}, args.repeat)
    rows.append(("(b) AMG-PCG incl. setup", amg, "pyamg.smoothed_aggregation_solver + cg"))
    print(f"\n2D Poisson {args.n}^2 (n = {p.n}), rtol = {args.rtol:g}, "
          f"median of {args.repeat} runs")
    print(f"{'case':<28} {'contender':<42} {'iters':>6} {'time s':>8} {'ratio':>7}")
    print("-" * 95)
    for title, results, baseline in rows:
        base = results[baseline][0]
        for name, (t, it) in results.items():
            print(f"{title:<28} {name:<42} {it:>6} {t:>8.3f} {t / base:>7.3f}")
        title = ""


if __name__ == "__main__":
    main()
