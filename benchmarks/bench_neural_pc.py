"""The HINTS neural-operator preconditioner against its ablations and classical solvers.

Hidden samples: ``operators.family(name, G, seed=SEED)`` with a seed never used in training
(the error operators train on seed 0 and are checked on seed 1000; default ``--seed 7919``).
Stopping rule: true relative residual ``||b - A x|| / ||b|| <= 1e-8`` (the library's float64
verdict), ``x0 = 0``, the family's right-hand side ``b = 1``. Float64 vectors, the network in
float32.

Darcy (``-div(K grad u) = 1``, log-normal ``K``; SPD), per grid size:

- ``HINTS-FCG``: ``method="fcg", pc="hints"`` with the shipped ``darcy-error`` (trained on
  64^2 only, applied at every size), FCG(20), 16 Jacobi sweeps on each side (the default);
- ``FCG+smoother``: the same cycle with the network removed (``model="none"``);
- ``FCG+untrained``: the same architecture and scaling with random weights (its seed),
  capped at ``UNTRAINED_MAXITER`` iterations (it stagnates);
- ``Jacobi-PCG``, ``AMG-CG`` (pyamg smoothed aggregation), ``direct`` (SuperLU).

Helmholtz (``-Laplace u - (k/c)^2 u = 1``, ``k h`` in 0.2-0.3; indefinite), per grid size:

- ``HINTS-FGMRES``: ``method="fgmres", pc="hints"`` with the model the pc picks for the grid
  (``--helmholtz-model`` to override; shipped: ``helmholtz-error``, trained through the
  cycle by its residual at 64^2, :mod:`sciml.neural_operators.cycle_train`, and run on its
  64^2 grid through the two-grid transfers on finer grids), FGMRES(40), 16 sweeps;
- ``FGMRES+smoother``, ``FGMRES+untrained``: the ablations, as for Darcy;
- ``GMRES+ILU``: GMRES(40) with SuperLU's threshold ILU at the library's defaults
  (``drop_tol=1e-4``, ``fill_factor=10``: nearly a full LU at these sizes, 3-5 iterations);
  ``GMRES+ILU(1e-2)``: a cheaper one (``drop_tol=1e-2``, ``fill_factor=2``);
- ``GMRES+shifted-Lap``: GMRES(40) with one pyamg V-cycle on the complex shifted Laplacian
  ``L - (1 - 0.5 i)(k/c)^2`` (``pc="shifted-laplacian"``, real part on this real system);
- ``direct`` (SuperLU).

Every (F)GMRES row uses the same restart (``--restart``, default 40): at 128^2 the shipped
model needs about 150 unrestarted iterations, so ``--restart 300`` is the setting in which
HINTS converges there on every hidden sample (``docs/learned/neural-operators.md``).

Times are of the whole ``solve()`` call (setup included: network load and encoding, AMG
hierarchy, ILU, factorisation), averaged over the samples; one extra sample per size and row
is solved first and not counted (JIT compilation, imports), its time printed as ``warm-up``.
The footer gives the training cost recorded in the weight files (data generation and training
wall time, samples) and the break-even count: solves after which the training has paid for
itself against the fastest classical row (``never`` when HINTS is not faster).

Usage (one thread; timing runs under ``flock /tmp/bench.lock``)::

    python benchmarks/bench_neural_pc.py                      # Darcy 64 128 256, Helmholtz 64 128
    python benchmarks/bench_neural_pc.py --quick              # Darcy 64, Helmholtz 64, 2 samples
    python benchmarks/bench_neural_pc.py --families darcy --darcy 64 128 --samples 4
    python benchmarks/bench_neural_pc.py --families helmholtz --restart 300 --maxiter 600
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RTOL = 1e-8
MAXITER = 3000
#: The iteration cap in force (``--maxiter``).
LIMIT = {"maxiter": MAXITER}
#: The untrained network stagnates (about 1,000 iterations at 64^2, 10 s each solve); capped.
UNTRAINED_MAXITER = 300
RESTART = 40
#: FCG(m) keeps m directions: a nonlinear pc needs more than CG's implicit 1 (20 vs 2: about
#: half the iterations at 64^2 and 128^2 with the same pc).
TRUNCATION = 20
SEED = 7919
DARCY_ROWS: dict[str, dict[str, Any]] = {
    "HINTS-FCG": {"method": "fcg", "pc": "hints", "model": "darcy-error",
                  "truncation": TRUNCATION},
    "FCG+smoother": {"method": "fcg", "pc": "hints", "model": "none", "truncation": TRUNCATION},
    "FCG+untrained": {"method": "fcg", "pc": "hints", "model": "@untrained",
                      "truncation": TRUNCATION, "maxiter": UNTRAINED_MAXITER},
    "Jacobi-PCG": {"method": "cg", "pc": "jacobi"},
    "AMG-CG": {"method": "cg", "pc": "amg"},
    "direct": {"method": "direct"},
}
HELMHOLTZ_ROWS: dict[str, dict[str, Any]] = {
    "HINTS-FGMRES": {"method": "fgmres", "pc": "hints", "model": "@trained",
                     "restart": RESTART},
    "FGMRES+smoother": {"method": "fgmres", "pc": "hints", "model": "none", "restart": RESTART},
    "FGMRES+untrained": {"method": "fgmres", "pc": "hints", "model": "@untrained",
                         "restart": RESTART, "maxiter": UNTRAINED_MAXITER},
    "GMRES+ILU": {"method": "gmres", "pc": "ilu", "restart": RESTART},
    "GMRES+ILU(1e-2)": {"method": "gmres", "pc": "ilu", "restart": RESTART, "drop_tol": 1e-2,
                        "fill_factor": 2},
    "GMRES+shifted-Lap": {"method": "gmres", "pc": "shifted-laplacian", "restart": RESTART},
    "direct": {"method": "direct"},
}
#: Error operator per family (``None``: the one ``pc="hints"`` picks for the grid,
#: :func:`sciml.neural_operators.error_operator.default_model`).
MODEL: dict[str, str | None] = {"darcy": "darcy-error", "helmholtz": None}
KIND = {"darcy": "darcy", "helmholtz": "helmholtz"}
#: Rows that are the HINTS cycle itself or its ablations (not a classical alternative).
ABLATIONS = ("HINTS-FCG", "HINTS-FGMRES", "FCG+smoother", "FCG+untrained", "FGMRES+smoother",
             "FGMRES+untrained")


def untrained(name: str, folder: Path) -> Path:
    """The shipped model's architecture and scaling with random weights, saved in ``folder``."""
    from sciml.neural_operators import error_operator as eo
    from sciml.neural_operators.fno import FNO

    op = eo.load(name)
    net = FNO(op.model.config, seed=12345)
    return eo.save(eo.ErrorOperator(net, op.scaling, {"untrained": True, "grid": op.metadata[
        "grid"]}), folder / Path(name).stem)


