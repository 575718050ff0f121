"""``python -m sciml train-operator``: train an FNO or MgNO on a datagen directory.

Examples
--------
Generate Darcy data, train an FNO, resume it after an interruption (Ctrl-C keeps a
checkpoint)::

    python -m sciml datagen --problem darcy --count 1200 --grid 64 --out data/darcy64
    python -m sciml train-operator --model fno --data data/darcy64 --out runs/fno --epochs 100
    python -m sciml train-operator --model fno --data data/darcy64 --out runs/fno --epochs 100 \\
        --resume

Architecture options go through ``--set key=value`` (``--set modes=8 --set width=24``,
``--set channels=24 --set levels=5`` for an MgNO). ``--out`` receives the checkpoints, the
final ``model.eqx``/``model.json`` (load with ``sciml.neural_operators.load``), ``history.json``,
``loss.png`` and ``predictions.png``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sciml.cli_options import add_run_options
from sciml.neural_operators.train import DEFAULT_BATCH, DEFAULT_TEST, DEFAULTS

DEFAULT_OUT = Path("sciml-out") / "operator"


def _setting(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, not {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def _per_model(setting: str) -> str:
    """``"default per model: fno 0.005, mgno 0.001"`` from :data:`train.DEFAULTS`."""
    return "default per model: " + ", ".join(
        f"{model} {values[setting]}" for model, values in DEFAULTS.items())


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``train-operator`` sub-command."""
    parser = subparsers.add_parser(
        "train-operator", help="train a neural operator (FNO, MgNO) on datagen data",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("fno", "mgno"), required=True,
                        help="the architecture: Fourier or multigrid neural operator")
    parser.add_argument("--data", type=Path, required=True, help="a datagen directory")
    parser.add_argument("--epochs", type=int, default=100, help="passes over the training set")
    parser.add_argument("--batch-size", type=int, default=None,
                        help=f"samples per optimiser step (default: {DEFAULT_BATCH}, or every "
                             f"training sample when there are fewer)")
    parser.add_argument("--lr", type=float, default=None,
                        help=f"peak learning rate ({_per_model('lr')})")
    parser.add_argument("--optimiser", choices=("adam", "adamw"), default=None,
                        help=_per_model("optimiser"))
    parser.add_argument("--schedule", choices=("cosine", "onecycle", "constant"), default=None,
                        help=f"learning-rate schedule ({_per_model('schedule')})")
    parser.add_argument("--weight-decay", type=float, default=None,
                        help=f"AdamW's decoupled weight decay ({_per_model('weight_decay')})")
    parser.add_argument("--loss", choices=("h1", "l2"), default="h1",
                        help="relative H1 or L2 error")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and batch order")
    parser.add_argument("--train", type=int, default=None,
                        help="training samples, the first N (default: all not held out)")
    parser.add_argument("--test", type=int, default=None,
                        help=f"held-out samples, the last N (default: {DEFAULT_TEST}, or a "
                             f"fifth of a data set under {5 * DEFAULT_TEST} samples)")
    parser.add_argument("--eval-every", type=int, default=None, metavar="EPOCHS",
                        help="evaluate the held-out set every EPOCHS epochs (default: only "
                             "after the last epoch)")
    parser.add_argument("--init", default=None, metavar="MODEL",
                        help="start from this trained model (a path or shipped name; same "
                             "--model and --set; default: random weights)")
    parser.add_argument("--set", dest="architecture", type=_setting, action="append",
                        default=[], metavar="KEY=VALUE",
                        help="architecture option, repeatable (default: the model's config)")
    add_run_options(parser, DEFAULT_OUT)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Execute ``train-operator``; returns the process exit status."""
    from sciml.neural_operators.train import train_operator
    from solvers.backends.jax import cache

    cache.enable()
    result = train_operator(
        args.model, args.data, args.out, epochs=args.epochs, batch_size=args.batch_size,
        seed=args.seed, lr=args.lr, loss=args.loss, optimiser=args.optimiser,
        schedule=args.schedule, weight_decay=args.weight_decay,
        architecture=dict(args.architecture), test=args.test, train_count=args.train,
        eval_every=args.eval_every, resume=args.resume, progress=not args.no_progress,
        init=args.init)
    print(f"{args.model}: {result.operator.parameter_count} parameters, test relative L2 "
          f"{result.test_l2:.4f}, H1 {result.test_h1:.4f}, {result.seconds_per_epoch:.2f} s per "
          f"epoch; model: {result.path}")
    return 0
