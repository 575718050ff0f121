"""Layers point one way: ``meshes`` < ``operators`` < ``solvers`` < ``sciml`` < ``benchmarks``.

A module imports only from its own layer or lower ones; ``solvers.errors`` (which imports
nothing of ours) from anywhere. Checked on the source (every import statement, at module
level or inside a function), and at run time in fresh interpreters: ``import meshes`` /
``import operators`` load no solver, pyamg nor JAX; ``import solvers`` loads nothing until a
name is used; a solve imports no ``sciml``. A string ``x0`` goes through the initial-guess
providers of :mod:`solvers.guesses` (``sciml`` registers ``"fno"`` by entry point).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from solvers import solve
from solvers.errors import InvalidOptionError
from solvers.guesses import prefixes, register_guess, unregister_guess

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"meshes": 0, "operators": 1, "solvers": 2, "sciml": 3, "benchmarks": 4}
ERRORS = "solvers.errors"  # the error hierarchy, which imports nothing of ours
#: Third-party packages the bottom layer may import (anywhere / inside functions only).
MESHES_THIRD_PARTY = {"numpy", "scipy", "meshio"}
MESHES_ON_USE = {"matplotlib"}


def _imports(tree: ast.AST) -> Iterator[tuple[ast.stmt, str]]:
    """``(statement, absolute module name)`` for every import in ``tree``, at any depth;
    ``from pkg import name`` gives ``pkg.name`` (so ``from solvers import errors`` is
    ``solvers.errors``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield from ((node, f"{node.module}.{alias.name}") for alias in node.names)


def _sources() -> Iterator[tuple[str, Path, ast.Module]]:
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _where(path: Path, node: ast.stmt) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}"


def _allowed(package: str, name: str) -> bool:
    """May a module of ``package`` import ``name``?"""
    top = name.partition(".")[0]
    if top not in LAYERS or name == ERRORS or name.startswith(f"{ERRORS}."):
        return True
    return LAYERS[top] <= LAYERS[package]


def test_every_import_points_to_the_same_or_a_lower_layer() -> None:
    offenders = [_where(path, node) for package, path, tree in _sources()
                 for node, name in _imports(tree) if not _allowed(package, name)]
    assert offenders == [], "imports against the layers:\n" + "\n".join(offenders)


def test_the_layer_rule_refuses_upward_imports() -> None:
    tree = ast.parse("from solvers import errors\nfrom solvers.errors import X\n"
                     "import solvers\nfrom solvers import Solver\nimport solvers.registry\n"
                     "from meshes.mesh import Mesh\nimport numpy\n")
    names = [name for _, name in _imports(tree)]
    assert [_allowed("operators", n) for n in names] == [True, True, False, False, False,
                                                          True, True]
    assert _allowed("sciml", "solvers.registry") and _allowed("benchmarks", "sciml.batch")
    assert not _allowed("solvers", "sciml.neural_operators")
    assert not _allowed("meshes", "operators.fem")


