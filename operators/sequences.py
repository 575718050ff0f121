"""Sequences of related linear systems, for methods that learn across solves.

Two families from the bandit-tuned SOR experiments of Khodak et al. [1]_:

- :func:`shifted_laplacian_sequence`: i.i.d. systems ``(L + c_t I) x = b_t`` with a random
  diagonal shift ``c_t`` (the context of a contextual bandit);
- :class:`HeatSequence` / :func:`heat_sequence`: the time steps of a heat equation whose
  diffusivity changes in time, where each right-hand side depends on the previous solution.

Both reuse one assembled matrix and build each ``A_t = s_t M + c_t I`` by rescaling its
values and adding to its diagonal, so thousands of systems cost little more than their
right-hand sides.

References
----------
.. [1] M. Khodak, E. Chow, M.-F. Balcan, A. Talwalkar, "Learning to Relax: Setting Solver
   Parameters Across a Sequence of Linear System Instances", ICLR 2024, arXiv:2310.02246.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from operators.assembly import diffusion_matrix, grid_spacing, harmonic_faces
from operators.fields import Seed, lognormal_coefficient
from operators.gallery import unit_faces
from operators.problem import GridProblem
from operators.validate import as_coefficient, as_real, as_shape, choice


class _ScaledShifted:
    """Builds ``scale * M + shift * I`` from one CSR matrix ``M`` whose diagonal is stored."""

    def __init__(self, M: sp.csr_matrix) -> None:
        M = sp.csr_matrix(M)
        M.sort_indices()
        rows = np.repeat(np.arange(M.shape[0]), np.diff(M.indptr))
        self.diagonal = np.flatnonzero(M.indices == rows)
        if self.diagonal.size != M.shape[0]:
            raise ValueError("every diagonal entry of M must be stored")
        self.M = M

    def __call__(self, scale: float, shift: float) -> sp.csr_matrix:
        data = scale * self.M.data
        data[self.diagonal] += shift
        A = sp.csr_matrix(
            (data, self.M.indices.copy(), self.M.indptr.copy()), shape=self.M.shape
        )
        A.has_sorted_indices = True
        return A


def _unscaled_min_eigenvalue(shape: tuple[int, ...]) -> float:
    """``lambda_min`` of the unscaled Laplacian: ``sum_a 4 sin^2(pi / (2 (n_a + 1)))``."""
    h = np.asarray(grid_spacing(shape))
    return float(np.sum(4.0 * np.sin(np.pi * h / 2) ** 2))


def _count(value: int, name: str) -> int:
    """A non-negative integer count, or a ValueError naming ``name``."""
    try:
        count = operator.index(value)
    except TypeError:
        count = -1
    if count < 0:
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    return count


def _spawn(seed: Seed, n: int) -> list[np.random.Generator]:
    """``n`` independent generators derived from ``seed``: item ``t`` depends on ``t`` only."""
    if seed is None:
        raise ValueError("seed is required so the sequence can be reproduced; pass e.g. seed=0")
    if isinstance(seed, np.random.Generator):
        # Generator.spawn needs NumPy >= 1.25; otherwise derive a SeedSequence from it
        if hasattr(seed, "spawn"):
            return seed.spawn(n)
        seed = np.random.SeedSequence(seed.integers(2**63, size=4))
    if not isinstance(seed, np.random.SeedSequence):
        seed = np.random.SeedSequence(seed)
    return [np.random.default_rng(s) for s in seed.spawn(n)]


def _truncated_normal(rng: np.random.Generator, n: int) -> np.ndarray:
    """Standard normal vector conditioned on ``||b|| <= sqrt(n)`` (rejection, as in [1]_)."""
    while True:
        b = rng.standard_normal(n)
        if b @ b <= n:
            return b


def _normal(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.standard_normal(n)


#: Right-hand side distributions of :func:`shifted_laplacian_sequence`, by name.
RHS_DISTRIBUTIONS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "truncated_normal": _truncated_normal,
    "normal": _normal,
}


def shifted_laplacian_sequence(
    n_systems: int,
    shape: int | tuple[int, ...] = (10, 10),
    *,
    seed: Seed,
    alpha: float = 2.0,
    beta: float = 6.0,
    c_scale: float = 0.6,
    c_offset: float = -0.15,
    rhs: str = "truncated_normal",
) -> list[GridProblem]:
    r"""I.i.d. diagonally shifted Laplacians ``(L + c_t I) x = b_t``, ``t = 0..n_systems-1``.

    The setting of the SOR experiments in [1]_: ``L`` is the *unscaled* 5-point Laplacian
    (``4`` on the diagonal, ``-1`` to each neighbour; MATLAB's ``delsq(numgrid('S', 12))``
    for the default 10 x 10 grid, ``n = 100``), so the shift competes with the diagonal
    ``2d`` and with the eigenvalues ``lambda(L) in (0, 4d)`` rather than being swamped by a
    ``1/h^2`` scaling. The shifts are

    .. math:: c_t = c_{\text{offset}} + c_{\text{scale}} \, B_t, \qquad
              B_t \sim \mathrm{Beta}(\alpha, \beta),

    with the paper's defaults ``c_t = -0.15 + 0.6 Beta(2, 6)`` (its "low-variance" case;
    ``alpha=0.5, beta=1.5`` gives the "high-variance" one; ``c_scale=2, c_offset=0`` gives ``c_t
    = 2 Beta(2, 6)``, the second sequence of ``benchmarks/bench_bandit_sor.py``). ``c_offset =
    -0.15`` lies just above ``-lambda_min(L) = -0.162`` on the 10 x 10 grid, so every system
    stays symmetric positive definite there; on larger grids ``lambda_min(L)`` shrinks like ``2
    pi^2 / n_1^2`` and negative shifts can make ``A_t`` indefinite: ``positive_definite`` is
    computed from ``c_t + lambda_min(L)`` for each system. ``b_t`` is standard normal, by
    default conditioned on ``||b_t|| <= sqrt(n)`` as in [1]_.

    System ``t`` is drawn from its own generator spawned from ``seed``, so it does not depend
    on ``n_systems``: the first ``k`` systems of a longer sequence equal the sequence of ``k``.

    Parameters
    ----------
    n_systems
        Number of systems.
    shape
        Grid (an int means a square 2D grid); any 1D-3D grid works.
    seed
        Required: int, :class:`numpy.random.SeedSequence` or :class:`numpy.random.Generator`.
    alpha, beta
        Beta distribution parameters (``> 0``).
    c_scale, c_offset
        Affine map of the Beta draw onto the shift.
    rhs
        ``"truncated_normal"`` (default) or ``"normal"``.

    Returns
    -------
    list of GridProblem
        ``kind="shifted_laplacian"``, ``spacing`` all ones (the stencil is unscaled),
        ``params = {"shift": c_t, "context": c_t, "index": t, "seed": seed}``.

    Examples
    --------
    >>> seq = shifted_laplacian_sequence(3, seed=0)
    >>> seq[0].A.shape, seq[0].params["index"], bool(seq[0].A[0, 0] == 4 + seq[0].params["shift"])
    ((100, 100), 0, True)
    """
    n_systems = _count(n_systems, "n_systems")
    shape = as_shape(shape)
    for name, value in (("alpha", alpha), ("beta", beta)):
        if as_real(value, name) <= 0:
            raise ValueError(f"{name} must be positive, not {value}")
    c_scale, c_offset = as_real(c_scale, "c_scale"), as_real(c_offset, "c_offset")
    draw_rhs = choice(rhs, RHS_DISTRIBUTIONS, "rhs")
    unit = (1.0,) * len(shape)
    build = _ScaledShifted(diffusion_matrix(unit_faces(shape), unit))
    lam_min = _unscaled_min_eigenvalue(shape)
    n = int(np.prod(shape))
    problems = []
    for t, rng in enumerate(_spawn(seed, n_systems)):
        c = float(c_offset + c_scale * rng.beta(alpha, beta))
        problems.append(
            GridProblem(
                build(1.0, c), draw_rhs(rng, n), shape, unit, kind="shifted_laplacian",
                symmetric=True, positive_definite=c + lam_min > 0,
                params={"shift": c, "context": c, "index": t, "seed": seed},
            )
        )
    return problems


def _bump(
    coords: list[np.ndarray], center: Sequence[float], radius: float
) -> np.ndarray:
    """Smooth compactly supported bump ``exp(1 - 1/(1 - r^2/R^2))`` (1 at the centre)."""
    q = sum((x - c) ** 2 for x, c in zip(coords, center, strict=True)) / radius**2
    out = np.zeros(np.shape(q))
    inside = q < 1
    out[inside] = np.exp(1.0 - 1.0 / (1.0 - q[inside]))
    return out


def _smooth_schedule(
    rng: np.random.Generator, amplitude: float, period: float, modes: int = 4
) -> Callable[[float], float]:
    """Seeded smooth positive factor ``s(tau) = exp(amplitude * g(tau))``.

    ``g`` is a random trigonometric sum ``sum_j a_j sin(2 pi j tau / period + phi_j)`` with
    ``a_j ~ N(0, 1/j^2)``, ``phi_j ~ U(0, 2 pi)``, normalised to unit root-mean-square, so
    ``log s`` is smooth, ``period``-periodic and of typical size ``amplitude``.
    """
    j = np.arange(1, modes + 1)
    a = rng.standard_normal(modes) / j
    phi = rng.uniform(0.0, 2 * np.pi, modes)
    rms = np.sqrt(np.sum(a**2) / 2)

    def scale(tau: float) -> float:
        g = np.sum(a * np.sin(2 * np.pi * j * tau / period + phi)) / rms
        return float(np.exp(amplitude * g))

    return scale


class HeatSequence:
    r"""Time steps of the heat equation with a diffusivity that changes in time.

    The PDE ``u_t = div(s(t) K(x) grad u) + f(t, x)`` on the unit square/cube with zero
    Dirichlet boundary values, discretised by :func:`operators.diffusion` in space
    (``-div(K grad u) ~ M u``, assembled once) and the theta scheme in time
    (``theta = 1``: implicit Euler, the default; ``theta = 1/2``: Crank-Nicolson as in [1]_):

    .. math:: (I + \theta\,\Delta t\, s_t M)\, u^t
              = u^{t-1} - (1 - \theta)\,\Delta t\, s_t M u^{t-1} + \Delta t\, f(\tau_t),

    with ``s_t = s(tau_t)`` and ``tau_t = (t - 1 + theta) dt``. Step ``t >= 1`` takes the
    previous solution, so the sequence is driven by the caller: start from :meth:`initial`
    and call :meth:`system` with each new solution (or use :func:`heat_sequence`). The
    scalar ``context = theta * dt * s_t`` determines ``A_t = I + context * M`` completely;
    it is the natural context for a contextual bandit choosing the SOR ``omega``.

    Parameters
    ----------
    shape
        Grid; default ``(100, 100)`` (10^4 unknowns).
    seed
        Required; seeds the default coefficient field and the default schedule ``s``.
    dt
        Time step (``> 0``).
    theta
        Theta-scheme weight in ``(0, 1]``.
    coefficient
        Spatial diffusivity ``K(x)`` on the grid; default a seeded log-normal field
        (:func:`operators.lognormal_coefficient`, ``variance=0.25``, ``length_scale=0.2``).
    scale
        Time factor ``s(tau) >= 0`` as a function of time; default a seeded smooth factor
        ``exp(amplitude * g(tau))`` with ``g`` a random ``period``-periodic trigonometric
        sum of unit RMS. Pass e.g. ``lambda t: max(0.1*sin(2*pi*t), -10*sin(2*pi*t))`` for
        the schedule of [1]_.
    amplitude, period
        Parameters of the default schedule.
    source
        ``f``: an array on the grid (constant in time), a function of time returning one, or
        ``None`` for the bump ``32 * bump(x; c(t), 0.125)`` circling the centre at radius 1/4
        every 1/8 time unit, as in [1]_.
    initial
        ``u^0`` on the grid; default a smooth bump of radius 1/4 at the centre.

    Examples
    --------
    >>> heat = HeatSequence((32, 32), seed=0)
    >>> u = heat.initial()
    >>> p = heat.system(1, u)
    >>> p.kind, p.n, p.params["step"], p.positive_definite
    ('heat', 1024, 1, True)
    """

    def __init__(
        self,
        shape: int | tuple[int, ...] = (100, 100),
        *,
        seed: Seed,
        dt: float = 1e-3,
        theta: float = 1.0,
        coefficient: np.ndarray | None = None,
        scale: Callable[[float], float] | None = None,
        amplitude: float = 1.0,
        period: float = 1.0,
        source: np.ndarray | Callable[[float], np.ndarray] | None = None,
        initial: np.ndarray | None = None,
    ) -> None:
        self.shape = as_shape(shape)
        self.spacing = grid_spacing(self.shape)
        self.dt = as_real(dt, "dt")
        self.theta = as_real(theta, "theta")
        if self.dt <= 0 or not 0 < self.theta <= 1:
            raise ValueError(f"need dt > 0 and 0 < theta <= 1, not dt={dt}, theta={theta}")
        self.seed = seed
        field_rng, schedule_rng = _spawn(seed, 2)
        if coefficient is None:
            coefficient = lognormal_coefficient(
                self.shape, seed=field_rng, variance=0.25, length_scale=0.2
            )
        self.coefficient = self._on_grid(as_coefficient(coefficient), "coefficient")
        faces = [harmonic_faces(self.coefficient, a) for a in range(len(self.shape))]
        self.operator = diffusion_matrix(faces, self.spacing)  # M = -div(K grad .)
        self._build = _ScaledShifted(self.operator)
        if scale is None:
            scale = _smooth_schedule(
                schedule_rng, as_real(amplitude, "amplitude"), as_real(period, "period")
            )
        self._scale = scale
        self._coords = [
            ((np.arange(n) + 1) * h).reshape([-1 if i == a else 1 for i in range(len(self.shape))])
            for a, (n, h) in enumerate(zip(self.shape, self.spacing, strict=True))
        ]
        self._source = source
        self._initial = initial

    def _on_grid(self, values: Any, name: str) -> np.ndarray:
        """A finite real array with one value per grid node, reshaped onto the grid."""
        a = np.asarray(values, dtype=float)
        if a.size != int(np.prod(self.shape)):
            raise ValueError(
                f"{name} has {a.size} values but the grid {self.shape} has "
                f"{int(np.prod(self.shape))} nodes; pass one value per node"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or Inf values")
        return a.reshape(self.shape)

    def time(self, t: int) -> float:
        """``tau_t = (t - 1 + theta) dt``, where step ``t`` evaluates ``s`` and ``f``."""
        if int(t) != t or t < 1:
            raise ValueError(f"steps are numbered from 1 (u^0 is initial()), not t={t!r}")
        return (t - 1 + self.theta) * self.dt

    def scale(self, t: int) -> float:
        """Diffusivity factor ``s_t``."""
        s = float(self._scale(self.time(t)))
        if not (np.isfinite(s) and s >= 0):
            raise ValueError(f"scale(t) must be finite and >= 0, got {s} at step {t}")
        return s

    def context(self, t: int) -> float:
        """``theta * dt * s_t``: the scalar with ``A_t = I + context * M``."""
        return self.theta * self.dt * self.scale(t)

    def matrix(self, t: int) -> sp.csr_matrix:
        """``A_t = I + theta dt s_t M`` (CSR)."""
        return self._build(self.context(t), 1.0)

    def source(self, t: int) -> np.ndarray:
        """``f(tau_t)`` on the grid, flattened."""
        tau = self.time(t)
        if self._source is None:
            angle = 16 * np.pi * tau
            center = [0.5 + np.cos(angle) / 4, 0.5 + np.sin(angle) / 4, 0.5][: len(self.shape)]
            return 32.0 * _bump(self._coords, center, 0.125).ravel()
        f = self._source(tau) if callable(self._source) else self._source
        return self._on_grid(f, "source").ravel()

    def initial(self) -> np.ndarray:
        """``u^0`` on the grid, flattened (a fresh copy)."""
        if self._initial is None:
            return _bump(self._coords, [0.5] * len(self.shape), 0.25).ravel()
        return self._on_grid(self._initial, "initial").ravel().copy()

    def system(self, t: int, u_prev: np.ndarray) -> GridProblem:
        """Step ``t >= 1``: the :class:`GridProblem` whose solution is ``u^t``, given ``u^{t-1}``.

        ``params`` holds ``context`` (``theta dt s_t``), ``scale`` (``s_t``), ``step``,
        ``time`` (``t dt``), ``dt``, ``theta`` and ``seed``; ``coefficient`` is ``s_t K``.
        """
        u_prev = self._on_grid(u_prev, "u_prev").ravel()
        s = self.scale(t)
        context = self.theta * self.dt * s
        b = u_prev + self.dt * self.source(t)
        if self.theta < 1:
            b -= (1 - self.theta) * self.dt * s * (self.operator @ u_prev)
        params = {
            "context": context, "scale": s, "step": int(t), "time": t * self.dt,
            "dt": self.dt, "theta": self.theta, "seed": self.seed,
        }
        return GridProblem(
            self._build(context, 1.0), b, self.shape, self.spacing, kind="heat",
            coefficient=s * self.coefficient, symmetric=True, positive_definite=True,
            params=params,
        )


def heat_sequence(
    n_steps: int,
    shape: int | tuple[int, ...] = (100, 100),
    *,
    seed: Seed,
    solve: Callable[[GridProblem], np.ndarray] | None = None,
    **options: Any,
) -> Iterator[GridProblem]:
    """Yield the first ``n_steps`` systems of a :class:`HeatSequence`, advancing it itself.

    Each step is solved before it is yielded, by ``solve(problem)`` or by default with the
    direct solver :func:`scipy.sparse.linalg.spsolve` (then ``problem.exact`` holds the
    solution), and the next system is built from that solution. The sequence therefore
    does not depend on what the consumer does with the yielded systems: use it to benchmark
    iterative solvers on a fixed, reproducible trajectory. To drive the time stepping with
    your own solutions, use :class:`HeatSequence` directly.

    ``options`` are passed to :class:`HeatSequence` (``dt``, ``theta``, ``scale``, ...).

    Examples
    --------
    >>> [p.params["step"] for p in heat_sequence(3, (16, 16), seed=0)]
    [1, 2, 3]
    """
    n_steps = _count(n_steps, "n_steps")
    heat = HeatSequence(shape, seed=seed, **options)  # validates now, not at the first step
    return _advance(heat, n_steps, solve)


def _advance(
    heat: HeatSequence, n_steps: int, solve: Callable[[GridProblem], np.ndarray] | None
) -> Iterator[GridProblem]:
    u = heat.initial()
    for t in range(1, n_steps + 1):
        p = heat.system(t, u)
        if solve is None:
            u = spla.spsolve(p.A.tocsc(), p.b)
            p.exact = u
        else:
            u = np.asarray(solve(p)).ravel()
        yield p
