r"""Two time-dependent PDEs with travelling sharp features, P1 in space, one linear solve a step.

Both live on the unit square (the domain the movers handle) and are discretised with P1
elements on the current mesh (:mod:`operators.fem`: mass ``M``, stiffness ``K``, advection
``C``); the mesh is fixed during a step (the moving-mesh loop, :mod:`~sciml.mesh_movers.simulation`,
moves it *between* steps and transfers the solution), so a step is a plain fixed-mesh step.

* :class:`Burgers` -- 2D viscous Burgers in one direction ``beta`` (the scalar form of
  MM-PDE's benchmark [1]_): ``u_t + u (beta . grad u) = nu Lap u``, ``u = 0`` on the
  boundary. A bump steepens into a front ``tanh(s / w)``, ``w = 4 nu / [u]`` (about 0.01 by
  default), that travels along ``beta``. Semi-implicit (linearised) Euler [2]_:
  ``(M / dt + nu K + C(u^n beta)) u^{n+1} = M u^n / dt`` (non-symmetric).
* :class:`AllenCahn` -- the bistable (Allen-Cahn / Nagumo) reaction-diffusion equation
  ``u_t = D Lap u + r u (1 - u)(u - a)``, ``d_n u = 0``: for ``a < 1/2`` discs of ``u = 1``
  invade ``u = 0`` with fronts ``u = (1 - tanh(s / w)) / 2``, ``w = 2 sqrt(2 D / r)``
  (0.0126 by default) at speed ``sqrt(D r / 2) (1 - 2 a)`` (0.10) [3]_. A bistable front is
  *pushed* (its speed is set inside the layer), unlike Fisher-KPP's *pulled* front, whose
  speed is set by the far leading edge that a gradient monitor coarsens. IMEX Euler
  (diffusion implicit, reaction explicit): ``(M / dt + D K) u^{n+1} = M u^n / dt + F``,
  ``F_i = int f(v_h) phi_i`` by quadrature (:func:`operators.fem.nonlinear_load`; the
  interpolant ``M f(v)`` shifts the front speed on coarse cells), ``v = clip(u^n, 0, 1)``
  (SPD; the clip keeps Galerkin undershoots from growing).

Initial conditions are drawn from a seed (:meth:`initial`): Gaussian bumps (Burgers) or
smoothed discs (Fisher-KPP) at random positions, sizes and heights.

References
----------
.. [1] P. Hu, Y. Wang, Z.-M. Ma, "Better Neural PDE Solvers Through Data-Free Mesh Movers",
   ICLR 2024, sec. 5 (MM-PDE on Burgers' equation).
.. [2] W. Huang and R. D. Russell, "Adaptive Moving Mesh Methods", Springer, 2011, ch. 7.
.. [3] J. D. Murray, "Mathematical Biology I", 3rd ed., Springer, 2002, sec. 13.5.

Examples
--------
>>> import meshes
>>> pde = AllenCahn()
>>> mesh = meshes.unit_square(8)
>>> u0 = pde.initial(seed=0)(mesh.points)
>>> A, b, free = pde.step_system(mesh, u0, dt=0.01)
>>> A.shape, free.size == mesh.n_points
((81, 81), True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from meshes import Mesh
from operators.fem import advection, mass, nonlinear_load, stiffness
from solvers.errors import InvalidOptionError

__all__ = ["PDES", "AllenCahn", "Burgers", "make_pde"]

Field = Callable[[np.ndarray], np.ndarray]


def _positive(name: str, value: float) -> None:
    if not np.isfinite(value) or value <= 0:
        raise InvalidOptionError(f"{name} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True)
class Burgers:
    """``u_t + u (beta . grad u) = nu Lap u`` on ``[0, 1]^2``, ``u = 0`` on the boundary.

    ``beta`` is normalised to unit length. ``T`` is the default final time of a run.
    """

    nu: float = 0.002
    beta: tuple[float, float] = (1.0, 1.0)
    T: float = 0.5
    name: str = "burgers"

    def __post_init__(self) -> None:
        _positive("nu", self.nu)
        _positive("T", self.T)
        if np.hypot(*self.beta) == 0:
            raise InvalidOptionError(f"beta must be a non-zero direction, got {self.beta!r}")

    def initial(self, seed: int) -> Field:
        """Two Gaussian bumps ``a exp(-|x - c|^2 / s^2)``: ``c`` in ``[0.2, 0.45]^2``, ``s``
        in ``[0.08, 0.13]``, ``a`` in ``[0.7, 1.1]``, cut to zero on the boundary."""
        rng = np.random.default_rng(seed)
        centres = rng.uniform(0.2, 0.45, (2, 2))
        widths = rng.uniform(0.08, 0.13, 2)
        heights = rng.uniform(0.7, 1.1, 2)

        def u0(x: np.ndarray) -> np.ndarray:
            bumps = sum(a * np.exp(-np.sum((x - c) ** 2, axis=1) / s ** 2)
                        for c, s, a in zip(centres, widths, heights, strict=True))
            return bumps * _boundary_cutoff(x)
        return u0

    def step_system(self, mesh: Mesh, u: np.ndarray, dt: float,
                    cache: dict | None = None) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        """``(A, b, free)``: the step's system on the interior nodes ``free``."""
        M, K, free = _matrices(mesh, cache, dirichlet=True)
        beta = np.asarray(self.beta, dtype=float) / np.hypot(*self.beta)
        A = (M / dt + self.nu * K + advection(mesh, u[:, None] * beta[None, :])).tocsr()
        b = M @ u / dt
        return A[free][:, free], b[free], free