def test_meshes_import_only_numpy_scipy_and_meshio() -> None:
    offenders = []
    for path in sorted((ROOT / "meshes").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = {id(n) for n in tree.body}
        for node, name in _imports(tree):
            top = name.partition(".")[0]
            allowed = MESHES_THIRD_PARTY | (set() if id(node) in top_level else MESHES_ON_USE)
            if top not in LAYERS and top not in sys.stdlib_module_names and top not in allowed \
                    and top != "__future__":
                offenders.append(_where(path, node))
    assert offenders == [], "meshes imports more than NumPy, SciPy, meshio:\n" + \
        "\n".join(offenders)


def test_no_module_imports_private_helpers_of_another() -> None:
    offenders = [
        f"{_where(path, node)} ({alias.name} is private)"
        for _, path, tree in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module != "__future__"
        for alias in node.names if alias.name.startswith("_")
    ]
    assert offenders == [], "\n".join(offenders)


def _loaded_after(code: str) -> set[str]:
    """``sys.modules`` of a fresh interpreter after running ``code``."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def _ours(modules: set[str], package: str) -> set[str]:
    return {m for m in modules if m == package or m.startswith(f"{package}.")}


@pytest.mark.parametrize("package", ["meshes", "operators"])
def test_lower_layers_load_no_solver_pyamg_or_jax(package: str) -> None:
    loaded = _loaded_after(f"import {package}")
    assert _ours(loaded, "solvers") <= {"solvers", "solvers.errors"}, _ours(loaded, "solvers")
    assert not _ours(loaded, "sciml")
    assert {"pyamg", "jax"}.isdisjoint(loaded)


def test_solvers_errors_loads_two_small_modules() -> None:
    loaded = _loaded_after("import solvers.errors")
    assert _ours(loaded, "solvers") == {"solvers", "solvers.errors"}
    assert {"numpy", "scipy", "pyamg", "jax"}.isdisjoint(loaded)


def test_solvers_loads_on_use_and_never_imports_sciml() -> None:
    code = ("import numpy as np, scipy.sparse as sp, solvers\n"
            "A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(30, 30), format='csr')\n"
            "for method in ('auto', 'cg', 'gmres'):\n"
            "    assert solvers.solve(A, np.ones(30), method=method, rtol=1e-10).converged\n")
    assert "jax" not in _loaded_after("import solvers")
    loaded = _loaded_after(code)
    assert "solvers.api" in loaded and "jax" not in loaded
    assert not _ours(loaded, "sciml")


def test_builtins_register_on_first_use_of_the_registry() -> None:
    loaded = _loaded_after("from solvers import registry\n"
                           "assert registry.lookup('cg').name == 'cg'\n"
                           "assert registry.lookup('amg', 'pc').name == 'amg'\n")
    assert "solvers.builtins" in loaded
    assert "solvers.api" not in loaded and not _ours(loaded, "sciml")  # no plugin loaded


def test_every_public_name_still_works() -> None:
    import solvers
    from solvers import (  # noqa: F401
        JaxSolution,
        Reason,
        Solver,
        SolveResult,
        errors,
        linear_solve,
        registry,
    )

    assert solvers.__all__ == ["Reason", "SolveResult", "Solver", "errors", "registry",
                               "solve"]
    assert set(solvers.__all__) | {"linear_solve", "JaxSolution"} <= set(dir(solvers))
    assert solvers.__version__ and solvers.solve is solve and errors.InvalidOptionError
    assert "cg" in registry.names() and isinstance(Solver(), Solver)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        solvers.nope  # noqa: B018


def _system(n: int = 20) -> tuple[sp.csr_matrix, np.ndarray]:
    A = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n), format="csr")
    return A, np.ones(n)


def test_string_x0_goes_through_a_registered_provider() -> None:
    A, b = _system()
    exact = np.linalg.solve(A.toarray(), b)
    calls = []
    register_guess("exact", lambda name, M: calls.append((name, M)) or exact)
    try:
        res = solve(A, b, method="cg", rtol=1e-10, x0="exact:model")
    finally:
        unregister_guess("exact")
    assert calls == [("exact:model", A)]
    assert res.converged and res.iterations == 0


def test_unknown_x0_prefix_is_refused_with_the_valid_ones() -> None:
    A, b = _system()
    assert {"fno", "mgno"} <= set(prefixes())  # declared by sciml's entry points
    for name in ("nope:x", "darcy", ":x"):
        with pytest.raises(InvalidOptionError, match="'fno:<model>'") as info:
            solve(A, b, x0=name)
        assert repr(name) in str(info.value)


def test_register_guess_checks_its_arguments() -> None:
    with pytest.raises(InvalidOptionError, match="prefix"):
        register_guess("a:b", lambda name, A: None)
    with pytest.raises(InvalidOptionError, match="callable"):
        register_guess("ok", 3)
    register_guess("twice", np.zeros)
    try:
        with pytest.raises(InvalidOptionError, match="already registered"):
            register_guess("twice", np.ones)
        register_guess("twice", np.ones, replace=True)
    finally:
        unregister_guess("twice")
