r"""Bandit-tuned SOR across sequences of linear systems (Khodak et al., ICLR 2024).

Two sequences, each solved by SOR to ``||b - A x|| <= 1e-8 ||b||`` with :math:`\omega` from the
grid of 20 values in [1, 1.95]:

* ``shifted``: ``--systems`` i.i.d. shifted Laplacians ``(L + c_t I) x = b_t`` on the 10 x 10
  grid (n = 100), ``c_t = -0.15 + 0.6 Beta(2, 6)`` (:func:`operators.shifted_laplacian_sequence`);
  context ``c_t``, known to lie in [-0.15, 0.45];
* ``heat``: ``--heat-steps`` implicit-Euler steps of the heat equation with a time-varying
  diffusivity on a ``--heat-grid``\ :sup:`2` grid (:class:`operators.HeatSequence`; by default
  the diffusivity schedule runs through one period over the steps). All strategies see the
  same systems: the reference trajectory is advanced with a direct solve, and step ``t``
  starts from the reference ``u^{t-1}``. Context ``log(dt s_t)``, with ``A_t = I + dt s_t M``.

Strategies: ``omega = 1`` (Gauss-Seidel), the best fixed ``omega`` in hindsight, the
instance-optimal ``omega`` (oracle per system), read off the cost table (every system solved
with every ``omega``, :func:`sciml.bandits.cost_table`); and the bandits, run online
through ``Solver(method="bandit-sor", ...)``: Tsallis-INF with the paper's loss
``k / maxiter`` and with the adaptive loss ``k / (2 mean k)`` (``cost_scale="mean"``), and the
contextual binned Tsallis-INF and ChebCB (adaptive loss). Wall time is the sum of the
``Solver.solve`` calls (the table strategies' from the table's timings). The online
iteration counts are checked against the cost table (SOR is deterministic).

Outputs in ``--out`` (default ``./sciml-out/bench_bandit_sor``): the cost tables and online
runs as ``.npz`` (reused by a rerun with the same options, so an interrupted run resumes), a
``summary.txt`` with the printed tables, and ``cumulative_iterations.png``.

Usage: ``python benchmarks/bench_bandit_sor.py [--systems 5000] [--heat-steps 100]
[--heat-grid 100] [--seed 0] [--out DIR]``. With the defaults the cold run takes about
10 minutes on 2 shared CPU cores, most of it the 5000 x 20 shifted-Laplacian cost table
(~4 ms per SOR solve) and the 100 x 20 heat cost table (~2 s per step at n = 10^4).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse.linalg as spla
from tqdm import tqdm

import operators
from sciml.bandits import DEFAULT_OMEGAS, CostTable, cost_table
from solvers import Solver

RTOL = 1e-8


@dataclass
class SystemSequence:
    """A reproducible sequence: system ``t`` and its initial guess, built on demand."""

    name: str
    title: str
    length: int
    problem: Callable[[int], operators.Problem]
    x0: Callable[[int], np.ndarray | None]
    context: str | Callable[[Any], float]
    bins: Any
    key: dict[str, Any] = field(default_factory=dict)

    def tag(self) -> str:
        """Short hash of what defines the systems (not their number: rows are prefixes)."""
        text = json.dumps({**self.key, "rtol": RTOL, "omegas": DEFAULT_OMEGAS.tolist()},
                          sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:10]


def shifted_sequence(args: argparse.Namespace) -> SystemSequence:
    problems = operators.shifted_laplacian_sequence(args.systems, seed=args.seed)
    return SystemSequence(
        "shifted", f"Shifted Laplacians: {args.systems} systems, n = 100", args.systems,
        problems.__getitem__, lambda t: None, "context", (-0.15, 0.45, 4),
        {"kind": "shifted", "seed": args.seed})


def heat_sequence(args: argparse.Namespace) -> SystemSequence:
    period = args.heat_period or args.heat_steps * args.heat_dt
    heat = operators.HeatSequence((args.heat_grid,) * 2, seed=args.seed, dt=args.heat_dt,
                                  period=period)
    states = [heat.initial()]
    for t in tqdm(range(1, args.heat_steps + 1), desc="heat reference", leave=False):
        p = heat.system(t, states[-1])
        states.append(spla.spsolve(p.A.tocsc(), p.b))
    logs = np.log([heat.context(t) for t in range(1, args.heat_steps + 1)])
    n = args.heat_grid**2
    return SystemSequence(
        "heat", f"Heat equation: {args.heat_steps} steps, n = {n}, warm start u^(t-1)",
        args.heat_steps, lambda t: heat.system(t + 1, states[t]), states.__getitem__,
        lambda p: math.log(p.params["context"]), (logs.min() - 1e-9, logs.max() + 1e-9, 4),
        {"kind": "heat", "seed": args.seed, "grid": args.heat_grid, "dt": args.heat_dt,
         "period": period})


def table_for(seq: SystemSequence, out: Path, chunk: int) -> CostTable:
    """The cost table of ``seq``, computed in chunks saved to ``out`` (resumable)."""
    path = out / f"table_{seq.name}_{seq.tag()}.npz"
    table = CostTable.load(path) if path.exists() else None
    done = 0 if table is None else table.iterations.shape[0]
    with tqdm(total=seq.length, initial=min(done, seq.length),
              desc=f"cost table {seq.name}") as bar:
        while done < seq.length:
            rows = range(done, min(done + chunk, seq.length))
            part = cost_table((seq.problem(t) for t in rows), DEFAULT_OMEGAS, rtol=RTOL,
                              x0=[seq.x0(t) for t in rows] if seq.name == "heat" else None)
            table = part if table is None else CostTable.concatenate([table, part])
            table.save(path)
            done += len(rows)
            bar.update(len(rows))
    return CostTable(table.omegas, *(getattr(table, k)[:seq.length]
                                     for k in ("iterations", "seconds", "converged")))


def online(seq: SystemSequence, label: str, options: dict[str, Any],
           out: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run ``Solver(method="bandit-sor", **options)`` over ``seq``: iterations, seconds, arms."""
    path = out / f"online_{seq.name}_{seq.tag()}_{seq.length}_{label}.npz"
    if path.exists():
        with np.load(path) as data:
            return data["iterations"], data["seconds"], data["arms"]
    solver = Solver(method="bandit-sor", rtol=RTOL, **options)
    iterations, seconds = [], []
    for t in tqdm(range(seq.length), desc=f"{seq.name}: {label}", leave=False):
        p = seq.problem(t)
        start = time.perf_counter()
        res = solver.solve(p, p.b, x0=seq.x0(t))
        seconds.append(time.perf_counter() - start)
        iterations.append(res.iterations if res.converged else solver.stop.iterations(p.n))
    arms = np.array([r["arm"] for r in solver.states[("method", "bandit-sor")].records])
    np.savez(path, iterations=iterations, seconds=seconds, arms=arms)
    return np.array(iterations), np.array(seconds), arms


