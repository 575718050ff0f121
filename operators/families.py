"""Seeded families of related PDE problems: sequences for Krylov recycling and operator learning.

A family is a small frozen object that builds sample ``i`` of an endless, reproducible sequence
on the interior grid ``G x G`` (``dim=2``, the default: ``n = G^2`` unknowns, 5-point stencils)
or ``G x G x G`` (``dim=3``: ``n = G^3``, 7-point stencils), spacing ``h = 1/(G+1)``:

- ``sample(i)`` returns a :class:`operators.GridProblem` whose ``params`` hold its parameter
  field (``params["field"]``) and the family's scalar parameters;
- ``parameters(i)`` returns only the parameter field, a ``(G,) * dim`` float64 array: what a
  neural operator takes as input and what :mod:`sciml.recycling` sorts by;
- ``scalars(i)`` returns the scalar parameters that vary between samples (``shape (0,)`` when
  none does; the Helmholtz wave number otherwise), added to the sorting distance.

Sample ``i`` of a family with seed ``s`` depends on ``(s, i)`` only: its randomness comes from
``numpy.random.SeedSequence([s, i])``, as in :mod:`operators.fields` and :mod:`sciml.batch`.

The four families (``FAMILIES``, built by :func:`family`):

- ``"darcy"``: ``-div(K grad u) = 1``, ``K = exp(g)``, ``g`` a Gaussian random field (GRF):
  :func:`operators.random_diffusion`, symmetric positive definite [1]_;
- ``"helmholtz"``: ``-Laplace(u) - (k / c(x))^2 u = 1`` with a log-normal wave speed ``c`` and a
  wave number ``k`` drawn per sample with ``k h`` in ``kh`` (default 0.2-0.3: about 25
  points per wavelength, several wavelengths in the domain once ``G >= 60``); genuinely
  indefinite as soon as ``min (k/c)^2`` exceeds the smallest Laplacian eigenvalue ``2 pi^2``;
  ``boundary="absorbing"`` replaces the zero Dirichlet values by the first-order absorbing
  (Sommerfeld) condition ``du/dn + i (k/c) u = 0`` [3]_, which makes the matrix complex
  symmetric and the problem physical (outgoing waves leave the domain);
- ``"poisson"``: ``-Laplace(u) = f`` with a GRF source ``f``: ONE matrix for every sample (the
  same object), only the right-hand side changes;
- ``"thermal"``: ``-div(K grad u) + v . grad(u) = 1``, a log-normal conductivity ``K`` and a
  constant velocity ``v`` (first-order upwind, as :func:`operators.convection_diffusion`):
  nonsymmetric.

References
----------
.. [1] K. A. Cliffe, M. B. Giles, R. Scheichl, A. L. Teckentrup, "Multilevel Monte Carlo
   methods and applications to elliptic PDEs with random coefficients", Comput. Visual. Sci.
   14 (2011) 3-15.
.. [2] H. Wang, Z. Hao, Z. Wang, H. Su, J. Zhu, "Accelerating Data Generation for Neural
   Operators via Krylov Subspace Recycling", ICLR 2024 (the Darcy, Helmholtz, Poisson and
   thermal families; ours makes Helmholtz indefinite).
.. [3] B. Engquist, A. Majda, "Absorbing boundary conditions for the numerical simulation of
   waves", Math. Comp. 31 (1977) 629-651 (the first-order condition).

Examples
--------
>>> import operators
>>> fam = operators.family("helmholtz", 32, seed=0)
>>> p = fam.sample(3)
>>> p.shape, p.kind, fam.parameters(3).shape, fam.scalars(3).shape
((32, 32), 'helmholtz', (32, 32), (1,))
>>> q = operators.family("helmholtz", 16, dim=3, boundary="absorbing", kh=(0.2, 0.5)).sample(0)
>>> q.shape, q.A.dtype, q.params["mass"].shape
((16, 16, 16), dtype('complex128'), (4096,))
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from operators.assembly import diffusion_matrix, grid_spacing
from operators.fields import gaussian_random_field, lognormal_coefficient, random_diffusion
from operators.gallery import (
    BOUNDARIES,
    absorbing_diagonal,
    diffusion,
    laplacian_eigenvalue_range,
    poisson,
    unit_faces,
    upwind_matrix,
)
from operators.problem import GridProblem
from operators.validate import as_real, choice

__all__ = ["FAMILIES", "DarcyFamily", "HelmholtzFamily", "PoissonFamily", "ThermalFamily",
           "family"]


def _sequence(seed: int, index: int) -> np.random.SeedSequence:
    """The seed of sample ``index``: ``SeedSequence([seed, index])`` (both non-negative ints)."""
    if int(index) < 0:
        raise IndexError(f"sample index must be >= 0, not {index}")
    return np.random.SeedSequence([int(seed), int(index)])


@dataclass(frozen=True)
class _Family:
    """Shared fields and checks: grid ``G`` (``G^dim`` interior nodes), seed, GRF options,
    ``dim`` (2 or 3)."""

    grid: int
    seed: int = 0
    length_scale: float = 0.1
    variance: float = 1.0
    dim: int = 2
    name: ClassVar[str] = ""
    complex: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not isinstance(self.grid, (int, np.integer)) or self.grid < 2:
            raise ValueError(f"grid must be an integer >= 2 (G x G nodes), not {self.grid!r}")
        if isinstance(self.dim, bool) or self.dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3 (a G x G or G x G x G grid), not {self.dim!r}")
        if not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, not {self.seed!r}")
        if as_real(self.length_scale, "length_scale") <= 0:
            raise ValueError(f"length_scale must be positive, not {self.length_scale}")
        as_real(self.variance, "variance", minimum=0.0)

    @property
    def shape(self) -> tuple[int, ...]:
        """The grid shape ``(G,) * dim``."""
        return (int(self.grid),) * int(self.dim)

    def _field(self, index: int, **options: Any) -> np.ndarray:
        """The log-normal field of sample ``index`` (:func:`operators.lognormal_coefficient`)."""
        options = {"length_scale": self.length_scale, "variance": self.variance, **options}
        return lognormal_coefficient(self.shape, seed=_sequence(self.seed, index), **options)

    def scalars(self, index: int) -> np.ndarray:
        """Scalar parameters that vary between samples: none for this family."""
        _sequence(self.seed, index)
        return np.zeros(0)

    def sample(self, index: int) -> GridProblem:
        """Sample ``index`` as a :class:`GridProblem` (field in ``params["field"]``)."""
        raise NotImplementedError

    def parameters(self, index: int) -> np.ndarray:
        """The ``(G,) * dim`` parameter field of sample ``index``."""
        raise NotImplementedError

    def _tag(self, p: GridProblem, index: int, field: np.ndarray) -> GridProblem:
        p.params.update(family=self.name, index=int(index), seed=int(self.seed), field=field)
        return p


@dataclass(frozen=True)
class DarcyFamily(_Family):
    """Darcy flow ``-div(K grad u) = 1``, ``K = exp(g)``: :func:`operators.random_diffusion`.

    Sample ``i`` is exactly ``random_diffusion((G, G), seed=SeedSequence([seed, i]))``, the
    sample of ``python -m sciml batch``. SPD; the parameter field is ``K``.
    """

    name: ClassVar[str] = "darcy"

    def sample(self, index: int) -> GridProblem:
        p = random_diffusion(self.shape, seed=_sequence(self.seed, index),
                             length_scale=self.length_scale, variance=self.variance)
        return self._tag(p, index, p.coefficient)

    def parameters(self, index: int) -> np.ndarray:
        return self._field(index)


@dataclass(frozen=True)
class HelmholtzFamily(_Family):
    r"""Indefinite Helmholtz ``-Laplace(u) - (k / c(x))^2 u = 1`` with a random wave speed.

    The wave speed is log-normal, ``c = exp(g)`` with ``Var g = variance`` (default 0.04: ``c``
    within about ``exp(+-0.4)``), and the wave number ``k = kh / h`` with ``kh`` uniform in the
    interval ``kh`` (a float fixes it; 0.2-0.5 is 31-13 points per wavelength). The matrix is
    the 5-point (7-point in 3D) Laplacian with the diagonal shifted by ``-(k/c_j)^2``.

    ``boundary="dirichlet"`` (default): zero boundary values; the matrix is real symmetric,
    indefinite when ``min_j (k/c_j)^2`` exceeds the smallest Laplacian eigenvalue
    (``positive_definite`` is False then, True when ``max_j (k/c_j)^2`` stays below it,
    ``None`` in between). ``boundary="absorbing"``: the first-order absorbing condition
    ``du/dn + i (k/c) u = 0`` on every face (:func:`operators.gallery.absorbing_diagonal`), a
    complex symmetric (not Hermitian) complex128 matrix and right-hand side.

    ``params`` holds ``k``, ``kh`` and ``mass``, the flattened ``(k/c)^2`` (``A = L_B -
    diag(mass)`` with ``L_B`` the Laplacian with its boundary condition): what
    ``pc="shifted-laplacian"`` shifts. The parameter field is ``c``, the scalar parameter ``k``.
    """

    length_scale: float = 0.2
    variance: float = 0.04
    kh: float | tuple[float, float] = (0.2, 0.3)
    boundary: str = "dirichlet"
    name: ClassVar[str] = "helmholtz"

    def __post_init__(self) -> None:
        super().__post_init__()
        lo, hi = self._kh_range()
        if not 0 < lo <= hi:
            raise ValueError(f"kh must be positive (a float or a (low, high) pair), not {self.kh}")
        choice(self.boundary, BOUNDARIES, "boundary")

    def _kh_range(self) -> tuple[float, float]:
        kh = np.atleast_1d(np.asarray(self.kh, dtype=float))
        if kh.size not in (1, 2):
            raise ValueError(f"kh must be a float or a (low, high) pair, not {self.kh!r}")
        return float(kh[0]), float(kh[-1])

    def _seeds(self, index: int) -> list[np.random.SeedSequence]:
        return _sequence(self.seed, index).spawn(2)

    def parameters(self, index: int) -> np.ndarray:
        return lognormal_coefficient(self.shape, seed=self._seeds(index)[0],
                                     length_scale=self.length_scale, variance=self.variance)

    def scalars(self, index: int) -> np.ndarray:
        """``[k]``, the wave number of sample ``index``."""
        lo, hi = self._kh_range()
        kh = np.random.default_rng(self._seeds(index)[1]).uniform(lo, hi)
        return np.array([kh * (self.grid + 1)])

    def sample(self, index: int) -> GridProblem:
        c = self.parameters(index)
        k = float(self.scalars(index)[0])
        shift = (k / c) ** 2
        spacing = grid_spacing(self.shape)
        absorbing = self.boundary == "absorbing"
        diagonal = -shift + absorbing_diagonal(k / c, spacing) if absorbing else -shift
        A = diffusion_matrix(unit_faces(self.shape), spacing, diagonal=diagonal)
        lam = laplacian_eigenvalue_range(spacing)[0]
        definite = (False if absorbing else True if shift.max() < lam
                    else False if shift.min() > lam else None)
        p = GridProblem(A, np.ones(A.shape[0], dtype=A.dtype), self.shape, spacing,
                        kind="helmholtz", symmetric=not absorbing, positive_definite=definite,
                        coefficient=c, params={"k": k, "kh": k * spacing[0],
                                               "wave_speed": "lognormal"})
        if absorbing:
            p.params.update(boundary="absorbing", complex_symmetric=True)
        p.params["mass"] = shift.ravel()
        return self._tag(p, index, c)


@dataclass(frozen=True)
class PoissonFamily(_Family):
    """Poisson ``-Laplace(u) = f`` with a GRF source ``f``; one matrix for every sample.

    ``f`` is a zero-mean Gaussian random field (:func:`operators.gaussian_random_field`).
    Every sample shares the same CSR matrix object, so a recycling solver sees an unchanged
    operator and reuses its recycle space without updating it. The parameter field is ``f``.
    """

    name: ClassVar[str] = "poisson"

    @functools.cached_property
    def _matrix(self) -> sp.csr_matrix:
        return poisson(self.shape).A

    def parameters(self, index: int) -> np.ndarray:
        return gaussian_random_field(self.shape, seed=_sequence(self.seed, index),
                                     length_scale=self.length_scale, variance=self.variance)

    def sample(self, index: int) -> GridProblem:
        f = self.parameters(index)
        p = GridProblem(self._matrix, f.ravel(), self.shape, grid_spacing(self.shape),
                        kind="poisson", symmetric=True, positive_definite=True)
        return self._tag(p, index, f)


@dataclass(frozen=True)
class ThermalFamily(_Family):
    r"""Heat transport ``-div(K grad u) + v . grad(u) = 1``: log-normal ``K``, constant ``v``.

    Diffusion as :func:`operators.diffusion` (harmonic face averages), convection first-order
    upwind as :func:`operators.convection_diffusion`; nonsymmetric, with a positive definite
    symmetric part. ``velocity`` (default ``(40, 20)``: global Peclet number about 40 for
    ``K ~ 1``; components not given, the third in 3D, are zero) is the same for every sample;
    the parameter field is ``K``.
    """

    variance: float = 0.5
    velocity: tuple[float, ...] = (40.0, 20.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if np.ndim(self.velocity) != 1 or not 1 <= len(self.velocity) <= self.dim:
            raise ValueError(f"velocity must have 1 to dim={self.dim} components, not "
                             f"{self.velocity!r}")
    name: ClassVar[str] = "thermal"

    def parameters(self, index: int) -> np.ndarray:
        return self._field(index)

    def sample(self, index: int) -> GridProblem:
        K = self.parameters(index)
        p = diffusion(K)
        v = tuple(as_real(c, "each velocity component") for c in self.velocity)
        v = v + (0.0,) * (self.dim - len(v))
        p.A = sp.csr_matrix(p.A + upwind_matrix(self.shape, p.spacing, v))
        p.A.sort_indices()
        p.kind, p.symmetric, p.positive_definite = "thermal", False, False
        p.params.update(velocity=v, positive_real=True)
        return self._tag(p, index, K)


#: Family classes by name.
FAMILIES: dict[str, type[_Family]] = {
    f.name: f for f in (DarcyFamily, HelmholtzFamily, PoissonFamily, ThermalFamily)
}


def family(name: str, grid: int, *, seed: int = 0, **options: Any) -> _Family:
    """The family ``name`` (``"darcy"``, ``"helmholtz"``, ``"poisson"``, ``"thermal"``).

    Parameters
    ----------
    name
        A key of :data:`FAMILIES`.
    grid
        ``G``: samples live on the ``G x G`` interior grid, ``n = G^2`` (``G^3`` with
        ``dim=3``).
    seed
        Sample ``i`` draws from ``SeedSequence([seed, i])``.
    **options
        Fields of the family class (``dim``, ``length_scale``, ``variance``, ``kh``,
        ``boundary``, ``velocity``).

    Examples
    --------
    >>> fam = family("darcy", 16, seed=1)
    >>> bool(np.array_equal(fam.sample(2).coefficient, family("darcy", 16, seed=1).parameters(2)))
    True
    """
    return choice(name, FAMILIES, "problem family")(grid, seed, **options)
