#!/usr/bin/env bash
# Reproduce the error operator of the HINTS preconditioner (pc="hints") shipped in
# sciml/neural_operators/weights/darcy-error.eqx/.json: an FNO (12 modes, width 20, 4 layers;
# two input channels: the coefficient channel read off the matrix and the scaled residual)
# trained for 30 epochs on 1,200 error-equation samples (300 Darcy coefficient fields at
# 64 x 64, seed 0, four residual kinds each: smooth random fields, white noise, relaxation
# errors, the family's right-hand side) and checked on 64 samples of seed 1000.
#
#   bash scripts/train-error-operator.sh                     # Darcy
#   FAMILIES="darcy helmholtz" bash scripts/train-error-operator.sh   # both shipped models
#   RESUME=1 bash scripts/train-error-operator.sh            # continue a stopped run
#
# Data and runs go to $OUT/error-<family> (checkpoints, model.eqx/.json) and the model is copied
# into the package. Helmholtz (helmholtz-error): the same FNO trained through the HINTS cycle
# by the residual it leaves (python -m sciml.neural_operators.cycle_train: k h 0.2-0.3, 150
# fields on 64 x 64, 4 random residuals per field, 10 epochs, then one Krylov round: the pc's
# inputs inside FGMRES(40), 8 per field, and 6 more epochs), checked on 8 fields of seed 1000;
# trained at 64^2 only; at 128^2 the pc runs it on its 64^2 grid (two-grid) and FGMRES needs
# a long restart (300: every hidden sample converges; 40: none). About 30 minutes (Darcy) and
# 12 minutes (Helmholtz) on one CPU core.
set -euo pipefail
OUT="${OUT:-sciml-out}"
FAMILIES="${FAMILIES:-darcy}"
for family in $FAMILIES; do
  if [ "$family" = helmholtz ]; then
    python -m sciml.neural_operators.cycle_train --family helmholtz --grids 64 \
      --fields 150 --test-fields 8 --epochs 10 --rounds 1 --round-epochs 6 --batch-size 8 \
      --seed 0 --set modes=12 --set width=20 --out "$OUT/error-helmholtz" \
      --install helmholtz-error ${RESUME:+--resume}
  else
    python -m sciml.neural_operators.error_train --family darcy --grid 64 --fields 300 \
      --test-fields 16 --epochs 30 --seed 0 --set modes=12 --set width=20 \
      --out "$OUT/error-darcy" --install darcy-error ${RESUME:+--resume}
  fi
done
