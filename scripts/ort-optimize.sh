#!/usr/bin/env bash
# ort-optimize.sh - optimize a Proteus bundle (or one model) with ONNX Runtime's graph optimizer.
#
#   scripts/ort-optimize.sh [--level basic|extended] [--consume] BUNDLE_IN BUNDLE_OUT
#   scripts/ort-optimize.sh [--level basic|extended] MODEL.onnx OUT.onnx
#
# --consume removes each file of BUNDLE_IN once its optimized copy is written (a bundle too large to
# be on the disk twice; bench/proteus.sh uses it).
# Uses npm's onnxruntime-node (CPU), installed on first use into bench/.ort/ (git-ignored, shared
# with bench/ort_compare.sh) with ONNXRUNTIME_NODE_INSTALL=skip. Default level: extended ('all'
# adds hardware-specific NCHWc layouts; see docs/proteus.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
level=extended
consume=()
while [[ ${1:-} == --level || ${1:-} == --consume ]]; do
  if [[ $1 == --consume ]]; then consume=(consume); shift; continue; fi
  level=${2:?--level needs a value}
  shift 2
done
if [[ $# -ne 2 || ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  [[ $# -eq 2 ]] && exit 0 || exit 2
fi
case $level in disabled|basic|extended|all) ;; *) echo "ort-optimize.sh: unknown level '$level'" >&2; exit 2;; esac
[[ -e $1 ]] || { echo "ort-optimize.sh: $1: no such file or folder" >&2; exit 1; }
[[ ${#consume[@]} -eq 0 || -d $1 ]] || { echo "ort-optimize.sh: --consume needs a bundle folder, not $1" >&2; exit 2; }
ort_dir=$root/bench/.ort
if [[ ! -d $ort_dir/node_modules/onnxruntime-node ]]; then
  command -v npm >/dev/null || { echo "ort-optimize.sh: npm not found (apt-get install npm)" >&2; exit 1; }
  mkdir -p "$ort_dir"
  echo "ort-optimize.sh: installing onnxruntime-node into $ort_dir" >&2
  ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --prefix "$ort_dir" onnxruntime-node >&2
fi
NODE_PATH=$ort_dir/node_modules exec node "$root/scripts/ort-optimize.js" "$level" "$1" "$2" "${consume[@]}"
