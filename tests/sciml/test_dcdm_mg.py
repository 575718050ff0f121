"""DCDM's ``learned-mg`` kind: a learned correction of black-box multigrid's prolongation.

``model="contrast2d"`` (shipped) and ``model="fixed-mg"`` (the same V-cycle with the
black-box weights) through ``method="dcdm"`` and ``pc="dcdm"``; names and files checked
before anything is built; a broken network never yields ``converged=True``; the trained
prolongation solves a hidden high-contrast case like black-box MG (it does not beat it).

Grids 16^2 and 32^2, float64 vectors; every random input has a visible seed.
"""

from __future__ import annotations

import json
import shutil

import jax
import numpy as np
import pytest

import operators
from operators import contrast
from sciml.dcdm import weights
from sciml.dcdm.learned_prolongation import MGConfig, ProlongationNet, fixed
from solvers import solve
from solvers.errors import InvalidOptionError, ModelLoadError

SEED = 20261207


def _hidden(n: int, high: float = 1e4) -> operators.Problem:
    """A field the network never saw in training (thin cracks at every angle, a seed far
    from the training seeds, ``sciml.dcdm.train_prolongation.TRAIN_SEEDS``)."""
    return operators.diffusion(contrast.cracks((n, n), high, seed=SEED))


def _rhs(p: operators.Problem) -> np.ndarray:
    return np.random.default_rng(SEED).standard_normal(p.n)


def test_fixed_mg_is_black_box_multigrid() -> None:
    p = operators.diffusion(contrast.inclusions((32, 32), 1e4, seed=SEED))
    b = _rhs(p)
    mg = solve(p, b, method="cg", pc="mg", backend="jax", rtol=1e-8)
    for options in ({"method": "dcdm"}, {"method": "fcg", "pc": "dcdm"}):
        res = solve(p, b, model="fixed-mg", rtol=1e-8, **options)
        assert res.converged and res.iterations == mg.iterations
    assert fixed(2).parameter_count == 0


def test_trained_model_solves_a_hidden_case_like_black_box_multigrid() -> None:
    """The shipped correction does not beat black-box MG (measured: the same iterations on
    held-out fields, ``docs/learned/dcdm.md``), so this pins parity, not a win: a trained
    model that made the V-cycle worse by more than one iteration here would fail."""
    p = _hidden(32)
    b = _rhs(p)
    trained = solve(p, b, method="fcg", pc="dcdm", model="contrast2d", rtol=1e-8)
    fixed_mg = solve(p, b, method="fcg", pc="dcdm", model="fixed-mg", rtol=1e-8)
    assert trained.converged
    assert np.linalg.norm(b - p.A @ trained.x) <= 1e-8 * np.linalg.norm(b)
    assert fixed_mg.converged and trained.iterations <= fixed_mg.iterations + 1


@pytest.mark.parametrize("model", ["contrast3d", "fixed-mgx"])
def test_unknown_model_names_list_the_learned_mg_ones(model: str) -> None:
    p = operators.poisson((8, 8))
    with pytest.raises(ModelLoadError) as err:
        solve(p, p.b, method="dcdm", model=model)
    for name in ("contrast2d", "fixed-mg", "fixed"):
        assert repr(name) in str(err.value) or name in str(err.value)


def test_bad_parameters_name_the_valid_values() -> None:
    p = operators.poisson((8, 8))
    with pytest.raises(InvalidOptionError, match="contrast2d"):
        solve(p, p.b, method="dcdm", model=3)
    with pytest.raises(InvalidOptionError, match="2-D"):
        solve(operators.poisson((8, 8, 8)), np.ones(512), method="dcdm", model="contrast2d")
    with pytest.raises(ValueError, match="width"):
        MGConfig(2, width=-1)


def test_nan_or_corrupted_weights_never_converge(tmp_path) -> None:
    p = _hidden(16)
    b = _rhs(p)
    net = ProlongationNet(MGConfig(2, width=4, layers=1), jax.random.PRNGKey(SEED))
    bad = jax.tree_util.tree_map(lambda x: np.full(x.shape, np.nan, np.float32), net)
    path = weights.save(bad, tmp_path / "nan.eqx", {"model": "nan"})
    res = solve(p, b, method="dcdm", model=str(path), rtol=1e-8, maxiter=20)
    assert not res.converged
    # a flipped byte in the arrays: the hash check refuses the file
    shutil.copy(weights.WEIGHTS_DIR / "contrast2d.json", tmp_path / "broken.json")
    data = bytearray((weights.WEIGHTS_DIR / "contrast2d.eqx").read_bytes())
    data[-5] ^= 0xFF
    (tmp_path / "broken.eqx").write_bytes(bytes(data))
    with pytest.raises(ModelLoadError):
        solve(p, b, method="dcdm", model=str(tmp_path / "broken.eqx"))
    meta = json.loads((weights.WEIGHTS_DIR / "contrast2d.json").read_text())
    assert meta["kind"] == "learned-mg" and meta["command"].startswith("python -m sciml.dcdm")


