#!/usr/bin/env bash
# The issue-14 protocol on mixed shapes + photoreal synthetic data: the cpu-tiny teacher, then students per
# distillation rung and training seed. Train: 40 mixed-real sequences (seeds 0-39); validation: 16 mixed-real
# (seeds 20000-20015; the student choice and the tracker thresholds are made on it); test: 64 sequences
# (32 mixed shapes, seeds 10000-10031, and 32 mixed-real, seeds 11000-11031; only reported). Seeds 0,1,2 per
# rung; OUT/results.{json,md} (mean +- SD over seeds, paired bootstrap CIs against `none`).
# RUNGS defaults to what ran for the README (none,response: data ~15 min, teacher ~15 min, six students ~13 min
# and their evaluation ~10 min on the 2 shared cores); RUNGS=none,response,hdetrack,hdetrack+ot,hdetrack+temporal,had
# is the full ladder (hours there). SHIP=PATH copies the student chosen on validation to PATH; check it on the
# real development set first (bench/eval_real.sh OUT MODEL): the README's choice was not shipped for that reason.
# Usage: [RUNGS=...] [SHIP=...] bench/train_ladder.sh [OUT] (default /tmp/had_ladder)
set -euo pipefail
OUT="$(realpath -m "${1:-/tmp/had_ladder}")"
RUNGS="${RUNGS:-none,response}"
SHIP_ARGS=()
[ -n "${SHIP:-}" ] && SHIP_ARGS=(--ship "$SHIP")
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
exec python -m had_tracker.cli train ladder \
  --out "$OUT" \
  --train-data "synthetic:preset=mixed-real,sequences=40,seed=0,jobs=2" \
  --val-data "synthetic:preset=mixed-real,sequences=16,seed=20000,jobs=2" \
  --test-data "synthetic:preset=mixed,sequences=32,seed=10000,jobs=2;synthetic:preset=mixed-real,sequences=32,seed=11000,jobs=2" \
  --teacher-config cpu-tiny-teacher --student-config cpu-tiny-student \
  --teacher-steps 1000 --student-steps 1000 \
  --rungs "$RUNGS" --jobs 6 --threads 2 --seeds 0,1,2 "${SHIP_ARGS[@]}"
