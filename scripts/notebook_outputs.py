"""Executed copies of the example notebooks, for the documentation site (a mkdocs hook).

The notebooks are committed without outputs (``tests/project/test_notebooks.py`` checks it), so
mkdocs-jupyter alone would render them without figures. ``tests/project/test_notebooks.py`` already
executes every notebook; it stores the executed copy with :func:`store` in
``build/notebooks/<name>.ipynb`` (ignored by git), recording the SHA-256 of the source
notebook. At ``mkdocs build`` time :func:`on_files` (this module is listed under ``hooks:`` in
``mkdocs.yml``) points each notebook page at its executed copy when one exists for the same
source, and otherwise executes the notebook itself, once, and stores the copy. In CI
(``scripts/test.sh``: pytest, then ``mkdocs build``) the site therefore costs no second
execution; a docs build on its own pays one run of each notebook, and later builds none.

A notebook runs in a fresh kernel with its working directory and ``SCIML_EXAMPLES_OUT`` in a
temporary folder (it writes nothing into the repository) and one BLAS thread; matplotlib
keeps the kernel's inline backend, so each figure is also an ``image/png`` output.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Where the executed copies go (``build/`` is ignored by git).
OUTPUTS = ROOT / "build" / "notebooks"
#: Notebook metadata key holding the SHA-256 of the source an executed copy was made from.
SOURCE_KEY = "sciml_source_sha256"

log = logging.getLogger("mkdocs.hooks.notebook_outputs")


def source_hash(path: Path) -> str:
    """SHA-256 of the notebook file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def execute(path: Path, workdir: Path, *, allow_errors: bool = False) -> Any:
    """Run the notebook at ``path`` in a fresh ``python3`` kernel inside ``workdir`` and return
    it with its outputs (an ``nbformat.NotebookNode``); ``SCIML_EXAMPLES_OUT`` is
    ``workdir/out``. A failing cell raises ``nbclient``'s ``CellExecutionError`` unless
    ``allow_errors`` (then the error is an output)."""
    import nbformat
    from nbclient import NotebookClient

    env = {**os.environ, "SCIML_EXAMPLES_OUT": str(Path(workdir) / "out"),
           "OPENBLAS_NUM_THREADS": "1"}
    env.pop("MPLBACKEND", None)  # the inline backend makes each figure an image/png output
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(workdir)}}).execute(env=env)
    return nb


def errors(nb: Any) -> list[Any]:
    """The error outputs of an executed notebook."""
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type == "error"]


def store(path: Path, nb: Any) -> Path:
    """Write the executed ``nb`` of the notebook at ``path`` to :data:`OUTPUTS`, tagged with
    the source's hash; returns where."""
    import nbformat

    nb.metadata[SOURCE_KEY] = source_hash(path)
    OUTPUTS.mkdir(parents=True, exist_ok=True)
    target = OUTPUTS / Path(path).name
    tmp = target.with_suffix(".tmp")
    nbformat.write(nb, tmp)
    tmp.replace(target)
    return target


def executed_copy(path: Path) -> Path | None:
    """The stored executed copy of the notebook at ``path``, if it was made from this very
    source (same name and bytes); else ``None``."""
    import nbformat

    target = OUTPUTS / Path(path).name
    if not target.is_file():
        return None
    stored = nbformat.read(target, as_version=4).metadata.get(SOURCE_KEY)
    return target if stored == source_hash(path) else None


def ensure(path: Path) -> Path | None:
    """:func:`executed_copy`, executing and storing the notebook first when there is none; None
    (and a log line) when it fails to run here (notebook 07 without PETSc, say)."""
    copy = executed_copy(path)
    if copy is not None:
        return copy
    log.info("executing %s for the documentation (no executed copy from the tests)", path)
    with tempfile.TemporaryDirectory(prefix="sciml-docs-nb-") as workdir:
        nb = execute(path, Path(workdir), allow_errors=True)
    if errors(nb):
        log.info("%s failed to run here; rendered without outputs", Path(path).name)
        return None
    return store(path, nb)


def on_files(files: Any, config: Any) -> Any:
    """mkdocs hook: render each ``.ipynb`` page from its executed copy."""
    for file in files:
        source = getattr(file, "abs_src_path", None)
        if source and source.endswith(".ipynb"):
            copy = ensure(Path(source))
            if copy is not None:
                file.abs_src_path = str(copy)
    return files
