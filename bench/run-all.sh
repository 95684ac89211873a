#!/bin/bash
# run-all.sh - run every benchmark script bench/*.sh (except this one) with the build dir as $1.
#
# usage: bench/run-all.sh [BUILD_DIR]      (default: build)
# Each script runs even if an earlier one failed; the exit status is non-zero if any failed, and a
# summary lists each script's status and wall time. Outputs land in bench/out/.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build}
[ -x "$BUILD/privnn" ] || { echo "run-all.sh: $BUILD/privnn not found (build first)" >&2; exit 1; }
mkdir -p "$HERE/out"
failed=0
summary=()
for s in "$HERE"/*.sh; do
  name=$(basename "$s")
  [ "$name" = "run-all.sh" ] && continue
  echo "=== $name ==="
  t0=$(date +%s)
  if bash "$s" "$BUILD"; then st=ok; else st="FAILED (exit $?)"; failed=$((failed + 1)); fi
  summary+=("$(printf "%-28s %-18s %5ss" "$name" "$st" $(($(date +%s) - t0)))")
  echo
done
echo "=== summary ==="
printf "%s\n" "${summary[@]}"
[ $failed -eq 0 ]
