"""Watching a solve: ``monitor=True`` (one line per iteration, like PETSc's ``-ksp_monitor``)
and the ``"solvers"`` logger.

``solve(A, b, monitor=True)`` prints, on the host backend::

    cg+amg on scipy, n=16384: ||b - A x_k|| (true residual) per iteration
        0  ||r|| 1.000000e+00  ||r||/||b|| 1.000e+00
        1  ||r|| 2.218106e-01  ||r||/||b|| 2.218e-01
      ...
    converged (rtol): ||b - A x|| = 5.1e-09 <= 1.0e-08 = max(rtol ||b||, atol), 9 iterations

The host monitor prints the *true* residual ``||b - A x_k||`` of the iterate the method hands
its ``callback`` (as PETSc's ``-ksp_monitor_true_residual``): one extra matrix-vector product
per iteration, paid only when monitoring. On PETSc the KSP's own monitor prints the norm the
KSP iterates on (the unpreconditioned residual for the methods of
:mod:`solvers.builtins`), on rank 0; on JAX ``monitor=True`` is refused (the loop runs on
the device). Methods without iterations (``direct``) print line 0 and the final line.

Logging: ``logging.getLogger("solvers")`` records ``auto``'s pick and fallbacks and the
refinement restarts at INFO, setup and setup reuse at DEBUG, and the first JAX compilation of
a program at INFO; ``logging.basicConfig(level=logging.INFO)`` (or ``python -m sciml -v``)
shows them.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, TextIO

#: The library's logger: ``logging.getLogger("solvers")``.
LOGGER = logging.getLogger("solvers")


class IterationMonitor:
    """A ``callback(x_k)`` that prints ``k``, ``||b - A x_k||`` and ``||b - A x_k|| / ||b||``,
    then calls the user's ``callback`` (if any).

    ``residual(x)`` is the true residual norm (float64) and ``bnorm`` is ``||b||``;
    :meth:`start` prints the header and line 0.
    """

    def __init__(self, residual: Callable[[Any], float], bnorm: float,
                 callback: Callable[[Any], Any] | None = None,
                 stream: TextIO | None = None) -> None:
        self.residual = residual
        self.bnorm = bnorm
        self.callback = callback
        self.stream = stream
        self.iteration = 0

    def start(self, title: str, x0: Any = None) -> None:
        """Print ``title`` and line 0 (``||b - A x0||``; ``||b||`` for a zero start)."""
        print(f"{title}: ||b - A x_k|| (true residual) per iteration", file=self._out())
        self._line(self.bnorm if x0 is None else self.residual(x0))

    def __call__(self, xk: Any) -> None:
        self.iteration += 1
        self._line(self.residual(xk))
        if self.callback is not None:
            self.callback(xk)

    def _line(self, rnorm: float) -> None:
        print(iteration_line(self.iteration, rnorm, self.bnorm), file=self._out())

    def _out(self) -> TextIO:
        return self.stream or sys.stdout


def iteration_line(k: int, rnorm: float, bnorm: float) -> str:
    """One monitor line: iteration, residual norm, relative residual.

    Examples
    --------
    >>> iteration_line(3, 0.25, 2.0)
    '    3  ||r|| 2.500000e-01  ||r||/||b|| 1.250e-01'
    """
    relative = rnorm / bnorm if bnorm > 0 else float("nan")
    return f"{k:5d}  ||r|| {rnorm:.6e}  ||r||/||b|| {relative:.3e}"


def final_line(result: Any) -> str:
    """The monitor's last line: verdict, reason, true residual against the threshold.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from solvers.reasons import Reason
    >>> final_line(SimpleNamespace(converged=False, reason=Reason.MAXITER, iterations=50,
    ...                            residual_norm=3e-3, threshold=1e-8))
    'not converged (maxiter): ||b - A x|| = 3.0e-03 > 1.0e-08 = ..., 50 iterations'
    """
    verdict = "converged" if result.converged else "not converged"
    sign = "<=" if result.converged else ">"
    return (f"{verdict} ({result.reason.value}): ||b - A x|| = {result.residual_norm:.1e} {sign} "
            f"{result.threshold:.1e} = max(rtol ||b||, atol), {result.iterations} "
            f"iteration{'' if result.iterations == 1 else 's'}")


def report(result: Any, stream: TextIO | None = None) -> None:
    """Print :func:`final_line` (on PETSc, on rank 0 only)."""
    if result.info.get("backend") == "petsc":
        from petsc4py import PETSc

        if PETSc.COMM_WORLD.getRank() != 0:
            return
    print(final_line(result), file=stream or sys.stdout)
