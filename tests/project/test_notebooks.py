"""The example notebooks: each runs start to finish, and none is committed with outputs.

Each notebook is executed in a fresh kernel (nbclient) with its working directory and
``SCIML_EXAMPLES_OUT`` in a temporary folder, so it writes nothing into the repository and
reads nothing from the internet (``scripts/notebook_outputs.py``). The executed copy is kept in
``build/notebooks/`` for the documentation site, which renders the notebooks with their
figures from it (``mkdocs.yml``'s hook; ``tests/project/test_docs_and_quickstart.py`` builds
one page).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


def notebook_outputs():
    """``scripts/notebook_outputs.py`` (shared with the mkdocs hook) as a module."""
    spec = importlib.util.spec_from_file_location(
        "notebook_outputs", ROOT / "scripts" / "notebook_outputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_design_notebook_is_there():
    names = {p.stem for p in NOTEBOOKS}
    assert len(names) >= 4 and "01_quickstart" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stripped(path: Path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{path.name}: commit notebooks without outputs")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, tmp_path: Path):
    """Runs without an error cell, saves its figure, shows it inline (an ``image/png`` output,
    what the docs site renders), and leaves its executed copy for the site."""
    outputs = notebook_outputs()
    nb = outputs.execute(path, tmp_path)  # an error cell raises CellExecutionError
    assert any((tmp_path / "out").glob("*.png")), "each notebook saves its figure"
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if "image/png" in o.get("data", {})]
    assert shown, "each notebook shows a figure inline"
    copy = outputs.store(path, nb)
    assert outputs.executed_copy(path) == copy
