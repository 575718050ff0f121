"""Neural operators on Darcy flow: our FNO and MgNO (JAX) against neuraloperator's FNO (PyTorch).

Data: ``python -m sciml datagen`` Darcy samples (``-div(K grad u) = 1``, ``K = exp(GRF)``) on
the G x G grid; the first ``--train`` samples train, the last ``--test`` are held out. Every
model sees the same normalised data with the same batch size; the two FNOs train for the same
number of epochs, have the same width and keep the same Fourier modes. MgNO costs about nine
times an FNO per epoch on a CPU (3x3 convolutions at every level against an FNO's pointwise maps),
so it gets its own ``--mgno-epochs`` and the table says how many. Columns: parameters, epochs,
seconds per training epoch in the accuracy run (median, the first epoch with its compilation
left out), held-out relative L2 error, and the training throughput: seconds per 1,000 training
samples measured apart, in short runs of the same training code alternated between the models
(``--timing-rounds`` rounds, the fastest kept), so that a load change on a shared machine does
not fall on one model only; the speed column is neuraloperator's time over the model's.
neuraloperator runs in its own virtual environment through ``benchmarks/neuraloperator_peer.py``
(``--torch-python``); when it is missing the row says how to create it.

The warm-start table solves held-out Darcy problems to ``rtol=1e-8`` with CG and AMG-CG
(pyamg smoothed aggregation) from a zero initial guess and from each operator's prediction:
mean iterations, and mean seconds (solve plus prediction).

    python benchmarks/bench_neural_operators.py --quick          # smoke run, ~minutes
    python benchmarks/bench_neural_operators.py                  # 64^2, 1000/200 samples

Full run: G=64, 1000 training / 200 test samples, batch 10, 20 epochs (MgNO 4), FNO 8 modes x
width 24, MgNO 5 layers x 24 channels x 5 levels; float32 networks, float64 solves, all CPU
threads JAX and PyTorch see.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import operators
from sciml.neural_operators import initial_guess, train_operator
from sciml.neural_operators.data import Normaliser, load, split
from sciml.persist import read_state
from sciml.recycling.datagen import run_datagen
from solvers import solve

TORCH_PYTHON = "/work/venvs/torch/bin/python"
PEER = Path(__file__).resolve().parent / "neuraloperator_peer.py"


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="G=32, 48/16 samples, 2 epochs")
    p.add_argument("--data", type=Path, default=None,
                   help="a datagen directory (default: generated into --out/data)")
    p.add_argument("--grid", type=int, default=64)
    p.add_argument("--train", type=int, default=1000)
    p.add_argument("--test", type=int, default=200)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--mgno-epochs", type=int, default=4)
    p.add_argument("--timing-samples", type=int, default=200,
                   help="training samples of each timing run")
    p.add_argument("--timing-rounds", type=int, default=2)
    p.add_argument("--timing-only", action="store_true",
                   help="only the throughput table (no accuracy runs, no warm-start table)")
    p.add_argument("--batch-size", type=int, default=10)
    p.add_argument("--modes", type=int, default=8)
    p.add_argument("--width", type=int, default=24)
    p.add_argument("--fno-lr", type=float, default=5e-3)
    p.add_argument("--mgno-lr", type=float, default=1e-3)
    p.add_argument("--warm", type=int, default=5, help="held-out problems in the warm table")
    p.add_argument("--models", nargs="+", default=["fno", "mgno", "neuraloperator"])
    p.add_argument("--torch-python", default=TORCH_PYTHON)
    p.add_argument("--out", type=Path, default=Path("sciml-out") / "bench-operators")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.quick:
        args.grid, args.train, args.test, args.epochs, args.warm = 32, 48, 16, 2, 2
        args.mgno_epochs, args.timing_samples, args.timing_rounds = 2, 40, 1
    return args


def _data(args: argparse.Namespace) -> Path:
    if args.data is not None:
        return args.data
    folder = args.out / f"data-{args.grid}-{args.train + args.test}"
    run_datagen("darcy", args.train + args.test, args.grid, out=folder, seed=args.seed,
                method="cg", pc="amg", sort="none", progress=True)
    return folder


def _ours(model: str, args: argparse.Namespace, data: Path, epochs: int, train: int,
          out: Path, progress: bool = True) -> dict:
    arch = ({"modes": args.modes, "width": args.width, "projection_ratio": 2} if model == "fno"
            else {"channels": args.width})
    shutil.rmtree(out, ignore_errors=True)
    r = train_operator(model, data, out, epochs=epochs, batch_size=args.batch_size,
                       seed=args.seed, lr=args.fno_lr if model == "fno" else args.mgno_lr,
                       architecture=arch, test=args.test, train_count=train, progress=progress,
                       figures=progress)
    return {"parameters": r.operator.parameter_count, "seconds_per_epoch": r.seconds_per_epoch,
            "test_l2": r.test_l2, "operator": r.operator, "epochs": epochs, "train": train}


def _peer(args: argparse.Namespace, data: Path, epochs: int, train: int) -> dict | None:
    if not Path(args.torch_python).exists():
        print(f"neuraloperator row missing: {args.torch_python} does not exist; create it with\n"
              f"  python -m venv /work/venvs/torch && /work/venvs/torch/bin/pip install "
              f"torch==2.13.0 neuraloperator")
        return None
    parts = split(load(data), test=args.test, train=train)
    norm = Normaliser.fit(parts.train_inputs, parts.train_outputs)
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "data.npz", Path(tmp) / "result.json"
        np.savez(source, x_train=norm.encode_input(parts.train_inputs),
                 y_train=norm.encode_output(parts.train_outputs),
                 x_test=norm.encode_input(parts.test_inputs), u_test=parts.test_outputs,
                 output_mean=norm.output_mean, output_std=norm.output_std, epochs=epochs,
                 batch_size=args.batch_size, lr=args.fno_lr, modes=args.modes,
                 width=args.width, weight_decay=1e-4, seed=args.seed)
        run = subprocess.run([args.torch_python, str(PEER), str(source), str(target)],
                             capture_output=True, text=True)
        if run.returncode:
            print(f"neuraloperator row missing: the peer failed:\n{run.stderr[-2000:]}")
            return None
        return {**json.loads(target.read_text()), "epochs": epochs, "train": train}


def _timing(args: argparse.Namespace, data: Path) -> dict[str, float]:
    """Seconds per 1,000 training samples of each model: short runs of ``timing_samples``
    samples (3 epochs, 2 for MgNO; the first, with its compilation, not counted), the models
    alternated for ``timing_rounds`` rounds and the fastest round kept."""
    best: dict[str, float] = {}
    for _ in range(args.timing_rounds):
        for model in args.models:
            epochs = 2 if model == "mgno" else 3
            if model == "neuraloperator":
                r = _peer(args, data, epochs, args.timing_samples)
            else:
                r = _ours(model, args, data, epochs, args.timing_samples,
                          args.out / f"timing-{model}", progress=False)
            if r is not None:
                per_1000 = r["seconds_per_epoch"] * 1000 / args.timing_samples
                best[model] = min(best.get(model, np.inf), per_1000)
    return best


def _warm_table(args: argparse.Namespace, data: Path, ops: dict) -> list[str]:
    meta = read_state(data / "datagen.json", "sciml.datagen", 1)
    fam = operators.family("darcy", int(meta["grid"]), seed=int(meta["seed"]))
    count = int(meta["count"])
    problems = [fam.sample(i) for i in range(count - args.warm, count)]
    rows = []
    for method, pc in [("cg", None), ("cg", "amg")]:
        for name, op in [("zero", None), *ops.items()]:
            its, secs = [], []
            for p in problems:
                tick = time.perf_counter()
                x0 = None if op is None else initial_guess(op, p)
                res = solve(p, p.b, method=method, pc=pc, rtol=1e-8, x0=x0)
                secs.append(time.perf_counter() - tick)
                its.append(res.iterations)
                assert res.converged
            rows.append(f"| {method}{'+' + pc if pc else ''} | {name} | {np.mean(its):.1f} | "
                        f"{np.mean(secs):.4f} |")
    return rows


def main() -> None:
    args = _args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = _data(args)
    print(f"Darcy {args.grid}x{args.grid}, {args.train} train / {args.test} test, "
          f"{args.epochs} epochs (MgNO {args.mgno_epochs}), batch {args.batch_size}, float32, "
          f"CPU threads: "
          f"{os.cpu_count()}")
    if args.timing_only:
        for name, t in (timing := _timing(args, data)).items():
            speed = t and timing.get("neuraloperator", float("nan")) / t
            print(f"| {name} | {t:.2f} s per 1,000 samples | {speed:.2f}x neuraloperator |")
        return
    results = {}
    for model in args.models:
        epochs = args.mgno_epochs if model == "mgno" else args.epochs
        if model == "neuraloperator":
            results[model] = _peer(args, data, epochs, args.train)
        else:
            results[model] = _ours(model, args, data, epochs, args.train, args.out / model)
    timing = _timing(args, data)
    base = timing.get("neuraloperator")
    print("\n| model | parameters | epochs | s/epoch in the run | test rel. L2 | "
          "s per 1,000 samples (timed apart) | speed vs neuraloperator |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        if r is None:
            print(f"| {name} | missing | | | | | |")
            continue
        t = timing.get(name, float("nan"))
        speed = f"{base / t:.2f}x" if base else "n/a"
        print(f"| {name} | {r['parameters']:,} | {r['epochs']} | {r['seconds_per_epoch']:.2f} | "
              f"{r['test_l2']:.4f} | {t:.2f} | {speed} |")
    ops = {n: r["operator"] for n, r in results.items() if r and "operator" in r}
    print(f"\nWarm start, {args.warm} held-out problems, rtol 1e-8 (mean iterations, mean "
          f"seconds incl. prediction)\n\n| solver | x0 | iterations | seconds |\n|---|---|---|---|")
    print("\n".join(_warm_table(args, data, ops)))


if __name__ == "__main__":
    sys.exit(main())
