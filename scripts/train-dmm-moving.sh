#!/usr/bin/env bash
# Reproduce the DMM network shipped as sciml/mesh_movers/weights/moving.eqx (+ .json): the
# mover for moving-mesh simulations (sciml/mesh_movers/simulation.py).
#
#   bash scripts/train-dmm-moving.sh                       # generate, train and install
#   OUT=/tmp/dmm-moving RESUME=1 bash scripts/train-dmm-moving.sh   # continue a run
#
# Step 1 runs Burgers and Allen-Cahn from seeds 1000..1023 on a uniform 96 x 96 mesh (dt 0.005)
# and keeps u (on the network's 32 x 32 input grid) and the smoothed gradient monitor of every
# 20th step (<OUT>/snapshots.npz, reused when present); step 2 fine-tunes the shipped "fronts"
# network on the data-free Monge-Ampere loss with those monitors (1,000 Adam steps, seeded,
# checkpointed, resumable; about 25 min on one loaded CPU thread). The last 2 seeds per problem are
# held out; their loss before/after is in moving.json.
set -euo pipefail
OUT="${OUT:-sciml-out/dmm-moving}"
export OMP_NUM_THREADS=1 XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
python -m sciml.mesh_movers.snapshots --seed 0 --steps 1000 --seeds 24 --out "$OUT" --install \
  ${RESUME:+--resume}
