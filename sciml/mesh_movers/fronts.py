r"""The training family of the DMM: steep interior layers (tanh fronts) on the unit square.

A sample is ``u(x) = tanh(s(x) / w)`` with a level-set function ``s`` that is either a straight
line or a circle,

.. math:: s(x) = (1 - t)\,(n_\vartheta \cdot x - c) + t\,(|x - p| - r_0),
          \qquad t \in \{0, 1\},

drawn from a seeded key: ``t`` Bernoulli(1/2), the angle ``vartheta`` uniform, the line
through a point uniform in ``[0.25, 0.75]^2``, the centre ``p`` uniform in ``[0.3, 0.7]^2``,
the radius ``r_0`` uniform in ``[0.15, 0.35]`` and the width ``w`` log-uniform in
``[w_min, w_max]``. Since ``|grad s| = 1``, ``|grad u| = (1 - u^2) / w`` in closed form
(smooth, unlike the norm of an autodiff gradient that underflows to zero), so the monitor

.. math:: m(x) = 1 + \frac{|\nabla u(x)|}{\alpha\, \overline{|\nabla u|}}, \qquad
          \theta = \int_{[0,1]^2} m\,dx = 1 + \frac{1}{\alpha},

is exact at every point; the mean ``\overline{|\nabla u|}`` is a midpoint rule on a
``128 x 128`` grid. Everything is a pure function of the parameters, jittable and vmappable.

Examples
--------
>>> import jax
>>> params = sample(jax.random.PRNGKey(0), 3)
>>> params.shape, grid_values(params[0], 8).shape
((3, 8), (8, 8))
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["QUADRATURE", "grid_values", "mean_slope", "monitor", "sample", "slope", "value"]

#: Points per axis of the midpoint rule for the mean slope.
QUADRATURE = 128


def sample(key: jax.Array, count: int, width: tuple[float, float] = (0.02, 0.06)) -> jax.Array:
    """``count`` parameter vectors ``(t, angle, c, px, py, r0, w, 0)``, shape ``(count, 8)``."""
    keys = jax.random.split(key, 7)
    t = jax.random.bernoulli(keys[0], 0.5, (count,)).astype(jnp.float32)
    angle = jax.random.uniform(keys[1], (count,), maxval=2 * jnp.pi)
    through = jax.random.uniform(keys[2], (count, 2), minval=0.25, maxval=0.75)
    c = through[:, 0] * jnp.cos(angle) + through[:, 1] * jnp.sin(angle)
    centre = jax.random.uniform(keys[3], (count, 2), minval=0.3, maxval=0.7)
    radius = jax.random.uniform(keys[4], (count,), minval=0.15, maxval=0.35)
    lo, hi = jnp.log(width[0]), jnp.log(width[1])
    w = jnp.exp(jax.random.uniform(keys[5], (count,), minval=lo, maxval=hi))
    return jnp.stack([t, angle, c, centre[:, 0], centre[:, 1], radius, w,
                      jnp.zeros(count)], axis=1)


def _level(params: jax.Array, x: jax.Array) -> jax.Array:
    """``s(x) / w``; ``|grad s| = 1`` for both shapes."""
    t, angle, c, px, py, r0, w = (params[i] for i in range(7))
    line = x[0] * jnp.cos(angle) + x[1] * jnp.sin(angle) - c
    circle = jnp.sqrt((x[0] - px) ** 2 + (x[1] - py) ** 2 + 1e-12) - r0
    return ((1 - t) * line + t * circle) / w


def value(params: jax.Array, x: jax.Array) -> jax.Array:
    """``u(x)`` for one parameter vector and one point ``x`` (shape ``(2,)``)."""
    return jnp.tanh(_level(params, x))


def slope(params: jax.Array, x: jax.Array) -> jax.Array:
    """``|grad u(x)| = (1 - u^2) / w`` for one point (``|grad s| = 1``), smooth in ``x``."""
    return (1.0 - jnp.tanh(_level(params, x)) ** 2) / params[6]


def mean_slope(params: jax.Array) -> jax.Array:
    """The mean of ``|grad u|`` over the unit square (midpoint rule, :data:`QUADRATURE`)."""
    h = 1.0 / QUADRATURE
    axis = (jnp.arange(QUADRATURE) + 0.5) * h
    points = jnp.stack(jnp.meshgrid(axis, axis, indexing="xy"), axis=-1).reshape(-1, 2)
    return jnp.mean(jax.vmap(slope, (None, 0))(params, points))


def monitor(params: jax.Array, x: jax.Array, alpha: float, mean: jax.Array) -> jax.Array:
    """``m(x) = 1 + |grad u(x)| / (alpha * mean)`` for one point (``mean`` from
    :func:`mean_slope`)."""
    return 1.0 + slope(params, x) / (alpha * mean)


def grid_values(params: jax.Array, size: int) -> jax.Array:
    """``u`` at the ``size x size`` vertices of the uniform grid of ``[0, 1]^2``, indexed
    ``[j, i]`` (``y`` then ``x``): the branch network's input."""
    axis = jnp.linspace(0.0, 1.0, size)
    points = jnp.stack(jnp.meshgrid(axis, axis, indexing="xy"), axis=-1).reshape(-1, 2)
    return jax.vmap(value, (None, 0))(params, points).reshape(size, size)
