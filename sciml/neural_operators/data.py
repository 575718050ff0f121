r"""Data for the neural operators: datagen directories, normalisation, batches.

A data set is what ``python -m sciml datagen`` writes (read with
:func:`sciml.recycling.datagen.load_dataset`): ``inputs`` (the parameter field, Darcy's
``K``) and ``solutions``, each ``(samples, G, G)``. The network sees

.. math:: a = \frac{T(K) - \mu_a}{\sigma_a}, \qquad u = \mu_u + \sigma_u\, y,

with ``T = log`` for a positive (log-normal) field and the identity otherwise, ``mu``/``sigma``
the mean and standard deviation over all training samples and nodes (scalars, so a model
trained on one grid applies to any other), and ``y`` the network's output.
:class:`Normaliser` holds them and is stored with the model.

Batches for :func:`sciml.training.train`: epoch ``e`` visits the training samples in the
order ``default_rng([seed, e]).permutation(n_train)``, in ``n_train // batch_size`` full batches
(the remainder of the permutation is left out of that epoch), so batch ``t`` is a function of
``(seed, t)`` alone and a resumed run sees exactly the batches of an uninterrupted one.
"""

from __future__ import annotations

import functools
import os
import zlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from solvers.errors import DatasetError, InvalidOptionError

__all__ = ["Normaliser", "Split", "epoch_batches", "fingerprint", "load", "source_name", "split"]

TRANSFORMS = {"log": np.log, "none": lambda x: x}


@dataclass(frozen=True)
class Normaliser:
    """Affine input/output scaling (see the module docstring); JSON round trip via
    :func:`dataclasses.asdict` / ``Normaliser(**d)``."""

    input_transform: str
    input_mean: float
    input_std: float
    output_mean: float
    output_std: float

    @classmethod
    def fit(cls, inputs: np.ndarray, outputs: np.ndarray) -> Normaliser:
        """Statistics of training ``inputs``/``outputs`` (``(samples, H, W)`` arrays); the
        input is log-transformed when it is positive everywhere."""
        transform = "log" if np.all(inputs > 0) else "none"
        a = TRANSFORMS[transform](np.asarray(inputs, dtype=np.float64))
        u = np.asarray(outputs, dtype=np.float64)
        return cls(transform, float(a.mean()), float(a.std() or 1.0), float(u.mean()),
                   float(u.std() or 1.0))

    def encode_input(self, inputs: np.ndarray) -> np.ndarray:
        """``(..., H, W)`` fields -> ``(..., 1, H, W)`` float32 network input."""
        a = TRANSFORMS[self.input_transform](np.asarray(inputs, dtype=np.float64))
        return ((a - self.input_mean) / self.input_std)[..., None, :, :].astype(np.float32)

    def encode_output(self, outputs: np.ndarray) -> np.ndarray:
        """``(..., H, W)`` solutions -> ``(..., 1, H, W)`` float32 network targets."""
        u = (np.asarray(outputs, dtype=np.float64) - self.output_mean) / self.output_std
        return u[..., None, :, :].astype(np.float32)

    def decode_output(self, y: jax.Array) -> jax.Array:
        """Network output ``(..., 1, H, W)`` -> solution ``(..., H, W)``."""
        return self.output_mean + self.output_std * y[..., 0, :, :]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def load(data: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a ``python -m sciml datagen`` directory (``inputs``, ``solutions``, ...).

    Raises
    ------
    solvers.errors.DatasetError
        The directory is missing, incomplete or corrupt, or its fields are not real 2D grids.
    """
    from sciml.recycling.datagen import load_dataset

    arrays = load_dataset(data)
    for name in ("inputs", "solutions"):
        if name not in arrays:
            raise DatasetError(f"data set {data} has no {name!r} array; regenerate it with "
                               f"`python -m sciml datagen --problem darcy --out {data}`")
        a = arrays[name]
        if a.ndim != 3 or not np.isrealobj(a) or not np.all(np.isfinite(a)):
            raise DatasetError(
                f"data set {data}: {name!r} must be real, finite fields of shape (samples, H, W), "
                f"got dtype {a.dtype} shape {a.shape}; neural operators here learn real 2D "
                f"fields (e.g. --problem darcy)")
    return arrays


@dataclass(frozen=True)
class Split:
    """Training and held-out arrays (physical units, ``(samples, H, W)``)."""

    train_inputs: np.ndarray
    train_outputs: np.ndarray
    test_inputs: np.ndarray
    test_outputs: np.ndarray


def split(arrays: Mapping[str, np.ndarray], *, test: int, train: int | None = None) -> Split:
    """The last ``test`` samples are held out; the first ``train`` (default: all the others)
    are for training."""
    inputs, outputs = np.asarray(arrays["inputs"]), np.asarray(arrays["solutions"])
    count = len(inputs)
    train = count - test if train is None else train
    if test < 1 or train < 1 or train + test > count:
        raise InvalidOptionError(
            f"cannot take {train} training and {test} test samples from a data set of {count}; "
            f"lower --train/--test or generate more samples")
    return Split(inputs[:train], outputs[:train], inputs[count - test:], outputs[count - test:])


def fingerprint(*arrays: np.ndarray) -> str:
    """CRC32 of the arrays' bytes (recorded in a run's configuration, checked on resume)."""
    crc = 0
    for a in arrays:
        crc = zlib.crc32(np.ascontiguousarray(a).tobytes(), crc)
    return f"{crc:08x}"


def epoch_batches(inputs: jax.Array, outputs: jax.Array, batch_size: int,
                  seed: int) -> tuple[Callable[[int, jax.Array], tuple[jax.Array, jax.Array]],
                                      int]:
    """``(batches, steps_per_epoch)`` for :func:`sciml.training.train` (see the module)."""
    n = inputs.shape[0]
    if not 1 <= batch_size <= n:
        raise InvalidOptionError(f"batch size must be between 1 and the {n} training samples, "
                                 f"not {batch_size}")
    steps = n // batch_size

    @functools.lru_cache(maxsize=2)
    def order(epoch: int) -> np.ndarray:
        return np.random.default_rng([seed, epoch]).permutation(n)

    def batches(t: int, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        epoch, i = divmod(t, steps)
        idx = order(epoch)[i * batch_size:(i + 1) * batch_size]
        return inputs[idx], outputs[idx]

    return batches, steps


def source_name(data: str | os.PathLike | Mapping[str, np.ndarray]) -> str:
    """How a data argument is recorded in a run's configuration."""
    return "arrays" if isinstance(data, Mapping) else str(Path(data).expanduser().resolve())
