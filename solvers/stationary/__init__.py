"""Stationary iterations (SOR, SSOR): x_{k+1} = x_k + M^{-1} (b - A x_k)."""
