"""Shared fixtures: a seeded generator whose seed is shown on failure; a CLI-rejection check."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    seed = 12345
    request.node.user_properties.append(("seed", seed))
    return np.random.default_rng(seed)


@pytest.fixture
def assert_cli_rejects(capsys: pytest.CaptureFixture):
    """``assert_cli_rejects(args, out)``: ``python -m sciml *args`` exits with status 2 and an
    ``error:`` line on standard error, and ``out`` was not created."""
    from sciml.__main__ import main

    def check(args: list[str], out) -> None:
        try:
            status = main(args)
        except SystemExit as exc:  # argparse's own errors
            status = exc.code
        assert status == 2 and not out.exists()
        assert "error:" in capsys.readouterr().err

    return check
