r"""Training an error operator (:mod:`sciml.neural_operators.error_operator`).

Data: :func:`sciml.neural_operators.error_data.generate` on ``fields`` coefficient fields of
the family (seed ``seed``), and a held-out set on ``test_fields`` fields of the seed
``seed + 1000`` (never trained on). The network sees ``x = (a, r / rms(r))`` and is fitted to
``y = e / (rms(r) sigma_e)`` by AdamW with a cosine schedule, minimising the mean relative L2
error ``||y_pred - y|| / ||y||``, which is the relative L2 error of ``e`` itself. The L2 norm
of the error weighs the smooth components, which a relaxation sweep barely touches and the
network must supply; the energy norm or the residual norm would weigh the rough ones, which
the smoother of :mod:`sciml.neural_operators.hints` removes anyway. One step is
``batch_size`` samples; the run is :func:`sciml.training.train` (checkpoints, bit-identical
``resume``, progress bar), so it can be stopped and continued.

Command line (``--install`` copies the result into the package's ``weights/``)::

    python -m sciml.neural_operators.error_train --family darcy --grid 64 --fields 300 \
        --epochs 30 --out sciml-out/error-darcy [--resume] [--install darcy-error]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from sciml.cli_options import positive
from sciml.neural_operators import error_operator as eo
from sciml.neural_operators.data import epoch_batches, fingerprint
from sciml.neural_operators.error_data import FEATURE_OF, generate
from sciml.neural_operators.fno import FNO
from sciml.persist import atomic_write
from sciml.training import train

#: Command-line types: counts that must be > 0 (>= 0).
POSITIVE_INT, NONNEGATIVE_INT = positive(int), positive(int, zero_ok=True)

__all__ = ["evaluate", "load_or_generate", "main", "train_error_operator"]

TEST_SEED_OFFSET = 1000


def load_or_generate(path: Path, family: str, grid: int, fields: int, seed: int,
                     progress: bool, **options: Any) -> dict[str, np.ndarray]:
    """The samples cached in ``path`` (an ``.npz``), generated and written when missing."""
    if path.is_file():
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    arrays = generate(family, grid, fields, seed=seed, progress=progress, **options)
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return arrays


def _inputs(arrays: dict[str, np.ndarray], scaling: eo.Scaling) -> tuple[np.ndarray, ...]:
    """``(x, y)``: network inputs ``(n, 2, H, W)`` and targets ``(n, 1, H, W)``."""
    r = arrays["residuals"].astype(np.float64)
    s = np.sqrt(np.mean(r**2, axis=(1, 2)))[:, None, None]
    a = (arrays["features"] - scaling.feature_mean) / scaling.feature_std
    x = np.stack([a, r / s], axis=1).astype(np.float32)
    y = (arrays["errors"] / (s * scaling.output_std))[:, None].astype(np.float32)
    return x, y


def _relative_l2(pred: jax.Array, true: jax.Array) -> jax.Array:
    """Per-sample ``||pred - true|| / ||true||``."""
    num = jnp.sum((pred - true) ** 2, axis=(-3, -2, -1))
    return jnp.sqrt(num / jnp.sum(true**2, axis=(-3, -2, -1)))


@eqx.filter_jit
def _errors(model: eqx.Module, x: jax.Array, y: jax.Array) -> jax.Array:
    return _relative_l2(jax.vmap(model)(x), y)


def evaluate(model: eqx.Module, x: np.ndarray, y: np.ndarray, chunk: int = 32) -> np.ndarray:
    """Per-sample relative L2 errors of ``model`` on prepared ``(x, y)``."""
    return np.concatenate([np.asarray(_errors(model, jnp.asarray(x[i:i + chunk]),
                                              jnp.asarray(y[i:i + chunk])))
                           for i in range(0, len(x), chunk)])


def train_error_operator(out: str | os.PathLike, *, family: str = "darcy", grid: int = 64,
                         fields: int = 300, test_fields: int = 16, per_field: int = 4,
                         epochs: int = 30, batch_size: int = 16, lr: float = 3e-3,
                         seed: int = 0, architecture: dict[str, Any] | None = None,
                         options: dict[str, Any] | None = None, resume: bool = False,
                         progress: bool = True) -> tuple[eo.ErrorOperator, dict[str, Any]]:
    """Generate (or reuse) the data in ``out`` and train; returns the operator and a record
    (held-out error per sample kind, wall times, sample counts); writes ``out/model.eqx``."""
    out = Path(out)
    options = dict(options or {})
    t0 = time.perf_counter()
    data = load_or_generate(out / "train.npz", family, grid, fields, seed, progress,
                            per_field=per_field, **options)
    test = load_or_generate(out / "test.npz", family, grid, test_fields,
                            seed + TEST_SEED_OFFSET, progress, per_field=per_field, **options)
    data_seconds = time.perf_counter() - t0
    r = data["residuals"].astype(np.float64)
    rms = np.sqrt(np.mean(r**2, axis=(1, 2)))[:, None, None]
    scaling = eo.Scaling(FEATURE_OF[family], float(data["features"].mean()),
                         float(data["features"].std() or 1.0),
                         float(np.std(data["errors"] / rms) or 1.0))
    x, y = _inputs(data, scaling)
    config_arch = eo.architecture(architecture)
    net = FNO(config_arch, seed=seed)
    batches, per_epoch = epoch_batches(jnp.asarray(x), jnp.asarray(y), batch_size, seed)
    steps = epochs * per_epoch
    config = {"family": family, "grid": grid, "fields": fields, "per_field": per_field,
              "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
              "options": options, "architecture": dataclasses.asdict(config_arch),
              "fingerprint": fingerprint(x, y)}
    opt = optax.adamw(optax.cosine_decay_schedule(lr, steps), weight_decay=1e-4)

    def loss_fn(model: eqx.Module, batch: tuple[jax.Array, jax.Array]) -> jax.Array:
        bx, by = batch
        return jnp.mean(_relative_l2(jax.vmap(model)(bx), by))

    t1 = time.perf_counter()
    state = train(loss_fn, net, opt, batches, steps, out_dir=out / "run", seed=seed,
                  config=config, checkpoint_every=per_epoch, resume=resume, progress=progress,
                  desc=f"train error operator ({family})")
    train_seconds = time.perf_counter() - t1
    tx, ty = _inputs(test, scaling)
    errors = evaluate(state.params, tx, ty)
    kinds = np.arange(len(errors)) % per_field
    record = {"test_rel_l2": float(errors.mean()),
              "test_rel_l2_by_kind": [float(errors[kinds == k].mean()) for k in range(per_field)],
              "train_rel_l2_last_epoch": float(np.mean(state.losses[-per_epoch:])),
              "samples": int(len(x)), "test_samples": int(len(tx)),
              "test_seed": seed + TEST_SEED_OFFSET, "data_seconds": data_seconds,
              "train_seconds_this_call": train_seconds}
    op = eo.ErrorOperator(state.params, scaling, {"problem": family, "grid": [grid, grid],
                                                   "training": config, "results": record})
    eo.save(op, out / "model.eqx")
    return op, record


def add_output_options(ap: argparse.ArgumentParser) -> None:
    """The options every error-operator trainer shares: seed, architecture, output, install."""
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="FNO option, e.g. --set width=20 --set modes=8")
    ap.add_argument("--out", required=True)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--install", metavar="NAME", choices=sorted(eo.SHIPPED),
                    help="copy model.eqx/.json into the package as NAME (a shipped name)")


def architecture(args: argparse.Namespace) -> dict[str, int]:
    """The FNO options given by ``--set KEY=VALUE``."""
    return {k: int(v) for k, v in (s.split("=", 1) for s in args.set)}


def finish(args: argparse.Namespace, record: dict[str, Any]) -> None:
    """Print the training record; copy the model into the package if ``--install``."""
    print(json.dumps(record, indent=1))
    if args.install:
        for suffix in (".eqx", ".json"):
            shutil.copyfile(Path(args.out) / f"model{suffix}",
                            eo.WEIGHTS_DIR / f"{args.install}{suffix}")
        print(f"installed {eo.WEIGHTS_DIR / args.install}.eqx")


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(prog="python -m sciml.neural_operators.error_train",
                                 description="train an error-equation operator (HINTS pc)")
    ap.add_argument("--family", choices=sorted(FEATURE_OF), default="darcy")
    ap.add_argument("--grid", type=POSITIVE_INT, default=64)
    ap.add_argument("--fields", type=POSITIVE_INT, default=300)
    ap.add_argument("--test-fields", type=POSITIVE_INT, default=16)
    ap.add_argument("--epochs", type=POSITIVE_INT, default=30)
    ap.add_argument("--batch-size", type=POSITIVE_INT, default=16)
    ap.add_argument("--lr", type=positive(float), default=3e-3)
    ap.add_argument("--kh", type=float, nargs=2, default=None,
                    help="Helmholtz k h range of the training samples")
    add_output_options(ap)
    args = ap.parse_args(argv)
    arch = architecture(args)
    options = {"kh": list(args.kh)} if args.kh else {}
    _, record = train_error_operator(
        args.out, family=args.family, grid=args.grid, fields=args.fields,
        test_fields=args.test_fields, epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, seed=args.seed, architecture=arch, options=options, resume=args.resume,
        progress=not args.no_progress)
    finish(args, record)


if __name__ == "__main__":
    main()
