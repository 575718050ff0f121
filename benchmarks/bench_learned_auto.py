r"""Learned solver selection (``Solver(learn=True)``) against fixed configurations and ``auto``.

Four seeded sequences of systems (host backend, float64, ``rtol=1e-8``, the thread count in
the header):

* ``heat``: backward Euler for the heat equation on the ``--grid``\ :sup:`2` grid,
  ``(I + dt_t L) u^t = u^{t-1}``, the step size ``dt_t`` redrawn every ``--hold`` steps
  (log-uniform in [1e-4, 1e-2]): runs of the same matrix;
* ``newton``: Newton's method for ``-div((1 + u^2) grad u) = f`` (cell-centred differences,
  face coefficients averaged), the right-hand side scaled through a seeded continuation; the
  Jacobian ``J = D^T diag(k(Mu)) D + D^T diag(k'(Mu) (Du)) M`` is nonsymmetric and changes
  every step;
* ``helmholtz``: ``-Laplace(u) - k^2 u = f`` for a seeded increasing sweep of ``k`` (from
  definite to indefinite);
* ``convdiff``: ``-eps Laplace(u) + v . grad(u) = f`` (upwind), a seeded sweep of the mesh
  Peclet number.

First the issue's fixed-matrix case (:func:`fixed_matrix_heat`: P1 heat equation, 16,129
unknowns, 200 steps with one matrix): the default ``Solver()`` against ``splu`` once +
``lu.solve`` per step by hand.

Every system is generated before timing, so each strategy solves the same ones. Strategies:
every candidate configuration of the learner (:mod:`solvers.selection`'s pools), fixed (one
``Solver(method, pc)`` for the whole sequence, so its setup is reused while the matrix is
unchanged); the best of them in hindsight (the least total among those that solved every
system); static ``auto`` (``Solver()``, the default, with its reuse rule); and the learner,
exploration included (``Solver(learn={"seed": seed})``). Wall time is the sum of the
``Solver.solve`` calls. The strategies take turns system by system (in a rotating order), so a
varying machine load falls on all of them alike; a fixed configuration that has taken more than
3x the learner's time so far (+0.5 s) is stopped (it would not be the best fixed one).

Outputs in ``--out`` (default ``./sciml-out/bench_learned_auto``): ``summary.txt`` (the
printed table) and ``regret.png`` (the learner's cumulative time minus the best fixed one's,
per sequence). Run: ``flock /tmp/bench.lock python benchmarks/bench_learned_auto.py``
(``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import operators
from solvers import Solver
from solvers.errors import SolverError
from solvers.selection import GENERAL_ARMS, SPD_ARMS, SYMMETRIC_ARMS, Arm

RTOL = 1e-8


def heat(grid: int, steps: int, hold: int, rng: np.random.Generator) -> list:
    laplacian = operators.poisson((grid, grid)).A
    eye = sp.identity(laplacian.shape[0], format="csr")
    u = np.sin(np.linspace(0, 3 * np.pi, laplacian.shape[0]))
    systems = []
    for t in range(steps):
        if t % hold == 0:
            A = (eye + 10 ** rng.uniform(-4, -2) * laplacian).tocsr()
        systems.append((A, u.copy()))
        u = sp.linalg.spsolve(A, u)
    return systems


def _differences(grid: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """``D`` (faces x cells, with Dirichlet boundary faces) and ``M`` (face averages)."""
    h = 1.0 / (grid + 1)
    d1 = sp.diags([-np.ones(grid), np.ones(grid)], [-1, 0], shape=(grid + 1, grid)) / h
    m1 = sp.diags([np.ones(grid), np.ones(grid)], [-1, 0], shape=(grid + 1, grid)) / 2
    eye = sp.identity(grid)
    D = sp.vstack([sp.kron(eye, d1), sp.kron(d1, eye)]).tocsr()
    M = sp.vstack([sp.kron(eye, m1), sp.kron(m1, eye)]).tocsr()
    return D, M


def newton(grid: int, steps: int, rng: np.random.Generator) -> list:
    D, M = _differences(grid)
    u = np.zeros(grid * grid)
    x, y = np.meshgrid(np.linspace(0, 1, grid), np.linspace(0, 1, grid))
    shape = (np.sin(np.pi * x) * np.sin(2 * np.pi * y)).ravel()
    systems = []
    for t in range(steps):
        f = (40.0 + 40.0 * t / steps * rng.uniform(0.5, 1.5)) * shape
        Du, Mu = D @ u, M @ u
        J = (D.T @ sp.diags(1 + Mu**2) @ D + D.T @ sp.diags(2 * Mu * Du) @ M).tocsr()
        residual = D.T @ ((1 + Mu**2) * Du) - f
        systems.append((J, -residual))
        u = u + sp.linalg.spsolve(J, -residual)
    return systems


def helmholtz(grid: int, steps: int, rng: np.random.Generator) -> list:
    ks = np.sort(rng.uniform(1.0, 12.0, steps))
    b = rng.standard_normal(grid * grid)
    return [(operators.helmholtz((grid, grid), float(k)).A, b) for k in ks]


def convdiff(grid: int, steps: int, rng: np.random.Generator) -> list:
    h = 1.0 / (grid + 1)
    peclets = np.sort(10 ** rng.uniform(-1, 2, steps))
    b = rng.standard_normal(grid * grid)
    return [(operators.convection_diffusion((grid, grid), (1.0, 0.5),
                                            diffusivity=h / (2 * pe)).A, b) for pe in peclets]


def sequence_rows(name: str, systems: list, seed: int) -> tuple[list[str], dict]:
    """Solve ``systems`` with every strategy, interleaved system by system (in a rotating
    order) so that a varying machine load falls on all of them alike."""
    labels = list(dict.fromkeys(a.label() for pool in (SPD_ARMS, SYMMETRIC_ARMS, GENERAL_ARMS)
                                for a in pool))
    solvers = {"learned": Solver(rtol=RTOL, learn={"seed": seed}), "auto": Solver(rtol=RTOL)}
    solvers.update({label: Solver(Arm.parse(label).method, Arm.parse(label).pc, rtol=RTOL)
                    for label in labels})
    times = {k: [] for k in solvers}
    unsolved = dict.fromkeys(solvers, 0)
    stopped: set[str] = set()
    results: dict[str, list] = {"learned": [], "auto": []}
    for t, (A, b) in enumerate(systems):
        order = list(solvers)[t % len(solvers):] + list(solvers)[:t % len(solvers)]
        for key in order:
            if key in stopped:
                continue
            start = time.perf_counter()
            try:
                result = solvers[key].solve(A, b)
                ok = result.converged
            except SolverError:  # a fixed configuration that does not apply (CG, nonsymmetric)
                result, ok = None, False
            times[key].append(time.perf_counter() - start)
            unsolved[key] += not ok
            if key in results:
                results[key].append(result)
        learned_so_far = sum(times["learned"])
        for key in labels:
            if key not in stopped and sum(times[key]) > 3 * learned_so_far + 0.5:
                stopped.add(key)  # 3x the learner's time so far: it is not the best fixed
    total = {k: float(np.sum(v)) for k, v in times.items()}
    valid = [k for k in labels if k not in stopped and unsolved[k] == 0]
    best = min(valid, key=total.__getitem__)
    auto_is_best = all(r.info["auto"]["chose"] == best for r in results["auto"])
    n = systems[0][0].shape[0]
    rows = [f"{name:9s} n={n:6d} systems={len(systems):3d}"]
    for key in labels:
        shown = (f"{total[key]:8.3f} s  unsolved {unsolved[key]}" if key not in stopped else
                 f"stopped after {len(times[key])} systems (> 3x the learner's time)")
        rows.append(f"  fixed {key:14s} {shown}")
    learned, auto = total["learned"], total["auto"]
    rows.append(f"  best fixed ({best}) {total[best]:8.3f} s")
    rows.append(f"  static auto ({results['auto'][0].info['auto']['chose']} first) "
                f"{auto:8.3f} s  unsolved {unsolved['auto']}")
    rows.append(f"  learned             {learned:8.3f} s  unsolved {unsolved['learned']}  "
                f"learned/best {learned / total[best]:.2f}  learned/auto {learned / auto:.2f}  "
                f"(auto's choice = best fixed: {'yes' if auto_is_best else 'no'})")
    last = results["learned"][-1]
    explored = sum(learner["explored"] for learner in last.state["learners"].values())
    picks = [r.info["auto"]["learned"]["arm"] for r in results["learned"]]
    rows.append(f"  learned: {explored:.3f} s exploring; last arm "
                f"{last.info['auto']['learned']['arm']}; arms run "
                f"{ {a: picks.count(a) for a in dict.fromkeys(picks)} }")
    return rows, {"learned": np.cumsum(times["learned"]), "best": np.cumsum(times[best]),
                  "auto": np.cumsum(times["auto"])}


def fixed_matrix_heat(steps: int) -> list[str]:
    """The issue's case: P1 heat equation on the unit square (16,129 interior unknowns),
    backward Euler with one matrix ``M + dt K`` for ``steps`` steps; ``splu`` once + ``lu.solve``
    per step by hand against the default ``Solver()`` (reuse rule), what it picked before
    (CG + AMG every step) and ``Solver(learn=True)``, interleaved step by step."""
    from meshes.generators import unit_square
    from operators import fem

    problem = fem.p1_poisson(unit_square(128), 1.0)
    M = sp.csr_matrix(fem.mass(problem.mesh))[problem.free][:, problem.free]
    dt = 1e-3
    A = sp.csr_matrix(M + dt * problem.A)
    load = dt * problem.b
    u = {k: np.random.default_rng(0).random(A.shape[0]) for k in
         ("by hand", "Solver()", "cg+amg (old default)", "learn=True")}
    solvers = {"Solver()": Solver(rtol=RTOL), "cg+amg (old default)": Solver("cg", "amg",
                                                                             rtol=RTOL),
               "learn=True": Solver(rtol=RTOL, learn={"seed": 0})}
    times = dict.fromkeys(u, 0.0)
    start = time.perf_counter()
    lu = sp.linalg.splu(A.tocsc())
    times["by hand"] += time.perf_counter() - start
    for step in range(steps):
        order = list(u)[step % 4:] + list(u)[:step % 4]
        for key in order:
            start = time.perf_counter()
            rhs = M @ u[key] + load
            u[key] = lu.solve(rhs) if key == "by hand" else solvers[key].solve(A, rhs).x
            times[key] += time.perf_counter() - start
    rows = [f"fixed-matrix heat (P1, n={A.shape[0]}, {steps} steps, one matrix)"]
    rows += [f"  {k:22s} {t:8.3f} s  {t / times['by hand']:.2f}x splu once by hand"
             for k, t in times.items()]
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", type=int, default=104)
    parser.add_argument("--systems", type=int, default=100)
    parser.add_argument("--hold", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small grid, few systems")
    parser.add_argument("--out", type=Path, default=Path("sciml-out/bench_learned_auto"))
    args = parser.parse_args(argv)
    if args.quick:
        args.grid, args.systems, args.hold = 104, 16, 8
    rng = np.random.default_rng(args.seed)
    makers = {"heat": lambda: heat(args.grid, args.systems, args.hold, rng),
              "newton": lambda: newton(args.grid, args.systems, rng),
              "helmholtz": lambda: helmholtz(args.grid, args.systems, rng),
              "convdiff": lambda: convdiff(args.grid, args.systems, rng)}
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    header = (f"learned selection vs fixed configurations and static auto; host backend, "
              f"float64, rtol={RTOL:g}, OMP_NUM_THREADS={threads}, "
              f"loadavg={tuple(round(x, 2) for x in os.getloadavg())}, seed={args.seed}")
    lines = [header]
    print(header, flush=True)
    _warm_up()
    rows = fixed_matrix_heat(50 if args.quick else 200)
    print("\n".join(rows), flush=True)
    lines += rows
    curves = {}
    for name, make in makers.items():
        rows, curves[name] = sequence_rows(name, make(), args.seed)
        print("\n".join(rows), flush=True)
        lines += rows
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.txt").write_text("\n".join(lines) + "\n")
    _plot(curves, args.out / "regret.png")
    print(f"wrote {args.out / 'summary.txt'} and {args.out / 'regret.png'}")


def _warm_up() -> None:
    """Import and first-call costs (pyamg, SuperLU, ...) paid before any timing."""
    p = operators.convection_diffusion((12, 12), (1.0, 0.5))
    q = operators.poisson((12, 12))
    for label in ("cg+amg", "cg+jacobi", "cg+icc", "direct", "minres", "gmres+ilu",
                  "bicgstab+ilu", "gmres+jacobi"):
        arm = Arm.parse(label)
        system = q if arm.method in ("cg", "minres") else p
        Solver(arm.method, arm.pc).solve(system.A, system.b)


def _plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, c in curves.items():
        ax.plot(c["learned"] - c["best"], label=f"{name}: learned - best fixed")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("system")
    ax.set_ylabel("cumulative regret (s)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
