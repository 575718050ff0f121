r"""Bandit-tuned SOR across sequences of linear systems (Khodak et al., ICLR 2024).

Three sequences, each solved by SOR to ``||b - A x|| <= 1e-8 ||b||`` (float64, one thread of
the host backend) with :math:`\omega` from the grid of 20 values in [1, 1.95]:

* ``shifted``: ``--systems`` i.i.d. shifted Laplacians ``(L + c_t I) x = b_t`` on the 10 x 10
  grid (n = 100), ``c_t = -0.15 + 0.6 Beta(2, 6)`` (:func:`operators.shifted_laplacian_sequence`,
  the paper's setting); paper context ``c_t``, known to lie in [-0.15, 0.45];
* ``beta2``: ``--beta-systems`` of the same with ``c_t = 2 Beta(2, 6)`` (``c_scale=2,
  c_offset=0``); paper context ``c_t`` in [0, 2];
* ``heat``: ``--heat-steps`` implicit-Euler steps of the heat equation with a time-varying
  diffusivity on a ``--heat-grid``\ :sup:`2` grid (:class:`operators.HeatSequence`; the
  diffusivity schedule runs through one period over the steps). All strategies see the same
  systems: the reference trajectory is advanced with a direct solve, and step ``t`` starts
  from the reference ``u^{t-1}``. Paper context ``log(dt s_t)``, with ``A_t = I + dt s_t M``.

Strategies: ``omega = 1`` (Gauss-Seidel), the best fixed ``omega`` in hindsight, the
instance-optimal ``omega`` (oracle per system), read off the cost table (every system solved
with every ``omega``, :func:`sciml.bandits.cost_table`); and the bandits, run online through
``Solver(method="bandit-sor", ...)``:

* ``defaults``: ``Solver(method="bandit-sor", seed=seed)`` and nothing else, as a new user
  types it (unimodal local search over the grid, context = diagonal dominance of the matrix,
  quantile bins of the contexts seen so far);
* ``defaults, no context``: the same learner with ``context=None``;
* ``contextual (paper context)``: the default learner on the sequence's own context (``c_t``,
  ``log(dt s_t)``) instead of the dominance;
* ``paper: ...``: the settings of Khodak et al., by name (``preset="paper"``: Tsallis-INF with
  loss ``k / maxiter``; ``preset="paper-chebcb"``: ChebCB on the paper context and range).

Wall time is the sum of the ``Solver.solve`` calls (the table strategies' from the table's
timings). The online iteration counts are checked against the cost table (SOR is
deterministic), so every row is an exact count. ``--replay`` drives each bandit through its
own hooks (``before_solve``, then ``learn`` with the table's count) instead of solving again:
the same choices and counts at a fraction of the time (wall = the table's solve times).

Outputs in ``--out`` (default ``./sciml-out/bench_bandit_sor``): the cost tables and online
runs as ``.npz`` (reused by a rerun with the same options, so an interrupted run resumes), a
``summary.txt`` with the printed tables, and ``cumulative_iterations.png``.

Usage: ``python benchmarks/bench_bandit_sor.py [--quick] [--replay] [--systems 5000]
[--beta-systems 2000] [--heat-steps 400] [--heat-grid 32] [--seed 0] [--out DIR]``. The cold
run with the defaults solves 5000 x 20 + 2000 x 20 + 400 x 20 systems for the cost tables
(about 30 minutes on one idle core, hours on a loaded shared machine), then each bandit row
once more (``--replay``: not); ``--quick`` (300/200 systems, 60 heat steps on 16 x 16) takes
a few minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
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
from solvers.system import as_system

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
    """The paper's i.i.d. shifted Laplacians, ``c = -0.15 + 0.6 Beta(2, 6)``."""
    problems = operators.shifted_laplacian_sequence(args.systems, seed=args.seed)
    return SystemSequence(
        "shifted", f"Shifted Laplacians, c ~ -0.15 + 0.6 Beta(2,6): {args.systems} systems, "
        f"n = 100", args.systems, problems.__getitem__, lambda t: None, "context",
        (-0.15, 0.45, 4), {"kind": "shifted", "seed": args.seed})


def beta2_sequence(args: argparse.Namespace) -> SystemSequence:
    """Shifted Laplacians with ``c = 2 Beta(2, 6)``."""
    problems = operators.shifted_laplacian_sequence(args.beta_systems, seed=args.seed,
                                                    c_scale=2.0, c_offset=0.0)
    return SystemSequence(
        "beta2", f"Shifted Laplacians, c ~ 2 Beta(2,6): {args.beta_systems} systems, n = 100",
        args.beta_systems, problems.__getitem__, lambda t: None, "context", (0.0, 2.0, 4),
        {"kind": "shifted", "seed": args.seed, "c_scale": 2.0, "c_offset": 0.0})


def heat_sequence(args: argparse.Namespace) -> SystemSequence:
    """Heat steps with a warm start from the reference trajectory."""
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
                              x0=[seq.x0(t) for t in rows])
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


