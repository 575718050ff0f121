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

DEFAULT_OUT = Path("sciml-out") / "operator"


def _setting(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, not {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``train-operator`` sub-command."""
    parser = subparsers.add_parser(
        "train-operator", help="train a neural operator (FNO, MgNO) on datagen data",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("fno", "mgno"), required=True)
    parser.add_argument("--data", type=Path, required=True, help="a datagen directory")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate")
    parser.add_argument("--optimiser", choices=("adam", "adamw"), default=None)
    parser.add_argument("--schedule", choices=("cosine", "onecycle", "constant"), default=None)
    parser.add_argument("--weight-decay", type=float, default=None)
    parser.add_argument("--loss", choices=("h1", "l2"), default="h1")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and batch order")
    parser.add_argument("--train", type=int, default=None, help="training samples (first N)")
    parser.add_argument("--test", type=int, default=200, help="held-out samples (last N)")
    parser.add_argument("--eval-every", type=int, default=None, metavar="EPOCHS",
                        help="evaluate the held-out set every EPOCHS epochs")
    parser.add_argument("--set", dest="architecture", type=_setting, action="append",
                        default=[], metavar="KEY=VALUE", help="architecture option")
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
        eval_every=args.eval_every, resume=args.resume, progress=not args.no_progress)
    print(f"{args.model}: {result.operator.parameter_count} parameters, test relative L2 "
          f"{result.test_l2:.4f}, H1 {result.test_h1:.4f}, {result.seconds_per_epoch:.2f} s per "
          f"epoch; model: {result.path}")
    return 0
