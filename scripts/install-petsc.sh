#!/usr/bin/env bash
# Install PETSc, petsc4py, mpi4py and MPICH from PyPI (PETSc is built from source: ~15 min).
#
# Idempotent: every step is skipped when it is already satisfied, so a second run takes a
# second. Usage: bash scripts/install-petsc.sh   (PYTHON=python3.11 to pick the interpreter)
set -euo pipefail

PYTHON=${PYTHON:-python}
PETSC_CONFIGURE_OPTIONS=${PETSC_CONFIGURE_OPTIONS:-"--with-debugging=0 --with-fc=0 --with-x=0 \
--with-cuda=0 --with-hip=0 --with-sycl=0 --COPTFLAGS=-O2 --CXXOPTFLAGS=-O2"}
export PETSC_CONFIGURE_OPTIONS

log() { echo "install-petsc: $*"; }
importable() { "$PYTHON" -c "import $1" >/dev/null 2>&1; }
pip_install() { "$PYTHON" -m pip install --disable-pip-version-check "$@"; }

if importable "petsc4py.PETSc" && importable "mpi4py.MPI"; then
    log "petsc4py and mpi4py already work; nothing to do"
    exit 0
fi

if ! dpkg -s libopenblas-dev liblapack-dev >/dev/null 2>&1; then
    log "installing BLAS/LAPACK headers (apt)"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update
    $SUDO apt-get install -y libopenblas-dev liblapack-dev
fi

missing=()
for pkg in mpich mpi4py numpy cython wheel setuptools; do
    "$PYTHON" -m pip show "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    pip_install "${missing[@]}"
fi

if ! importable petsc; then
    log "building PETSc from PyPI with: $PETSC_CONFIGURE_OPTIONS"
    pip_install petsc
fi

if ! importable "petsc4py.PETSc"; then
    version=$("$PYTHON" -m pip show petsc | sed -n 's/^Version: \([0-9]*\.[0-9]*\).*/\1/p')
    log "building petsc4py $version.* against the installed PETSc"
    pip_install --no-build-isolation "petsc4py==$version.*"
fi

"$PYTHON" -c "from petsc4py import PETSc; from mpi4py import MPI; \
print('install-petsc: PETSc', '.'.join(map(str, PETSc.Sys.getVersion())), '|', MPI.Get_library_version().splitlines()[0])"
