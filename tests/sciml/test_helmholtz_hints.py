"""Tests for the Helmholtz HINTS preconditioner and its training through the cycle
(sciml.neural_operators.cycle_train).

The shipped ``helmholtz-error`` model must make FGMRES converge on a hidden indefinite
Helmholtz sample (a seed never used in training) where the smoother alone does not; the
training loss must be the residual the solve-time cycle leaves (same cycle on the host and
in training, also through the two-grid transfers); the training command (with a Krylov round)
must write a model the pc loads and that ends in an honest verdict.
"""

from __future__ import annotations

import numpy as np
import pytest

import operators
from sciml.neural_operators import cycle_train as ct
from sciml.neural_operators import error_operator as eo
from sciml.neural_operators.fno import FNO
from sciml.neural_operators.hints import HintsPreconditioner
from solvers import solve
from solvers.system import as_system

HIDDEN_SEED = 4242  # never used in training (seeds 0 and 1000)


def _honest(p: operators.GridProblem, res) -> bool:
    true = np.linalg.norm(p.b - p.A @ np.asarray(res.x, np.float64))
    return bool(res.converged) == bool(np.isfinite(true) and true <= res.threshold)


def test_shipped_helmholtz_model_beats_the_smoother_alone() -> None:
    q = operators.family("helmholtz", 64, seed=HIDDEN_SEED).sample(0)
    assert q.positive_definite is not True  # indefinite
    fgmres = {"method": "fgmres", "pc": "hints", "restart": 40, "rtol": 1e-8, "maxiter": 300}
    hints = solve(q, **fgmres)  # the default model for kind "helmholtz"
    smoother = solve(q, model="none", **fgmres)
    assert hints.converged and _honest(q, hints) and _honest(q, smoother)
    assert hints.iterations < 0.5 * smoother.iterations


def test_training_loss_is_the_residual_of_the_solve_time_cycle(tmp_path) -> None:
    """``cycle_residuals`` (the loss, float32, in training) equals ``||r - A M r|| / ||r||``
    of the host pc in float64, here through the two-grid transfers (64^2 grid, 32^2 net)."""
    grid, net = 64, 32
    data = ct.generate("helmholtz", grid, 1, seed=HIDDEN_SEED, per_field=4, progress=False)
    feats = data["feature"]
    scaling = eo.Scaling("wave_shift", float(feats.mean()), float(feats.std()),
                         float(1.0 / np.median(feats)))
    model = FNO(eo.architecture({"modes": 4, "width": 6, "layers": 2}), seed=3)
    path = eo.save(eo.ErrorOperator(model, scaling, {"grid": [net, net]}), tmp_path / "m")
    group = ct._group(data, scaling, 4, net)
    loss = ct.cycle_residuals(model, group, scaling.output_std, sweeps=3)
    alone = ct.cycle_residuals(None, group, scaling.output_std, sweeps=3)
    p = operators.family("helmholtz", grid, seed=HIDDEN_SEED).sample(0)
    for name, values in ((str(path), loss), ("none", alone)):
        M = HintsPreconditioner(model=name, sweeps=3).setup(as_system(p, p.b))
        for r, value in zip(data["residuals"].astype(np.float64), values, strict=True):
            z = M.matvec(r.ravel())
            true = np.linalg.norm(r.ravel() - p.A @ z) / np.linalg.norm(r)
            assert value == pytest.approx(true, rel=2e-3), name
    assert not np.allclose(loss, alone)


@pytest.mark.slow
def test_cycle_training_command_with_a_krylov_round(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    args = ["--grids", "16", "--fields", "2", "--test-fields", "1", "--epochs", "1",
            "--rounds", "1", "--round-epochs", "1", "--krylov-iterations", "6",
            "--krylov-keep", "2", "--batch-size", "4", "--sweeps", "2", "--set", "modes=4",
            "--set", "width=4", "--set", "layers=1", "--out", str(out), "--no-progress"]
    ct.main(args)
    printed = capsys.readouterr().out
    assert '"test_cycle_residual_16"' in printed and '"round_1_krylov_residual_before_16"' \
        in printed
    assert (out / "krylov-1-16.npz").is_file()
    op = eo.load(out / "model.eqx")
    assert op.metadata["grid"] == [16, 16] and op.scaling.feature == "wave_shift"
    assert op.metadata["results"]["samples"] == 2 * 4 + 2 * 2  # random + Krylov residuals
    q = operators.family("helmholtz", 24, seed=HIDDEN_SEED).sample(0)
    res = solve(q, method="fgmres", pc="hints", model=str(out / "model.eqx"), sweeps=2,
                rtol=1e-8, maxiter=30)  # a tiny net: any verdict, but an honest one
    assert _honest(q, res)
