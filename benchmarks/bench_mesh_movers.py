r"""Uniform vs classical Monge-Ampere vs DMM meshes on a PDE with a sharp interior layer.

The problem: ``-Lap u = f`` on the unit square with the manufactured solution
``u = tanh((|x - p| - r0) / w)`` (a circular front, ``p = (0.45, 0.55)``, ``r0 = 0.3``,
``w = --width``), Dirichlet data from ``u``. The reference is the P1 solution on a
``--fine`` x ``--fine`` uniform mesh. Three meshes with the same ``--n`` x ``--n`` grid
connectivity (``2 n^2`` triangles):

* ``uniform``: :func:`meshes.unit_square`;
* ``classical MA``: :class:`meshes.MongeAmpereMover` (relaxation, ``rtol=--rtol``) with the
  monitor ``m = 1 + |grad u_ref| / (alpha mean|grad u_ref|)`` of the reference solution
  (:func:`meshes.gradient_monitor`);
* ``DMM``: the shipped network (:class:`sciml.mesh_movers.DMM`, trained data-free on tanh
  fronts with the same monitor, ``alpha`` from its metadata), given the reference solution
  sampled on its input grid: one network evaluation.

Columns: the P1 solution error on that mesh against the reference (relative L2 on the fine
nodes after P1 interpolation), the interpolation error (round trip fine grid -> mesh -> fine
grid, relative L2, the DMM paper's metric), the equidistribution spread ``std(m |K|) /
mean(m |K|)``, inverted (tangled) cells, the minimum angle, and the time to produce the mesh
(classical: the whole relaxation; DMM: one network evaluation after compilation, best of 5).
Errors and ratios are measured in this run. Precision: FEM in float64, network in float32.

Goals (issue #19): >= 2x lower error than uniform, DMM >= 100x faster than the classical
solve, zero tangled cells. A figure of the three meshes goes to ``--out/meshes.png``.

Usage: ``python benchmarks/bench_mesh_movers.py [--quick] [--n 32] [--fine 256]
[--width 0.03] [--out DIR]``; ``--quick`` uses n = 16 and a 128 fine mesh (a smoke run).
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
import operators  # noqa: E402
from sciml.mesh_movers import DMM  # noqa: E402
from solvers import solve  # noqa: E402

CENTRE, RADIUS = np.array([0.45, 0.55]), 0.3


def exact(x: np.ndarray, w: float) -> np.ndarray:
    return np.tanh((np.linalg.norm(x - CENTRE, axis=1) - RADIUS) / w)


def source(x: np.ndarray, w: float) -> np.ndarray:
    """``-Lap u`` for the radial front: ``-(u_rr + u_r / r)``."""
    r = np.maximum(np.linalg.norm(x - CENTRE, axis=1), 1e-12)
    t = np.tanh((r - RADIUS) / w)
    u_r = (1 - t ** 2) / w
    u_rr = -2 * t * (1 - t ** 2) / w ** 2
    return -(u_rr + u_r / r)


def fem_solution(mesh: meshes.Mesh, w: float) -> np.ndarray:
    p = operators.p1_poisson(mesh, lambda x: source(x, w), dirichlet=lambda x: exact(x, w))
    return p.full(solve(p, p.b, method="direct").x)


def relative_l2(fine: meshes.Mesh, weights: np.ndarray, values: np.ndarray,
                reference: np.ndarray) -> float:
    return float(np.sqrt(weights @ (values - reference) ** 2 / (weights @ reference ** 2)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--n", type=int, default=32, help="cells per side of the meshes")
    parser.add_argument("--fine", type=int, default=256, help="cells per side, reference")
    parser.add_argument("--width", type=float, default=0.03, help="front width w")
    parser.add_argument("--rtol", type=float, default=1e-3, help="MA residual target")
    parser.add_argument("--model", default="fronts", help="DMM weights")
    parser.add_argument("--out", type=Path, default=Path("sciml-out/bench_mesh_movers"))
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.fine = 16, 128
    w = args.width
    fine = meshes.unit_square(args.fine)
    weights = np.asarray(operators.fem.mass(fine).sum(axis=1)).ravel()
    reference = fem_solution(fine, w)
    mover = DMM(args.model)
    alpha = float(mover.alpha)
    monitor = meshes.gradient_monitor(fine, reference, alpha=alpha)
    uniform = meshes.unit_square(args.n)

    start = time.perf_counter()
    ma = meshes.MongeAmpereMover(uniform, monitor, rtol=args.rtol).move()
    ma_seconds = time.perf_counter() - start
    grid_u = mover.sample(lambda x: meshes.interpolate(fine, reference, x))
    mover.move(grid_u, uniform)  # compile
    dmm_runs = [mover.move(grid_u, uniform) for _ in range(5)]
    dmm = dmm_runs[0]
    dmm_seconds = min(r.seconds for r in dmm_runs)

    rows = [("uniform", uniform, 0.0, ""), ("classical MA", ma.mesh, ma_seconds,
             f"{ma.iterations} it, residual {ma.residual:.1e}"),
            ("DMM", dmm.mesh, dmm_seconds, f"scale {dmm.scale:g}")]
    print(f"bench_mesh_movers: -Lap u = f, u = tanh((|x - p| - {RADIUS}) / {w}) on [0, 1]^2, "
          f"P1 on {args.n} x {args.n} grids ({2 * args.n ** 2} triangles), reference P1 on "
          f"{args.fine} x {args.fine}; monitor alpha = {alpha:g}; FEM float64, network "
          f"float32; {os.cpu_count()} CPU threads available (default threading)")
    header = (f"{'mesh':<13}{'FEM error':>11}{'x uniform':>10}{'interp err':>11}"
              f"{'x uniform':>10}{'spread':>8}{'tangled':>8}{'min angle':>10}{'time [s]':>11}"
              f"{'speed-up':>10}  notes")
    print(header)
    print("-" * len(header))
    base = None
    for name, mesh, seconds, notes in rows:
        err = relative_l2(fine, weights, meshes.transfer(mesh, fem_solution(mesh, w), fine),
                          reference)
        coarse = meshes.transfer(fine, reference, mesh)
        interp = relative_l2(fine, weights, meshes.transfer(mesh, coarse, fine), reference)
        base = base or (err, interp)
        spread = meshes.equidistribution_spread(mesh, monitor)
        speed = f"{ma_seconds / seconds:.0f}x" if seconds and name == "DMM" else ""
        print(f"{name:<13}{err:>11.3e}{base[0] / err:>9.2f}x{interp:>11.3e}"
              f"{base[1] / interp:>9.2f}x{spread:>8.3f}{meshes.inverted_cells(mesh):>8d}"
              f"{meshes.min_angles(mesh).min():>10.2f}{seconds:>11.2e}{speed:>10}  {notes}")
    print("x uniform: error of the uniform mesh / error of this mesh (higher is better); "
          "speed-up: classical MA time / DMM time")
    args.out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    for ax, (name, mesh, _, _) in zip(axes, rows, strict=True):
        meshes.plot_field(mesh, exact(mesh.points, w), ax, colorbar=False, cmap="coolwarm")
        meshes.plot_mesh(mesh, ax, linewidth=0.3, title=name)
    fig.tight_layout()
    fig.savefig(args.out / "meshes.png", dpi=120)
    print(f"figure: {args.out / 'meshes.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
