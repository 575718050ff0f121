#!/usr/bin/env bash
# Install everything the test suite needs (including PETSc/petsc4py/MPI from PyPI) and run it.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --upgrade pip
bash scripts/install-petsc.sh
python -m pip install --quiet -e ".[test]"

# Serial suite (PETSc serial tests included), then the MPI suite on 2 ranks (one BLAS
# thread per rank: two ranks with threaded OpenBLAS oversubscribe the cores badly).
python -m pytest -q "$@"
OPENBLAS_NUM_THREADS=1 timeout 600 mpiexec -n 2 python -m pytest tests/mpi -q -p no:cacheprovider
