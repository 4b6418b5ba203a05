#!/usr/bin/env bash
# The real-recording development set (data/labels/*.json, recordings in ../shared/data): the shipped student
# and the OpenCV baselines through the same harness (`had-tracker eval dataset --format real`), one report per
# tracker and sequence, then one table per sequence. KCF and CSRT need the optional opencv-contrib extra
# (pip install opencv-contrib-python-headless); without it those rows are skipped with a note. MIL draws random
# samples from a generator Python cannot seed, so each MIL row is the mean of MIL_REPEATS runs (default 10; the
# report keeps each run's SR). WINDOW_HZ=200: event trackers update at the live node's window rate between frames
# (default: once per label frame); RGB trackers always update per frame.
# Usage: bench/eval_real.sh [OUT] [MODEL]   (default /tmp/had_real, the shipped student)
set -uo pipefail
OUT="$(realpath -m "${1:-/tmp/had_real}")"
MODEL="${2:-}"
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
for label in data/labels/*.json; do
  seq="$(basename "$label" .json)"
  trackers="student mil-events kcf-events csrt-events"
  if python -c "import json,sys; sys.exit(0 if 'aedat4' in json.load(open('$label'))['recording'] else 1)"; then
    trackers="$trackers mil-rgb kcf-rgb csrt-rgb"  # APS frames: the RGB baselines too
  fi
  reports=()
  for t in $trackers; do
    args=(eval dataset --root "$label" --format real --out "$OUT/$seq/$t" --tracker "$t" --workers 1)
    case "$t" in mil-*) args+=(--repeats "${MIL_REPEATS:-10}") ;; esac
    case "$t" in *-rgb) ;; *) [ -n "${WINDOW_HZ:-}" ] && args+=(--window-hz "$WINDOW_HZ") ;; esac
    [ "$t" = student ] && [ -n "$MODEL" ] && args+=(--model "$MODEL")
    if python -m had_tracker.cli "${args[@]}" > "$OUT/$seq.$t.log" 2>&1; then
      reports+=("$OUT/$seq/$t")
    else
      echo "note: $t on $seq did not run: $(tail -n 1 "$OUT/$seq.$t.log")" >&2
    fi
  done
  echo "### $seq"
  python -m had_tracker.cli eval compare "${reports[@]}"
done
