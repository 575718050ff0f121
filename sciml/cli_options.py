"""Command-line options shared by the training commands (``train-dcdm``, ``train-dmm``,
``train-operator``): where a run writes, resuming it, installing its weights, the progress bar.

Kept apart from :mod:`sciml.training` so that building a parser imports neither JAX nor
equinox (``--help`` and argument errors stay instant).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

__all__ = ["add_run_options", "positive"]


def add_run_options(parser: argparse.ArgumentParser, default_out: Path,
                    install: str | None = None) -> None:
    """Add ``--out``, ``--resume``, ``--install`` (when ``install`` names where the weights
    go) and ``--no-progress`` to ``parser``."""
    parser.add_argument("--out", type=Path, default=default_out,
                        help=f"output directory, outside the package (default ./{default_out})")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the last checkpoint in --out")
    if install is not None:
        parser.add_argument("--install", action="store_true",
                            help=f"copy the final weights into the package ({install})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def positive(kind: type, zero_ok: bool = False) -> Callable[[str], int | float]:
    """An argparse ``type`` accepting numbers of ``kind`` that are > 0 (>= 0 if ``zero_ok``)."""

    bound = ">= 0" if zero_ok else "> 0"

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a {kind.__name__} {bound}, not {text!r}") from None
        if not (value >= 0 if zero_ok else value > 0):
            raise argparse.ArgumentTypeError(f"must be {bound}, not {text!r}")
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse
