#!/usr/bin/env bash
# Reproduce the DMM network shipped in sciml/mesh_movers/weights/fronts.eqx (+ .json).
#
#   bash scripts/train-dmm-weights.sh                 # train and install
#   OUT=/tmp/dmm RESUME=1 bash scripts/train-dmm-weights.sh   # continue an interrupted run
#
# Data-free: every batch of tanh fronts and collocation points is drawn from the seed, so
# the run is reproducible (bit-for-bit on the same machine and library versions) and
# resumable. Checkpoints and the final weights go to $OUT (default ./sciml-out/dmm), then
# --install copies fronts.eqx/.json into the package. The settings below are those of the
# shipped weights.
set -euo pipefail
OUT="${OUT:-sciml-out/dmm}"
python -m sciml train-dmm --seed 0 --steps 2500 --batch 8 --points 512 --lr 1e-3 \
  --alpha 1.0 --out "$OUT" --install ${RESUME:+--resume}
