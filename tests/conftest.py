"""Shared fixtures: the registry restored after every test; a seeded generator whose seed is
shown on failure; a CLI-rejection check.

Every test file passes alone and in any order: the suite runs under pytest-randomly, which
prints its seed in the header (``Using --randomly-seed=N``); rerun that order with
``--randomly-seed=N`` (``--randomly-seed=last``: the previous run's), or run in file order
with ``-p no:randomly``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    """The random order's seed, also under ``-q`` (which hides pytest-randomly's header)."""
    if config.pluginmanager.hasplugin("randomly"):
        seed = config.option.randomly_seed
        terminalreporter.write_line(f"test order: pytest-randomly, --randomly-seed={seed}")


@pytest.fixture(scope="session")
def _registry_loaded() -> None:
    """Built-in names and entry-point plugins registered once, before the first snapshot."""
    from solvers import registry

    registry.names()


@pytest.fixture(autouse=True)
def _restore_registry(_registry_loaded: None) -> Iterator[None]:
    """Tests that register their own methods (``registry.register``) leave the registry as
    they found it, so no test depends on what another left registered."""
    from solvers import registry

    entries, loaded = dict(registry._ENTRIES), set(registry._LOADED_ENTRY_POINTS)
    yield
    now = registry._ENTRIES
    if len(now) != len(entries) or any(now.get(key) is not e for key, e in entries.items()):
        now.clear()
        now.update(entries)
        generation = getattr(registry, "_GENERATION", None)
        if generation is not None:  # lookups cached against the changed registry go stale
            generation[0] += 1
    registry._LOADED_ENTRY_POINTS.clear()
    registry._LOADED_ENTRY_POINTS.update(loaded)


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
