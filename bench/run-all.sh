#!/bin/bash
# run-all.sh - run every benchmark script bench/*.sh (except this one and common.sh) with the build dir as $1.
#
# usage: bench/run-all.sh [BUILD_DIR]      (default: build)
#        env QUICK=1 (a few minutes in all), THREADS, REPEAT: every script's knobs (bench/common.sh)
# Each script runs even if an earlier one failed; the exit status is non-zero if any failed, and a
# summary lists each script's status and wall time. Outputs land in bench/out/.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build}
[ -x "$BUILD/privnn" ] || { echo "run-all.sh: $BUILD/privnn not found (build first)" >&2; exit 1; }
mkdir -p "$HERE/out"
export QUICK=${QUICK:-0}
[ -n "${THREADS:-}" ] && export THREADS
[ -n "${REPEAT:-}" ] && export REPEAT
t_all=$(date +%s)
failed=0
summary=()
for s in "$HERE"/*.sh; do
  name=$(basename "$s")
  [ "$name" = "run-all.sh" ] || [ "$name" = "common.sh" ] && continue
  echo "=== $name ==="
  t0=$(date +%s)
  if bash "$s" "$BUILD"; then st=ok; else st="FAILED (exit $?)"; failed=$((failed + 1)); fi
  summary+=("$(printf "%-28s %-18s %5ss" "$name" "$st" $(($(date +%s) - t0)))")
  echo
done
echo "=== summary (QUICK=$QUICK, $(($(date +%s) - t_all)) s in all; load $(cut -d' ' -f1-3 /proc/loadavg)) ==="
printf "%s\n" "${summary[@]}"
[ $failed -eq 0 ]
