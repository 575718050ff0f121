"""The :class:`Problem` container: a discretised PDE as a linear system plus its structure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp


@dataclass
class Problem:
    """A linear system ``A u = b`` that came from a PDE on a structured grid.

    A ``Problem`` is accepted wherever a matrix is (``solve(p, p.b)``); structure-aware methods
    (AMG selection, DCDM, matrix-free stencils) read the extra fields.

    Attributes
    ----------
    A
        Assembled matrix (SciPy CSR), unknowns ordered C-style over ``shape`` (last axis fastest).
    b
        Right-hand side, ``A.shape[0]`` entries.
    shape
        Grid shape of the unknowns (interior nodes), e.g. ``(64, 64)``.
    spacing
        Grid spacing per axis.
    kind
        Which gallery family built it (``"poisson"``, ``"diffusion"``, ``"helmholtz"``,
        ``"convection_diffusion"``, ...); matrix-free stencils dispatch on it.
    coefficient
        Node-wise coefficient field (e.g. the diffusivity ``K``) on ``shape``, or ``None``.
    exact
        The exact discrete solution ``A^{-1} b`` when known, else ``None``.
    symmetric, positive_definite
        Structure tags, known from the discretisation (no numerical test needed).
    params
        Family parameters (``k`` for Helmholtz, ``velocity``, ``shift``, ...).
    """

    A: sp.csr_matrix
    b: np.ndarray
    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    kind: str
    coefficient: np.ndarray | None = None
    exact: np.ndarray | None = None
    symmetric: bool = False
    positive_definite: bool = False
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def ndim(self) -> int:
        """Number of spatial dimensions."""
        return len(self.shape)

    @property
    def n(self) -> int:
        """Number of unknowns."""
        return int(np.prod(self.shape))

    def grid(self, u: np.ndarray) -> np.ndarray:
        """Reshape a vector of unknowns onto the grid."""
        return np.asarray(u).reshape(self.shape)

    def __repr__(self) -> str:
        return (
            f"Problem(kind={self.kind!r}, shape={self.shape}, n={self.n}, nnz={self.A.nnz}, "
            f"symmetric={self.symmetric}, positive_definite={self.positive_definite})"
        )
