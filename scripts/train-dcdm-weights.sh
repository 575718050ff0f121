#!/usr/bin/env bash
# Reproduce the DCDM networks shipped in sciml/dcdm/weights/ (one after the other).
#
#   bash scripts/train-dcdm-weights.sh            # train all five and install them
#   OUT=/tmp/dcdm bash scripts/train-dcdm-weights.sh poisson3d
#
# Each run uses the family defaults of sciml/dcdm/families.py (seed 0) and takes about
# 5-10 minutes on two CPU cores; checkpoints, cached Ritz vectors and the final weights go to
# $OUT/<model>/ (default ./sciml-out/dcdm), then --install copies <model>.eqx/.json into the
# package. Add --resume to continue an interrupted run. paper-poisson2d is the paper's
# nonlinear network (sciml/dcdm/paper_net.py, 2,500 steps on 64^2: ~15 min), for comparison.
set -euo pipefail
OUT="${OUT:-sciml-out/dcdm}"
MODELS=("$@")
if [ ${#MODELS[@]} -eq 0 ]; then
  MODELS=(poisson2d poisson3d diffusion2d diffusion3d paper-poisson2d)
fi
for model in "${MODELS[@]}"; do
  python -m sciml train-dcdm --model "$model" --seed 0 --out "$OUT" --install ${RESUME:+--resume}
done
