"""The ``>>>`` examples in the docstrings of ``solvers``, ``operators`` and ``sciml`` run.

Modules are found by walking the packages with :mod:`pkgutil` and kept when their source has
``>>>``; each one is imported in its test and run through :class:`doctest.DocTestFinder`
(``ELLIPSIS | NORMALIZE_WHITESPACE``). Nothing is skipped: PETSc modules need petsc4py, which
the test environment installs (``scripts/test.sh``).
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest

PACKAGES = ("solvers", "operators", "meshes", "sciml")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def modules_with_examples() -> list[str]:
    """Names of the modules (packages included) under :data:`PACKAGES` whose source has
    ``>>>``, found with :func:`pkgutil.iter_modules`, without importing anything."""
    found = []
    pending = [(name, Path(importlib.util.find_spec(name).origin)) for name in PACKAGES]
    while pending:
        name, origin = pending.pop()
        if ">>>" in origin.read_text(encoding="utf-8"):
            found.append(name)
        if origin.name == "__init__.py":
            for info in pkgutil.iter_modules([str(origin.parent)], f"{name}."):
                leaf = info.name.rpartition(".")[2]
                path = origin.parent / leaf
                pending.append((info.name, path / "__init__.py" if info.ispkg
                                else path.with_suffix(".py")))
    return sorted(found)


MODULES = modules_with_examples()


def test_examples_are_found():
    assert {"solvers.api", "operators.gallery", "solvers.system"} <= set(MODULES)
    assert len(MODULES) >= 25


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in tests:
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.attempted > 0, f"{name} has '>>>' in its source but no doctest was found"
    assert results.failed == 0, f"{results.failed} of {results.attempted} examples failed in {name}"
