"""Fixtures for the MPI tests.

Run as ``mpiexec -n 2 python -m pytest tests/mpi -q -p no:cacheprovider``.

Every rank runs the same tests in the same order. Assertions go through :func:`everywhere`, a
collective AND over the ranks, so a failure fails the test on every rank together and no
rank is left waiting in a collective the others skipped. The tests also pass with one rank
(plain ``pytest``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def comm():
    """``mpi4py.MPI.COMM_WORLD`` (the tests are skipped without mpi4py/petsc4py)."""
    pytest.importorskip("petsc4py.PETSc")
    return pytest.importorskip("mpi4py.MPI").COMM_WORLD


@pytest.fixture
def everywhere(comm) -> Callable[[bool], bool]:
    """``everywhere(ok)``: True on every rank iff ``ok`` holds on every rank (collective)."""
    from mpi4py import MPI

    return lambda ok: comm.allreduce(bool(ok), op=MPI.LAND)


@pytest.fixture
def shared_dir(tmp_path, comm) -> Path:
    """One directory that every rank uses: rank 0's ``tmp_path``."""
    return Path(comm.bcast(str(tmp_path), root=0))
