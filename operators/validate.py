"""Input checks shared by the :mod:`operators` modules: grid shapes, right-hand sides, scalars,
names and coefficient fields.

Each raises :class:`solvers.errors.InvalidOptionError` (a :class:`ValueError`) with a message
that names the argument and says what to pass. :mod:`solvers.errors` imports nothing of ours,
so the layering (``operators`` below ``solvers``) allows it.
"""

from __future__ import annotations

import difflib
import operator
from collections.abc import Sequence

import numpy as np

from solvers.errors import InvalidOptionError


def as_shape(shape: int | Sequence[int], ndim: int | None = None) -> tuple[int, ...]:
    """Validate a grid shape; an int means ``ndim`` (default 2) equal sizes.

    Examples
    --------
    >>> as_shape(8), as_shape(4, ndim=3), as_shape([2, 3])
    ((8, 8), (4, 4, 4), (2, 3))
    """
    if np.isscalar(shape):
        shape = (shape,) * (ndim or 2)
    try:
        sizes = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise InvalidOptionError(
            f"shape must be an int or 1 to 3 integer grid sizes, e.g. (64, 64), not {shape!r}"
        ) from None
    if len(sizes) not in (1, 2, 3) or min(sizes) < 1:
        raise InvalidOptionError(
            f"shape must be 1 to 3 positive grid sizes, e.g. (64, 64), not {shape!r}"
        )
    return sizes


def as_rhs(rhs: np.ndarray | None, shape: tuple[int, ...], dtype: type = float) -> np.ndarray:
    """Flattened right-hand side with one finite value per node; default ``f = 1``."""
    n = int(np.prod(shape))
    if rhs is None:
        return np.ones(n, dtype=dtype)
    b = np.asarray(rhs)
    if b.dtype.kind not in "biufc":
        raise InvalidOptionError(f"rhs must be numeric, not an array of dtype {b.dtype}")
    if b.size != n:
        raise InvalidOptionError(
            f"rhs has {b.size} values but the grid {shape} has {n} nodes; pass one value per "
            f"interior node, flattened or of shape {shape}"
        )
    if not np.all(np.isfinite(b)):
        raise InvalidOptionError("rhs contains NaN or Inf values; pass a finite right-hand side")
    return b.astype(np.result_type(dtype, b.dtype)).ravel()


def as_real(value: float, name: str, minimum: float | None = None) -> float:
    """A finite real scalar, optionally ``>= minimum``, or a ValueError naming ``name``."""
    if np.ndim(value) != 0 or np.asarray(value).dtype.kind not in "biuf":
        raise InvalidOptionError(f"{name} must be a real number, not {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise InvalidOptionError(f"{name} must be finite, not {value}")
    if minimum is not None and value < minimum:
        raise InvalidOptionError(f"{name} must be >= {minimum}, not {value}")
    return value


def choice(value: str, choices: dict, name: str) -> object:
    """``choices[value]``, or an InvalidOptionError listing the valid names and the nearest
    match.

    Examples
    --------
    >>> choice("gaussain", {"gaussian": 1, "matern": 2}, "kernel")
    Traceback (most recent call last):
    ...
    solvers.errors.InvalidOptionError: unknown kernel 'gaussain' (did you mean 'gaussian'?); ...
    """
    if isinstance(value, str) and value in choices:
        return choices[value]
    close = difflib.get_close_matches(str(value), list(choices), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise InvalidOptionError(f"unknown {name} {value!r}{hint}; valid choices are {sorted(choices)}")


def as_coefficient(K: np.ndarray) -> np.ndarray:
    """Validate a node coefficient field: real, 1 to 3 axes, finite and positive."""
    K = np.asarray(K)
    if K.dtype.kind not in "biuf":
        raise InvalidOptionError(f"K must be a real array of node values, not dtype {K.dtype}")
    if K.ndim not in (1, 2, 3) or K.size == 0:
        raise InvalidOptionError(
            f"K must be a non-empty 1D, 2D or 3D array on the interior grid, not shape {K.shape}"
        )
    K = K.astype(float)
    bad = ~np.isfinite(K)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InvalidOptionError(
            f"K must be finite: {int(bad.sum())} NaN/Inf values, the first at index {first}"
        )
    if K.min() <= 0:
        first = tuple(int(i) for i in np.argwhere(K <= 0)[0])
        raise InvalidOptionError(
            f"K must be positive everywhere: {int((K <= 0).sum())} values <= 0 (min "
            f"{K.min():.3g}, the first at index {first}); for a random positive field use "
            f"operators.lognormal_coefficient"
        )
    return K
