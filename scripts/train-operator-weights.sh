#!/usr/bin/env bash
# Reproduce the neural operator shipped in sciml/neural_operators/weights/ (darcy.eqx/.json):
# an FNO (8 modes, width 24) trained for 10 epochs on 800 of 1,000 Darcy samples on the 32 x 32 grid (seed 0).
#
#   bash scripts/train-operator-weights.sh
#   OUT=/tmp/operator RESUME=1 bash scripts/train-operator-weights.sh    # continue a run
#
# Data go to $OUT/darcy32 (python -m sciml datagen, resumable), the training run to
# $OUT/fno-darcy (checkpoints, figures, model.eqx/.json), then the model is copied into the
# package. About 10 minutes on two idle CPU cores.
set -euo pipefail
OUT="${OUT:-sciml-out/operator}"
python -m sciml datagen --problem darcy --count 1000 --grid 32 --seed 0 --method cg --pc amg \
  --sort none --out "$OUT/darcy32"
python -m sciml train-operator --model fno --data "$OUT/darcy32" --out "$OUT/fno-darcy" \
  --epochs 10 --batch-size 20 --test 200 --seed 0 --set modes=8 --set width=24 \
  --eval-every 5 ${RESUME:+--resume}
WEIGHTS="$(python -c 'from sciml.neural_operators.saving import WEIGHTS_DIR; print(WEIGHTS_DIR)')"
cp "$OUT/fno-darcy/model.eqx" "$WEIGHTS/darcy.eqx"
cp "$OUT/fno-darcy/model.json" "$WEIGHTS/darcy.json"
echo "installed $WEIGHTS/darcy.eqx"