def bandits(seq: SystemSequence, seed: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """The online strategies: label -> (file name tag, Solver parameters)."""
    contextual = {"context": seq.context, "bins": seq.bins, "cost_scale": "mean", "seed": seed}
    return {
        "Tsallis-INF, loss k/maxiter": ("tsallis_maxiter", {"cost_scale": "maxiter",
                                                           "seed": seed}),
        "Tsallis-INF, loss k/(2 mean k)": ("tsallis_mean", {"cost_scale": "mean", "seed": seed}),
        "contextual binned Tsallis-INF": ("binned_mean", {**contextual, "learner": "binned"}),
        "contextual ChebCB": ("chebcb_mean", {**contextual, "learner": "chebcb"}),
    }


def strategies(seq: SystemSequence, table: CostTable, out: Path,
               seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """label -> (iterations per system, seconds per system) for every strategy."""
    best = table.best_fixed
    results = {
        "omega = 1 (Gauss-Seidel)": table.pick(int(np.argmin(np.abs(table.omegas - 1.0)))),
        f"best fixed omega = {table.omegas[best]:.2f} (hindsight)": table.pick(best),
        "instance-optimal omega (oracle)": table.pick(table.instance_optimal),
    }
    for label, (tag, options) in bandits(seq, seed).items():
        iterations, seconds, arms = online(seq, tag, options, out)
        expected, _ = table.pick(arms)
        if not np.array_equal(iterations, expected):
            raise RuntimeError(f"{label}: online iterations differ from the cost table")
        results[label] = (iterations, seconds)
    return results


def report(seq: SystemSequence, results: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    """The table printed for one sequence, with the goals checked."""
    totals = {k: int(v[0].sum()) for k, v in results.items()}
    gs, best, oracle = (totals[k] for k in list(results)[:3])
    lines = [f"{seq.title}, rtol = {RTOL:g}, {DEFAULT_OMEGAS.size} omegas in "
             f"[{DEFAULT_OMEGAS[0]:g}, {DEFAULT_OMEGAS[-1]:g}]",
             f"{'strategy':40s} {'iterations':>11s} {'w=1 / it':>9s} {'it / best':>10s} "
             f"{'it / oracle':>12s} {'wall [s]':>9s}"]
    for label, (_, seconds) in results.items():
        total = totals[label]
        lines.append(f"{label:40s} {total:11d} {gs / total:9.2f} {total / best:10.3f} "
                     f"{total / oracle:12.3f} {seconds.sum():9.1f}")
    return "\n".join(lines + _goals(totals, gs, best, oracle))


def _goals(totals: dict[str, int], gs: int, best: int, oracle: int) -> list[str]:
    """One line per goal of the issue: which bandits meet it, which miss it (ratios)."""
    goals = [("<= best fixed omega", lambda k: totals[k] <= best, lambda k: totals[k] / best),
             (">= 4x fewer iterations than omega = 1", lambda k: gs >= 4 * totals[k],
              lambda k: gs / totals[k]),
             ("(contextual) within 1.4x of instance-optimal",
              lambda k: totals[k] <= 1.4 * oracle, lambda k: totals[k] / oracle)]
    lines = []
    for goal, ok, ratio in goals:
        prefixes = ("contextual",) if "within" in goal else ("Tsallis", "contextual")
        names = [k for k in totals if k.startswith(prefixes)]
        met = [f"{k} ({ratio(k):.2f}x)" for k in names if ok(k)]
        missed = [f"{k} ({ratio(k):.2f}x)" for k in names if not ok(k)]
        lines.append(f"goal {goal}: met by {', '.join(met) or 'none'}; "
                     f"missed by {', '.join(missed) or 'none'}")
    return lines


def plot(panels: dict[str, tuple[SystemSequence, dict]], path: Path) -> None:
    """Cumulative iterations against the system index, one panel per sequence."""
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.8), squeeze=False)
    for ax, (seq, results) in zip(axes[0], panels.values(), strict=True):
        for label, (iterations, _) in results.items():
            style = "--" if label.startswith(("omega", "best", "instance")) else "-"
            ax.plot(np.arange(1, iterations.size + 1), np.cumsum(iterations), style,
                    label=label)
        ax.set(title=seq.title, xlabel="system index t", ylabel="cumulative SOR iterations")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", type=int, default=5000, help="shifted Laplacians")
    parser.add_argument("--heat-steps", type=int, default=100, help="heat time steps")
    parser.add_argument("--heat-grid", type=int, default=100, help="heat grid side")
    parser.add_argument("--heat-dt", type=float, default=1e-3, help="heat time step")
    parser.add_argument("--heat-period", type=float, default=None,
                        help="period of the diffusivity schedule (default: steps * dt)")
    parser.add_argument("--seed", type=int, default=0, help="seeds systems and bandits")
    parser.add_argument("--out", type=Path, default=Path("sciml-out/bench_bandit_sor"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    panels, text = {}, []
    for build, chunk in ((shifted_sequence, 250), (heat_sequence, 10)):
        seq = build(args)
        table = table_for(seq, args.out, chunk)
        results = strategies(seq, table, args.out, args.seed)
        panels[seq.name] = (seq, results)
        text.append(report(seq, results))
        print("\n" + text[-1], flush=True)
    (args.out / "summary.txt").write_text("\n\n".join(text) + "\n")
    plot(panels, args.out / "cumulative_iterations.png")
    print(f"\nwrote {args.out / 'summary.txt'} and {args.out / 'cumulative_iterations.png'}")


if __name__ == "__main__":
    main()
