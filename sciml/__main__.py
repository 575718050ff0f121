"""Command line: ``python -m sciml <command> ...``.

Each command lives in its own module exposing ``add_parser(subparsers)``, which adds a
sub-parser and sets its ``func``; this file only assembles them.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: Modules that contribute a sub-command, in the order shown by ``--help``.
COMMAND_MODULES = (
    "sciml.demo",
    "sciml.dcdm.cli",
    "sciml.batch",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sciml", description="Learned and classical linear solvers for PDEs."
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not name.startswith(exc.name or "?"):  # a missing dependency inside it
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
