"""DCDM: the deep conjugate direction method (Kaneda et al., ICML 2023).

A CNN ``f ~ A^{-1}`` (up to scale) proposes each search direction from the normalised
residual, ``d_k = f(r_k / ||r_k||)``; the direction is A-orthogonalised against the previous
two and the step is the exact line search ``alpha = d^T r / d^T A d``. Networks are trained
once per PDE family without solution data and shipped with the package. The shipped default
networks are multilevel and symmetric positive definite by construction (see
:mod:`sciml.dcdm.model` for why they differ from the paper's network), so one set of weights
serves every grid size; the paper's nonlinear ReLU network (:mod:`sciml.dcdm.paper_net`) is
the second architecture (``model="paper-poisson2d"``).

>>> import operators
>>> from solvers import solve
>>> p = operators.poisson((32, 32, 32))
>>> solve(p, p.b, method="dcdm", rtol=1e-6).converged            # 3D Poisson network
True

Modules: :mod:`~sciml.dcdm.model` (multilevel network), :mod:`~sciml.dcdm.paper_net` (the
paper's network), :mod:`solvers.jaxkrylov.fcg` (the loop
``method="dcdm"`` runs),
:mod:`~sciml.dcdm.method` / :mod:`~sciml.dcdm.preconditioner` (``method="dcdm"``,
``pc="dcdm"``), :mod:`~sciml.dcdm.ritz` and :mod:`~sciml.dcdm.data` (training vectors),
:mod:`~sciml.dcdm.train` and :mod:`~sciml.dcdm.cli` (``python -m sciml train-dcdm``),
:mod:`~sciml.dcdm.weights` (shipped weights). See ``sciml/dcdm/README.md``.
"""

from sciml.dcdm.families import FAMILIES, default_model, get_family
from sciml.dcdm.method import DCDM
from sciml.dcdm.model import Architecture, DCDMNet
from sciml.dcdm.paper_net import PaperConfig, PaperNet
from sciml.dcdm.preconditioner import (
    DCDMPreconditioner,
    NetworkPreconditioner,
    jax_preconditioner,
)
from sciml.dcdm.weights import SHIPPED, WEIGHTS_DIR, load, save

__all__ = [
    "DCDM",
    "FAMILIES",
    "SHIPPED",
    "WEIGHTS_DIR",
    "Architecture",
    "DCDMNet",
    "DCDMPreconditioner",
    "NetworkPreconditioner",
    "PaperConfig",
    "PaperNet",
    "default_model",
    "get_family",
    "jax_preconditioner",
    "load",
    "save",
]