@pytest.mark.parametrize("name", ["blocks", "cracks", "tiles"])
def test_training_geometries_are_seeded_two_valued_fields(name: str) -> None:
    make = contrast.FAMILIES[name]
    a, b = make((24, 24), 1e3, seed=1), make((24, 24), 1e3, seed=1)
    assert np.array_equal(a, b) and set(np.unique(a)) == {1.0, 1e3}
    assert not np.array_equal(a, make((24, 24), 1e3, seed=2))
    assert make((8, 8, 8), 1e-2, seed=1).shape == (8, 8, 8)
    with pytest.raises(ValueError, match="seed"):
        make(16, 10.0, seed=None)


SECOND_PROCESS = """
import json, sys, jax, numpy as np, operators
from operators import contrast
from sciml.dcdm import exported
from solvers import Solver
p = operators.diffusion(contrast.cracks((16, 16), 1e4, seed=int(sys.argv[1])))
res = Solver(method="dcdm", model="fixed-mg", rtol=1e-8).solve(
    p, np.random.default_rng(0).standard_normal(p.n))
print(json.dumps({"iterations": res.iterations, "converged": bool(res.converged),
                  "origins": dict(exported.ORIGINS)}))
"""


def test_second_process_reads_the_exported_hierarchy(tmp_path) -> None:
    """The V-cycle's hierarchy (Galerkin levels, interpolation) is a program exported with
    its pytree: a second process reads it and the three FCG pieces back (nothing traced) and
    takes the same iterations; the program takes the coefficient as input (another field of
    the same grid reuses it)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, SCIML_JAX_CACHE_DIR=str(tmp_path))
    env.pop("SCIML_NO_JAX_CACHE", None)
    runs = [json.loads(subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS, str(seed)], env=env, check=True,
        capture_output=True, text=True).stdout.strip().splitlines()[-1])
        for seed in (SEED, SEED, SEED + 1)]
    assert runs[0]["origins"] == {"traced": 4}
    assert runs[1]["origins"] == runs[2]["origins"] == {"loaded": 4}
    assert all(run["converged"] for run in runs)
    assert runs[1]["iterations"] == runs[0]["iterations"]
    other = operators.diffusion(contrast.cracks((16, 16), 1e4, seed=SEED + 1))
    mg = solve(other, np.random.default_rng(0).standard_normal(other.n), method="cg",
               pc="mg", backend="jax", rtol=1e-8)
    assert runs[2]["iterations"] == mg.iterations


def test_exported_tree_output_round_trips_and_rejects_plain_classes(tmp_path, monkeypatch) -> None:
    """``compile_program(..., out_tree=None)`` returns the program's own pytree (a
    Multigrid), read back from the file the same; only dataclasses are registered."""
    from operators.stencils import Stencil, stencil
    from sciml.dcdm.exported import compile_program, register_tree
    from solvers.multigrid import Multigrid, multigrid
    from solvers.multigrid.blackbox import Interpolation
    from solvers.multigrid.galerkin import BoxStencil

    monkeypatch.setenv("SCIML_JAX_CACHE_DIR", str(tmp_path))
    register_tree(Multigrid, Interpolation, BoxStencil, Stencil)
    with pytest.raises(TypeError, match="not a dataclass"):
        register_tree(int)
    with jax.enable_x64(True):
        A = stencil(_hidden(16), np.float64)
        r = jax.numpy.asarray(_rhs(_hidden(16)))
        built = [compile_program(multigrid, (A,), None, ("test-tree", 1))(A) for _ in range(2)]
        assert all(isinstance(M, Multigrid) for M in built)
        assert np.array_equal(built[0](r), built[1](r))
        reference = multigrid(A)(r)  # eager: XLA may order the sums differently
        assert np.linalg.norm(built[0](r) - reference) <= 1e-10 * np.linalg.norm(reference)
    assert len(list((tmp_path / "dcdm-export").glob("*.bin"))) == 1
