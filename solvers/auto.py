"""``method="auto"``: a first choice from the operator's structure, and what to try next.

The rule (every backend; names a backend does not run are left out):

1. assembled and ``n <= AUTO_DIRECT_MAX_N``: sparse LU (``direct``);
2. known SPD (structure tag), or symmetric with a positive real diagonal (likely SPD): CG with
   smoothed-aggregation AMG (Jacobi where AMG does not run, none if matrix-free);
3. symmetric (Hermitian) but known or likely indefinite: ``direct`` when it fits, else MINRES;
4. otherwise: restarted GMRES with ILU (none if matrix-free).

Fallbacks: a first choice that does not converge (an ``indefinite_*`` breakdown of CG on a
symmetric indefinite matrix, a stall, ``maxiter``) is followed by the next one: ``direct``
when the system fits in memory (assembled, ``n <= AUTO_DIRECT_FALLBACK_MAX_N``), then MINRES
for a symmetric matrix or GMRES otherwise. ``result.info["auto"]`` lists what was tried and
why.
"""

from __future__ import annotations

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
#: Every ``(kind, name)`` the plan below may pick: the parameters they declare are the ones
#: ``method="auto"`` accepts (:meth:`solvers.request.Request.check_params`).
CANDIDATES: tuple[tuple[registry.Kind, str], ...] = (
    ("method", "direct"), ("method", "cg"), ("method", "minres"), ("method", "gmres"),
    ("pc", "amg"), ("pc", "jacobi"), ("pc", "ilu"))


@dataclass(frozen=True)
class Facts:
    """What ``auto`` knows about ``A``: size, whether it is assembled, its structure.

    ``assembled``: the backend holds ``A``'s entries (a matrix, or a stencil whose diagonal
    and products it knows), so preconditioners can be built; ``positive_definite`` is the SPD
    tag (``True``/``False`` from a Problem, ``None``: unknown); ``positive_diagonal`` whether
    the diagonal is real and positive (``None``: matrix-free). ``symmetric`` and
    ``positive_diagonal`` may be functions, called only when the plan needs them (a small
    assembled system, solved directly, never does).
    """

    n: int
    assembled: bool
    symmetric: bool | Callable[[], bool]
    positive_diagonal: bool | None | Callable[[], bool | None]
    positive_definite: bool | None = None


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
        first = Choice("cg", pc("amg", "jacobi"), f"{why} (likely SPD): preconditioned CG")
        return [first, *direct, *(minres or [gmres])]
    if symmetric:
        return [*direct, *minres, gmres] if direct or minres else [gmres]
    return [gmres, *direct]


def _value(fact: Any) -> Any:
    """A fact, computed now if it was given as a function."""
    return fact() if callable(fact) else fact
