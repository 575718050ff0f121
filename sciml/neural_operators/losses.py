r"""Relative L2 and H1 errors of fields on the interior nodes of the unit square.

A sample is a field ``u`` of shape ``(..., H, W)`` on the interior nodes of the unit square
(spacing ``h = (1/(H+1), 1/(W+1))``, as in :mod:`operators.gallery`), zero on the boundary.
With ``e = u_pred - u`` and the sums over the nodes,

.. math:: \mathrm{rel}_{L^2} = \frac{\|e\|}{\|u\|}, \qquad
          \mathrm{rel}_{H^1} = \left(\frac{\|e\|^2 + |e|_1^2}{\|u\|^2 + |u|_1^2}\right)^{1/2},
          \qquad |v|_1^2 = \sum_{\mathrm{faces}} h_x h_y
          \left(\frac{\delta v}{h_\perp}\right)^2, \quad \|v\|^2 = h_x h_y \sum v^2,

where ``delta v`` is the difference of ``v`` across one grid face, the boundary faces included
(the field is padded with its zero Dirichlet value), so ``|v|_1`` is the discrete energy
seminorm of the 5-point Laplacian and ``rel_H1`` penalises the oscillating errors that the
L2 error hides. Both are averaged over the leading (batch) axes, as in [1]_.

References
----------
.. [1] Z. Li et al., "Fourier neural operator for parametric partial differential equations",
   ICLR 2021 (relative L2); neuraloperator's ``H1Loss`` (relative H1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["LOSSES", "relative_h1", "relative_l2"]


def _sq_norm(u: jax.Array) -> jax.Array:
    hx, hy = 1.0 / (u.shape[-2] + 1), 1.0 / (u.shape[-1] + 1)
    return hx * hy * jnp.sum(u**2, axis=(-2, -1))


def _sq_seminorm(u: jax.Array) -> jax.Array:
    """``|u|_1^2`` from the face differences of the zero-padded field."""
    hx, hy = 1.0 / (u.shape[-2] + 1), 1.0 / (u.shape[-1] + 1)
    pad = [(0, 0)] * (u.ndim - 2) + [(1, 1), (1, 1)]
    p = jnp.pad(u, pad)
    dx = jnp.diff(p[..., :, 1:-1], axis=-2)
    dy = jnp.diff(p[..., 1:-1, :], axis=-1)
    return (hy / hx) * jnp.sum(dx**2, axis=(-2, -1)) + (hx / hy) * jnp.sum(dy**2, axis=(-2, -1))


def relative_l2(pred: jax.Array, true: jax.Array) -> jax.Array:
    """Mean over samples of ``||pred - true|| / ||true||`` (fields on the last two axes)."""
    return jnp.mean(jnp.sqrt(_sq_norm(pred - true) / _sq_norm(true)))


def relative_h1(pred: jax.Array, true: jax.Array) -> jax.Array:
    """Mean over samples of the relative discrete H1 error (see the module docstring)."""
    e = pred - true
    num = _sq_norm(e) + _sq_seminorm(e)
    den = _sq_norm(true) + _sq_seminorm(true)
    return jnp.mean(jnp.sqrt(num / den))


#: Training losses by name (``--loss``).
LOSSES = {"l2": relative_l2, "h1": relative_h1}
