"""Entry point of the ``bandit-sor`` method and the ``bandit-ssor`` preconditioner.

Declared in ``pyproject.toml`` under ``solvers.methods``; :mod:`solvers.registry` calls
:func:`register` the first time either name is looked up, so ``import solvers`` stays light.
"""

from __future__ import annotations

from solvers import registry

from .sor import BanditSOR, BanditSSOR


def register() -> None:
    """Register ``method="bandit-sor"`` and ``pc="bandit-ssor"`` (host backend); idempotent."""
    registry.register("bandit-sor", BanditSOR, "method", replace=True,
                      summary="SOR with omega chosen per solve by a Tsallis-INF/contextual bandit")
    registry.register("bandit-ssor", BanditSSOR, "pc", replace=True,
                      summary="SSOR preconditioner with omega chosen per solve by a bandit")
