#!/usr/bin/env bash
# Train the cpu-tiny teacher and the six-rung student ablation ladder on synthetic data, evaluate every
# model on held-out synthetic sequences, write OUT/results.{json,md} and ship the best student.
# About 50-60 minutes on 2 CPU cores. Usage: bench/train_ladder.sh [OUT] (default /tmp/had_ladder)
set -euo pipefail
OUT="$(realpath -m "${1:-/tmp/had_ladder}")"
cd "$(dirname "$0")/.."  # --ship below is relative to the repository root
mkdir -p "$OUT"
exec python -m had_tracker.cli train ladder \
  --out "$OUT" \
  --train-data "synthetic:preset=mixed,sequences=32,seed=0,jobs=2" \
  --test-data "synthetic:preset=mixed,sequences=8,seed=10000,jobs=2" \
  --teacher-config cpu-tiny-teacher --student-config cpu-tiny-student \
  --teacher-steps 1500 --student-steps 1500 \
  --jobs 2 --threads 2 --seed 0 \
  --ship had_tracker/resources/weights/student_cpu_tiny.pt
