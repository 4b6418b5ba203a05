#!/usr/bin/env bash
# The choice rule of issue 14 for new students (README, "Measured, not shipped"): the three 16-sequence validation
# sets (made once under OUT/data: mixed-real 20000-20015, elongated 21000-21015, sparse photoreal 22000-22015) and
# the labelled real recordings (data/labels, recordings in ../shared/data; skipped with a note where absent), each
# scored for the shipped student and for every CKPT (the seeds of one recipe); then `eval paired` per validation
# set (seed-averaged CIs against the shipped student) and each student's choice score: the mean of its synthetic
# validation mean (mixed-real and elongated) and its real mean. A student replaces the shipped one only with a score
# at least 1 point higher and the shipped-network behaviour tests passing (copy it over
# had_tracker/resources/weights/student_cpu_tiny.pt in a scratch checkout, then pytest test/test_tracking_shipped.py).
# Usage: bench/validate_student.sh OUT CKPT [CKPT ...]   (env TRACKER_CONFIG=YAML: tracker settings for all runs;
# WINDOW_HZ=200: every student updates at the live node's window rate between frames, ~8x the evaluation time;
# use a fresh OUT, since finished reports are reused)
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OUT CKPT [CKPT ...]" >&2; exit 2; }
OUT="$(realpath -m "$1")"
shift
ckpts=()
for c in "$@"; do
  [ -f "$c" ] || { echo "no checkpoint at $c" >&2; exit 2; }
  ckpts+=("$(realpath "$c")")
done
cd "$(dirname "$0")/.."
cli=(python -m had_tracker.cli)
python -c "import had_tracker.cli" 2> /dev/null || {
  echo "had_tracker is not importable by $(command -v python || echo "python (none on PATH)"): activate the project's venv (. .venv/bin/activate)" >&2
  exit 2
}
tracker_args=()
[ -n "${TRACKER_CONFIG:-}" ] && tracker_args=(--tracker-config "$(realpath "$TRACKER_CONFIG")")
[ -n "${WINDOW_HZ:-}" ] && tracker_args+=(--window-hz "$WINDOW_HZ")
mkdir -p "$OUT/data"
printf 'target_stretch_max: 3.0\n' > "$OUT/data/stretch.yaml"
printf 'target_stretch_max: 3.0\ncontrast_threshold_pos: 0.6\ncontrast_threshold_neg: 0.6\n' > "$OUT/data/sparse.yaml"
make_set() {  # name seed preset [config]
  [ -d "$OUT/data/$1" ] && return 0
  local args=(synth --out "$OUT/data/$1.tmp" --sequences 16 --seed "$2" --preset "$3" --format folder)
  [ -n "${4:-}" ] && args+=(--config "$OUT/data/$4")
  rm -rf "$OUT/data/$1.tmp"
  "${cli[@]}" "${args[@]}" > "$OUT/data/$1.log" 2>&1
  mv "$OUT/data/$1.tmp" "$OUT/data/$1"
}
make_set val_mr 20000 mixed-real
make_set val_el 21000 mixed-real stretch.yaml
make_set val_sp 22000 photoreal sparse.yaml

real=1
rc=0
python - <<'EOF' || rc=$?
import pathlib, sys
from had_tracker.data.labels.label_file import read_label_file
from had_tracker.data.labels.recordings import default_data_root
# only that the recordings are there (../shared/data, outside the repository); eval dataset reads them
for label in sorted(pathlib.Path("data/labels").glob("*.json")):
    if not (default_data_root() / read_label_file(label)["recording"]).exists():
        print(f"note: {label.name}'s recording is not under {default_data_root()}; real rows skipped", file=sys.stderr)
        sys.exit(3)
EOF
case "$rc" in
  0) ;;
  3) real=0 ;;
  *) echo "checking the real recordings failed (exit $rc)" >&2; exit "$rc" ;;
esac

evaluate() {  # name [ckpt]
  local name="$1" model_args=()
  [ -n "${2:-}" ] && model_args=(--model "$2")
  for s in val_mr val_el val_sp; do
    [ -f "$OUT/$name/$s/report.json" ] || "${cli[@]}" eval dataset --root "$OUT/data/$s" --format synthetic \
      --out "$OUT/$name/$s" "${model_args[@]}" "${tracker_args[@]}" > "$OUT/$name.$s.log" 2>&1
  done
  if [ "$real" = 1 ]; then
    for label in data/labels/*.json; do
      local q
      q="$(basename "$label" .json)"
      [ -f "$OUT/$name/real/$q/report.json" ] || "${cli[@]}" eval dataset --root "$label" --format real \
        --out "$OUT/$name/real/$q" --workers 1 "${model_args[@]}" "${tracker_args[@]}" > "$OUT/$name.$q.log" 2>&1
    done
  fi
}
evaluate shipped
names=()
for i in "${!ckpts[@]}"; do
  evaluate "student_$i" "${ckpts[$i]}"
  names+=("student_$i")
done

for s in val_mr val_el val_sp; do
  echo "### $s"
  reports=()
  for n in "${names[@]}"; do reports+=("$OUT/$n/$s"); done
  "${cli[@]}" eval paired --base "$OUT/shipped/$s" --candidate "${reports[@]}" --labels "shipped,candidate"
  echo
done
python - "$OUT" shipped "${names[@]}" <<'EOF'
import pathlib, sys

from had_tracker.evaluation.paired import per_sequence

out, names = pathlib.Path(sys.argv[1]), sys.argv[2:]


def mean_sr(report: pathlib.Path) -> float:
    values = per_sequence(report)
    return sum(values.values()) / len(values)


print("| student | validation mixed-real | validation elongated | validation sparse | real mean | choice score |")
print("|---|---:|---:|---:|---:|---:|")
for n in names:
    v = {s: mean_sr(out / n / s / "report.json") for s in ("val_mr", "val_el", "val_sp")}
    reals = sorted((out / n / "real").glob("*/report.json"))
    real = sum(mean_sr(p) for p in reals) / len(reals) if reals else None
    score = ((v["val_mr"] + v["val_el"]) / 2 + real) / 2 if real is not None else None
    fmt = lambda x: "—" if x is None else f"{x:.2f}"  # noqa: E731
    print(f"| {n} | {v['val_mr']:.1f} | {v['val_el']:.1f} | {v['val_sp']:.1f} | {fmt(real)} | {fmt(score)} |")
EOF
