r"""The moving-mesh time loop: move the mesh from the current solution, transfer, step, repeat.

With ``xi`` the uniform reference mesh and ``(X^n, u^n)`` the current mesh and nodal
solution, step ``n`` of :func:`simulate` is

1. every ``every`` steps: ``X^{n+} = mover(xi, X^n, u^n)`` (the mover builds its monitor from
   ``u^n``'s gradient, :mod:`~sciml.mesh_movers.movers`), then the solution is transferred
   to the new mesh -- ``transfer="projection"``: the L2 projection
   (:func:`meshes.projection.project`, conservative up to its quadrature; ``conserve=True``,
   the default, removes that drift), ``"interpolation"``: nodal P1 interpolation
   (:func:`meshes.transfer`, not conservative); the drift of ``int u`` is recorded every move;
2. one step of the PDE on the now fixed mesh (:mod:`~sciml.mesh_movers.pdes`), its linear
   system solved by one :class:`solvers.Solver` reused for the whole run (it validates its
   options once and keeps a factorisation while the matrix is unchanged).

This is the "rezoning" (moving mesh then solution transfer) form of the moving-mesh method
[1]_: the PDE is never rewritten in moving coordinates, so any fixed-mesh step works. At
``t = 0`` the mesh is adapted ``initial_moves`` times to the initial condition, evaluated
exactly on each new mesh. The stopping rule is the step count ``round(T / dt)``; a tangled
mesh (``inverted > 0``) is recorded, never silently accepted (the movers themselves never
return one unless even their smallest step tangles).

References
----------
.. [1] W. Huang and R. D. Russell, "Adaptive Moving Mesh Methods", Springer, 2011, ch. 7
   (rezoning / quasi-Lagrangian approaches).

Examples
--------
>>> import meshes
>>> from sciml.mesh_movers.pdes import AllenCahn
>>> run = simulate(AllenCahn(T=0.02), meshes.unit_square(8), seed=0, dt=0.01)
>>> run.steps, len(run.snapshots), run.max_inverted
(2, 2, 0)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import meshes
from meshes import Mesh
from meshes.interpolate import PointLocator
from meshes.p1 import mass
from meshes.projection import integral, project
from sciml.mesh_movers.movers import Mover, UniformMover
from sciml.mesh_movers.pdes import AllenCahn, Burgers
from solvers import Solver
from solvers.errors import InvalidOptionError

__all__ = ["Run", "Snapshot", "errors", "simulate"]

TRANSFERS = ("projection", "interpolation")


@dataclass(frozen=True)
class Snapshot:
    """The solution ``u`` (nodal) on ``mesh`` at time ``t``."""

    t: float
    mesh: Mesh
    u: np.ndarray


@dataclass
class Run:
    """A finished simulation.

    ``snapshots`` at every ``record_every``-th step (and the last), ``moves`` the number of
    mesh moves, ``max_inverted`` the most inverted cells of any mesh used, ``mass_drift`` the
    relative change of ``int u`` each transfer caused (``(int u_new - int u_old) / int
    |u_old|``), and ``seconds``: ``{"mover", "transfer", "assembly", "solve", "total"}``.
    """

    pde: str
    mover: str
    steps: int
    dt: float
    snapshots: list[Snapshot] = field(default_factory=list)
    moves: int = 0
    max_inverted: int = 0
    mass_drift: list[float] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def final(self) -> Snapshot:
        """The last snapshot."""
        return self.snapshots[-1]

    @property
    def max_mass_drift(self) -> float:
        """The largest ``|drift|`` of one transfer (0 without moves)."""
        return max((abs(d) for d in self.mass_drift), default=0.0)

    @property
    def mover_share(self) -> float:
        """The mover's seconds over the run's total."""
        return self.seconds["mover"] / self.seconds["total"]


def simulate(pde: Burgers | AllenCahn, mesh: Mesh, *, seed: int, dt: float, T: float | None = None,
             mover: Mover | None = None, every: int = 1, transfer: str = "projection",
             conserve: bool = True, initial_moves: int = 2, record_every: int = 1,
             solver: Solver | None = None,
             callback: Callable[[int, Snapshot], None] | None = None) -> Run:
    """Run ``pde`` from its seeded initial condition on ``mesh``, moving it with ``mover``.

    Parameters
    ----------
    pde
        A problem of :mod:`~sciml.mesh_movers.pdes` (``initial(seed)``, ``step_system``).
    mesh
        The uniform reference mesh of the unit square (:func:`meshes.unit_square`).
    seed
        Seed of the initial condition.
    dt, T
        Time step and final time (default ``pde.T``); ``round(T / dt)`` steps.
    mover
        A mover of :mod:`~sciml.mesh_movers.movers`; ``None``: the uniform mesh.
    every
        Move the mesh every ``every`` steps.
    transfer, conserve
        ``"projection"`` (L2, :func:`meshes.projection.project`) or ``"interpolation"``;
        ``conserve=True`` (default) makes the projection conserve ``int u`` to round-off
        (without it, the quadrature's drift is about ``1e-4`` per move on 32 x 32 meshes
        and ``1e-3`` on 12 x 12 ones).
    initial_moves
        Adaptations to the initial condition before the first step.
    record_every
        Keep a snapshot every this many steps (the last step always).
    solver
        The :class:`solvers.Solver` for the step systems (default: direct solves).
    callback
        ``callback(step, snapshot)`` after every recorded step (progress, figures).
    """
    T = pde.T if T is None else T
    _check(dt, T, every, transfer, initial_moves, record_every)
    mover = UniformMover() if mover is None else mover
    solver = Solver(method="direct") if solver is None else solver
    steps = max(1, round(T / dt))
    run = Run(pde.name, mover.name, steps, dt)
    clock = dict.fromkeys(("mover", "transfer", "assembly", "solve"), 0.0)
    start = time.perf_counter()
    u0 = pde.initial(seed)
    current, u = mesh, u0(mesh.points)
    if mover.name != "uniform":
        for _ in range(initial_moves):
            current = mover(mesh, current, u)
            u = u0(current.points)
            run.max_inverted = max(run.max_inverted, meshes.inverted_cells(current))
    cache: dict = {}
    for n in range(steps):
        if n and n % every == 0 and mover.name != "uniform":
            tick = time.perf_counter()
            moved = mover(mesh, current, u)
            clock["mover"] += time.perf_counter() - tick
            tick = time.perf_counter()
            u, drift = _transfer(current, u, moved, transfer, conserve)
            clock["transfer"] += time.perf_counter() - tick
            run.mass_drift.append(drift)
            run.max_inverted = max(run.max_inverted, meshes.inverted_cells(moved))
            run.moves += 1
            current = moved
        tick = time.perf_counter()
        A, b, free = pde.step_system(current, u, dt, cache)
        clock["assembly"] += time.perf_counter() - tick
        tick = time.perf_counter()
        x = solver.solve(A, b, x0=u[free]).x
        clock["solve"] += time.perf_counter() - tick
        u = u.copy()
        u[free] = x
        if (n + 1) % record_every == 0 or n + 1 == steps:
            snapshot = Snapshot((n + 1) * dt, current, u)
            run.snapshots.append(snapshot)
            if callback is not None:
                callback(n + 1, snapshot)
    clock["total"] = time.perf_counter() - start
    run.seconds = clock
    return run


def _transfer(old: Mesh, u: np.ndarray, new: Mesh, how: str,
              conserve: bool) -> tuple[np.ndarray, float]:
    """The transferred values and the drift they carry (after ``conserve``'s correction)."""
    if how == "projection":
        values = project(old, u, new, conserve=conserve).values
    else:
        values = PointLocator(old).interpolate(u, new.points)
    scale = max(integral(old, np.abs(u)), np.finfo(float).tiny)
    return values, (integral(new, values) - integral(old, u)) / scale


def _check(dt: float, T: float, every: int, transfer: str, initial_moves: int,
           record_every: int) -> None:
    if not (np.isfinite(dt) and np.isfinite(T) and 0 < dt <= T):
        raise InvalidOptionError(f"need 0 < dt <= T (finite), got dt={dt!r}, T={T!r}")
    for name, value in (("every", every), ("record_every", record_every)):
        if int(value) != value or value < 1:
            raise InvalidOptionError(f"{name} must be an integer >= 1, got {value!r}")
    if int(initial_moves) != initial_moves or not 0 <= initial_moves <= 10:
        raise InvalidOptionError(f"initial_moves must be an integer in [0, 10], got "
                                 f"{initial_moves!r}")
    if transfer not in TRANSFERS:
        raise InvalidOptionError(f"transfer must be one of {TRANSFERS}, got {transfer!r}")


def errors(run: Run, reference: Run) -> np.ndarray:
    """Relative L2 errors of ``run`` against a finer ``reference`` run, one per snapshot.

    Both runs must have snapshots at the same times. Each coarse solution is interpolated
    (P1) to the reference's nodes; the error is ``||u_h - u_ref|| / ||u_ref||`` in the
    lumped-mass-weighted discrete L2 norm of the reference mesh.
    """
    if [s.t for s in run.snapshots] != [s.t for s in reference.snapshots]:
        raise InvalidOptionError("run and reference need snapshots at the same times (same dt, "
                                 "T and record_every)")
    out = []
    for mine, ref in zip(run.snapshots, reference.snapshots, strict=True):
        weights = _lumped(ref.mesh)
        values = PointLocator(mine.mesh).interpolate(mine.u, ref.mesh.points)
        out.append(np.sqrt(weights @ (values - ref.u) ** 2 / (weights @ ref.u ** 2)))
    return np.array(out)


def _lumped(mesh: Mesh) -> np.ndarray:
    return np.asarray(mass(mesh).sum(axis=1)).ravel()
