#!/usr/bin/env bash
# ort-diff.sh - privnn's executor against ONNX Runtime on random graphs (tests/graph/test_diff.c).
#
#   scripts/ort-diff.sh [--seed S|random] [--count N] [--chunk C] [--level L] [--build DIR]
#
# Draws graphs S .. S+N-1 (default: seed 1, 2000 graphs) with test_diff, which first checks
# privnn's fused and optimized executions against its node-by-node reference, then writes each
# graph, its privnn-optimized form, inputs and reference outputs; scripts/ort-diff.js runs both
# models in onnxruntime-node and compares. Works in chunks of C graphs (default 1000) in a
# temporary folder. ORT's graph optimizations are off by default (--level disabled): ORT is the
# oracle for the ops' semantics, and its own fusions have faults of their own (see
# docs/engine.md). onnxruntime-node is installed on first use into bench/.ort/
# (git-ignored; ONNXRUNTIME_NODE_INSTALL=skip), never a build dependency.
# Exit status 1 if either comparison found a disagreement or an error.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seed=1 count=2000 chunk=1000 level=disabled build=$root/build
while [[ $# -gt 0 ]]; do
  case $1 in
    --seed) seed=${2:?--seed needs a value}; shift 2 ;;
    --count) count=${2:?--count needs a value}; shift 2 ;;
    --chunk) chunk=${2:?--chunk needs a value}; shift 2 ;;
    --level) level=${2:?--level needs a value}; shift 2 ;;
    --build) build=${2:?--build needs a value}; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "ort-diff.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ $count =~ ^[0-9]+$ && $chunk =~ ^[1-9][0-9]*$ ]] || { echo "ort-diff.sh: --count and --chunk take numbers" >&2; exit 2; }
if [[ $seed == random ]]; then seed=$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); fi
[[ $seed =~ ^[0-9]+$ ]] || { echo "ort-diff.sh: --seed takes a number or 'random'" >&2; exit 2; }
diff_bin=$build/tests/test_diff
[[ -x $diff_bin ]] || { echo "ort-diff.sh: $diff_bin not found (run make first)" >&2; exit 1; }
ort_dir=$root/bench/.ort
if [[ ! -d $ort_dir/node_modules/onnxruntime-node ]]; then
  command -v npm >/dev/null || { echo "ort-diff.sh: npm not found (apt-get install npm)" >&2; exit 1; }
  mkdir -p "$ort_dir"
  echo "ort-diff.sh: installing onnxruntime-node into $ort_dir" >&2
  ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --no-audit --no-fund --prefix "$ort_dir" onnxruntime-node >&2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/pn-ort-diff.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "ort-diff.sh: graphs $seed..$((seed + count - 1)), ORT level $level"
status=0 graphs=0 models=0 bad=0 errors=0
for ((s = seed; s < seed + count; s += chunk)); do
  n=$((seed + count - s < chunk ? seed + count - s : chunk))
  rm -rf "$work/d"
  if ! "$diff_bin" --seed "$s" --count "$n" --dump "$work/d" | grep -v '^test_diff:'; then status=1; fi
  # ort-diff.js's report goes to our stderr through the open descriptor: `tee /dev/stderr` would
  # reopen a log file that stderr is redirected to, truncating it at every chunk
  report=$(NODE_PATH=$ort_dir/node_modules node "$root/scripts/ort-diff.js" "$work/d" --level "$level") || status=1
  printf '%s\n' "$report" >&2
  line=$(printf '%s\n' "$report" | tail -1)
  read -r g m b e < <(echo "$line" | sed -E 's/ort-diff: ([0-9]+) graphs, ([0-9]+) models compared, ([0-9]+) disagreements, ([0-9]+) ORT errors.*/\1 \2 \3 \4/')
  graphs=$((graphs + g)) models=$((models + m)) bad=$((bad + b)) errors=$((errors + e))
done
echo "ort-diff.sh: $graphs graphs, $models models run in ONNX Runtime, $bad disagreements, $errors ORT errors"
exit $status
