"""``python -m sciml batch``: shards, manifest, and a killed run resumed under mpiexec."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sciml.batch import load_batch, run_batch, shard_ranges

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--count", "60", "--grid", "40", "40", "--seed", "2", "--shard-size", "3",
        "--method", "cg", "--pc", "amg", "--rtol", "1e-9", "--no-progress"]


def _cli(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sciml", "batch", *ARGS, "--out", str(out), *extra]


def _env() -> dict[str, str]:
    """One BLAS thread per process: two ranks with threaded BLAS oversubscribe small hosts."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "OPENBLAS_NUM_THREADS": "1"}


def test_shard_ranges_cover_every_index_once():
    ranges = shard_ranges(10, 3)
    assert ranges == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert shard_ranges(0, 3) == []


def test_restart_with_other_parameters_is_refused(tmp_path):
    run_batch(2, (8, 8), out=tmp_path, shard_size=1, progress=False)
    with pytest.raises(ValueError, match="seed: saved=0 now=1"):
        run_batch(2, (8, 8), seed=1, out=tmp_path, shard_size=1, progress=False)


def test_scipy_and_petsc_backends_agree(tmp_path):
    pytest.importorskip("petsc4py.PETSc")
    runs = {}
    for backend in ("scipy", "petsc"):
        run_batch(4, (12, 10), seed=1, backend=backend, rtol=1e-10, out=tmp_path / backend,
                  shard_size=3, progress=False)
        runs[backend] = load_batch(tmp_path / backend)
    np.testing.assert_array_equal(runs["scipy"]["coefficients"], runs["petsc"]["coefficients"])
    np.testing.assert_allclose(runs["scipy"]["solutions"], runs["petsc"]["solutions"],
                               rtol=1e-7)


def test_killed_batch_resumes_without_lost_or_repeated_samples(tmp_path):
    """SIGKILL mid-run, resume on two MPI ranks, compare with an uninterrupted run."""
    out = tmp_path / "killed"
    job = subprocess.Popen(_cli(out), env=_env(), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(out.glob("shard-*.npz")) and time.monotonic() < deadline:
        time.sleep(0.01)
    job.send_signal(signal.SIGKILL)
    job.wait()
    partial = load_batch(out)
    assert 0 < partial["indices"].size < 60, "the run was not interrupted"
    mpiexec = shutil.which("mpiexec")
    resume = [mpiexec, "-n", "2", *_cli(out)] if mpiexec else _cli(out)
    subprocess.run(resume, env=_env(), check=True, capture_output=True, timeout=300)
    resumed = load_batch(out)
    np.testing.assert_array_equal(resumed["indices"], np.arange(60))
    assert not list(out.glob("*.tmp*"))
    fresh = tmp_path / "fresh"
    run_batch(60, (40, 40), seed=2, shard_size=3, method="cg", pc="amg", rtol=1e-9, out=fresh,
              progress=False)
    expected = load_batch(fresh)
    for key in ("indices", "coefficients", "solutions", "iterations"):
        np.testing.assert_array_equal(resumed[key], expected[key])


@pytest.mark.parametrize("bad", [
    ["--method", "nope"], ["--pc", "nope"], ["--count", "-1"], ["--shard-size", "0"],
    ["--grid", "0", "4"], ["--rtol", "-1"], ["--length-scale", "0"], ["--max-shards", "-1"],
    ["--backend", "nope"]])
def test_bad_arguments_exit_2_and_write_nothing(tmp_path, bad, assert_cli_rejects):
    """Every argument is checked before the manifest is written (it was written first)."""
    out = tmp_path / "out"
    assert_cli_rejects(["batch", "--count", "4", "--grid", "8", "8", "--out", str(out), *bad], out)
