"""Tests for sciml.dcdm: shipped networks, the DCDM iteration, the preconditioner, training.

Grids are small (2D 32^2, 3D 16^3) so the whole file runs in well under two minutes on a
two-core CPU; every random input has a visible seed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import operators
from operators.stencils import stencil
from sciml.dcdm import cli, weights
from sciml.dcdm.data import mode_weights
from sciml.dcdm.families import FAMILIES, default_model
from sciml.dcdm.model import Architecture, DCDMNet, fixed_hierarchy
from sciml.dcdm.ritz import ritz_pairs
from sciml.dcdm.stencil import apply, bands_from_matrix, infer_shape
from sciml.dcdm.train import TrainConfig, train
from sciml.persist import ResumeMismatchError, sha256_of
from sciml.training import read_checkpoint
from solvers import Solver, registry, solve
from solvers.errors import InvalidOptionError, ModelLoadError
from solvers.jaxkrylov import fcg as jax_fcg
from solvers.jaxkrylov.loop import CONVERGED

SEED = 20240601

#: One held-out problem per shipped model: (model, problem builder).
SHIPPED_PROBLEMS = {
    "poisson2d": lambda: operators.poisson((32, 32)),
    "poisson3d": lambda: operators.poisson((16, 16, 16)),
    "diffusion2d": lambda: operators.random_diffusion((32, 32), seed=SEED),
    "diffusion3d": lambda: operators.random_diffusion((16, 16, 16), seed=SEED),
}

#: Where training must clearly beat the untrained hierarchy (``model="fixed"``): the
#: problem, and the factor by which the trained network must cut the iterations. The README
#: and docs/learned/dcdm.md claim 1.5-2.4x on Poisson (measured here, rtol 1e-6, held-out
#: right-hand sides: 1.67x at 64^2, 1.89x at 16^3); diffusion2d gives 1.9-2.0x at 64^2; the
#: short-trained diffusion3d 1.36-1.58x at 16^3, so its bar is the 1.3x the docs state for it.
BEATS_FIXED = {
    "poisson2d": (lambda: operators.poisson((64, 64)), 1.5),
    "poisson3d": (lambda: operators.poisson((16, 16, 16)), 1.5),
    "diffusion2d": (lambda: operators.random_diffusion((64, 64), seed=SEED), 1.5),
    "diffusion3d": (lambda: operators.random_diffusion((16, 16, 16), seed=SEED), 1.3),
}


def held_out_rhs(n: int, seed: int = SEED) -> np.ndarray:
    """A random right-hand side no network was trained on (training uses Ritz vectors)."""
    return np.random.default_rng(seed).standard_normal(n)


# --- shipped networks -------------------------------------------------------------------

@pytest.mark.parametrize("model", weights.SHIPPED)
def test_shipped_weights_are_small_and_documented(model: str) -> None:
    eqx_path = weights.WEIGHTS_DIR / f"{model}.eqx"
    meta = json.loads((weights.WEIGHTS_DIR / f"{model}.json").read_text())
    assert eqx_path.stat().st_size < 5 * 2**20
    assert meta["command"].startswith(f"python -m sciml train-dcdm --model {model}")
    assert meta["seed"] == 0 and meta["grids"] and meta["loss"]["last"] < meta["loss"]["first"]
    net, _ = weights.load(model)
    assert net.arch.ndim == FAMILIES[model].ndim


@pytest.mark.parametrize("model", weights.SHIPPED)
def test_converges_on_held_out_rhs_and_matches_direct_solve(model: str) -> None:
    p = SHIPPED_PROBLEMS[model]()
    b = held_out_rhs(p.n)
    res = solve(p, b, method="dcdm", model=model, rtol=1e-6)
    assert res.converged, (model, res)
    assert res.residual_norm <= 1e-6 * np.linalg.norm(b)
    assert res.info["model"] == model and res.info["grid"] == p.shape
    tight = solve(p, b, method="dcdm", model=model, rtol=1e-11)
    exact = spla.spsolve(p.A.tocsc(), b)
    assert np.linalg.norm(tight.x - exact) <= 1e-8 * np.linalg.norm(exact)


@pytest.mark.parametrize("model", weights.SHIPPED)
def test_trained_weights_clearly_beat_the_fixed_hierarchy(model: str) -> None:
    """Training must buy iterations over the same network class with no learned content.

    Claim (README, docs/learned/dcdm.md): training buys 1.5-2.4x fewer iterations than the
    fixed hierarchy on Poisson. Baseline: ``model="fixed"``, the same multilevel class with
    pass-through filters and unit scales (nothing learned). Held out: a random right-hand
    side (training sees only Ritz vectors) at rtol 1e-6; bars in :data:`BEATS_FIXED`.
    """
    build, factor = BEATS_FIXED[model]
    p = build()
    b = held_out_rhs(p.n, SEED + 7)
    trained = solve(p, b, method="dcdm", model=model, rtol=1e-6)
    fixed = solve(p, b, method="dcdm", model="fixed", rtol=1e-6)
    assert trained.converged and fixed.converged and fixed.info["model"] == "fixed"
    assert trained.iterations <= fixed.iterations / factor, (trained.iterations,
                                                             fixed.iterations)


def test_fixed_hierarchy_has_no_learned_content() -> None:
    net = fixed_hierarchy(3)
    assert net.arch.widths == (1,) and not net.arch.coefficient
    assert float(jnp.sum(net.k0)) == 1.0 and float(net.k0[1, 1, 1]) == 1.0
    for level in net.levels:
        assert float(level.lift[0, 0]) == 1.0 and float(level.scale[0]) == 1.0
        assert float(jnp.sum(jnp.abs(level.convs[0]))) == 1.0
    assert np.isclose(float(net.log_growth), 2.5 * np.log(2.0))
    with pytest.raises(ModelLoadError, match="ndim"):
        weights.load("fixed")


def test_default_model_follows_kind_and_dimension() -> None:
    assert default_model("poisson", 2) == "poisson2d"
    assert default_model("poisson", 3) == "poisson3d"
    assert default_model("diffusion", 2) == "diffusion2d"
    assert default_model("diffusion", 3) == ("diffusion3d" if "diffusion3d" in weights.SHIPPED
                                             else "poisson3d")
    with pytest.raises(InvalidOptionError, match="2D and 3D"):
        default_model("poisson", 1)
    p = operators.random_diffusion((24, 24), seed=SEED)
    assert solve(p, p.b, method="dcdm", rtol=1e-6).info["model"] == "diffusion2d"


# --- the iteration ------------------------------------------------------------------------

def test_consecutive_directions_are_A_orthogonal() -> None:
    p = operators.poisson((32, 32))
    b = held_out_rhs(p.n, SEED + 1)
    res = solve(p, b, method="dcdm", rtol=1e-8, record_directions=8)
    D = res.info["directions"]
    assert D.shape == (8, p.n)
    AD = (p.A @ D.T).T
    energy = np.sqrt(np.einsum("ij,ij->i", D, AD))
    for k in range(1, len(D)):
        for j in (k - 1, k - 2):
            if j >= 0:
                cosine = abs(D[k] @ AD[j]) / (energy[k] * energy[j])
                assert cosine < 1e-10, (k, j, cosine)
    assert np.max(res.info["conjugacy"]) < 1e-10


def test_residual_history_and_callback() -> None:
    p = operators.poisson((32, 32))
    seen: list[np.ndarray] = []
    res = solve(p, p.b, method="dcdm", rtol=1e-6, callback=seen.append)
    assert res.converged and len(seen) == res.iterations
    assert len(res.residuals) == res.iterations + 1
    assert np.all(np.diff(np.asarray(res.residuals)) < 0) or res.iterations < 3
    assert np.allclose(seen[-1], res.x)


def test_device_and_host_loops_agree() -> None:
    p = operators.poisson((32, 32))
    b = held_out_rhs(p.n, SEED + 5)
    device = solve(p, b, method="dcdm", rtol=1e-8, loop="device")
    host = solve(p, b, method="dcdm", rtol=1e-8, loop="host")
    assert device.converged and host.converged
    assert device.iterations == host.iterations
    assert np.allclose(device.x, host.x, rtol=1e-10, atol=1e-12)
    with pytest.raises(InvalidOptionError, match="loop"):
        solve(p, b, method="dcdm", loop="gpu")


def test_dcdm_is_the_fcg_kernel_with_the_network_as_preconditioner() -> None:
    """DCDM is FCG(2) with M = network: the JAX backend's FCG kernel, fed the network as a
    pc, takes the same steps (DCDM adds residual replacement, rounding-level changes)."""
    from sciml.dcdm import jax_preconditioner

    p = operators.poisson((32, 32))
    b = held_out_rhs(p.n, SEED + 6)
    res = solve(p, b, method="dcdm", rtol=1e-8)
    with jax.enable_x64(True):
        x, k, _, code = jax_fcg(stencil(p, np.float64), jnp.asarray(b), jnp.zeros(p.n),
                                jax_preconditioner(p), 1e-8, 0.0, 100)
    assert int(code) == CONVERGED and abs(int(k) - res.iterations) <= 1
    assert np.linalg.norm(np.asarray(x) - res.x) <= 1e-6 * np.linalg.norm(res.x)


@pytest.mark.parametrize("loop", ["host", "device"])
def test_breakdown_is_reported_with_the_shared_status_codes(loop: str) -> None:
    p = operators.poisson((16, 16))
    res = solve(-p.A, p.b, method="dcdm", shape=p.shape, loop=loop)
    assert not res.converged and res.reason == "breakdown" and res.iterations == 0


def test_maxiter_and_initial_guess() -> None:
    p = operators.poisson((32, 32))
    b = held_out_rhs(p.n, SEED + 2)
    short = solve(p, b, method="dcdm", rtol=1e-10, maxiter=2)
    assert not short.converged and short.reason == "maxiter" and short.iterations == 2
    exact = spla.spsolve(p.A.tocsc(), b)
    warm = solve(p, b, method="dcdm", rtol=1e-6, x0=exact)
    assert warm.converged and warm.iterations == 0


def test_solver_reuses_setup_across_right_hand_sides() -> None:
    p = operators.poisson((32, 32))
    s = Solver(method="dcdm", rtol=1e-6)
    first = s.solve(p, held_out_rhs(p.n, 1))
    second = s.solve(p, held_out_rhs(p.n, 2))
    assert first.converged and second.converged
    assert second.timings["setup"] < first.timings["setup"]


def test_plain_matrix_needs_shape() -> None:
    p = operators.poisson((32, 32))
    b = held_out_rhs(p.n)
    assert solve(p.A, b, method="dcdm", shape=(32, 32), rtol=1e-6).converged
    with pytest.raises(InvalidOptionError, match="grid shape"):
        solve(p.A, b, method="dcdm")
    with pytest.raises(InvalidOptionError, match="points"):
        solve(p.A, b, method="dcdm", shape=(16, 16))
    with pytest.raises(InvalidOptionError, match="3-D"):
        solve(p.A, b, method="dcdm", shape=(8, 8, 16), model="poisson2d")


def test_non_stencil_matrix_goes_through_bcoo() -> None:
    """A 9-point Laplacian is not a (2d+1)-point stencil: DCDM falls back to BCOO products."""
    n = 24
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(n, n))
    M = sp.diags([1.0, 4.0, 1.0], [-1, 0, 1], shape=(n, n)) / 6.0
    A = sp.csr_matrix(sp.kron(T, M) + sp.kron(M, T))
    assert bands_from_matrix(A, (n, n)) is None
    b = held_out_rhs(n * n)
    res = solve(A, b, method="dcdm", shape=(n, n), rtol=1e-6)
    assert res.converged


def test_dcdm_refuses_a_preconditioner() -> None:
    p = operators.poisson((16, 16))
    with pytest.raises(InvalidOptionError, match="fcg"):
        solve(p, p.b, method="dcdm", pc="jacobi")


# --- the preconditioner ---------------------------------------------------------------------

def test_registered_as_method_and_preconditioner() -> None:
    method, pc = registry.lookup("dcdm", "method"), registry.lookup("dcdm", "pc")
    assert method.kind == "method" and pc.kind == "pc"
    assert "jax" in method.backends and "scipy" in pc.backends
    assert method.jax.delegate and pc.jax.delegate and method.jax.kernel is None
    assert method.requires_symmetric and pc.requires_symmetric
    assert registry.check(method) == [] and registry.check(pc) == []


@pytest.mark.parametrize("model,builder", [("poisson2d", BEATS_FIXED["poisson2d"][0]),
                                           ("poisson3d", BEATS_FIXED["poisson3d"][0])])
def test_fcg_with_dcdm_preconditioner(model: str, builder) -> None:
    """Host FCG with the network: the same iterates as DCDM's JAX loop, and the trained
    network beats the fixed hierarchy (``model="fixed"``) inside FCG by the 1.5x the README
    claims on Poisson (held-out right-hand side, rtol 1e-6)."""
    p = builder()
    b = held_out_rhs(p.n, SEED + 3)
    res = solve(p, b, method="fcg", pc="dcdm", model=model, rtol=1e-6, truncation=2)
    fixed = solve(p, b, method="fcg", pc="dcdm", model="fixed", rtol=1e-6, truncation=2)
    dcdm = solve(p, b, method="dcdm", model=model, rtol=1e-6)
    assert res.converged and fixed.converged and res.info["pc"] == "dcdm"
    assert res.iterations <= fixed.iterations / BEATS_FIXED[model][1], (res.iterations,
                                                                        fixed.iterations)
    assert np.linalg.norm(res.x - dcdm.x) <= 1e-5 * np.linalg.norm(dcdm.x)


def test_network_preconditioner_on_the_jax_backend() -> None:
    from sciml.dcdm import jax_preconditioner

    p = operators.poisson((32, 32))
    M = jax_preconditioner(p)
    b = jnp.asarray(held_out_rhs(p.n, SEED + 4), jnp.float32)
    res = solve(p, b, method="fcg", pc=M, backend="jax", rtol=1e-5)
    assert res.converged and res.info["backend"] == "jax"
    assert res.iterations < solve(p, b, method="cg", backend="jax", rtol=1e-5).iterations / 4


# --- weights: loading errors ------------------------------------------------------------------

def _copy_model(tmp_path: Path, name: str = "poisson2d") -> Path:
    for suffix in (".eqx", ".json"):
        shutil.copyfile(weights.WEIGHTS_DIR / f"{name}{suffix}", tmp_path / f"{name}{suffix}")
    return tmp_path / f"{name}.eqx"


def test_missing_weights_raise_model_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="missing.*train-dcdm"):
        weights.load(tmp_path / "nothing.eqx")
    path = _copy_model(tmp_path)
    path.with_suffix(".json").unlink()
    with pytest.raises(ModelLoadError, match="missing"):
        weights.load(path)
    with pytest.raises(ModelLoadError, match="unknown DCDM model"):
        weights.load("poisson7d")
    p = operators.poisson((16, 16))
    with pytest.raises(ModelLoadError):
        solve(p, p.b, method="dcdm", model=str(tmp_path / "nothing.eqx"))


def test_shipped_name_missing_names_the_regeneration_command(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ModelLoadError, match="train-dcdm --model poisson3d --install"):
        weights.load("poisson3d")


def test_corrupt_weights_raise_model_load_error(tmp_path: Path) -> None:
    path = _copy_model(tmp_path)
    assert weights.load(path)[0].arch.ndim == 2
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="corrupt"):
        weights.load(path)
    path = _copy_model(tmp_path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ModelLoadError, match="corrupt"):
        weights.load(path)
    path = _copy_model(tmp_path)
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="corrupt"):
        weights.load(path)


def test_truncated_file_with_matching_hash_cannot_be_read(tmp_path: Path) -> None:
    path = _copy_model(tmp_path)
    path.write_bytes(path.read_bytes()[:64])
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["sha256"] = sha256_of(path)
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="cannot be read"):
        weights.load(path)


# --- network, data, stencil ------------------------------------------------------------------

@pytest.mark.parametrize("shape,coefficient", [((13, 20), False), ((9, 12, 10), False),
                                               ((17, 16), True)])
def test_network_is_symmetric_positive_on_any_grid(shape, coefficient) -> None:
    arch = Architecture(len(shape), coefficient=coefficient, widths=(4,))
    net = DCDMNet(arch, jax.random.PRNGKey(SEED))
    u, v, c = jax.random.normal(jax.random.PRNGKey(SEED + 1), (3, *shape))
    c = c if coefficient else None
    fu, fv = net(u, c), net(v, c)
    assert fu.shape == shape
    assert jnp.allclose(jnp.vdot(u, fv), jnp.vdot(fu, v), rtol=1e-4)
    assert float(jnp.vdot(u, fu)) > 0
    assert jnp.allclose(net(2.5 * u, c), 2.5 * fu, rtol=1e-5, atol=1e-5)


def test_ritz_pairs_and_mode_weights() -> None:
    p = operators.poisson((12, 12))
    pairs = ritz_pairs(p.A.dot, p.n, 60, seed=SEED)
    assert np.allclose(pairs.vectors @ pairs.vectors.T, np.eye(60), atol=1e-8)
    lowest = np.linalg.eigvalsh(p.A.toarray())[0]
    assert abs(pairs.values[0] - lowest) < 1e-6 * lowest
    paper = mode_weights(pairs.values, "paper")
    assert paper[0] == 9.0 and paper[-1] == 1.0
    octave = mode_weights(pairs.values, "octave")
    assert octave[0] > octave[-1] > 0


def test_stencil_bands_reproduce_the_matrix() -> None:
    p = operators.random_diffusion((7, 9, 5), seed=SEED)
    bands = bands_from_matrix(p.A, p.shape)
    u = held_out_rhs(p.n).reshape(p.shape)
    with jax.enable_x64(True):
        Su = np.asarray(apply(jnp.asarray(bands.diagonal), tuple(map(jnp.asarray, bands.upper)),
                              jnp.asarray(u)))
    assert np.allclose(Su.ravel(), p.A @ u.ravel())
    assert bands_from_matrix(p.A, (9, 7, 5)) is None
    assert infer_shape(p.A) == (7, 9, 5)
    assert infer_shape(sp.random(30, 30, density=0.2, random_state=SEED)) is None
    unsymmetric = p.A.tolil()
    unsymmetric[0, 1] *= 2.0
    assert bands_from_matrix(unsymmetric, p.shape) is None
    for i, j in ((4, 5), (0, 2)):  # 4 -> 5 wraps around a grid line; 0 -> 2 is no link
        extra = p.A.tolil()
        extra[i, j] = extra[j, i] = -1.0
        assert bands_from_matrix(extra.tocsr(), p.shape) is None


# --- training -----------------------------------------------------------------------------------

def _tiny(steps: int) -> TrainConfig:
    return TrainConfig.for_family("poisson2d", grids=[(16, 16), (8, 8)], steps=steps, batch=4,
                                  ritz=40, widths=(4,), checkpoint_every=3, warmup=2)


def _interrupt_at(monkeypatch, stop: int) -> None:
    """Make the training loop raise KeyboardInterrupt (Ctrl-C) before step ``stop``."""
    import sciml.dcdm.train as train_module

    make_batches = train_module.make_batches

    def interrupting(config, arrays):
        batches = make_batches(config, arrays)

        def wrapped(t, key):
            if t == stop:
                raise KeyboardInterrupt
            return batches(t, key)

        return wrapped

    monkeypatch.setattr(train_module, "make_batches", interrupting)


def test_ctrl_c_checkpoint_and_resume_reproduce_the_run(tmp_path: Path, monkeypatch) -> None:
    straight = train(_tiny(8), tmp_path / "a", progress=False, validate=False)
    with monkeypatch.context() as patch:
        _interrupt_at(patch, 5)
        with pytest.raises(KeyboardInterrupt):
            train(_tiny(8), tmp_path / "b", progress=False, validate=False)
    latest = read_checkpoint(tmp_path / "b" / "poisson2d" / "checkpoints")
    assert latest["step"] == 5 and len(latest["losses"]) == 5
    with pytest.raises(InvalidOptionError, match="resume"):
        train(_tiny(8), tmp_path / "b", progress=False, validate=False)
    resumed = train(_tiny(8), tmp_path / "b", resume=True, progress=False, validate=False)
    meta = json.loads(resumed.with_suffix(".json").read_text())
    assert meta["resumed_from_step"] == 5
    a, _ = weights.load(straight)
    b, _ = weights.load(resumed)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        assert np.array_equal(x, y)
    p = operators.poisson((16, 16))
    assert solve(p, p.b, method="dcdm", model=str(resumed), rtol=1e-6).converged
    other = TrainConfig.for_family("poisson2d", grids=[(16, 16)], steps=8, batch=4, ritz=40,
                                   widths=(4,))
    with pytest.raises(ResumeMismatchError, match="another configuration"):
        train(other, tmp_path / "b", resume=True, progress=False, validate=False)


def test_cli_trains_and_refuses_the_package_directory(tmp_path: Path, capsys) -> None:
    from sciml.__main__ import main

    code = main(["train-dcdm", "--model", "poisson2d", "--grid", "16", "--steps", "3",
                 "--batch", "4", "--ritz", "30", "--widths", "4", "--out", str(tmp_path),
                 "--no-progress", "--no-validate"])
    assert code == 0
    assert (tmp_path / "poisson2d" / "poisson2d.eqx").exists()
    assert "--grid 16x16 --steps 3" in capsys.readouterr().out
    code = main(["train-dcdm", "--model", "poisson2d", "--out",
                 str(weights.WEIGHTS_DIR / "tmp")])
    assert code == 2 and "inside the package" in capsys.readouterr().err
    assert cli.DEFAULT_OUT.parts[0] == "sciml-out"


def test_dcdm_by_name_on_the_jax_backend_returns_a_jax_array():
    import jax
    import jax.numpy as jnp

    p = operators.poisson((24, 24))
    b = jnp.asarray(np.random.default_rng(7).standard_normal(p.n))
    res = solve(p, b, method="dcdm", backend="jax", rtol=1e-6)
    assert res.converged and isinstance(res.x, jax.Array)
    assert res.info["backend"] == "jax" and res.info["method"] == "dcdm"
    assert res.info["delegated"] is True
    assert np.linalg.norm(np.asarray(b) - p.A @ np.asarray(res.x)) <= res.threshold


def test_exported_programs_are_reused_and_a_corrupt_file_is_ignored(tmp_path, monkeypatch):
    from sciml.dcdm.exported import compile_program

    monkeypatch.setenv("SCIML_JAX_CACHE_DIR", str(tmp_path))
    args = ({"w": jnp.arange(3.0)}, jax.ShapeDtypeStruct((3,), jnp.float32))
    out_tree = jax.tree_util.tree_structure((0, 0))

    def fn(ops, r):
        return ops["w"] * r, jnp.sum(r)

    first = compile_program(fn, args, out_tree, ("test", 1))
    files = list((tmp_path / "dcdm-export").glob("*.bin"))
    assert len(files) == 1
    r = jnp.ones(3, jnp.float32)
    again = compile_program(fn, args, out_tree, ("test", 1))
    assert np.array_equal(first(args[0], r)[0], again(args[0], r)[0])
    files[0].write_bytes(b"not a program")
    repaired = compile_program(fn, args, out_tree, ("test", 1))
    assert float(repaired(args[0], r)[1]) == 3.0
    assert files[0].read_bytes() != b"not a program"


SECOND_PROCESS = """
import json, sys, jax, numpy as np, operators
from sciml.dcdm import exported
from solvers import Solver
events = {"requests": 0, "hits": 0}
def count(event, **kwargs):
    if event == "/jax/compilation_cache/compile_requests_use_cache":
        events["requests"] += 1
    elif event == "/jax/compilation_cache/cache_hits":
        events["hits"] += 1
jax.monitoring.register_event_listener(count)
p = operators.poisson((16, 16))
res = Solver(method="dcdm", rtol=1e-6).solve(p, np.random.default_rng(0).standard_normal(p.n))
print(json.dumps({"iterations": res.iterations, "origins": dict(exported.ORIGINS), **events}))
"""


def test_second_process_loads_exported_programs_and_compiles_nothing(tmp_path):
    """A second process reads the three exported programs (nothing traced) and every XLA
    compilation request is a persistent-cache hit: no eager JAX op while loading the weights,
    reading the stencil or moving operands (they would be compilation misses)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, SCIML_JAX_CACHE_DIR=str(tmp_path))
    env.pop("SCIML_NO_JAX_CACHE", None)
    runs = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", SECOND_PROCESS], env=env, check=True,
                             capture_output=True, text=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first, second = runs
    assert first["origins"] == {"traced": 3}
    assert second["origins"] == {"loaded": 3}
    assert second["requests"] == second["hits"] == 3, second
    assert second["iterations"] == first["iterations"]
