"""Data-free training vectors: random combinations of Ritz vectors, low modes weighted up.

Following Kaneda et al. [1]_ (sec. 4.2), the right-hand sides the network is trained on are
built from the training matrix alone. ``m`` Lanczos steps give Ritz pairs
``(theta_j, v_j)``, ``theta_1 <= ... <= theta_m`` (:mod:`sciml.dcdm.ritz`); a training vector is

.. math:: b = \\frac{\\sum_j c_j v_j}{\\|\\sum_j c_j v_j\\|}, \\qquad
          c_j \\sim \\mathcal N(0, w_j^2).

The paper's weights (``weighting="paper"``) are ``w_j = 9`` for the lowest ``m/2 + vartheta``
Ritz vectors and 1 for the others (``m = 10^4``, ``vartheta = 500`` there; ``m/20`` here).
The default, ``weighting="octave"``, also favours the low modes, but by frequency octave:
Ritz values are binned by factors of 4 (one octave of frequency, one level of the network's
hierarchy) and each bin gets the same total variance, so the few lowest modes, which decide
the condition number, carry as much weight as the thousands of high ones. With the paper's
weights the lowest mode of a 128^2 Poisson matrix carries ~1/1000 of the loss and the trained
network under-weights it by 40x; with octave weights the response is flat over the spectrum.

Vectors are drawn on the fly from a seeded JAX key, so the data set is unlimited and a resumed
run sees exactly the vectors it would have seen. For a family with a coefficient
(``diffusion2d``) the set holds several matrices, each with its own Ritz vectors; each batch
draws a few of them.

References
----------
.. [1] A. Kaneda et al., "A Deep Conjugate Direction Method for Iteratively Solving Linear
   Systems", ICML 2023.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from sciml.dcdm.families import Family
from sciml.dcdm.ritz import ritz_pairs
from sciml.dcdm.stencil import bands_from_matrix, coefficient_channel
from sciml.persist import atomic_write

LOW_MODE_WEIGHT = 9.0


@dataclass(frozen=True)
class TrainingSet:
    """Ritz bases and stencils of the training matrices (float32).

    ``vectors[p]`` holds the Ritz vectors of matrix ``p`` as rows (``(P, m, n)``), ``weights``
    the per-mode standard deviations ``w_j`` (``(P, m)``, zero for missing vectors),
    ``diagonal``/``upper`` the stencil bands scaled by the mean diagonal (the loss is invariant
    to the scale of ``A``), ``coefficient`` the network's coefficient channel.
    """

    shape: tuple[int, ...]
    vectors: np.ndarray
    weights: np.ndarray
    diagonal: np.ndarray
    upper: tuple[np.ndarray, ...]
    coefficient: np.ndarray | None

    @property
    def matrices(self) -> int:
        return self.vectors.shape[0]


def mode_weights(values: np.ndarray, scheme: str = "octave",
                 theta: int | None = None) -> np.ndarray:
    """Standard deviations ``w_j`` of the Ritz coefficients, for ascending Ritz values.

    ``"paper"``: ``w_j = 9`` for the lowest ``m/2 + theta`` vectors, 1 for the others.
    ``"octave"``: every frequency octave (Ritz values within a factor 4) gets the same total
    variance, ``w_j^2 = 1 / #{i : floor(log4(theta_i / theta_1)) = floor(log4(theta_j /
    theta_1))}``, so each level of the network's hierarchy is trained equally.
    """
    m = len(values)
    if scheme == "paper":
        theta = m // 20 if theta is None else theta
        w = np.where(np.isfinite(values), 1.0, 0.0).astype(np.float32)
        w[: min(m, m // 2 + theta)] *= LOW_MODE_WEIGHT
        return w
    if scheme == "octave":
        w = np.zeros(m, np.float32)
        ok = np.isfinite(values) & (values > 0)
        if np.any(ok):
            octave = np.floor(np.log(values[ok] / values[ok].min()) / np.log(4.0)).astype(int)
            w[ok] = 1.0 / np.sqrt(np.bincount(octave)[octave])
        return w
    raise ValueError(f"unknown weighting {scheme!r}; use 'octave' or 'paper'")


def build(family: Family, shape: tuple[int, ...], ritz: int, seed: int,
          cache: Path | None = None, progress: bool = True,
          weighting: str = "octave") -> TrainingSet:
    """Assemble the training matrices of ``family`` on ``shape`` and their Ritz vectors.

    Matrix ``p`` uses field seed ``seed * 1000 + p`` and Lanczos seed ``seed + p``. With
    ``cache`` (a ``.npz`` path) the set is stored there and reused while the arguments match.
    """
    key = {"family": family.name, "shape": list(shape), "ritz": ritz, "seed": seed,
           "matrices": family.matrices, "field": family.field_options}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            if str(data["digest"]) == digest:
                return _from_arrays(shape, data, weighting)
    arrays = _assemble(family, shape, ritz, seed, progress)
    if cache is not None:
        atomic_write(cache, lambda f: np.savez(f, digest=digest, **arrays))
    return _from_arrays(shape, arrays, weighting)


def _assemble(family: Family, shape: tuple[int, ...], ritz: int, seed: int,
              progress: bool) -> dict[str, np.ndarray]:
    n = int(np.prod(shape))
    m = min(ritz, n)
    count = family.matrices
    vectors = np.zeros((count, m, n), np.float32)
    values = np.full((count, m), np.inf)
    diagonal = np.zeros((count, *shape), np.float32)
    upper = np.zeros((count, len(shape), *shape), np.float32)
    for p in tqdm(range(count), desc=f"Ritz vectors ({family.name}, {shape}, m={m})",
                  disable=not progress):
        problem = family.problem(shape, seed * 1000 + p)
        bands = bands_from_matrix(problem.A, shape)
        if bands is None:
            raise ValueError(f"the {family.name} matrix is not a symmetric grid stencil")
        scale = float(np.mean(bands.diagonal))
        pairs = ritz_pairs(problem.A.dot, n, m, seed=seed + p)
        vectors[p, : len(pairs.values)] = pairs.vectors  # fewer if K_m(A) became invariant
        values[p, : len(pairs.values)] = pairs.values / scale
        diagonal[p] = bands.diagonal / scale
        upper[p] = np.stack(bands.upper) / scale
    return {"vectors": vectors, "values": values, "diagonal": diagonal, "upper": upper}


def _from_arrays(shape: tuple[int, ...], data: dict | np.lib.npyio.NpzFile,
                 weighting: str) -> TrainingSet:
    upper = np.asarray(data["upper"])
    diagonal = np.asarray(data["diagonal"])
    coefficient = np.asarray(coefficient_channel(diagonal, len(shape)))
    weights = np.stack([mode_weights(v, weighting) for v in np.asarray(data["values"])])
    return TrainingSet(tuple(shape), np.asarray(data["vectors"]), weights,
                       diagonal, tuple(upper[:, a] for a in range(len(shape))), coefficient)


def sample(key: jax.Array, vectors: jax.Array, weights: jax.Array,
           batch: int, groups: int = 4) -> tuple[jax.Array, jax.Array]:
    """``batch`` unit-norm training vectors and the index of the matrix each belongs to.

    With several matrices, ``groups`` of them are drawn per call and the batch is split
    evenly between them (``batch`` must then be a multiple of ``groups``), which keeps the
    gathered Ritz bases small. Returns ``(b, index)`` with ``b`` of shape ``(batch, n)``.
    """
    k_index, k_coeff = jax.random.split(key)
    count, m, _ = vectors.shape
    if count == 1:
        coeffs = jax.random.normal(k_coeff, (batch, m), vectors.dtype) * weights[0]
        b = coeffs @ vectors[0]
        index = jnp.zeros((batch,), jnp.int32)
    else:
        groups = min(groups, batch)
        if batch % groups:
            raise ValueError(f"batch={batch} must be a multiple of groups={groups}")
        chosen = jax.random.randint(k_index, (groups,), 0, count)
        coeffs = jax.random.normal(k_coeff, (groups, batch // groups, m), vectors.dtype)
        coeffs = coeffs * weights[chosen][:, None, :]
        b = jnp.einsum("gpm,gmn->gpn", coeffs, vectors[chosen]).reshape(batch, -1)
        index = jnp.repeat(chosen, batch // groups)
    return b / jnp.linalg.norm(b, axis=1, keepdims=True), index
