"""``python -m sciml train-dcdm``: train (and optionally install) a DCDM network.

Examples
--------
Reproduce a shipped network and copy it into the package::

    python -m sciml train-dcdm --model poisson2d --install

A quick run with custom settings, resumed after an interruption (Ctrl-C keeps a checkpoint)::

    python -m sciml train-dcdm --model poisson3d --grid 16 32 --steps 500 --out runs/
    python -m sciml train-dcdm --model poisson3d --grid 16 32 --steps 500 --out runs/ --resume

Outputs go to ``--out`` (default ``./sciml-out/dcdm``), never into the package; ``--install``
copies the final ``<model>.eqx``/``.json`` into ``sciml/dcdm/weights/`` afterwards, and
``--install-only`` does just that for a finished run.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from sciml.dcdm.families import FAMILIES
from sciml.dcdm.weights import WEIGHTS_DIR

DEFAULT_OUT = Path("sciml-out") / "dcdm"


def _grid(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"grid must look like 64 or 64x64 or 32x32x32, not {text!r}") from None
    if min(sizes) < 4:
        raise argparse.ArgumentTypeError(f"grid sides must be >= 4, not {text!r}")
    return sizes


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``train-dcdm`` sub-command."""
    parser = subparsers.add_parser(
        "train-dcdm", help="train a DCDM network (data-free, Ritz vectors)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", "--kind", dest="model", required=True,
                        choices=sorted(FAMILIES), help="PDE family to train for")
    parser.add_argument("--grid", nargs="+", type=_grid, default=None,
                        help="training grid(s), e.g. 32 64 128 or 64x64 (default: family's)")
    parser.add_argument("--steps", type=int, default=None, help="optimiser steps")
    parser.add_argument("--batch", type=int, default=None, help="right-hand sides per step")
    parser.add_argument("--lr", type=float, default=None, help="peak Adam learning rate")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, data, batches")
    parser.add_argument("--ritz", type=int, default=None, help="Lanczos steps per matrix")
    parser.add_argument("--widths", nargs="+", type=int, default=None,
                        help="channels of the coarse levels, e.g. 8 16")
    parser.add_argument("--weighting", choices=("octave", "paper"), default=None,
                        help="variance of the Ritz coefficients (default: octave)")
    parser.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                        help="write a checkpoint every N steps (default 250)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output directory (default ./{DEFAULT_OUT})")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the last checkpoint in --out")
    parser.add_argument("--install", action="store_true",
                        help="copy the final weights into the package (sciml/dcdm/weights)")
    parser.add_argument("--install-only", action="store_true",
                        help="only copy finished weights from --out into the package")
    parser.add_argument("--no-validate", action="store_true",
                        help="skip the DCDM-vs-CG check on held-out right-hand sides")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Execute ``train-dcdm``; returns the process exit status."""
    out = args.out.expanduser().resolve()
    if out == WEIGHTS_DIR.parent or WEIGHTS_DIR.parent in out.parents:
        print(f"error: --out {out} is inside the package; pick a directory outside it and "
              f"use --install to copy the final weights in")
        return 2
    if args.install_only:
        return install(out / args.model / f"{args.model}.eqx")
    from sciml.dcdm.train import TrainConfig, train

    config = TrainConfig.for_family(
        args.model, grids=args.grid, steps=args.steps, batch=args.batch, lr=args.lr,
        seed=args.seed, ritz=args.ritz, widths=args.widths, weighting=args.weighting,
        checkpoint_every=args.checkpoint_every)
    print(f"training {args.model}: {config.command()}\noutput: {out / args.model}")
    try:
        path = train(config, out, resume=args.resume, progress=not args.no_progress,
                     validate=not args.no_validate)
    except KeyboardInterrupt:
        return 130
    print(f"weights: {path} (+ {path.with_suffix('.json').name})")
    return install(path) if args.install else 0


def install(path: Path) -> int:
    """Copy ``path`` (``.eqx``) and its ``.json`` into the package's weights directory."""
    sources = [path.with_suffix(".eqx"), path.with_suffix(".json")]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        print(f"error: nothing to install, missing {', '.join(missing)}; train first")
        return 1
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    for source in sources:
        shutil.copyfile(source, WEIGHTS_DIR / source.name)
    print(f"installed {path.stem} into {WEIGHTS_DIR}")
    return 0
