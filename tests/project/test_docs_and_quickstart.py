"""What a newcomer meets first: the quickstart without PETSc, the docs
site's notebook figures, ``SolveResult.method/pc/backend``, ``train-operator`` on a small data
set, the README's JAX example, and names in the prose that exist.

(The CLI's ``--help`` defaults are checked in ``tests/sciml/test_cli.py``, ``linear_solve``'s
precision rule in ``tests/solvers/test_jax_functional.py``.)
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import operators
import solvers.errors
from solvers import solve
from solvers.result import SolveResult

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "01_quickstart.ipynb"


def _notebook_outputs():
    from test_notebooks import notebook_outputs

    return notebook_outputs()


@pytest.mark.slow
def test_quickstart_runs_without_petsc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The kernel's ``import petsc4py`` fails (a package first on its path that raises
    ImportError): the PETSc row is skipped with the install command, the rest runs."""
    shim = tmp_path / "no-petsc" / "petsc4py"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        "raise ImportError('petsc4py hidden by tests/project/test_docs_and_quickstart.py')\n")
    path = os.pathsep.join(p for p in (str(shim.parent), os.environ.get("PYTHONPATH")) if p)
    monkeypatch.setenv("PYTHONPATH", path)
    work = tmp_path / "work"
    work.mkdir()
    nb = _notebook_outputs().execute(QUICKSTART, work)  # an error cell raises
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.outputs if o.output_type == "stream")
    assert "petsc  skipped" in text and "bash scripts/install-petsc.sh" in text
    assert "jax    cg+jacobi: converged=True" in text and "petsc  cg+amg" not in text
    assert any((work / "out").glob("*.png"))


@pytest.mark.slow
def test_docs_page_of_a_notebook_shows_its_figure(tmp_path: Path):
    """A site built with mkdocs.yml's notebook settings and hook renders the quickstart from
    its executed copy: the page holds the convergence figure."""
    import yaml

    outputs = _notebook_outputs()
    assert outputs.ensure(QUICKSTART) is not None  # the tests' copy, or run it now
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / QUICKSTART.name).write_bytes(QUICKSTART.read_bytes())
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    plugins = [p for p in config["plugins"] if isinstance(p, dict) and "mkdocs-jupyter" in p]
    assert plugins and config["hooks"] == ["scripts/notebook_outputs.py"]
    site = {"site_name": "t", "docs_dir": str(docs), "site_dir": str(tmp_path / "site"),
            "theme": config["theme"], "plugins": plugins, "nav": [{"Q": QUICKSTART.name}],
            "hooks": [str(ROOT / "scripts" / "notebook_outputs.py")]}
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(site))
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-f",
                           str(tmp_path / "mkdocs.yml")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "site" / QUICKSTART.stem / "index.html").read_text()
    assert re.search(r'<img[^>]+src="data:image/png;base64,', page)


def _result_backends() -> list[str]:
    backends = ["scipy", "jax"]
    if importlib.util.find_spec("petsc4py") is not None:
        backends.append("petsc")
    return backends


@pytest.mark.parametrize("backend", _result_backends())
def test_solve_result_method_pc_backend_are_attributes(backend: str):
    p = operators.poisson((12, 12))
    res = solve(p, p.b, method="cg", pc="jacobi", backend=backend, rtol=1e-8)
    assert (res.method, res.pc, res.backend) == ("cg", "jacobi", backend)
    assert f"method='cg', pc='jacobi', backend='{backend}'" in repr(res)
    chosen = solve(p, p.b, backend=backend)  # auto: the attribute is what ran
    assert chosen.method == chosen.info["method"] != "auto"
    with pytest.raises(AttributeError):
        res.method = "gmres"


def test_train_operator_adapts_its_split_to_a_small_data_set(tmp_path: Path, capsys):
    """8 samples: the defaults (200 held out, batches of 20) scale down; a value given that
    the data set cannot provide is refused before anything is written, naming what to pass."""
    from sciml.__main__ import main
    from sciml.neural_operators.train import sizes

    data = tmp_path / "darcy8"
    assert main(["datagen", "--problem", "darcy", "--count", "8", "--grid", "16", "--out",
                 str(data), "--method", "cg", "--pc", "amg", "--sort", "none",
                 "--no-progress"]) == 0
    train = ["train-operator", "--model", "fno", "--data", str(data), "--epochs", "1",
             "--set=modes=4", "--set=width=8", "--set=layers=2", "--no-progress"]
    out = tmp_path / "run"
    assert main([*train, "--out", str(out)]) == 0  # the defaults only
    training = json.loads((out / "model.json").read_text())["training"]
    assert (training["train"], training["test"], training["batch_size"]) == (7, 1, 7)
    capsys.readouterr()
    for flag, value, fix in (("--test", "200", "pass --test 1"),
                             ("--batch-size", "20", "pass --batch-size 7"),
                             ("--train", "8", "pass --train 7")):
        bad = tmp_path / "bad"
        assert main([*train, "--out", str(bad), flag, value]) == 2
        assert fix in capsys.readouterr().err and not bad.exists()
    assert sizes(1200, None, None, None) == (1000, 200, 20)  # the defaults on a full set


