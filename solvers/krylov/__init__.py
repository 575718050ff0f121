"""The library's own iterative methods (where SciPy has none, or lacks a residual history)."""
