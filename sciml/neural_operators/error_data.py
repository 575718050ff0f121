r"""Training samples of the error equation ``A e = r`` for :mod:`error_operator`.

Field ``i`` is sample ``i`` of ``operators.family(family, grid, seed=seed, **options)`` (the
family ``python -m sciml datagen`` draws from); its matrix ``A`` is factorised once (SuperLU)
and gives ``per_field`` pairs ``(r, e)`` that together cover the spectrum of ``A``, one of
each kind in turn (randomness from ``default_rng([seed, i, j])``):

0. ``r`` a Gaussian random field with length scale uniform in ``[0.03, 0.4]``, ``e = A^{-1} r``
   (smooth errors of every wavelength);
1. ``r`` white noise, ``e = A^{-1} r``;
2. a relaxation error: ``e = (I - omega D^{-1} A)^nu e_0`` for white noise (or a rough field)
   ``e_0``, ``nu`` uniform in ``1..20`` damped-Jacobi sweeps (``omega = 2/3``), ``r = A e``:
   what a smoother leaves behind, the residuals a preconditioner sees after it [1]_;
3. ``r = 1`` plus 10% white noise (the family's own right-hand side), ``e = A^{-1} r``.

Arrays (``(count, G, G)`` float32): ``features`` (the raw coefficient channel,
:func:`~sciml.neural_operators.error_operator.feature`), ``residuals``, ``errors``.

References
----------
.. [1] E. Zhang et al., "Blending neural operators and relaxation methods in PDE numerical
   solvers", Nature Machine Intelligence 6 (2024) 1303-1313.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse.linalg as spla
from tqdm import tqdm

import operators
from operators.fields import gaussian_random_field
from sciml.neural_operators.error_operator import feature, spacing_of

__all__ = ["FEATURE_OF", "KINDS", "generate"]

#: The coefficient channel of each family.
FEATURE_OF = {"darcy": "log_diffusion", "helmholtz": "wave_shift"}
KINDS = 4
OMEGA = 2.0 / 3.0


def generate(family: str, grid: int, fields: int, *, seed: int, per_field: int = 4,
             progress: bool = True, **options: Any) -> dict[str, np.ndarray]:
    """``fields * per_field`` samples ``{"features", "residuals", "errors"}`` (see the module).
    """
    fam = operators.family(family, grid, seed=seed, **options)
    out: dict[str, list[np.ndarray]] = {"features": [], "residuals": [], "errors": []}
    for i in tqdm(range(fields), disable=not progress, desc=f"error data {family} {grid}"):
        p = fam.sample(i)
        A = p.A.tocsr()
        lu = spla.splu(A.tocsc())
        field = feature(A, p.shape, spacing_of(p.shape, p), FEATURE_OF[family])
        for j in range(per_field):
            rng = np.random.default_rng([seed, i, j])
            r, e = _pair(j % KINDS, A, lu, p.shape, rng)
            out["features"].append(field.astype(np.float32))
            out["residuals"].append(r.reshape(p.shape).astype(np.float32))
            out["errors"].append(e.reshape(p.shape).astype(np.float32))
    return {k: np.stack(v) for k, v in out.items()}


def _pair(kind: int, A: Any, lu: Any, shape: tuple[int, ...],
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = A.shape[0]
    if kind == 0:
        r = gaussian_random_field(shape, seed=rng, length_scale=rng.uniform(0.03, 0.4)).ravel()
    elif kind == 1:
        r = rng.standard_normal(n)
    elif kind == 2:
        e = rng.standard_normal(n)
        if rng.random() < 0.5:
            e = gaussian_random_field(shape, seed=rng, length_scale=0.02).ravel()
        inv_diag = 1.0 / A.diagonal()
        for _ in range(int(rng.integers(1, 21))):
            e = e - OMEGA * inv_diag * (A @ e)
        return A @ e, e
    else:
        r = 1.0 + 0.1 * rng.standard_normal(n)
    return r, lu.solve(r)
