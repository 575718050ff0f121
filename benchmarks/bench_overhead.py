"""Per-call cost of ``solve()`` and ``Solver.solve`` against SciPy on small systems.

A simulation code that solves many small systems pays the library's fixed cost every step.
This table compares, in the same run (ratios; the machine is noisy):

- ``solve(A, b)`` (``auto``: sparse LU for these sizes) with ``scipy.sparse.linalg.spsolve``;
- ``Solver(method="cg").solve(A, b)`` (one Solver, called repeatedly on the same matrix) with
  ``scipy.sparse.linalg.cg`` at the same ``rtol`` (both run the same number of iterations);
- the fixed cost of a cached ``Solver``: its ``solve`` minus our CG loop run bare on the
  validated system (what the library adds around the method; where CG's recurrence drifts
  from the true residual, as on the 1D matrix at n = 1,000, it includes the refinement
  restart that makes the float64 verdict pass, which SciPy's ``cg`` does not do).

Operators: 1D tridiagonal ``[-1, 2, -1]`` and 2D 5-point Poisson, n = 100, 1,000, 10,000,
float64, one thread (``OPENBLAS_NUM_THREADS=1`` is set below before NumPy loads). Each figure
is the best of ``--repeats`` medians of ``--number`` calls.

Goals (issue 27): ``solve()`` <= 1.2x ``spsolve`` and ``Solver.solve(method="cg")`` <= 1.2x
SciPy's ``cg`` at every size; fixed cost <= 50 us per call.

Usage: ``python benchmarks/bench_overhead.py [--repeats 5] [--number 200] [--sizes 100 1000]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

from solvers import Solver, solve  # noqa: E402
from solvers.krylov.cg import CG  # noqa: E402
from solvers.stopping import StoppingRule  # noqa: E402
from solvers.system import as_system  # noqa: E402

RTOL = 1e-8


def tridiagonal(n: int) -> sp.csr_matrix:
    return sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n), format="csr")


def poisson2d(n: int) -> sp.csr_matrix:
    m = int(round(np.sqrt(n)))
    T = tridiagonal(m)
    identity = sp.identity(m, format="csr")
    return (sp.kron(identity, T) + sp.kron(T, identity)).tocsr()


def seconds(call: Callable[[], object], number: int, repeats: int) -> float:
    """Best of ``repeats`` medians of ``number`` timed calls (seconds per call)."""
    best = np.inf
    for _ in range(repeats):
        samples = []
        for _ in range(number):
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
        best = min(best, statistics.median(samples))
    return best


def row(name: str, A: sp.csr_matrix, number: int, repeats: int) -> dict[str, float]:
    """The timings of one operator."""
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    solver = Solver(method="cg", rtol=RTOL)
    system = as_system(A, b)
    stop = StoppingRule(RTOL)
    cg_iterations = solver.solve(A, b).iterations
    few = max(3, number // max(1, A.shape[0] // 100))
    return {
        "spsolve": seconds(lambda: spla.spsolve(A, b), few, repeats),
        "solve": seconds(lambda: solve(A, b), few, repeats),
        "scipy_cg": seconds(lambda: spla.cg(A, b, rtol=RTOL, maxiter=10 * A.shape[0]), few,
                            repeats),
        "solver_cg": seconds(lambda: solver.solve(A, b), few, repeats),
        "bare_cg": seconds(lambda: CG().solve(system, system.b, None, None, stop), few,
                           repeats),
        "iterations": cg_iterations,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000],
                        help="numbers of unknowns (default: 100 1000 10000)")
    parser.add_argument("--number", type=int, default=200,
                        help="calls per median at n=100, fewer for larger n (default: 200)")
    parser.add_argument("--repeats", type=int, default=5, help="medians taken (default: 5)")
    args = parser.parse_args()
    header = (f"{'operator':<12}{'n':>7}{'spsolve':>10}{'solve()':>10}{'ratio':>7}"
              f"{'scipy cg':>10}{'Solver cg':>11}{'ratio':>7}{'its':>7}{'fixed us':>10}")
    print("times in microseconds per call; float64, 1 thread; rtol=1e-8 for CG")
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        for name, make in (("tridiagonal", tridiagonal), ("poisson2d", poisson2d)):
            A = make(n)
            t = row(name, A, args.number, args.repeats)
            us = {k: v * 1e6 for k, v in t.items() if k != "iterations"}
            print(f"{name:<12}{A.shape[0]:>7}{us['spsolve']:>10.1f}{us['solve']:>10.1f}"
                  f"{us['solve'] / us['spsolve']:>7.2f}{us['scipy_cg']:>10.1f}"
                  f"{us['solver_cg']:>11.1f}{us['solver_cg'] / us['scipy_cg']:>7.2f}"
                  f"{t['iterations']:>7}{us['solver_cg'] - us['bare_cg']:>10.1f}")


if __name__ == "__main__":
    main()
