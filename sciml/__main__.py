"""Command line: ``python -m sciml <command> ...``.

Each command lives in its own module exposing ``add_parser(subparsers)``, which adds a
sub-parser and sets its ``func``; this file only assembles them.

Every mistake a user can make on the command line ends as one line on stderr and exit status
2, without a traceback: argparse's own errors (:class:`Parser`) and the
:class:`solvers.errors.SolverError`/``ValueError`` a command raises (set ``SCIML_DEBUG=1``
for the traceback). ``--help`` is plain text with the default of every option
(:class:`HelpFormatter`). ``-v`` shows the ``"solvers"`` log (``auto``'s choices, setup
reuse, compilations) on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
import sys
from typing import Any, NoReturn

from solvers.errors import SolverError

#: The module that contributes each sub-command, in the order shown by ``--help``. A command
#: line naming one command imports only its module: ``mpiexec -n 2 python -m sciml datagen``
#: would otherwise import JAX on every rank (2-3 s each) for the commands it does not run.
COMMANDS = {
    "demo": "sciml.demo",
    "train-dcdm": "sciml.dcdm.cli",
    "batch": "sciml.batch",
    "datagen": "sciml.recycling.datagen",
    "train-operator": "sciml.neural_operators.cli",
    "train-dmm": "sciml.mesh_movers.cli",
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Plain-text help: reStructuredText markup of module docstrings removed (````x```` ->
    ``x``, section underlines dropped), and every option's default shown.

    An option whose default is ``None`` must say in its help what ``None`` means
    (``"(default: all shards)"``); otherwise its help ends ``(default: none)``, which the
    tests refuse."""

    def _format_text(self, text: str) -> str:
        return super()._format_text(plain_text(text))

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or not action.option_strings or action.default is argparse.SUPPRESS:
            return text
        if action.required:
            return text if "(required)" in text else f"{text} (required)"
        return f"{text} (default: {'none' if action.default is None else '%(default)s'})"


def plain_text(text: str) -> str:
    """``text`` without reStructuredText markup: literals, roles and section underlines.

    Examples
    --------
    >>> plain_text("Use ``--out`` and :func:`train`.\\n\\nExamples\\n--------\\nrun it")
    'Use --out and train.\\n\\nExamples:\\nrun it'
    """
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", text)
    text = text.replace("``", "")
    text = re.sub(r"::\n", ":\n", text)
    return re.sub(r"(\S[^\n]*)\n[-=~]{3,}\n", r"\1:\n", text)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (exit status 2), with
    :class:`HelpFormatter` and a help string showing the default for every option."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["formatter_class"] = HelpFormatter
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        if "help" not in kwargs and args and str(args[0]).startswith("-"):
            kwargs["help"] = "(required)" if kwargs.get("required") else "default: %(default)s"
        return super().add_argument(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or only of ``command`` (a key of :data:`COMMANDS`)."""
    parser = Parser(
        prog="python -m sciml", description="Learned and classical linear solvers for PDEs."
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log the solvers' choices (auto, setup reuse, compilations)")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name in [COMMANDS[command]] if command in COMMANDS else COMMANDS.values():
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if not name.startswith(exc.name or "?"):  # a missing dependency inside it
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    parser = build_parser(next((w for w in words if not w.startswith("-")), None))
    args = parser.parse_args(argv)
    if args.verbose:
        _log_to_stderr()
    try:
        return int(args.func(args) or 0)
    except (SolverError, ValueError) as exc:
        if os.environ.get("SCIML_DEBUG"):
            raise
        message = " ".join(str(exc).split())
        print(f"{parser.prog} {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog} {args.command}: interrupted", file=sys.stderr)
        return 130


def _log_to_stderr() -> None:
    """Show the ``"solvers"`` logger's INFO records on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger = logging.getLogger("solvers")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
