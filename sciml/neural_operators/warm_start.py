"""A trained neural operator as the initial guess of a classical solve.

``x0 = initial_guess("fno:darcy", p)`` predicts the solution of the Darcy problem ``p``
(``-div(K grad u) = f`` on a 2D grid, ``p.coefficient = K``, ``f`` constant) from ``K``;
``solve(p, p.b, x0=x0, rtol=1e-8)`` then iterates from it. The stopping rule is unchanged
(``||b - A x|| <= max(rtol ||b||, atol)`` on the true residual), so the classical layer still
guarantees the tolerance whatever the network predicts; a good guess only removes the
iterations that would have reduced the error to the network's accuracy. The models learn
``f = 1``; a constant ``f = c`` is handled by linearity (the guess is scaled by ``c``).

``solve(p, p.b, x0="fno:darcy")`` does the same by name: :func:`register`, the entry point of
the group ``solvers.initial_guesses`` (``pyproject.toml``), makes :func:`initial_guess` the
provider of the ``"fno"`` and ``"mgno"`` prefixes (:mod:`solvers.guesses`).

References
----------
.. [1] Z. Li et al., "Fourier neural operator for parametric partial differential equations",
   ICLR 2021.

Examples
--------
>>> import operators
>>> from solvers import solve
>>> p = operators.family("darcy", 64, seed=7).sample(0)
>>> res = solve(p, p.b, method="cg", x0=initial_guess("fno:darcy", p), rtol=1e-8)
>>> bool(res.converged)
True
"""

from __future__ import annotations

import os

import numpy as np

from sciml.neural_operators.saving import ARCHITECTURES, TrainedOperator, load
from solvers.backends.jax.cache import enable as enable_compilation_cache
from solvers.errors import InvalidSystemError
from solvers.guesses import register_guess

__all__ = ["initial_guess", "register"]

_LOADED: dict[str, TrainedOperator] = {}


def initial_guess(model: TrainedOperator | str | os.PathLike, problem: object) -> np.ndarray:
    """The operator's prediction of ``problem``'s solution, as a float64 vector of length ``n``.

    Parameters
    ----------
    model
        A :class:`~sciml.neural_operators.saving.TrainedOperator`, a shipped name
        (``"darcy"``, ``"fno:darcy"``) or the path of a saved model (loaded once, cached).
    problem
        A 2D :class:`operators.GridProblem` with a positive ``coefficient`` (``K``) and a
        constant right-hand side, e.g. ``operators.family("darcy", G).sample(i)`` or
        ``operators.random_diffusion((G, G), seed=...)``. FNOs take any grid with at least
        ``2 modes`` nodes per axis; MgNOs grids whose sides are divisible by
        ``2^(levels-1)``.

    Returns
    -------
    numpy.ndarray
        ``x0`` for ``solve(problem, problem.b, x0=x0)``.

    Raises
    ------
    solvers.errors.InvalidSystemError
        The problem is not a 2D grid problem with a coefficient field and constant ``b``.
    solvers.errors.ModelLoadError
        The model cannot be loaded.
    """
    op = model if isinstance(model, TrainedOperator) else _cached(model)
    K = getattr(problem, "coefficient", None)
    shape = getattr(problem, "shape", None)
    if K is None or shape is None or len(shape) != 2:
        raise InvalidSystemError(
            "initial_guess needs a 2D grid problem with a coefficient field (e.g. "
            "operators.family('darcy', G).sample(i) or operators.random_diffusion((G, G), "
            f"seed=...)), got {type(problem).__name__}")
    b = np.asarray(problem.b, dtype=np.float64)
    if not np.allclose(b, b.flat[0], rtol=1e-12, atol=0):
        raise InvalidSystemError(
            "the neural operators learn -div(K grad u) = 1: initial_guess needs a constant "
            "right-hand side; solve without x0 (or train an operator for your source)")
    return float(b.flat[0]) * op(np.asarray(K, dtype=np.float64)).ravel()


def register() -> None:
    """Provide ``x0="fno:<model>"`` / ``x0="mgno:<model>"`` to :func:`solvers.solve`."""
    for prefix in ARCHITECTURES:
        register_guess(prefix, initial_guess, replace=True)


def _cached(name: str | os.PathLike) -> TrainedOperator:
    key = os.fspath(name)
    if key not in _LOADED:
        enable_compilation_cache()
        _LOADED[key] = load(name)
    return _LOADED[key]
