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
import json
import shutil
from pathlib import Path

from sciml.cli_options import add_run_options, positive
from sciml.dcdm.families import FAMILIES
from sciml.dcdm.weights import WEIGHTS_DIR
from solvers.errors import InvalidOptionError

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




def _family_default(name: str) -> str:
    """``"default: 4000"``, or the value per model when the models differ."""
    values = {model: getattr(family, name) for model, family in sorted(FAMILIES.items())}
    shown = {model: " ".join(map(str, v)) if isinstance(v, tuple) else str(v)
             for model, v in values.items()}
    if len(set(shown.values())) == 1:
        return f"default: {next(iter(shown.values()))}"
    return "default per model: " + ", ".join(f"{m} {v}" for m, v in shown.items())


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``train-dcdm`` sub-command."""
    parser = subparsers.add_parser(
        "train-dcdm", help="train a DCDM network (data-free, Ritz vectors)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    positive_int, positive_float = positive(int), positive(float)
    parser.add_argument("--model", "--kind", dest="model", required=True,
                        choices=sorted(FAMILIES), help="PDE family to train for")
    parser.add_argument("--grid", nargs="+", type=_grid, default=None,
                        help=f"training grid(s), e.g. 32 64 128 or 64x64 "
                             f"({_family_default('grids')})")
    parser.add_argument("--steps", type=positive_int, default=None,
                        help=f"optimiser steps ({_family_default('steps')})")
    parser.add_argument("--batch", type=positive_int, default=None,
                        help=f"right-hand sides per step ({_family_default('batch')})")
    parser.add_argument("--lr", type=positive_float, default=None,
                        help=f"peak Adam learning rate ({_family_default('lr')})")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, data, batches")
    parser.add_argument("--ritz", type=positive_int, default=None,
                        help=f"Lanczos steps per matrix ({_family_default('ritz')})")
    parser.add_argument("--widths", nargs="+", type=positive_int, default=None,
                        help=f"channels of the coarse levels, e.g. 8 16 "
                             f"({_family_default('widths')})")
    parser.add_argument("--weighting", choices=("octave", "paper"), default="octave",
                        help="variance of the Ritz coefficients")
    parser.add_argument("--checkpoint-every", type=positive_int, default=250, metavar="N",
                        help="write a checkpoint every N steps")
    add_run_options(parser, DEFAULT_OUT, install="sciml/dcdm/weights")
    parser.add_argument("--install-only", action="store_true",
                        help="only copy finished weights from --out into the package")
    parser.add_argument("--no-validate", action="store_true",
                        help="skip the DCDM-vs-CG check on held-out right-hand sides")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Execute ``train-dcdm``; returns the process exit status.

    Every argument is checked (by the parser, then here and by ``TrainConfig``) before
    anything is written; a mistake raises :class:`InvalidOptionError` (one line, exit 2).
    """
    out = args.out.expanduser().resolve()
    if out == WEIGHTS_DIR.parent or WEIGHTS_DIR.parent in out.parents:
        raise InvalidOptionError(
            f"--out {out} is inside the package; pick a directory outside it and use "
            f"--install to copy the final weights in")
    if out.exists() and not out.is_dir():
        raise InvalidOptionError(f"--out {out} is a file; give a directory")
    if args.install_only:
        return install(out / args.model / f"{args.model}.eqx")
    from sciml.dcdm.train import TrainConfig, train
    from solvers.backends.jax import cache

    config = TrainConfig.for_family(
        args.model, grids=args.grid, steps=args.steps, batch=args.batch, lr=args.lr,
        seed=args.seed, ritz=args.ritz, widths=args.widths, weighting=args.weighting,
        checkpoint_every=args.checkpoint_every)
    cache.enable()
    print(f"training {args.model}: {config.command()}\noutput: {out / args.model}")
    try:
        path = train(config, out, resume=args.resume, progress=not args.no_progress,
                     validate=not args.no_validate)
    except KeyboardInterrupt:
        return 130
    print(f"weights: {path} (+ {path.with_suffix('.json').name})")
    validation = json.loads(path.with_suffix(".json").read_text()).get("validation")
    if validation:
        print(validation_table(validation))
    return install(path) if args.install else 0


def validation_table(rows: list[dict]) -> str:
    """The DCDM-vs-CG check stored with the weights, as a table.

    Examples
    --------
    >>> print(validation_table([{"grid": [64, 64], "rtol": 1e-6, "dcdm_iterations": 9,
    ...                          "converged": True, "cg_iterations": 180}]))
    validation (held-out right-hand side, rtol 1e-06):
    grid           DCDM iters  CG iters  converged
    64x64                   9       180  True
    """
    lines = [f"validation (held-out right-hand side, rtol {rows[0]['rtol']:g}):",
             f"{'grid':<12} {'DCDM iters':>11} {'CG iters':>9}  converged"]
    lines += [f"{'x'.join(map(str, row['grid'])):<12} {row['dcdm_iterations']:>11} "
              f"{row['cg_iterations']:>9}  {row['converged']}" for row in rows]
    return "\n".join(lines)


def install(path: Path) -> int:
    """Copy ``path`` (``.eqx``) and its ``.json`` into the package's weights directory."""
    sources = [path.with_suffix(".eqx"), path.with_suffix(".json")]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise InvalidOptionError(f"nothing to install, missing {', '.join(missing)}; train "
                                 f"first (same --model and --out)")
    WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    for source in sources:
        shutil.copyfile(source, WEIGHTS_DIR / source.name)
    print(f"installed {path.stem} into {WEIGHTS_DIR}")
    return 0
