r"""Moving meshes inside a time loop: uniform vs Monge-Ampere vs DMM, Burgers and Allen-Cahn.

For each problem of :mod:`sciml.mesh_movers.pdes` (2D viscous Burgers, the bistable
Allen-Cahn front) and each held-out seed (``--seeds``, never used in training; the DMM's
training runs use seeds 1000-1023), the same P1 time stepping (:func:`sciml.mesh_movers.
simulation.simulate`, direct solves through one reused :class:`solvers.Solver`) runs on

* a uniform ``--n`` x ``--n`` mesh (``2 n^2`` triangles) -- the baseline;
* the same mesh moved every ``--every`` steps by :class:`~sciml.mesh_movers.movers.MAMover`
  (Monge-Ampere relaxation, ``rtol = 1e-2``) and by
  :class:`~sciml.mesh_movers.movers.DMMMover` (``--model``), both from the same monitor of
  the current numerical solution (smoothed recovered gradient, ``alpha = 1``), and by the
  DMM every ``--dmm-every`` steps (what its cost allows); the solution moved by the
  conservative L2 projection (:func:`meshes.projection.project` with ``conserve=True``: the
  drift column is what remains, round-off);

and a reference on a uniform ``--fine`` x ``--fine`` mesh with the same time step. Columns:
relative L2 error against the reference at the final time and averaged over the 10 recorded
times (coarse solutions interpolated to the fine nodes), both as ratios "uniform / this"
(higher is better), the mover's share of the run's wall time, the mean seconds per move,
the most tangled cells of any mesh used, and the largest relative mass drift ``|int u_new -
int u_old| / int |u_old|`` of one transfer. All float64 (FEM) / float32 (network); the
thread count and load are in the header. A figure series of the moving meshes (the first
seed of each problem, every recorded time) goes to ``--out``.

Goals (issue #32): error >= 2x lower than uniform at the final time and on average, both
problems; DMM mover <= 10 % of the run; DMM >= 50x faster per move than MA at equal error
(+-20 %); zero tangled cells; mass drift <= 1e-3.

Usage: ``python benchmarks/bench_moving_mesh.py [--quick] [--n 32] [--fine 192] [--every 4]
[--seeds 7001 7002 7003] [--model moving] [--out DIR]``; ``--quick``: n = 16, fine = 48,
one seed, a quarter of the time interval (a smoke run). Full runs under
``flock /tmp/bench.lock``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import meshes  # noqa: E402
from sciml.mesh_movers.movers import DMMMover, MAMover  # noqa: E402
from sciml.mesh_movers.pdes import make_pde  # noqa: E402
from sciml.mesh_movers.simulation import Run, errors, simulate  # noqa: E402

DT = {"burgers": 0.005, "allen-cahn": 0.005}


def frames(runs: dict[str, Run], pde: str, out: Path) -> Path:
    """One figure per problem: a row per mover, a column per recorded time."""
    times = [s.t for s in runs["uniform"].snapshots][1::2]
    fig, axes = plt.subplots(len(runs), len(times), figsize=(2.6 * len(times), 2.6 * len(runs)))
    for row, (name, run) in zip(axes, runs.items(), strict=True):
        snaps = run.snapshots[1::2]
        for ax, snap in zip(row, snaps, strict=True):
            meshes.plot_field(snap.mesh, snap.u, ax, colorbar=False, cmap="viridis")
            meshes.plot_mesh(snap.mesh, ax, linewidth=0.3, title=f"{name} t={snap.t:.2f}")
            ax.set_axis_off()
    fig.tight_layout()
    path = out / f"{pde}.png"
    fig.savefig(path, dpi=60)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--n", type=int, default=32, help="cells per side of the meshes")
    parser.add_argument("--fine", type=int, default=192, help="cells per side, reference")
    parser.add_argument("--every", type=int, default=4, help="steps between moves")
    parser.add_argument("--dmm-every", type=int, default=1,
                        help="an extra DMM row moving every this many steps (0: none)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[7001, 7002, 7003])
    parser.add_argument("--model", default="moving", help="DMM weights")
    parser.add_argument("--pdes", nargs="+", default=["burgers", "allen-cahn"])
    parser.add_argument("--out", type=Path, default=Path("sciml-out/bench_moving_mesh"))
    args = parser.parse_args(argv)
    scale = 1.0
    if args.quick:
        args.n, args.fine, args.seeds, scale = 16, 48, args.seeds[:1], 0.25
    args.out.mkdir(parents=True, exist_ok=True)
    dmm = DMMMover(args.model)
    uniform = meshes.unit_square(args.n)
    dmm(uniform, uniform, uniform.points[:, 0])  # compile for this mesh size (not timed)
    print(f"bench_moving_mesh: P1 on {args.n} x {args.n} meshes ({2 * args.n ** 2} triangles), "
          f"reference {args.fine} x {args.fine}; move every {args.every} steps; conservative L2 "
          f"projection; DMM model {args.model!r}; seeds {args.seeds}; FEM float64, network "
          f"float32; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"{os.cpu_count()} CPUs, load {tuple(round(x, 1) for x in os.getloadavg())}")
    header = (f"{'problem':<11}{'seed':>5} {'mesh':<13}{'final err':>10}{'x unif':>7}"
              f"{'mean err':>10}{'x unif':>7}{'mover %':>8}{'s/move':>9}{'tangled':>8}"
              f"{'mass drift':>11}{'total s':>8}")
    print(header)
    print("-" * len(header))
    summary: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for name in args.pdes:
        pde = make_pde(name)
        dt, T = DT[name], pde.T * scale
        rec = max(1, round(T / dt / 10))
        for k, seed in enumerate(args.seeds):
            reference = simulate(pde, meshes.unit_square(args.fine), seed=seed, dt=dt, T=T,
                                 record_every=rec)
            runs: dict[str, Run] = {}
            base = None
            contenders = [("uniform", None, 1), ("Monge-Ampere", MAMover(), args.every),
                          ("DMM", dmm, args.every)]
            if args.dmm_every and args.dmm_every != args.every:
                contenders.append((f"DMM every {args.dmm_every}", dmm, args.dmm_every))
            for label, mover, every in contenders:
                start = time.perf_counter()
                run = simulate(pde, meshes.unit_square(args.n), seed=seed, dt=dt, T=T,
                               mover=mover, every=every, record_every=rec)
                total = time.perf_counter() - start
                err = errors(run, reference)
                final, mean = float(err[-1]), float(err.mean())
                base = base or (final, mean)
                per_move = run.seconds["mover"] / run.moves if run.moves else 0.0
                summary.setdefault((name, label), []).append((final, mean, per_move))
                print(f"{name:<11}{seed:>5} {label:<13}{final:>10.3e}{base[0] / final:>6.2f}x"
                      f"{mean:>10.3e}{base[1] / mean:>6.2f}x{100 * run.mover_share:>7.1f}%"
                      f"{per_move:>9.2e}{run.max_inverted:>8d}{run.max_mass_drift:>11.1e}"
                      f"{total:>8.1f}", flush=True)
                runs[label] = run
            if k == 0:
                print(f"  figure: {frames(runs, name, args.out)}")
    print(f"geometric means over seeds (x unif = uniform error / this error; MA and DMM move "
          f"every {args.every} steps):")
    for name in args.pdes:
        unif = np.array(summary[(name, "uniform")])
        for label in [key[1] for key in summary if key[0] == name and key[1] != "uniform"]:
            rows = np.array(summary[(name, label)])
            gain = np.exp(np.mean(np.log(unif[:, :2] / rows[:, :2]), axis=0))
            print(f"  {name:<11} {label:<13} final {gain[0]:.2f}x  mean {gain[1]:.2f}x  "
                  f"s/move {rows[:, 2].mean():.2e}")
        ma, nn = np.array(summary[(name, "Monge-Ampere")]), np.array(summary[(name, "DMM")])
        print(f"  {name:<11} DMM vs MA: {ma[:, 2].mean() / nn[:, 2].mean():.0f}x faster per "
              f"move; mean error DMM / MA = {np.exp(np.mean(np.log(nn[:, 1] / ma[:, 1]))):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
