"""Exceptions raised by :mod:`solvers`.

Every user mistake is reported as a :class:`SolverError` subclass whose message says what is
wrong and what to do about it. Non-convergence is *not* an error unless the caller asks for it
with ``raise_on_fail=True``; otherwise it is reported through ``SolveResult.reason``.
"""

from __future__ import annotations


class SolverError(Exception):
    """Base class of every error raised by this library."""


class InvalidSystemError(SolverError, ValueError):
    """The linear system is malformed: shape, dtype, NaN/Inf, empty or non-square."""


class InvalidOptionError(SolverError, ValueError):
    """An argument such as ``method``, ``pc``, ``backend``, ``rtol`` or ``omega`` is invalid."""


class NotSymmetricError(InvalidSystemError):
    """The method needs a symmetric (Hermitian) operator and the input is proven not to be."""


class BreakdownError(SolverError, ArithmeticError):
    """The solve did not converge and the caller asked for an exception (``raise_on_fail``).

    ``result`` holds the :class:`solvers.SolveResult` of the failed solve.
    """

    def __init__(self, message: str, result: object = None) -> None:
        super().__init__(message)
        self.result = result


class BackendUnavailableError(SolverError, ImportError):
    """An optional backend (PETSc, JAX) is not installed; the message names the install command."""


class ModelLoadError(SolverError, OSError):
    """Weights of a learned method are missing or corrupt; the message says how to rebuild them."""


class DatasetError(SolverError, ValueError):
    """A data directory (``python -m sciml datagen`` output) is missing, incomplete or corrupt;
    the message names the file and how to regenerate or resume it."""


class SetupError(SolverError):
    """A preconditioner or factorization could not be built for this matrix (zero pivot,
    breakdown of an incomplete factorization). The solve reports ``reason="pc_failed"`` or
    ``"singular"`` instead of raising, unless ``raise_on_fail=True``."""

    def __init__(self, message: str, reason: str = "pc_failed") -> None:
        super().__init__(message)
        self.reason = reason
