r"""Training an error operator through the HINTS cycle it serves, by the residual (physics) loss.

:mod:`sciml.neural_operators.error_train` fits the network to solutions ``e = A^{-1} r`` of
the error equation. On the indefinite Helmholtz family that target is ill-posed for a
network: near a resonance ``||A^{-1} r|| / ||r||`` spans orders of magnitude across samples,
and the L2 loss stayed at 89% (``docs/learned/neural-operators.md``). Here the network ``N``
is trained inside the preconditioner cycle ``C`` of :class:`~sciml.neural_operators.hints.
JaxHints` (``nu`` damped-Jacobi sweeps, ``z <- z + N(a, r - A z)``, ``nu`` sweeps; on a grid
finer than the network's, the network's input and output pass through the transfers of
:func:`~sciml.neural_operators.hints.transfer`, exactly as at solve time) and minimises the
mean relative residual the cycle leaves,

.. math:: L = \frac{1}{|B|} \sum_{(A, r) \in B} \frac{\| r - A\, C_N(r) \|_2}{\| r \|_2},

the quantity a flexible Krylov method sees: ``||I - A C_N||`` on the training residuals. No
solve is needed for the targets (the loss applies the grid stencil of ``A``), the smoother
takes the rough components, and a near-resonant mode the network cannot invert costs only its
share of the residual instead of dominating the loss with its amplitude ``1 / |lambda|`` [1]_.

Data: ``fields`` samples of ``operators.family(family, G, seed=seed)`` per grid ``G`` in
``grids`` (the network runs on the first, ``grids[0]``; a larger one trains the two-grid
cycle the pc uses there), ``per_field`` residuals each, one of each kind in turn (randomness
from ``default_rng([seed, G, i, j])``): a Gaussian random field with length scale uniform in
``[0.03, 0.4]``, white noise, the family's right-hand side ``1`` plus 10% noise, a rough
random field (length scale 0.02). Steps alternate between the grids' batches (one epoch: every
sample once). Held out: ``test_fields`` fields of ``seed + 1000`` per grid, whose relative
cycle residual is reported next to the smoother alone's (same cycle, no network).

Krylov rounds. Random residuals are not what the pc meets inside FGMRES: after a few
iterations its inputs are the Arnoldi directions the cycle handles worst (near-resonant
modes), on which the first model leaves about 64% of the residual (measured at 64^2). Each
of ``rounds`` further rounds runs FGMRES(``restart``) with the current model on every training
field (the family's right-hand side, or a random smooth one on odd fields) for
``krylov_iterations`` iterations, keeps ``krylov_keep`` of the pc's inputs from the last three
quarters of the run, adds them to the training set and continues training (``round_epochs``
epochs, half the learning rate) from the current weights: the data follow the distribution
the preconditioner induces, as in DAgger [3]_. At 64^2, one round took FGMRES(40) from 235 to
more than 600 iterations to 35-38 on hidden samples (``docs/learned/neural-operators.md``).

Command line (``--install NAME`` copies ``model.eqx``/``.json`` into the package)::

    python -m sciml.neural_operators.cycle_train --family helmholtz --grids 64 128 \
        --fields 150 --epochs 10 --rounds 1 --out sciml-out/cycle-helmholtz [--resume]

``--net-grid G`` puts the network on a grid coarser than every training grid (the two-grid
cycle on all of them); ``--init MODEL`` starts from a trained error operator's weights (same
architecture), with the scaling refitted to the data. Neither helped at 128^2 with the
budgets tried (``docs/learned/neural-operators.md``): what FGMRES lacks there is Krylov
vectors (restart 300 converges with the shipped 64^2 model, restart 40 does not).

References
----------
.. [1] E. Zhang et al., "Blending neural operators and relaxation methods in PDE numerical
   solvers", Nature Machine Intelligence 6 (2024) 1303-1313.
.. [2] Y. Saad, "A flexible inner-outer preconditioned GMRES algorithm", SIAM J. Sci.
   Comput. 14(2) (1993).
.. [3] S. Ross, G. Gordon, D. Bagnell, "A reduction of imitation learning and structured
   prediction to no-regret online learning", AISTATS 2011 (DAgger).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.sparse.linalg as spla
from tqdm import tqdm

import operators
from operators.fields import gaussian_random_field
from sciml.cli_options import positive
from sciml.dcdm import stencil
from sciml.neural_operators import error_operator as eo
from sciml.neural_operators.data import fingerprint
from sciml.neural_operators.error_data import FEATURE_OF
from sciml.neural_operators.error_train import (
    NONNEGATIVE_INT,
    POSITIVE_INT,
    add_output_options,
    architecture,
    finish,
)
from sciml.neural_operators.fno import FNO
from sciml.neural_operators.hints import HintsPreconditioner, JaxHints, restrict, transfer
from sciml.persist import atomic_write, atomic_write_text
from sciml.training import train
from solvers.errors import InvalidOptionError

__all__ = ["collect_krylov", "cycle_residuals", "generate", "main", "train_cycle_operator"]

TEST_SEED_OFFSET = 1000
KINDS = 4
OMEGA = 2.0 / 3.0


def generate(family: str, grid: int, fields: int, *, seed: int, per_field: int = 4,
             progress: bool = True, **options: Any) -> dict[str, np.ndarray]:
    """``{"diagonal", "feature", "residuals"}``: per field its matrix diagonal and raw
    coefficient channel ``(fields, G, G)``, and ``per_field`` residuals each
    ``(fields * per_field, G, G)``; also ``"upper"``, the (shared) off-diagonal bands."""
    fam = operators.family(family, grid, seed=seed, **options)
    diagonal, features, residuals, upper = [], [], [], None
    for i in tqdm(range(fields), disable=not progress, desc=f"cycle data {family} {grid}"):
        p = fam.sample(i)
        bands = stencil.bands_from_matrix(p.A.tocsr(), p.shape)
        if bands is None or np.iscomplexobj(bands.diagonal):
            raise InvalidOptionError(f"family {family!r} does not give a real grid stencil")
        upper = bands.upper if upper is None else upper
        diagonal.append(bands.diagonal)
        features.append(eo.feature(p.A, p.shape, eo.spacing_of(p.shape, p), FEATURE_OF[family]))
        for j in range(per_field):
            residuals.append(_residual(j % KINDS, p.shape,
                                       np.random.default_rng([seed, grid, i, j])))
    assert upper is not None
    return {"diagonal": np.stack(diagonal), "feature": np.stack(features),
            "residuals": np.stack(residuals).astype(np.float32), "upper": np.stack(upper)}


def _residual(kind: int, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    if kind == 0:
        return gaussian_random_field(shape, seed=rng, length_scale=rng.uniform(0.03, 0.4))
    if kind == 1:
        return rng.standard_normal(shape)
    if kind == 2:
        return 1.0 + 0.1 * rng.standard_normal(shape)
    return gaussian_random_field(shape, seed=rng, length_scale=0.02)


def _load_or_generate(path: Path, family: str, grid: int, fields: int, seed: int,
                      per_field: int, progress: bool) -> dict[str, np.ndarray]:
    if path.is_file():
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    arrays = generate(family, grid, fields, seed=seed, per_field=per_field, progress=progress)
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return arrays


@dataclasses.dataclass(frozen=True)
class _Group:
    """One grid's samples, ready for the loss: encoded field on the network grid, diagonal,
    residual per sample; the shared bands and transfers."""

    a: jax.Array          # (n, 1, g, g) encoded coefficient channel on the network grid
    diagonal: jax.Array   # (n, G, G)
    r: jax.Array          # (n, G, G)
    upper: tuple[jax.Array, ...]
    transfers: tuple[jax.Array, ...] | None


def _group(arrays: dict[str, np.ndarray], scaling: eo.Scaling, per_field: int,
           net_grid: int) -> _Group:
    G = arrays["feature"].shape[-1]
    enc = (arrays["feature"] - scaling.feature_mean) / scaling.feature_std
    T = None if net_grid == G else transfer((G, G), (net_grid, net_grid))
    if T is not None:
        enc = np.stack([restrict(T, f) for f in enc])
    rep = np.repeat(np.arange(len(enc)), per_field)
    return _Group(jnp.asarray(enc[rep][:, None], jnp.float32),
                  jnp.asarray(arrays["diagonal"][rep], jnp.float32),
                  jnp.asarray(arrays["residuals"], jnp.float32),
                  tuple(jnp.asarray(u, jnp.float32) for u in arrays["upper"]),
                  None if T is None else tuple(jnp.asarray(t, jnp.float32) for t in T))


def _one(model: Any, a: jax.Array, diag: jax.Array, r: jax.Array, upper: tuple[jax.Array, ...],
         transfers: Any, output_std: float, sweeps: int) -> jax.Array:
    """``||r - A C(r)|| / ||r||`` for one sample (``model=None``: the smoother alone)."""
    cycle = JaxHints(diag, upper, OMEGA / diag, model, a, transfers, output_std, sweeps)
    z, _ = cycle.cycle(r)
    res = r - stencil.apply(diag, upper, z)
    return jnp.sqrt(jnp.sum(res**2) / jnp.sum(r**2))


def _batch_residuals(model: Any, batch: tuple[Any, ...], output_std: float,
                     sweeps: int) -> jax.Array:
    a, diag, r, upper, transfers = batch
    return jax.vmap(lambda ai, di, ri: _one(model, ai, di, ri, upper, transfers, output_std,
                                            sweeps))(a, diag, r)


_BATCH_RESIDUALS = eqx.filter_jit(_batch_residuals)


def cycle_residuals(model: Any, group: _Group, output_std: float, sweeps: int,
                    chunk: int = 16) -> np.ndarray:
    """Per-sample relative residual of the cycle (``model=None``: smoother alone)."""
    out = []
    for i in range(0, len(group.r), chunk):
        batch = (group.a[i:i + chunk], group.diagonal[i:i + chunk], group.r[i:i + chunk],
                 group.upper, group.transfers)
        out.append(np.asarray(_BATCH_RESIDUALS(model, batch, output_std, sweeps)))
    return np.concatenate(out)


def _schedule(groups: list[_Group], batch_size: int, seed: int) -> tuple[Any, int]:
    """``(batches, steps_per_epoch)``: every batch of every grid once per epoch, in an order
    drawn from ``(seed, epoch)``."""
    slots = [(g, i) for g, grp in enumerate(groups) for i in range(len(grp.r) // batch_size)]
    if not slots:
        raise InvalidOptionError(f"batch size {batch_size} exceeds every grid's sample count")

    def batches(t: int, key: jax.Array) -> tuple[Any, ...]:
        epoch, i = divmod(t, len(slots))
        order = np.random.default_rng([seed, epoch]).permutation(len(slots))
        g, b = slots[order[i]]
        grp = groups[g]
        idx = np.random.default_rng([seed, epoch, g]).permutation(len(grp.r))
        take = idx[b * batch_size:(b + 1) * batch_size]
        return grp.a[take], grp.diagonal[take], grp.r[take], grp.upper, grp.transfers

    return batches, len(slots)


def collect_krylov(model: str | os.PathLike, family: str, grid: int, fields: int, *, seed: int,
                   keep: int = 8, iterations: int = 120, restart: int = 40, sweeps: int = 16,
                   progress: bool = True) -> np.ndarray:
    """``(fields * keep, G, G)``: the inputs of ``pc="hints"`` with ``model`` inside
    FGMRES(``restart``) on the training fields (see "Krylov rounds" in the module)."""
    from solvers import solve
    from solvers.system import as_system

    fam = operators.family(family, grid, seed=seed)
    kept = []
    for i in tqdm(range(fields), disable=not progress, desc=f"krylov inputs {family} {grid}"):
        p = fam.sample(i)
        rng = np.random.default_rng([seed, grid, i, 99])
        b = p.b if i % 2 == 0 else gaussian_random_field(
            p.shape, seed=rng, length_scale=rng.uniform(0.05, 0.4)).ravel()
        M = HintsPreconditioner(model=model, sweeps=sweeps).setup(as_system(p, b))
        seen: list[np.ndarray] = []

        def record(r: np.ndarray, M: Any = M, seen: list[np.ndarray] = seen) -> np.ndarray:
            seen.append(np.array(r, np.float32))
            return M.matvec(r)

        W = spla.LinearOperator(p.A.shape, matvec=record, dtype=np.float64)
        solve(p, b, method="fgmres", pc=W, restart=restart, rtol=1e-10, maxiter=iterations)
        take = np.linspace(len(seen) // 4, len(seen) - 1, keep).astype(int)
        kept += [seen[j].reshape(p.shape) for j in take]
    return np.stack(kept)


def train_cycle_operator(out: str | os.PathLike, *, family: str = "helmholtz",
                         grids: tuple[int, ...] = (64,), fields: int = 150,
                         test_fields: int = 8, per_field: int = 4, epochs: int = 10,
                         batch_size: int = 8, lr: float = 2e-3, sweeps: int = 16,
                         rounds: int = 1, round_epochs: int = 6, krylov_keep: int = 8,
                         krylov_iterations: int = 120, seed: int = 0,
                         architecture: dict[str, Any] | None = None, resume: bool = False,
                         progress: bool = True, net_grid: int | None = None,
                         init: str | os.PathLike | None = None,
                         ) -> tuple[eo.ErrorOperator, dict[str, Any]]:
    """Generate (or reuse) the data in ``out``, train by the cycle's residual (then ``rounds``
    Krylov rounds) and write ``out/model.eqx``; returns the operator and a record (held-out
    cycle residuals of the trained network and of the smoother alone per grid, wall times).

    ``net_grid`` is the network's grid (default ``grids[0]``; a coarser one trains the
    two-grid cycle on every grid); ``init`` starts from a trained error operator's weights
    (same architecture; the scaling is refitted to the data) instead of random ones."""
    if not grids:
        raise InvalidOptionError("grids must name at least one grid size")
    net = grids[0] if net_grid is None else net_grid
    if net > min(grids):
        raise InvalidOptionError(f"net_grid {net} is finer than the training grid "
                                 f"{min(grids)}; the network runs on the coarsest grid or below")
    if rounds < 0 or (rounds and round_epochs < 1):
        raise InvalidOptionError(f"rounds must be >= 0 (not {rounds}) and round_epochs >= 1 "
                                 f"(not {round_epochs})")
    out = Path(out)
    times = _Times(out / "times.json")
    t0 = time.perf_counter()
    train_arrays = [_load_or_generate(out / f"train-{g}.npz", family, g, fields, seed,
                                      per_field, progress) for g in grids]
    test_arrays = [_load_or_generate(out / f"test-{g}.npz", family, g, test_fields,
                                     seed + TEST_SEED_OFFSET, per_field, progress)
                   for g in grids]
    times.add("data", time.perf_counter() - t0)
    feats = np.concatenate([a["feature"].ravel() for a in train_arrays])
    # e ~ r / (k/c)^2 away from resonance: the network's output is of order one.
    scaling = eo.Scaling(FEATURE_OF[family], float(feats.mean()), float(feats.std() or 1.0),
                         float(1.0 / max(float(np.median(np.abs(feats))), 1e-30)))
    groups = [_group(a, scaling, per_field, net) for a in train_arrays]
    tests = [_group(a, scaling, per_field, net) for a in test_arrays]
    arch = eo.architecture(architecture)
    start = _initial(init, arch)
    config = {"family": family, "grids": list(grids), "fields": fields, "per_field": per_field,
              "epochs": epochs, "batch_size": batch_size, "lr": lr, "sweeps": sweeps,
              "seed": seed, "loss": "cycle-residual", "architecture": dataclasses.asdict(arch),
              "rounds": rounds, "round_epochs": round_epochs, "krylov_keep": krylov_keep,
              "krylov_iterations": krylov_iterations, "net_grid": net,
              **({} if start is None else {"init": start.metadata.get("sha256")}),
              "fingerprint": fingerprint(np.asarray(groups[0].r),
                                         np.asarray(groups[0].diagonal))}
    std = scaling.output_std

    def loss_fn(model: eqx.Module, batch: tuple[Any, ...]) -> jax.Array:
        return jnp.mean(_batch_residuals(model, batch, std, sweeps))

    def phase(name: str, model: Any, data: list[_Group], n_epochs: int, rate: float) -> Any:
        batches, per_epoch = _schedule(data, batch_size, seed)
        steps = n_epochs * per_epoch
        opt = optax.adamw(optax.cosine_decay_schedule(rate, steps), weight_decay=1e-4)
        run = out / name
        t = time.perf_counter()
        state = train(loss_fn, model, opt, batches, steps, out_dir=run, seed=seed,
                      config={**config, "phase": name}, checkpoint_every=per_epoch,
                      resume=resume and run.exists(), progress=progress,
                      desc=f"train cycle operator ({family}, {name})")
        times.add(name, time.perf_counter() - t)
        return state.params, float(np.mean(state.losses[-per_epoch:]))

    initial = start.model if start is not None else FNO(arch, seed=seed)
    params, last = phase("run", initial, groups, epochs, lr)
    record: dict[str, Any] = {"loss": "cycle-residual", "sweeps": sweeps, "rounds": rounds}
    for k in range(1, rounds + 1):
        eo.save(eo.ErrorOperator(params, scaling, {"grid": [net] * 2}),
                out / f"round-{k - 1}.eqx")
        for g in grids:
            path = out / f"krylov-{k}-{g}.npz"
            if not path.is_file():
                t = time.perf_counter()
                kry = collect_krylov(out / f"round-{k - 1}.eqx", family, g, fields, seed=seed,
                                     keep=krylov_keep, iterations=krylov_iterations,
                                     sweeps=sweeps, progress=progress)
                atomic_write(path, lambda f, kry=kry: np.savez(f, residuals=kry))
                times.add(f"krylov-{k}-{g}", time.perf_counter() - t)
            with np.load(path) as f:
                arrays = dict(train_arrays[grids.index(g)], residuals=f["residuals"])
            groups.append(_group(arrays, scaling, krylov_keep, net))
            before = cycle_residuals(params, groups[-1], std, sweeps)
            record[f"round_{k}_krylov_residual_before_{g}"] = float(before.mean())
        params, last = phase(f"run-{k}", params, groups, round_epochs, lr / 2)
    record.update({"samples": int(sum(len(g.r) for g in groups)),
                   "test_seed": seed + TEST_SEED_OFFSET, "train_loss_last_epoch": last,
                   "data_seconds": times.total("data", "krylov"),
                   "train_seconds_total": times.total("run")})
    for g, test in zip(grids, tests, strict=True):
        record[f"test_cycle_residual_{g}"] = float(cycle_residuals(params, test, std,
                                                                   sweeps).mean())
        record[f"test_smoother_residual_{g}"] = float(cycle_residuals(None, test, std,
                                                                      sweeps).mean())
    op = eo.ErrorOperator(params, scaling, {"problem": family, "grid": [net] * 2,
                                            "training": config, "results": record})
    eo.save(op, out / "model.eqx")
    return op, record


def _initial(init: str | os.PathLike | None, arch: Any) -> eo.ErrorOperator | None:
    """The trained error operator ``init`` (``None``: none), its network checked against the
    architecture being trained."""
    if init is None:
        return None
    start = eo.load(init)
    if start.model.config != arch:
        raise InvalidOptionError(f"--init {os.fspath(init)!r} is an FNO with "
                                 f"{dataclasses.asdict(start.model.config)}, not "
                                 f"{dataclasses.asdict(arch)}: pass the same --set options")
    return start


class _Times:
    """Wall seconds per phase, kept in a JSON file so that a resumed run adds up."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = json.loads(path.read_text()) if path.is_file() else {}

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        atomic_write_text(self.path, json.dumps(self.seconds))

    def total(self, *prefixes: str) -> float:
        return float(sum(v for k, v in self.seconds.items() if k.startswith(prefixes)))


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(prog="python -m sciml.neural_operators.cycle_train",
                                 description="train an error operator by the HINTS cycle's "
                                             "residual")
    ap.add_argument("--family", choices=sorted(FEATURE_OF), default="helmholtz")
    ap.add_argument("--grids", type=POSITIVE_INT, nargs="+", default=[64],
                    help="training grids; the network runs on the first")
    ap.add_argument("--fields", type=POSITIVE_INT, default=150,
                    help="coefficient fields per grid")
    ap.add_argument("--test-fields", type=POSITIVE_INT, default=8)
    ap.add_argument("--per-field", type=POSITIVE_INT, default=4)
    ap.add_argument("--epochs", type=POSITIVE_INT, default=10)
    ap.add_argument("--rounds", type=NONNEGATIVE_INT, default=1,
                    help="Krylov rounds (see the module)")
    ap.add_argument("--round-epochs", type=POSITIVE_INT, default=6)
    ap.add_argument("--krylov-keep", type=POSITIVE_INT, default=8)
    ap.add_argument("--krylov-iterations", type=POSITIVE_INT, default=120)
    ap.add_argument("--batch-size", type=POSITIVE_INT, default=8)
    ap.add_argument("--lr", type=positive(float), default=2e-3)
    ap.add_argument("--net-grid", type=POSITIVE_INT, default=None,
                    help="the network's grid (default: the first of --grids)")
    ap.add_argument("--init", default=None, metavar="MODEL",
                    help="start from this error operator's weights (a shipped name or path)")
    ap.add_argument("--sweeps", type=POSITIVE_INT, default=16,
                    help="Jacobi sweeps per side of the cycle (pass the same to pc='hints')")
    add_output_options(ap)
    args = ap.parse_args(argv)
    arch = architecture(args)
    _, record = train_cycle_operator(
        args.out, family=args.family, grids=tuple(args.grids), fields=args.fields,
        test_fields=args.test_fields, per_field=args.per_field, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, sweeps=args.sweeps, rounds=args.rounds,
        round_epochs=args.round_epochs, krylov_keep=args.krylov_keep,
        krylov_iterations=args.krylov_iterations, seed=args.seed,
        architecture=arch, resume=args.resume, progress=not args.no_progress,
        net_grid=args.net_grid, init=args.init)
    finish(args, record)


if __name__ == "__main__":
    main()
