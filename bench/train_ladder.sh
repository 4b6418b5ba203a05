#!/usr/bin/env bash
# Train the cpu-tiny teacher and the six-rung student ablation ladder on synthetic data, evaluate every
# model on validation and test synthetic sequences (3 seeds per rung, 64 test sequences), write
# OUT/results.{json,md} and ship the student chosen on validation. Three seeds and the larger sets make it
# several hours on 2 CPU cores (the one-seed, 8-sequence version took 50-60 minutes).
# Usage: bench/train_ladder.sh [OUT] (default /tmp/had_ladder)
set -euo pipefail
OUT="$(realpath -m "${1:-/tmp/had_ladder}")"
cd "$(dirname "$0")/.."  # --ship below is relative to the repository root
mkdir -p "$OUT"
exec python -m had_tracker.cli train ladder \
  --out "$OUT" \
  --train-data "synthetic:preset=mixed,sequences=32,seed=0,jobs=2" \
  --val-data "synthetic:preset=mixed,sequences=16,seed=20000,jobs=2" \
  --test-data "synthetic:preset=mixed,sequences=64,seed=10000,jobs=2" \
  --teacher-config cpu-tiny-teacher --student-config cpu-tiny-student \
  --teacher-steps 1500 --student-steps 1500 \
  --jobs 2 --threads 2 --seeds 0,1,2 \
  --ship had_tracker/resources/weights/student_cpu_tiny.pt
