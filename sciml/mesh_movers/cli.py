"""``python -m sciml train-dmm``: train the data-free mesh mover on tanh fronts.

Trains :class:`sciml.mesh_movers.model.DMMNet` with :func:`sciml.mesh_movers.train.train`
(seeded, checkpointed, ``--resume`` continues an interrupted run bit-for-bit) and writes
``<out>/<name>.eqx`` + ``.json``; ``--install`` copies them into the package
(``sciml/mesh_movers/weights/``), which is what ``scripts/train-dmm-weights.sh`` does.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from sciml.cli_options import add_run_options
from sciml.mesh_movers.model import Architecture
from sciml.mesh_movers.train import TrainConfig, train
from sciml.mesh_movers.weights import WEIGHTS_DIR

DEFAULT_OUT = Path("sciml-out") / "dmm"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``train-dmm`` sub-command."""
    defaults = TrainConfig()
    parser = subparsers.add_parser(
        "train-dmm", help="train the data-free mesh mover (DMM) on tanh fronts",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=defaults.steps, help="optimiser steps")
    parser.add_argument("--batch", type=int, default=defaults.batch, help="fronts per step")
    parser.add_argument("--points", type=int, default=defaults.points,
                        help="collocation points per front")
    parser.add_argument("--lr", type=float, default=defaults.lr, help="peak Adam learning rate")
    parser.add_argument("--alpha", type=float, default=defaults.alpha, help="monitor alpha")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of everything")
    add_run_options(parser, DEFAULT_OUT, install="sciml/mesh_movers/weights")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Execute ``train-dmm``; returns the process exit status."""
    config = TrainConfig(steps=args.steps, batch=args.batch, points=args.points, lr=args.lr,
                         alpha=args.alpha, seed=args.seed, arch=Architecture())
    out = args.out.expanduser().resolve()
    _, meta = train(config, out, resume=args.resume, progress=not args.no_progress)
    print(f"final loss {meta['final_loss']:.4g}; validation {meta['validation']}; "
          f"weights in {out / config.name}.eqx")
    if args.install:
        WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
        for suffix in (".eqx", ".json"):
            shutil.copyfile(out / f"{config.name}{suffix}", WEIGHTS_DIR / f"{config.name}{suffix}")
        print(f"installed into {WEIGHTS_DIR}")
    return 0