def replay(seq: SystemSequence, table: CostTable, options: dict[str, Any]
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bandit of ``Solver(method="bandit-sor", **options)`` driven through its own hooks
    over ``seq`` with each solve's cost read off the table instead of solved again (SOR is
    deterministic, so the counts are those of :func:`online`: its check proves it)."""
    solver = Solver(method="bandit-sor", rtol=RTOL, **options)
    bandit = solver.component("method", "bandit-sor")
    state = bandit.initial_state()
    for t in tqdm(range(seq.length), desc=f"{seq.name}: replay", leave=False):
        p = seq.problem(t)
        bandit.before_solve(as_system(p, p.b), solver.stop, state)
        arm = state.pending["arm"]
        bandit.learn(state, int(table.iterations[t, arm]), bool(table.converged[t, arm]))
    arms = np.array([r["arm"] for r in state.records])
    return (*table.pick(arms), arms)


#: Row labels of the learners the goals are about.
DEFAULTS = "defaults: Solver(method='bandit-sor')"
CONTEXTUAL = "default learner, paper context"


def bandits(seq: SystemSequence, seed: int) -> dict[str, tuple[str, dict[str, Any]]]:
    """The online strategies: label -> (file name tag, Solver parameters)."""
    return {
        DEFAULTS: ("defaults", {"seed": seed}),
        "defaults, context=None": ("defaults_nocontext", {"seed": seed, "context": None}),
        CONTEXTUAL: ("unimodal_paper_context", {"seed": seed, "context": seq.context}),
        "paper: Tsallis-INF, k/maxiter": ("paper", {"preset": "paper", "seed": seed}),
        "paper: ChebCB, paper context": ("paper_chebcb", {
            "preset": "paper-chebcb", "context": seq.context, "bins": seq.bins, "seed": seed}),
    }


def strategies(seq: SystemSequence, table: CostTable, out: Path, seed: int,
               replayed: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """label -> (iterations per system, seconds per system) for every strategy."""
    best = table.best_fixed
    results = {
        "omega = 1 (Gauss-Seidel)": table.pick(int(np.argmin(np.abs(table.omegas - 1.0)))),
        f"best fixed omega = {table.omegas[best]:.2f} (hindsight)": table.pick(best),
        "instance-optimal omega (oracle)": table.pick(table.instance_optimal),
    }
    for label, (tag, options) in bandits(seq, seed).items():
        if replayed:
            results[label] = replay(seq, table, options)[:2]
            continue
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
             f"[{DEFAULT_OMEGAS[0]:g}, {DEFAULT_OMEGAS[-1]:g}], float64, host backend, "
             f"{os.environ.get('OMP_NUM_THREADS', 'default')} thread(s)",
             f"{'strategy':42s} {'iterations':>11s} {'w=1 / it':>9s} {'it / best':>10s} "
             f"{'it / oracle':>12s} {'first 10%':>10s} {'wall [s]':>9s}"]
    first = max(1, len(next(iter(results.values()))[0]) // 10)
    best_first = int(list(results.values())[1][0][:first].sum())
    for label, (iterations, seconds) in results.items():
        total = totals[label]
        lines.append(f"{label:42s} {total:11d} {gs / total:9.2f} {total / best:10.3f} "
                     f"{total / oracle:12.3f} {iterations[:first].sum() / best_first:10.3f} "
                     f"{seconds.sum():9.1f}")
    return "\n".join(lines + _goals(seq, totals, best, oracle))


def _goals(seq: SystemSequence, totals: dict[str, int], best: int, oracle: int) -> list[str]:
    """The issue's goals for this sequence, each with the measured ratio."""
    fixed_bound = 1.2 if seq.name == "heat" else 1.1
    goals = [(DEFAULTS, "best fixed", totals[DEFAULTS] / best, fixed_bound),
             (DEFAULTS, "instance-optimal", totals[DEFAULTS] / oracle, 1.2),
             (CONTEXTUAL, "best fixed", totals[CONTEXTUAL] / best, 1.0),
             (CONTEXTUAL, "instance-optimal", totals[CONTEXTUAL] / oracle, 1.2)]
    return [f"goal {label} <= {bound:.1f}x {what}: {ratio:.3f}x "
            f"{'met' if ratio <= bound else 'MISSED'}" for label, what, ratio, bound in goals]


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
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 300/200 systems, 60 heat steps on 16 x 16")
    parser.add_argument("--systems", type=int, default=5000, help="shifted Laplacians")
    parser.add_argument("--beta-systems", type=int, default=2000,
                        help="shifted Laplacians with c ~ 2 Beta(2, 6)")
    parser.add_argument("--heat-steps", type=int, default=400, help="heat time steps")
    parser.add_argument("--heat-grid", type=int, default=32, help="heat grid side")
    parser.add_argument("--heat-dt", type=float, default=1e-3, help="heat time step")
    parser.add_argument("--heat-period", type=float, default=None,
                        help="period of the diffusivity schedule (default: steps * dt)")
    parser.add_argument("--seed", type=int, default=0, help="seeds systems and bandits")
    parser.add_argument("--replay", action="store_true",
                        help="bandit rows from the cost table through the bandit's hooks, no "
                             "second solve (same counts; wall time = the table's solves)")
    parser.add_argument("--out", type=Path, default=Path("sciml-out/bench_bandit_sor"))
    args = parser.parse_args(argv)
    if args.quick:
        args.systems, args.beta_systems, args.heat_steps, args.heat_grid = 300, 200, 60, 16
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    panels, text = {}, []
    for build, chunk in ((shifted_sequence, 250), (beta2_sequence, 250), (heat_sequence, 20)):
        seq = build(args)
        table = table_for(seq, args.out, chunk)
        results = strategies(seq, table, args.out, args.seed, args.replay)
        panels[seq.name] = (seq, results)
        text.append(report(seq, results))
        print("\n" + text[-1], flush=True)
    (args.out / "summary.txt").write_text("\n\n".join(text) + "\n")
    plot(panels, args.out / "cumulative_iterations.png")
    print(f"\nwrote {args.out / 'summary.txt'} and {args.out / 'cumulative_iterations.png'}")


if __name__ == "__main__":
    main()
