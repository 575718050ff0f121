r"""Error-equation operator: ``(coefficient field, residual r) -> e`` with ``A e ~ r``.

A 2-D :class:`~sciml.neural_operators.fno.FNO` with two input channels, the encoded
coefficient field ``a`` and the scaled residual, approximates the inverse of a grid operator
``A`` on any right-hand side:

.. math:: N(a, r) = s\,\sigma_e\, \mathrm{FNO}\big(a, r / s\big), \qquad s = \mathrm{rms}(r),

so ``N`` is positively homogeneous in ``r`` (``N(a, c r) = c N(a, r)`` for ``c > 0``) like
``A^{-1}``, and ``sigma_e`` (the spread of ``e / rms(r)`` over the training set) makes the
network's output of order one. The coefficient field is read off the matrix, not the problem
object, so any matrix of the family on any grid gets the same input: with ``D`` the diagonal
of ``A`` and ``t = 2 sum_a h_a^{-2}`` (the diagonal of the 5-point Laplacian),

- ``"log_diffusion"`` (Darcy, ``-div(K grad u)`` with face averages of ``K``):
  ``a = log(D / t) ~ log K``;
- ``"wave_shift"`` (Helmholtz, ``-Laplace u - (k/c)^2 u``): ``a = t - D = (k / c)^2``,

each then standardised by the training set's mean and spread (:class:`Scaling`). The spacing
is the problem's, else that of the unit square, ``h_a = 1 / (G_a + 1)``. Because the FNO
keeps a fixed number of Fourier modes with grid-independent normalisation, the same network
applies on every grid with at least ``2 modes`` nodes per axis [1]_; what it cannot represent
(frequencies above its modes) is left to a smoother (:mod:`sciml.neural_operators.hints`).

Files: ``<name>.eqx`` + ``<name>.json`` (:func:`sciml.persist.save_weights`), the JSON with
``kind = "error-operator"``, the FNO architecture, the :class:`Scaling` and the training
record. Shipped: :data:`SHIPPED` in ``weights/`` (rebuilt by
``scripts/train-error-operator.sh``).

References
----------
.. [1] Z. Li et al., "Fourier neural operator for parametric partial differential equations",
   ICLR 2021.
.. [2] E. Zhang, A. Kahana, A. Kopanicakova, E. Turkel, R. Ranade, J. Pathak, G. E.
   Karniadakis, "Blending neural operators and relaxation methods in PDE numerical solvers",
   Nature Machine Intelligence 6 (2024) 1303-1313.

Examples
--------
>>> import numpy as np, operators
>>> p = operators.diffusion(np.full((16, 16), 2.0))
>>> field = feature(p.A, p.shape, p.spacing, "log_diffusion")
>>> bool(np.allclose(field, np.log(2.0)))
True
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from sciml.neural_operators.fno import FNO, FNOConfig
from sciml.persist import load_weights, save_weights
from solvers.errors import InvalidOptionError, InvalidSystemError, ModelLoadError

__all__ = ["FEATURES", "SHIPPED", "ErrorOperator", "Scaling", "correction", "default_model",
           "feature", "load", "save", "spacing_of"]

#: How the coefficient channel is read off the matrix, by name (see the module docstring).
FEATURES = ("log_diffusion", "wave_shift")
#: Shipped models (``weights/<name>.eqx``) and the problem kinds each is the default for.
#: ``darcy-error`` is fitted to solutions of the error equation
#: (:mod:`sciml.neural_operators.error_train`); ``helmholtz-error`` (64^2, k h 0.2-0.3) is
#: trained through the HINTS cycle by the residual it leaves
#: (:mod:`sciml.neural_operators.cycle_train`): fitted to solutions it stayed at 89% error.
SHIPPED: dict[str, tuple[str, ...]] = {"darcy-error": ("diffusion", "darcy"),
                                       "helmholtz-error": ("helmholtz",)}
#: The grid each shipped model's network runs on (its training grid; 64 when not listed).
#: :func:`default_model` picks, per kind, the model with the finest grid not above the
#: problem's: a network on a coarser grid than the problem's is reached through the two-grid
#: transfers, on which Helmholtz sees a doubled ``k h`` (``docs/learned/neural-operators.md``).
SHIPPED_GRID: dict[str, int] = {}
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
KIND = "error-operator"
REBUILD_SHIPPED = ("rebuild it with `FAMILIES=\"darcy helmholtz\" bash "
                   "scripts/train-error-operator.sh` (data + training, seed 0), or reinstall "
                   "the package")
REBUILD_OWN = "retrain it with `python -m sciml.neural_operators.error_train --out DIR`"


@dataclass(frozen=True)
class Scaling:
    """Input/output scaling of an error operator (stored in its JSON)."""

    feature: str
    feature_mean: float
    feature_std: float
    output_std: float

    def __post_init__(self) -> None:
        if self.feature not in FEATURES:
            raise ModelLoadError(f"unknown error-operator feature {self.feature!r}; "
                                 f"known: {', '.join(FEATURES)}")


def spacing_of(shape: Sequence[int], problem: Any = None) -> tuple[float, ...]:
    """The problem's grid spacing, else the unit square's ``1 / (G_a + 1)``."""
    spacing = getattr(problem, "spacing", None)
    if spacing is not None and len(spacing) == len(shape):
        return tuple(float(h) for h in spacing)
    return tuple(1.0 / (int(g) + 1) for g in shape)


def feature(matrix: sp.spmatrix, shape: Sequence[int], spacing: Sequence[float],
            name: str) -> np.ndarray:
    """The raw coefficient channel ``(H, W)`` of ``matrix`` (see the module docstring)."""
    diagonal = np.asarray(matrix.diagonal()).real.reshape(tuple(shape))
    total = 2.0 * sum(1.0 / h**2 for h in spacing)
    if name == "log_diffusion":
        if not np.all(diagonal > 0):
            raise InvalidSystemError("the error operator for diffusion needs a positive "
                                     "diagonal (an SPD grid matrix)")
        return np.log(diagonal / total)
    if name == "wave_shift":
        return total - diagonal
    raise InvalidOptionError(f"unknown feature {name!r}; choose one of {', '.join(FEATURES)}")


def correction(model: FNO, a: jax.Array, r: jax.Array, output_std: float) -> jax.Array:
    """``N(a, r)`` for one grid: ``a`` the encoded field ``(1, H, W)``, ``r`` ``(H, W)``.

    Runs in the dtype of ``a`` (float32); ``r = 0`` gives ``0``; jittable.
    """
    r = r.astype(a.dtype)
    s = jnp.sqrt(jnp.mean(r**2))
    safe = jnp.where(s > 0, s, 1.0)
    y = model(jnp.concatenate([a, (r / safe)[None]]))[0]
    return (output_std * s) * y


@dataclass(frozen=True)
class ErrorOperator:
    """A trained error operator: the FNO, its :class:`Scaling` and its metadata."""

    model: FNO
    scaling: Scaling
    metadata: dict[str, Any]

    def encode(self, matrix: sp.spmatrix, shape: Sequence[int],
               spacing: Sequence[float]) -> np.ndarray:
        """The network's coefficient channel ``(1, H, W)`` float32 for ``matrix``."""
        raw = feature(matrix, shape, spacing, self.scaling.feature)
        a = (raw - self.scaling.feature_mean) / self.scaling.feature_std
        return a[None].astype(np.float32)

    def __call__(self, a: np.ndarray, r: np.ndarray) -> np.ndarray:
        """``e ~ A^{-1} r`` for an encoded field ``a`` and residuals ``r`` ``(..., H, W)``."""
        flat = np.reshape(r, (-1,) + a.shape[-2:])
        s = np.sqrt(np.mean(np.square(flat, dtype=np.float64), axis=(1, 2)))
        scaled = flat / np.where(s > 0, s, 1.0)[:, None, None]
        e = _batched(self.model, jnp.asarray(a), jnp.asarray(scaled, jnp.float32),
                     self.scaling.output_std)
        return (np.asarray(e, np.float64) * s[:, None, None]).reshape(np.shape(r))


