#!/usr/bin/env bash
# Reproduce the learned multigrid prolongation shipped as sciml/dcdm/weights/contrast2d.eqx
# (DCDM's "learned-mg" kind, sciml/dcdm/learned_prolongation.py).
#
#   bash scripts/train-dcdm-mg.sh                 # train (seed 0) and install
#   OUT=/tmp/mg RESUME=1 bash scripts/train-dcdm-mg.sh   # continue an interrupted run
#
# Unsupervised: the energy reduction of V-cycles 5-8 from random errors on random sharp
# high-contrast fields (inclusions, channels, boxes, cracks; contrast 1e1-1e6, conducting or
# insulating) on 32^2 and 64^2 grids, 1,500 Adam steps; about 10 minutes on one core
# (most of it compiling). Checkpoints and the final weights go to $OUT/contrast2d/ (default
# ./sciml-out/dcdm-mg), then the .eqx/.json pair is copied into the package.
set -euo pipefail
OUT="${OUT:-sciml-out/dcdm-mg}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export XLA_FLAGS="${XLA_FLAGS:---xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1}"
python -m sciml.dcdm.train_prolongation --model contrast2d --ndim 2 --grid 32 64 \
  --steps 1500 --lr 3e-4 --batch 8 --cycles 8 --skip 4 --width 16 --layers 2 --seed 0 \
  --out "$OUT" ${RESUME:+--resume}
cp "$OUT/contrast2d/contrast2d.eqx" "$OUT/contrast2d/contrast2d.json" sciml/dcdm/weights/
echo "installed sciml/dcdm/weights/contrast2d.eqx"