@dataclass(frozen=True)
class AllenCahn:
    """``u_t = D Lap u + r u (1 - u) (u - a)`` on ``[0, 1]^2``, ``d_n u = 0``.

    ``a < 1/2``: the stable state ``u = 1`` invades ``u = 0``.
    """

    D: float = 8e-4
    r: float = 40.0
    a: float = 0.1
    T: float = 1.0
    name: str = "allen-cahn"

    def __post_init__(self) -> None:
        _positive("D", self.D)
        _positive("r", self.r)
        _positive("T", self.T)
        if not 0 < self.a < 0.5:
            raise InvalidOptionError(f"a must be in (0, 0.5), got {self.a!r}")

    def initial(self, seed: int) -> Field:
        """Two or three discs of ``u = 1`` (centres in ``[0.25, 0.75]^2``, radii in
        ``[0.06, 0.12]``) with tanh edges of width ``0.02``."""
        rng = np.random.default_rng(seed)
        count = int(rng.integers(2, 4))
        centres = rng.uniform(0.25, 0.75, (count, 2))
        radii = rng.uniform(0.06, 0.12, count)

        def u0(x: np.ndarray) -> np.ndarray:
            level = np.min([np.linalg.norm(x - c, axis=1) - r0
                            for c, r0 in zip(centres, radii, strict=True)], axis=0)
            return 0.5 * (1.0 - np.tanh(level / 0.02))
        return u0

    def step_system(self, mesh: Mesh, u: np.ndarray, dt: float,
                    cache: dict | None = None) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        """``(A, b, free)``: the step's system on all nodes (``free`` = every node)."""
        M, K, free = _matrices(mesh, cache, dirichlet=False)
        key = ("allen-cahn", dt)
        if cache is not None and key in cache:
            A = cache[key]
        else:
            A = (M / dt + self.D * K).tocsr()
            if cache is not None:
                cache[key] = A
        reaction = nonlinear_load(mesh, np.clip(u, 0.0, 1.0), self.reaction)
        return A, M @ u / dt + reaction, free

    def reaction(self, v: np.ndarray) -> np.ndarray:
        """``f(v) = r v (1 - v)(v - a)``."""
        return self.r * v * (1.0 - v) * (v - self.a)


#: The problems by name.
PDES: dict[str, type] = {"burgers": Burgers, "allen-cahn": AllenCahn}


def make_pde(name: str, **params: float) -> Burgers | AllenCahn:
    """The problem ``name`` (``"burgers"`` or ``"allen-cahn"``) with its parameters."""
    if name not in PDES:
        raise InvalidOptionError(f"unknown pde {name!r}; use one of {sorted(PDES)}")
    return PDES[name](**params)


def _matrices(mesh: Mesh, cache: dict | None,
              dirichlet: bool) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """Mass, stiffness and the free nodes of ``mesh`` (kept in ``cache`` while the mesh is
    the same object)."""
    if cache is not None and cache.get("mesh") is mesh:
        return cache["M"], cache["K"], cache["free"]
    M, K = mass(mesh), stiffness(mesh)
    free = np.setdiff1d(np.arange(mesh.n_points), mesh.boundary_points()) if dirichlet \
        else np.arange(mesh.n_points)
    if cache is not None:
        cache.clear()
        cache.update(mesh=mesh, M=M, K=K, free=free)
    return M, K, free


def _boundary_cutoff(x: np.ndarray) -> np.ndarray:
    """``16 x (1 - x) y (1 - y)`` raised to 1/4: 1 inside, 0 on the boundary, smooth."""
    return (16 * x[:, 0] * (1 - x[:, 0]) * x[:, 1] * (1 - x[:, 1])).clip(0) ** 0.25
