"""``method="auto"``: a first choice from the operator's structure, and what to try next.

The rule (every backend; names a backend does not run are left out):

1. assembled and ``n <= AUTO_DIRECT_MAX_N``: sparse LU (``direct``);
2. known SPD (structure tag), or symmetric with a positive real diagonal (likely SPD): CG with
   smoothed-aggregation AMG (Jacobi where AMG does not run, none if matrix-free); on JAX,
   for a matrix-free stencil (an SPD :class:`operators.GridProblem` of kind ``poisson`` or
   ``diffusion``), CG with the black-box multigrid V-cycle (``pc="mg"``);
3. symmetric (Hermitian) but known or likely indefinite: ``direct`` when it fits, else MINRES;
4. otherwise: restarted GMRES with ILU (none if matrix-free).

Fallbacks: a first choice that does not converge (an ``indefinite_*`` breakdown of CG on a
symmetric indefinite matrix, a stall, ``maxiter``) is followed by the next one: ``direct``
when the system fits in memory (assembled, ``n <= AUTO_DIRECT_FALLBACK_MAX_N``), then MINRES
for a symmetric matrix or GMRES otherwise. ``result.info["auto"]`` lists what was tried and
why.

Routing (``backend="auto"``, :func:`solvers.backends.detect`): a ``GridProblem`` with a
stencil, tagged SPD, with more than :data:`AUTO_JAX_MIN_N` unknowns, solved with
``method="auto"`` and no named preconditioner, goes to the JAX backend when JAX is installed
(:func:`jax_route`): CG + black-box MG is then the fastest robust path (``benchmarks/
bench_multigrid.py``). Otherwise it stays on the host (pyamg), and ``info["auto"]["why"]``
says why JAX was not used.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from solvers import registry
from solvers.monitor import LOGGER

#: Systems with at most this many unknowns are solved directly first.
AUTO_DIRECT_MAX_N = 10_000
#: A direct solve is tried as a fallback up to this many unknowns (2D/3D PDE matrices of this
#: size factor in well under the machine's memory with COLAMD/nested-dissection orderings).
AUTO_DIRECT_FALLBACK_MAX_N = 250_000
#: A stencil problem goes to JAX CG + multigrid above this many unknowns. Measured
#: (``benchmarks/bench_multigrid.py``, quiet 2-core machine): a new process's first solve
#: with JAX pays 1-2.5 s of tracing, so at 262,144 unknowns (512^2, 64^3) it beats pyamg only
#: on high-contrast coefficients (0.64-0.86x) and loses on smooth ones (1.4-2.4x); at 128^3
#: (2.1 million) it wins on Poisson too (0.59x). In a warm process it wins from 262,144 on.
AUTO_JAX_MIN_N = 1_000_000
#: Every ``(kind, name)`` the plan below may pick: the parameters they declare are the ones
#: ``method="auto"`` accepts (:meth:`solvers.request.Request.check_params`).
CANDIDATES: tuple[tuple[registry.Kind, str], ...] = (
    ("method", "direct"), ("method", "cg"), ("method", "minres"), ("method", "gmres"),
    ("pc", "amg"), ("pc", "jacobi"), ("pc", "ilu"), ("pc", "mg"))


@dataclass(frozen=True)
class Facts:
    """What ``auto`` knows about ``A``: size, whether it is assembled, its structure.

    ``assembled``: the backend holds ``A``'s entries (a matrix, or a stencil whose diagonal
    and products it knows), so preconditioners can be built; ``positive_definite`` is the SPD
    tag (``True``/``False`` from a Problem, ``None``: unknown); ``positive_diagonal`` whether
    the diagonal is real and positive (``None``: matrix-free). ``symmetric`` and
    ``positive_diagonal`` may be functions, called only when the plan needs them (a small
    assembled system, solved directly, never does). ``stencil``: ``A`` comes with a
    matrix-free stencil (a grid problem of kind ``poisson``/``diffusion``).
    """

    n: int
    assembled: bool
    symmetric: bool | Callable[[], bool]
    positive_diagonal: bool | None | Callable[[], bool | None]
    positive_definite: bool | None = None
    stencil: bool = False


@dataclass(frozen=True)
class Choice:
    """One ``(method, pc)`` that ``auto`` runs, and why."""

    method: str
    pc: str
    why: str

    def label(self) -> str:
        return self.method if self.pc == "none" else f"{self.method}+{self.pc}"

    def report(self, tried: list[dict[str, Any]]) -> dict[str, Any]:
        """``result.info["auto"]``: what was chosen, why, and what did not converge before."""
        return {"chose": self.label(), "why": self.why, "tried": tried}


def direct_first() -> Choice:
    """Rule 1: an assembled system with at most :data:`AUTO_DIRECT_MAX_N` unknowns."""
    return Choice("direct", "none", f"assembled and n <= {AUTO_DIRECT_MAX_N:,}: sparse LU")


def plan(facts: Facts, backend: str) -> list[Choice]:
    """The choices in order: the first, then the fallbacks (see the module docstring);
    logged at DEBUG on the ``"solvers"`` logger."""
    choices = _plan(facts, backend)
    LOGGER.debug("auto plan on %s for %s: %s", backend, facts,
                 " -> ".join(choice.label() for choice in choices))
    return choices


def _plan(facts: Facts, backend: str) -> list[Choice]:

    def runs(name: str, kind: registry.Kind = "method") -> bool:
        return backend in registry.lookup(name, kind).backends

    def pc(*names: str) -> str:
        usable = names if facts.assembled else ()
        return next((n for n in usable if runs(n, "pc")), "none")

    fits = facts.assembled and facts.n <= AUTO_DIRECT_FALLBACK_MAX_N and runs("direct")
    direct = [Choice("direct", "none", "fallback: the system fits in memory")] if fits else []
    if facts.assembled and facts.n <= AUTO_DIRECT_MAX_N and runs("direct"):
        return [direct_first()]
    symmetric = _value(facts.symmetric)
    likely_spd = facts.positive_definite or (
        facts.positive_definite is None and symmetric and bool(_value(facts.positive_diagonal)))
    minres = [Choice("minres", "none", "symmetric: MINRES")] if runs("minres") else []
    gmres = Choice("gmres", pc("ilu"), "nonsymmetric: restarted GMRES")
    if likely_spd:
        why = "SPD tag" if facts.positive_definite else "symmetric with a positive diagonal"
        first = Choice("cg", pc("amg", "jacobi"), f"{why} (likely SPD): preconditioned CG"
                       + (_not_jax(facts.n) if facts.stencil and backend == "scipy" else ""))
        if facts.stencil and runs("mg", "pc"):
            fallback = Choice("cg", first.pc, "fallback: CG with a diagonal preconditioner")
            first = Choice("cg", "mg", f"{why} with a stencil: CG + black-box multigrid "
                           f"(JAX, pc='mg'), the fastest robust path for SPD grid problems")
            return [first, fallback, *direct, *(minres or [gmres])]
        return [first, *direct, *(minres or [gmres])]
    if symmetric:
        return [*direct, *minres, gmres] if direct or minres else [gmres]
    return [gmres, *direct]


def jax_installed() -> bool:
    """Whether JAX can be imported (without importing it)."""
    return importlib.util.find_spec("jax") is not None


def jax_route(n: int) -> tuple[bool, str]:
    """Whether an SPD stencil problem of ``n`` unknowns goes to JAX CG + MG, and why not."""
    if n <= AUTO_JAX_MIN_N:
        return False, f"n <= {AUTO_JAX_MIN_N:,}, where the host is faster"
    if not jax_installed():
        return False, "JAX is not installed (pip install jax)"
    return True, ""


def _not_jax(n: int) -> str:
    """Why an SPD stencil problem is solved on the host, for ``info["auto"]["why"]``."""
    route, reason = jax_route(n)
    return ("; not JAX CG + multigrid: "
            + (reason if not route else "backend='scipy' was asked for"))


def _value(fact: Any) -> Any:
    """A fact, computed now if it was given as a function."""
    return fact() if callable(fact) else fact
