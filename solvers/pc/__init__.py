"""Preconditioners: each ``setup(system)`` returns a ``LinearOperator`` applying ``M ~ A^{-1}``."""