@eqx.filter_jit
def _batched(model: FNO, a: jax.Array, r: jax.Array, output_std: float) -> jax.Array:
    return jax.vmap(lambda x: correction(model, a, x, output_std))(r)


def architecture(config: dict[str, Any] | None = None) -> FNOConfig:
    """The FNO config of an error operator (two input channels), ``config`` overriding."""
    fields = {f.name for f in dataclasses.fields(FNOConfig)}
    unknown = sorted(set(config or {}) - fields)
    if unknown:
        raise InvalidOptionError(f"the FNO has no option {', '.join(unknown)}; its options are "
                                 f"{', '.join(sorted(fields))}")
    base = {"modes": 8, "width": 20, "layers": 4, "projection_ratio": 2}
    return FNOConfig(**{**base, **(config or {}), "in_channels": 2, "out_channels": 1})


def save(op: ErrorOperator, path: str | os.PathLike) -> Path:
    """Write ``path`` (``.eqx``) and its ``.json`` sidecar atomically."""
    meta = dict(op.metadata, kind=KIND, architecture=dataclasses.asdict(op.model.config),
                scaling=dataclasses.asdict(op.scaling))
    return save_weights(path, op.model, meta)


def resolve(name: str | os.PathLike) -> tuple[Path, str]:
    """``(eqx path, rebuild hint)`` of a shipped name or a ``.eqx``/``.json`` path."""
    text = os.fspath(name)
    if text in SHIPPED:
        return WEIGHTS_DIR / f"{text}.eqx", REBUILD_SHIPPED
    path = Path(text).expanduser()
    if path.suffix not in (".eqx", ".json"):
        raise ModelLoadError(f"unknown error operator {text!r}: the shipped ones are "
                             f"{', '.join(map(repr, SHIPPED))}; or pass the path of a "
                             f".eqx/.json model file")
    return path.with_suffix(".eqx"), REBUILD_OWN


