#!/usr/bin/env bash
# Install everything the test suite needs (including PETSc/petsc4py/MPI from PyPI) and run it.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --upgrade pip
bash scripts/install-petsc.sh
python -m pip install --quiet -e ".[test,docs]"

# Serial suite (PETSc serial tests and the example notebooks included), then the MPI suite on
# 2 ranks (one BLAS thread per rank: threaded OpenBLAS in two ranks oversubscribes the cores).
python -m pytest -q "$@"
# Static types of solvers/ ([tool.mypy] in pyproject.toml; also run by tests/solvers/test_typing.py).
python -m mypy
# The ranks must run the same tests in the same order (collectives): no random order there.
OPENBLAS_NUM_THREADS=1 timeout 600 mpiexec -n 2 python -m pytest tests/mpi -q -p no:cacheprovider \
    -p no:randomly

# The user documentation (mkdocs + mkdocstrings + the notebooks), warnings as errors.
NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
