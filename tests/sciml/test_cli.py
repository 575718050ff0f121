"""``python -m sciml``: mistakes are one line on stderr with exit status 2 and nothing written;
``--help`` is plain text with every default; ``train-dcdm`` prints its validation table."""

from __future__ import annotations

import argparse
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sciml.__main__ import COMMANDS, build_parser, main, plain_text

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sciml", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_argument_error_one_line_exit_2_nothing_written(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("demo", "--n", "x", "--out", str(out))
    assert proc.returncode == 2
    assert "argument --n: must be an integer >= 4, not 'x'" in one_error_line(proc.stderr)
    assert not out.exists()


def test_error_raised_by_a_command_is_one_line_too(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("keep me")
    proc = run_cli("train-dcdm", "--model", "poisson3d", "--grid", "64x64", "--out",
                   str(target))
    assert proc.returncode == 2 and "is a file" in one_error_line(proc.stderr)
    assert target.read_text() == "keep me" and list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize(("argv", "message"), [
    (["demo", "--n", "3"], "must be >= 4, not 3"),
    (["demoo"], "invalid choice: 'demoo'"),
    (["train-dcdm", "--model", "poisson9d"], "invalid choice: 'poisson9d'"),
    (["train-dcdm", "--model", "poisson2d", "--steps", "0"], "--steps: must be > 0"),
    (["train-dcdm", "--model", "poisson2d", "--lr", "-1"], "--lr: must be > 0"),
    (["train-dcdm", "--model", "poisson2d", "--grid", "3"], "grid sides must be >= 4"),
    (["train-dcdm", "--model", "poisson3d", "--grid", "64x64"], "each grid must have 3 sides"),
    (["train-dcdm", "--model", "poisson2d", "--out", "sciml/dcdm/x"], "inside the package"),
    (["train-dcdm", "--model", "poisson2d", "--install-only"], "nothing to install"),
])
def test_mistakes_in_process(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT if "sciml/dcdm/x" in argv else tmp_path)
    if "--out" not in argv:
        argv = [*argv, "--out", str(tmp_path / "out")] if argv[0] != "demoo" else argv
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    assert status == 2
    assert message in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "out").exists() and not (ROOT / "sciml" / "dcdm" / "x").exists()


def _commands() -> list[str]:
    parser = build_parser()
    return sorted(next(a for a in parser._actions
                       if isinstance(a, argparse._SubParsersAction)).choices)


def test_every_command_is_checked_below():
    assert {"demo", "train-dcdm", "batch", "datagen", "train-operator",
            "train-dmm"} <= set(_commands())


@pytest.mark.parametrize("command", _commands())
def test_help_is_plain_text_with_every_real_default(command, capsys):
    """Every option of every command shows its default, and a ``None`` default says what it
    means (``default: all not held out``), never ``default: None``."""
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "``" not in text and ":func:" not in text and "\n---" not in text
    options = text.split("options:")[1]
    blocks = re.split(r"\n  (?=-)", options)[1:]
    for block in blocks:
        if not block.startswith("-h, --help"):
            assert "default" in block or "(required)" in block, block
            flat = " ".join(block.split())
            assert not re.search(r"default: (none|\[\])", flat, re.IGNORECASE), block


def test_plain_text_removes_rst():
    assert plain_text("Run ``x`` with :class:`Y`::\n\nNotes\n-----\nok") == \
        "Run x with Y:\n\nNotes:\nok"


def test_train_dcdm_prints_its_validation_table(tmp_path, monkeypatch, capsys):
    def fake_train(config, out, **kwargs):
        path = Path(out) / config.model / f"{config.model}.eqx"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"weights")
        rows = [{"grid": [16, 16], "rtol": 1e-6, "dcdm_iterations": 9, "converged": True,
                 "cg_iterations": 41}]
        path.with_suffix(".json").write_text(json.dumps({"validation": rows}))
        return path

    monkeypatch.setattr("sciml.dcdm.train.train", fake_train)
    assert main(["train-dcdm", "--model", "poisson2d", "--steps", "2", "--out",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "validation (held-out right-hand side, rtol 1e-06)" in out
    assert re.search(r"16x16\s+9\s+41\s+True", out)


def test_command_table_names_what_each_module_registers():
    """:data:`sciml.__main__.COMMANDS` maps each command to the module that adds it."""
    for command in COMMANDS:
        parser = build_parser(command)
        choices = next(a for a in parser._actions
                       if isinstance(a, argparse._SubParsersAction)).choices
        assert set(choices) == {command}


def test_one_command_imports_only_its_module():
    """``python -m sciml datagen`` (run per MPI rank) does not import JAX for other commands."""
    code = ("import sys; from sciml.__main__ import build_parser; build_parser('datagen'); "
            "print('jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("module, argv, name", [
    ("sciml.neural_operators.error_train", ["--epochs", "-1"], "--epochs"),
    ("sciml.neural_operators.error_train", ["--lr", "0"], "--lr"),
    ("sciml.neural_operators.cycle_train", ["--fields", "0"], "--fields"),
    ("sciml.neural_operators.cycle_train", ["--rounds", "-1"], "--rounds"),
])
def test_error_operator_trainers_reject_bad_counts(module, argv, name, tmp_path, capsys):
    """The HINTS trainers check their numbers before generating any data."""
    main_of = importlib.import_module(module).main
    with pytest.raises(SystemExit) as info:
        main_of([*argv, "--out", str(tmp_path / "out")])
    assert info.value.code == 2
    assert f"argument {name}: must be" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
