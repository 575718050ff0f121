#!/usr/bin/env bash
# Reproduce the neural operator shipped in sciml/neural_operators/weights/ (darcy.eqx/.json):
# an FNO (8 modes, width 24, projection ratio 2) trained for 20 epochs (batch 10) on the first
# 1,000 of 1,400 Darcy samples on the 64 x 64 grid (seed 0); the last 200 are held out. This is
# the FNO of benchmarks/bench_neural_operators.py's full run (held-out relative L2 3.0%).
#
#   bash scripts/train-operator-weights.sh
#   OUT=/tmp/operator RESUME=1 bash scripts/train-operator-weights.sh    # continue a run
#
# Data go to $OUT/darcy64 (python -m sciml datagen, resumable), the training run to
# $OUT/fno-darcy (checkpoints, figures, model.eqx/.json), then the model is copied into the
# package. About 12 minutes on two idle CPU cores.
set -euo pipefail
OUT="${OUT:-sciml-out/operator}"
python -m sciml datagen --problem darcy --count 1400 --grid 64 --seed 0 --method cg --pc amg \
  --sort none --out "$OUT/darcy64"
python -m sciml train-operator --model fno --data "$OUT/darcy64" --out "$OUT/fno-darcy" \
  --epochs 20 --batch-size 10 --train 1000 --test 200 --seed 0 --set modes=8 --set width=24 \
  --set projection_ratio=2 ${RESUME:+--resume}
WEIGHTS="$(python -c 'from sciml.neural_operators.saving import WEIGHTS_DIR; print(WEIGHTS_DIR)')"
cp "$OUT/fno-darcy/model.eqx" "$WEIGHTS/darcy.eqx"
cp "$OUT/fno-darcy/model.json" "$WEIGHTS/darcy.json"
echo "installed $WEIGHTS/darcy.eqx"