_CACHE: dict[tuple[str, int, float], ErrorOperator] = {}


def load(name: str | os.PathLike) -> ErrorOperator:
    """Load a shipped error operator by name or any by path (cached by file size and mtime).

    Raises
    ------
    solvers.errors.ModelLoadError
        Unknown name, a missing or corrupt file, or not an error operator.
    """
    eqx_path, hint = resolve(name)
    stat = eqx_path.stat() if eqx_path.is_file() else None
    key = (str(eqx_path), stat.st_size if stat else -1, stat.st_mtime if stat else -1.0)
    if key not in _CACHE:
        model, meta = load_weights(eqx_path, _skeleton, "error operator", hint)
        _CACHE[key] = ErrorOperator(model, Scaling(**meta["scaling"]), meta)
    return _CACHE[key]


def _skeleton(meta: dict[str, Any]) -> FNO:
    if meta.get("kind") != KIND:
        raise ModelLoadError(f"not an error operator (kind {meta.get('kind')!r})")
    Scaling(**meta["scaling"])
    return FNO(FNOConfig(**meta["architecture"]))


def default_model(kind: str | None, shape: Sequence[int] | None = None) -> str:
    """The shipped model for a problem kind and grid (``"diffusion"`` -> ``"darcy-error"``).

    Among the models of ``kind``, the one whose grid (:data:`SHIPPED_GRID`) is the finest not
    above the problem's smallest axis, else the coarsest; without ``shape`` the coarsest.

    >>> default_model("helmholtz", (64, 64))
    'helmholtz-error'
    """
    names = sorted((SHIPPED_GRID.get(name, 64), name) for name, kinds in SHIPPED.items()
                   if kind in kinds)
    if names:
        size = min(shape) if shape else 0
        return max((n for n in names if n[0] <= size), default=names[0])[1]
    raise InvalidOptionError(
        f"no default error operator for a problem of kind {kind!r}; pass model= one of "
        f"{', '.join(map(repr, SHIPPED))} or the path of a trained model")
