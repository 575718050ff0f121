"""Problem containers: a linear system with its structure, and the grid problems of the gallery.

:class:`Problem` is any system ``A u = b`` (a finite-element matrix on an unstructured mesh,
a matrix read from a file) with structure tags; :class:`GridProblem` adds the structured grid
(shape, spacing, coefficient) that matrix-free stencils and grid-based learned methods read.
Every function in :mod:`operators.gallery` returns a :class:`GridProblem`.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp


@dataclass
class Problem:
    """A linear system ``A u = b`` with structure tags and metadata, on no particular grid.

    A ``Problem`` is accepted wherever a matrix is (``solve(p, p.b)``); the solvers trust its
    tags instead of testing the matrix, and ``method="auto"`` chooses from them.

    Attributes
    ----------
    A
        The matrix: SciPy sparse (stored as CSR), a dense array, or anything ``solve`` accepts.
    b
        Right-hand side, ``A.shape[0]`` entries.
    symmetric, positive_definite
        Structure tags (``symmetric`` means Hermitian): True or False when known from the
        discretisation, ``None`` when unknown (then the solvers test numerically).
    kind
        A family name (``"poisson"``, ``"helmholtz"``, ``"p1_laplace"``, ...); default
        ``"custom"``.
    exact
        The exact discrete solution ``A^{-1} b`` when known, else ``None``.
    params
        Metadata: family parameters (``k``, ``velocity``, ``shift``, a mesh, ...).

    Examples
    --------
    >>> import numpy as np
    >>> p = Problem(np.array([[2.0, -1.0], [-1.0, 2.0]]), np.ones(2), symmetric=True)
    >>> p
    Problem(kind='custom', n=2, nnz=4, symmetric=True, positive_definite=None)
    """

    A: Any
    b: np.ndarray
    _: KW_ONLY
    symmetric: bool | None = None
    positive_definite: bool | None = None
    kind: str = "custom"
    exact: np.ndarray | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if sp.issparse(self.A) and self.A.format != "csr":
            self.A = sp.csr_matrix(self.A)

    @property
    def n(self) -> int:
        """Number of unknowns."""
        return int(self.A.shape[0])

    def _fields(self) -> str:
        nnz = getattr(self.A, "nnz", None)
        if nnz is None and isinstance(self.A, np.ndarray):
            nnz = int(np.count_nonzero(self.A))
        return (f"n={self.n}, nnz={nnz}, symmetric={self.symmetric}, "
                f"positive_definite={self.positive_definite}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, {self._fields()})"


@dataclass(repr=False)
class GridProblem(Problem):
    """A :class:`Problem` that came from a PDE on a structured grid.

    Structure-aware methods (matrix-free stencils, DCDM, AMG selection) read the grid fields.

    Attributes
    ----------
    A
        Assembled matrix (SciPy CSR), unknowns ordered C-style over ``shape`` (last axis
        fastest).
    shape
        Grid shape of the unknowns (interior nodes), e.g. ``(64, 64)``.
    spacing
        Grid spacing per axis.
    coefficient
        Node-wise coefficient field (e.g. the diffusivity ``K``) on ``shape``, or ``None``.

    The other fields are those of :class:`Problem`; ``kind`` names the gallery family
    (``"poisson"``, ``"diffusion"``, ``"helmholtz"``, ``"convection_diffusion"``, ...) and
    matrix-free stencils dispatch on it.

    Examples
    --------
    >>> import operators
    >>> p = operators.poisson((4, 3))
    >>> p
    GridProblem(kind='poisson', shape=(4, 3), n=12, nnz=46, symmetric=True, positive_definite=True)
    >>> p.grid(p.b).shape, p.ndim
    ((4, 3), 2)
    """

    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    _: KW_ONLY
    coefficient: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of unknowns (grid nodes)."""
        return int(np.prod(self.shape))

    @property
    def ndim(self) -> int:
        """Number of spatial dimensions."""
        return len(self.shape)

    def grid(self, u: np.ndarray) -> np.ndarray:
        """Reshape a vector of unknowns onto the grid."""
        return np.asarray(u).reshape(self.shape)

    def __repr__(self) -> str:
        return f"GridProblem(kind={self.kind!r}, shape={self.shape}, {self._fields()})"
