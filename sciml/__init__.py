"""Learned components on top of ``solvers``: DCDM, neural operators, bandits, recycling."""