@pytest.mark.slow
def test_readme_jax_example_converges():
    """The README's ``linear_solve`` block, run as written (in its own process: it turns on
    64-bit JAX), ends converged."""
    text = (ROOT / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S)
                 if "linear_solve(diffusion_stencil" in b)
    proc = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("True rtol "), proc.stdout


PACKAGES = ("solvers", "operators", "meshes", "sciml")
CLASSES = {"Solver": "solvers.Solver", "SolveResult": "solvers.SolveResult",
           "JaxSolution": "solvers.JaxSolution"}
FILE_SUFFIXES = {"md", "py", "json", "eqx", "npz", "png", "csv", "toml", "yml", "vtu", "ipynb",
                 "sh", "txt", "h5"}
HEADS = "|".join((*PACKAGES, *CLASSES))
NAME = re.compile(rf"(?<![\w./\"'-])((?:{HEADS})(?:\.[A-Za-z_]\w*)+)(?![\w/])")


def _prose() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")),
            *sorted((ROOT / "sciml").rglob("*.md"))]


def _entry_point_groups() -> set[str]:
    text = (ROOT / "pyproject.toml").read_text()
    return set(re.findall(r'^\[project\.entry-points\."([^"]+)"\]', text, re.MULTILINE))


def _backticked_names() -> list[tuple[str, str]]:
    """``(where, name)`` for every backticked dotted name of ours in the prose (file names,
    quoted strings such as logger names, and entry-point groups left out)."""
    found, groups = [], _entry_point_groups()
    for path in _prose():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for span in re.findall(r"`([^`\n]+)`", line):
                for name in NAME.findall(span):
                    if name.rsplit(".", 1)[1] not in FILE_SUFFIXES and name not in groups:
                        found.append((f"{path.relative_to(ROOT)}:{number}", name))
    return found


def _resolve(name: str) -> object:
    """Import the longest module prefix of ``name``, then ``getattr`` the rest."""
    head, _, rest = name.partition(".")
    if head in CLASSES:
        name = f"{CLASSES[head]}.{rest}"
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        module = ".".join(parts[:i])
        try:
            obj = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise  # a dependency missing inside the module, not a wrong name
            continue
        for k, attr in enumerate(parts[i:], i + 1):
            if k == len(parts) and isinstance(obj, type) and _instance_attribute(obj, attr):
                return obj
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(name)


def _instance_attribute(cls: type, attr: str) -> bool:
    """Whether instances of ``cls`` get ``attr`` (a dataclass field or ``self.attr = ...``)."""
    if attr in getattr(cls, "__dataclass_fields__", {}):
        return True
    return re.search(rf"self\.{attr}\s*[:=]", inspect.getsource(cls)) is not None


def test_backticked_names_in_the_docs_exist():
    """Every `solvers.x`, `operators.x`, `meshes.x`, `sciml.x`, `Solver.x`, `SolveResult.x` in
    README.md, docs/ and sciml's READMEs imports and resolves (no stale names)."""
    names = _backticked_names()
    assert len(names) > 30 and any(n == "solvers.registry.names" for _, n in names)
    stale = []
    for where, name in names:
        try:
            _resolve(name)
        except (ImportError, AttributeError) as exc:
            stale.append(f"{where}: `{name}` ({exc})")
    assert not stale, "\n".join(stale)


def test_every_error_class_is_raised_or_caught_somewhere():
    """No exception class in :mod:`solvers.errors` that no code uses (as
    ``NotPositiveDefiniteError`` was)."""
    classes = [name for name, obj in vars(solvers.errors).items()
               if isinstance(obj, type) and issubclass(obj, Exception)
               and obj.__module__ == solvers.errors.__name__]
    sources = "\n".join(p.read_text() for package in PACKAGES
                        for p in (ROOT / package).rglob("*.py")
                        if p.resolve() != Path(solvers.errors.__file__).resolve())
    unused = [name for name in classes if not re.search(rf"\b{name}\b", sources)]
    assert classes and not unused, unused


def test_solve_result_attributes_read_info():
    res = SolveResult(np.zeros(2), True, solvers.Reason.RTOL, 1, np.zeros(2), 0.0, 1.0,
                      info={"method": "direct", "pc": "none", "backend": "scipy"})
    assert (res.method, res.pc, res.backend) == ("direct", "none", "scipy")
    assert SolveResult(np.zeros(2), True, solvers.Reason.RTOL, 1, np.zeros(2), 0.0,
                       1.0).method is None