def model_for(family: str, grid: int) -> str:
    """The error operator of the HINTS rows of ``family`` at ``grid``."""
    from sciml.neural_operators import error_operator as eo

    return MODEL[family] or eo.default_model(KIND[family], (grid, grid))


def _available(name: str) -> bool:
    from sciml.neural_operators import error_operator as eo

    return name in eo.SHIPPED or Path(name).is_file()


def run_row(problems: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Solve the warm-up problem, then the counted ones; iterations, time, converged."""
    from solvers import solve

    def one(p: Any) -> tuple[Any, float]:
        t = time.perf_counter()
        res = solve(p, rtol=RTOL, **{"maxiter": LIMIT["maxiter"], **kwargs})
        return res, time.perf_counter() - t

    _, warm = one(problems[0])
    results = [one(p) for p in problems[1:]]
    return {"iterations": float(np.mean([r.iterations for r, _ in results])),
            "seconds": float(np.mean([t for _, t in results])),
            "converged": sum(bool(r.converged) for r, _ in results),
            "count": len(results), "warmup_seconds": warm,
            "reasons": sorted({str(r.reason) for r, _ in results})}


def bench(family: str, sizes: list[int], samples: int, seed: int,
          folder: Path) -> list[dict[str, Any]]:
    """Every row of ``family`` on every size (``samples`` counted + 1 warm-up each)."""
    import operators

    out = []
    for grid in sizes:
        rows = dict(DARCY_ROWS if family == "darcy" else HELMHOLTZ_ROWS)
        model = model_for(family, grid)
        if not _available(model):
            print(f"# no error operator at {model}: HINTS and untrained rows left out",
                  flush=True)
            rows = {k: v for k, v in rows.items() if "@" not in str(v.get("model"))}
            random_model = None
        else:
            random_model = untrained(model, folder)
        fam = operators.family(family, grid, seed=seed)
        problems = [fam.sample(i) for i in range(samples + 1)]
        for label, kwargs in rows.items():
            swap = {"@untrained": str(random_model), "@trained": model}
            kwargs = {k: swap.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
            row = {"family": family, "grid": grid, "n": grid * grid, "row": label,
                   "model": model, **run_row(problems, kwargs)}
            out.append(row)
            print(_line(row), flush=True)
    return out


def _line(row: dict[str, Any]) -> str:
    return (f"{row['family']:<9} {row['grid']:>4}^2 {row['row']:<18} "
            f"{row['iterations']:>8.1f} {row['seconds']:>9.3f} {row['warmup_seconds']:>8.2f} "
            f"{row['converged']:>3}/{row['count']:<3} {','.join(row['reasons'])}")


def summary(rows: list[dict[str, Any]]) -> list[str]:
    """Ratios for the issue's goals and the training cost / break-even lines."""
    from sciml.neural_operators import error_operator as eo

    lines = []
    by = {(r["family"], r["grid"], r["row"]): r for r in rows}
    for family, hints, base in (("darcy", "HINTS-FCG", "Jacobi-PCG"),
                                ("helmholtz", "HINTS-FGMRES", "GMRES+ILU")):
        grids = sorted({g for f, g, name in by if f == family and name == hints})
        for g in grids:
            h, b = by[(family, g, hints)], by[(family, g, base)]
            d = by.get((family, g, "direct"))
            lines.append(f"{family} {g}^2: {hints} iterations / {base}'s = "
                         f"{h['iterations'] / b['iterations']:.3f}; time {h['seconds']:.3f} s"
                         + (f" = {h['seconds'] / d['seconds']:.2f}x direct's" if d else "")
                         + f"; converged {h['converged']}/{h['count']}")
        if len(grids) > 1:
            growth = by[(family, grids[-1], hints)]["iterations"] / \
                by[(family, grids[0], hints)]["iterations"]
            lines.append(f"{family}: {hints} iteration growth {grids[0]}^2 -> {grids[-1]}^2 = "
                         f"{growth:.2f}x")
        for g in grids:
            lines.append(_training_line(family, g, by, hints, eo.load(
                by[(family, g, hints)]["model"]).metadata))
    return lines


def _training_line(family: str, g: int, by: dict[tuple[str, int, str], dict[str, Any]],
                   hints: str, meta: dict[str, Any]) -> str:
    """Training cost of the model used at ``g`` and its break-even against the fastest
    classical row that converged on every sample."""
    res = meta.get("results", {})
    train_s = res.get("train_seconds_total", res.get("train_seconds_this_call", float("nan")))
    cost = res.get("data_seconds", 0.0) + train_s
    classical = [r for (f, gg, name), r in by.items() if f == family and gg == g
                 and name not in ABLATIONS and r["converged"] == r["count"]]
    best = min(classical, key=lambda r: r["seconds"]) if classical else None
    h = by[(family, g, hints)]
    saving = best["seconds"] - h["seconds"] if best and h["converged"] == h["count"] \
        else float("nan")
    pays = f"{cost / saving:.0f} solves" if saving > 0 else "never"
    fields = meta.get("training", {}).get("fields", "?")
    return (f"{family} {g}^2 model {h['model']}: {res.get('samples', '?')} samples ({fields} "
            f"fields), data {res.get('data_seconds', 0):.0f} s + training {train_s:.0f} s; "
            f"break-even at {g}^2 against {best['row'] if best else '-'}: {pays}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", nargs="+", default=["darcy", "helmholtz"],
                    choices=["darcy", "helmholtz"])
    ap.add_argument("--darcy", type=int, nargs="+", default=[64, 128, 256])
    ap.add_argument("--helmholtz", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--helmholtz-model", default=None,
                    help="error operator for the Helmholtz rows (a shipped name or a path; "
                         "default: the one pc='hints' picks for each grid)")
    ap.add_argument("--maxiter", type=int, default=MAXITER,
                    help="iteration cap of every iterative row (the untrained one: at most 300)")
    ap.add_argument("--restart", type=int, default=RESTART,
                    help="restart length of every Helmholtz (F)GMRES row (equal for all)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="sciml-out/bench-neural-pc")
    args = ap.parse_args()
    MODEL["helmholtz"] = args.helmholtz_model
    LIMIT["maxiter"] = args.maxiter
    for row in HELMHOLTZ_ROWS.values():
        if "restart" in row:
            row["restart"] = args.restart
    if args.quick:
        args.darcy, args.helmholtz, args.samples = [64], [64], 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    threads = os.environ.get("OMP_NUM_THREADS", "default")
    print(f"# bench_neural_pc: rtol {RTOL:g}, float64 (network float32), seed {args.seed} "
          f"(hidden), {args.samples} samples + 1 warm-up per row, maxiter {args.maxiter}, "
          f"Helmholtz restart {args.restart}; "
          f"OMP_NUM_THREADS={threads}; "
          f"loadavg {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'family':<9} {'size':>6} {'row':<18} {'iters':>8} {'time s':>9} {'warm-up':>8} "
          f"{'conv':>7} reasons")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families:
            sizes = args.darcy if family == "darcy" else args.helmholtz
            rows += bench(family, sizes, args.samples, args.seed, Path(tmp))
    print(*summary(rows), sep="\n")
    print(f"# loadavg at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    (out / "bench_neural_pc.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
