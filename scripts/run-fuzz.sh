#!/usr/bin/env bash
# run-fuzz.sh - run every libFuzzer binary in DIR (default build-fuzz/fuzz) for SECONDS each (default 60),
# each with its seed corpus fuzz/seeds/<name without fuzz_>/ when it exists. New corpus entries go to a
# scratch copy; crashes land in build-fuzz/fuzz/artifacts/. Exit status 1 if any fuzzer failed.
set -u
dir=${1:-build-fuzz/fuzz}
secs=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
bins=("$dir"/fuzz_*)
if [ ${#bins[@]} -eq 0 ]; then
  echo "run-fuzz: no fuzz_* binaries in $dir (build with -DPN_FUZZ=ON, CC=clang)" >&2
  exit 1
fi
artifacts="$dir/artifacts"
mkdir -p "$artifacts"
status=0
for bin in "${bins[@]}"; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  seeds="$root/fuzz/seeds/${name#fuzz_}"
  corpus=$(mktemp -d "${TMPDIR:-/tmp}/pn-corpus-$name.XXXXXX")
  [ -d "$seeds" ] && cp -r "$seeds"/. "$corpus"/
  echo "== $name: ${secs}s, seeds $( [ -d "$seeds" ] && ls "$seeds" | wc -l || echo 0 )"
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$artifacts/$name-" "$corpus" 2>"$dir/$name.log"; then
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$dir/$name.log" | sed 's/^/   /'
    echo "   ok"
  else
    status=1
    echo "   FAILED: see $dir/$name.log and $artifacts/" >&2
    grep -E "ERROR|SUMMARY|==ERROR" "$dir/$name.log" | head -5 >&2
  fi
  rm -rf "$corpus"
done
exit $status
