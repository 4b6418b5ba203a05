#!/usr/bin/env bash
# Train the cpu-tiny teacher and the six-rung student ablation ladder on synthetic data, evaluate every
# model on held-out synthetic sequences, write OUT/results.{json,md} and ship the best student.
# About 35-45 minutes on 2 shared CPU cores. Usage: bench/train_ladder.sh [OUT] (default /tmp/had_ladder)
set -euo pipefail
OUT="${1:-/tmp/had_ladder}"
mkdir -p "$OUT"
exec python -m had_tracker.cli train ladder \
  --out "$OUT" \
  --train-data "synthetic:preset=mixed,sequences=16,seed=0,jobs=2" \
  --test-data "synthetic:preset=mixed,sequences=8,seed=10000,jobs=2" \
  --teacher-config cpu-tiny-teacher --student-config cpu-tiny-student \
  --jobs 2 --seed 0 \
  --ship had_tracker/resources/weights/student_cpu_tiny.pt
