"""SKR: sorting sequences of systems, and ``python -m sciml datagen`` (shards, resume, errors)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import operators
from sciml.__main__ import main
from sciml.recycling import fast_order, greedy_order, load_dataset, path_length, run_datagen
from sciml.recycling.fast_sort import hilbert_index
from solvers import Solver
from solvers.errors import DatasetError

ROOT = Path(__file__).resolve().parents[2]
METHOD = "gcrodr"
CLI = ["--problem", "darcy", "--count", "24", "--grid", "28", "--seed", "3",
       "--shard-size", "2", "--method", METHOD, "--pc", "jacobi", "--rtol", "1e-9",
       "--no-progress"]


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "OPENBLAS_NUM_THREADS": "1"}


def _fields(n: int, seed: int = 0) -> np.ndarray:
    fam = operators.family("darcy", 16, seed=seed)
    return np.stack([np.log(fam.parameters(i)) for i in range(n)])


def test_greedy_order_is_a_permutation_no_longer_than_identity(rng):
    fields, scalars = _fields(30), rng.uniform(0, 5, 30)
    for s in (None, scalars):
        order = greedy_order(fields, s, start=4)
        assert sorted(order.tolist()) == list(range(30)) and order[0] == 4
        assert path_length(fields, order, s) <= path_length(fields, np.arange(30), s)
    assert greedy_order(np.zeros((0, 3))).size == 0
    with pytest.raises(ValueError, match="finite"):
        greedy_order(np.array([[0.0], [np.nan]]))


def test_fast_order_follows_a_one_parameter_family(rng):
    t = rng.uniform(0, 1, 400)
    pattern = _fields(1)[0]
    fields = t[:, None, None] * pattern + 1e-3 * rng.standard_normal((400, 16, 16))
    order = fast_order(fields, block=32)
    assert sorted(order.tolist()) == list(range(400))
    assert path_length(fields, order) < 0.1 * path_length(fields, np.arange(400))


def test_hilbert_curve_visits_each_cell_once_between_neighbours():
    x, y = np.meshgrid(np.arange(8), np.arange(8))
    d = hilbert_index(x.ravel(), y.ravel(), bits=3)
    assert sorted(d.tolist()) == list(range(64))
    cells = np.c_[x.ravel(), y.ravel()][np.argsort(d)]
    assert np.all(np.abs(np.diff(cells, axis=0)).sum(axis=1) == 1)


def test_datagen_writes_the_documented_format(tmp_path):
    start = time.perf_counter()
    summary = run_datagen("helmholtz", 5, 12, out=tmp_path, seed=1, method=METHOD, pc="ilu",
                          shard_size=3, progress=False)
    elapsed = time.perf_counter() - start
    assert summary.samples == 5 and summary.written == [
        "shard-00000000-00000003.npz", "shard-00000003-00000005.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "datagen.json", "shard-00000000-00000003.npz", "shard-00000003-00000005.npz"]
    data = load_dataset(tmp_path)
    fam = operators.family("helmholtz", 12, seed=1)
    np.testing.assert_array_equal(data["indices"], np.arange(5))
    assert data["inputs"].dtype == data["solutions"].dtype == np.float64
    assert data["iterations"].dtype == np.int64 and data["converged"].all()
    # sorting (greedy, both shards) and the solves are timed apart, inside the call's time
    assert summary.sort_seconds > 0 and np.all(data["seconds"] > 0)
    assert summary.sort_seconds + data["seconds"].sum() < elapsed
    for i in range(5):
        p = fam.sample(i)
        np.testing.assert_array_equal(data["inputs"][i], fam.parameters(i))
        residual = np.linalg.norm(p.b - p.A @ data["solutions"][i].ravel())
        assert residual == pytest.approx(data["residuals"][i], rel=1e-6, abs=1e-12)
        assert residual <= 1e-8 * np.linalg.norm(p.b)


def test_sorting_changes_the_order_of_solves_not_the_data(tmp_path):
    runs = {}
    for sort in ("none", "greedy", "fast"):
        run_datagen("darcy", 6, 10, out=tmp_path / sort, method=METHOD, pc="jacobi",
                    sort=sort, shard_size=6, progress=False, rtol=1e-10)
        runs[sort] = load_dataset(tmp_path / sort)
    for sort in ("greedy", "fast"):
        np.testing.assert_array_equal(runs[sort]["inputs"], runs["none"]["inputs"])
        np.testing.assert_allclose(runs[sort]["solutions"], runs["none"]["solutions"],
                                   rtol=1e-6, atol=1e-12)


def test_killed_datagen_resumes_without_lost_or_repeated_samples(tmp_path):
    out, command = tmp_path / "killed", [sys.executable, "-m", "sciml", "datagen", *CLI]
    log = tmp_path / "stderr.txt"
    with log.open("wb") as stderr:
        job = subprocess.Popen([*command, "--out", str(out)], env=_env(),
                               stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 300
        while (not list(out.glob("shard-*.npz")) and job.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.005)
        job.send_signal(signal.SIGKILL)
        job.wait()
    assert job.returncode == -signal.SIGKILL, log.read_text()
    partial = load_dataset(out, allow_partial=True)
    assert 0 < partial["indices"].size < 24, "the run was not interrupted"
    with pytest.raises(DatasetError, match="rerun the same"):
        load_dataset(out)
    assert main(["datagen", *CLI, "--out", str(out)]) == 0  # resumed in this process
    resumed = load_dataset(out)
    np.testing.assert_array_equal(resumed["indices"], np.arange(24))
    assert not list(out.glob(".*.tmp"))
    run_datagen("darcy", 24, 28, seed=3, shard_size=2, method=METHOD, pc="jacobi",
                rtol=1e-9, out=tmp_path / "fresh", progress=False)
    fresh = load_dataset(tmp_path / "fresh")
    np.testing.assert_array_equal(resumed["inputs"], fresh["inputs"])
    np.testing.assert_allclose(resumed["solutions"], fresh["solutions"], rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("bad", [
    ["--method", "nope"], ["--pc", "nope"], ["--count", "-1"], ["--shard-size", "0"],
    ["--grid", "1"], ["--rtol", "-1"], ["--recycle", "40"], ["--problem", "nope"],
    ["--sort", "nope"], ["--seed", "-2"], ["--backend", "nope"], ["--outer", "20"],
    ["--outer", "-1"], ["--carry", "nope"]])
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, bad, assert_cli_rejects):
    out = tmp_path / "out"
    assert_cli_rejects(["datagen", "--problem", "darcy", "--count", "4", "--grid", "8",
                        "--out", str(out), *bad], out)


def test_restart_with_other_parameters_exits_2(tmp_path, capsys):
    base = ["datagen", "--problem", "poisson", "--count", "2", "--grid", "6", "--method",
            METHOD, "--out", str(tmp_path), "--no-progress"]
    assert main(base) == 0
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main([*base[:-1], "--seed", "1", "--no-progress"]) == 2
    assert "seed: saved=0 now=1" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_load_dataset_names_the_bad_file(tmp_path):
    with pytest.raises(DatasetError, match="datagen.json"):
        load_dataset(tmp_path)
    run_datagen("poisson", 4, 6, out=tmp_path, method=METHOD, shard_size=2, progress=False)
    shard = tmp_path / "shard-00000002-00000004.npz"
    shard.write_bytes(b"not an npz")
    with pytest.raises(DatasetError, match="cannot be read"):
        load_dataset(tmp_path)
    data = dict(np.load(tmp_path / "shard-00000000-00000002.npz"))
    np.savez(shard, **{k: v for k, v in data.items() if k != "solutions"})
    with pytest.raises(DatasetError, match="shard-00000002-00000004.npz lacks"):
        load_dataset(tmp_path)
    np.savez(shard, **data)  # the rows of another shard
    with pytest.raises(DatasetError, match="one row per sample 2..3"):
        load_dataset(tmp_path)


# -- issue 30: 3D families, absorbing Helmholtz, the shifted Laplacian ------------------------


def test_datagen_3d_absorbing_helmholtz_records_time_and_memory(tmp_path):
    options = {"boundary": "absorbing", "kh": (0.2, 0.5)}
    run_datagen("helmholtz", 4, 10, out=tmp_path, seed=2, method=METHOD,
                pc="shifted-laplacian", restart=30, recycle=10, shard_size=2, dim=3,
                family_options=options, progress=False)
    data = load_dataset(tmp_path)
    assert data["inputs"].shape == data["solutions"].shape == (4, 10, 10, 10)
    assert data["solutions"].dtype == np.complex128 and data["converged"].all()
    assert np.all(data["seconds"] > 0) and np.all(data["memory"] > 2**20)
    fam = operators.family("helmholtz", 10, seed=2, dim=3, **options)
    for i in range(4):
        p = fam.sample(i)
        assert np.linalg.norm(p.b - p.A @ data["solutions"][i].ravel()) <= 1e-8 * np.linalg.norm(
            p.b)
    manifest = (tmp_path / "datagen.json").read_text()
    assert '"dim": 3' in manifest and '"boundary": "absorbing"' in manifest


def test_cli_grid_accepts_3d_and_refuses_mixed_sizes(tmp_path, capsys):
    out = tmp_path / "cube"
    assert main(["datagen", "--problem", "darcy", "--count", "2", "--grid", "6x6x6", "--out",
                 str(out), "--pc", "jacobi", "--no-progress"]) == 0
    assert load_dataset(out)["solutions"].shape == (2, 6, 6, 6)
    for bad in ("6x7", "6x6x6x6", "ax6", "1x1"):
        with pytest.raises(SystemExit) as exc:
            main(["datagen", "--problem", "darcy", "--count", "2", "--grid", bad, "--out",
                  str(tmp_path / "bad")])
        assert exc.value.code == 2 and "GxGxG" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_recycling_reduces_products_on_a_small_3d_sequence():
    fam = operators.family("helmholtz", 12, dim=3, seed=5, boundary="absorbing", kh=(0.2, 0.5))
    count = 8
    order = greedy_order(np.stack([fam.parameters(i) for i in range(count)]),
                         np.stack([fam.scalars(i) for i in range(count)]))
    problems = [fam.sample(int(i)) for i in order]
    gmres = Solver("gmres", "jacobi", restart=40, rtol=1e-8)
    skr = Solver("gcrodr", "jacobi", restart=40, recycle=10, rtol=1e-8)
    plain, recycled = 0, 0
    for p in problems:
        r, s = gmres.solve(p, p.b), skr.solve(p, p.b)
        assert r.converged and s.converged
        plain += r.iterations
        recycled += s.iterations + 10  # + the k products refreshing C = A M U
    assert recycled < 0.75 * plain
