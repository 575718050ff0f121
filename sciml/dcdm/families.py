"""The PDE families DCDM networks are trained for, with their training defaults.

One network is trained per family and shipped in ``sciml/dcdm/weights/<name>.eqx``:

- ``poisson2d``: ``-Laplace u = f`` on the unit square, 5-point stencil, Dirichlet;
- ``poisson3d``: the 7-point stencil on the unit cube, Dirichlet;
- ``diffusion2d``: ``-div(K grad u) = f`` with a log-normal ``K = exp(g)``, ``g`` a Gaussian
  random field (squared-exponential kernel, correlation length 0.1, variance 1), harmonic
  face averages (:func:`operators.random_diffusion`). The network reads ``log diag(A)`` as a
  second input channel (:func:`sciml.dcdm.stencil.coefficient_channel`);
- ``diffusion3d``: the same on the unit cube (7-point stencil, same field statistics);
  trainable, not shipped yet (its training did not fit this pass's shared-machine budget);
- ``paper-poisson2d``: 2D Poisson with the paper's nonlinear network
  (:mod:`sciml.dcdm.paper_net`), trained on 64^2 only as in the paper (one network per
  resolution there): the comparison, not a default.

The defaults are sized for a two-core CPU: each family trains in 2-4 minutes (Ritz vectors
included).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import operators
from operators.problem import Problem
from sciml.dcdm.weights import SHIPPED
from solvers.errors import InvalidOptionError


@dataclass(frozen=True)
class Family:
    """A PDE family and the defaults of ``python -m sciml train-dcdm --model <name>``.

    ``network`` is the architecture trained: ``"multilevel"`` (:mod:`sciml.dcdm.model`) or
    ``"paper"`` (:mod:`sciml.dcdm.paper_net`, ``widths[0]`` channels).
    """

    name: str
    ndim: int
    kind: str
    coefficient: bool
    summary: str
    grids: tuple[int, ...]
    steps: int
    batch: int
    lr: float
    ritz: int
    widths: tuple[int, ...]
    matrices: int = 1
    field_options: dict = field(default_factory=dict)
    network: str = "multilevel"

    def problem(self, shape: tuple[int, ...], seed: int) -> Problem:
        """Training (or test) matrix ``seed`` of the family on ``shape``."""
        if self.kind == "poisson":
            return operators.poisson(shape)
        return operators.diffusion(
            operators.lognormal_coefficient(shape, seed=seed, **self.field_options))


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("poisson2d", 2, "poisson", False, "2D Poisson, 5-point, Dirichlet",
               grids=(32, 64, 128), steps=4000, batch=16, lr=1e-3, ritz=1000,
               widths=(16,)),
        Family("poisson3d", 3, "poisson", False, "3D Poisson, 7-point, Dirichlet",
               grids=(16, 32, 64), steps=4000, batch=4, lr=1e-3, ritz=600, widths=(8, 16)),
        Family("diffusion2d", 2, "diffusion", True,
               "2D log-normal diffusion -div(exp(g) grad u), l = 0.1, var = 1",
               grids=(32, 64, 128), steps=4000, batch=16, lr=1e-3, ritz=400, widths=(16,),
               matrices=16,
               field_options={"length_scale": 0.1, "variance": 1.0}),
        Family("diffusion3d", 3, "diffusion", True,
               "3D log-normal diffusion -div(exp(g) grad u), l = 0.1, var = 1",
               grids=(16, 32), steps=500, batch=4, lr=1e-3, ritz=300, widths=(8, 16),
               matrices=8, field_options={"length_scale": 0.1, "variance": 1.0}),
        Family("paper-poisson2d", 2, "poisson", False,
               "2D Poisson, 5-point, Dirichlet; the paper's ReLU CNN (sciml.dcdm.paper_net)",
               grids=(64,), steps=2500, batch=8, lr=1e-3, ritz=1000, widths=(16,),
               network="paper"),
    )
}


def get_family(name: str) -> Family:
    """The family called ``name``; an unknown name lists the valid ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise InvalidOptionError(
            f"unknown DCDM model family {name!r}; valid: {', '.join(sorted(FAMILIES))}"
        ) from None


def default_model(kind: str | None, ndim: int) -> str:
    """The shipped model for a problem of ``kind`` on an ``ndim``-D grid.

    Diffusion problems get the diffusion network of their dimension when it is shipped
    (``diffusion2d``; ``diffusion3d`` is trainable but not shipped yet); everything else the
    Poisson network of its dimension (a good direction generator for any diffusion-like SPD
    stencil).
    """
    if ndim not in (2, 3):
        raise InvalidOptionError(
            f"DCDM has networks for 2D and 3D grids only, not a {ndim}-D grid; use "
            f"method='cg' with pc='amg' instead"
        )
    if kind == "diffusion" and f"diffusion{ndim}d" in SHIPPED:
        return f"diffusion{ndim}d"
    return f"poisson{ndim}d"
