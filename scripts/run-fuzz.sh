#!/usr/bin/env bash
# run-fuzz.sh - run every libFuzzer binary in DIR (default build-fuzz/fuzz) for SECONDS each (default 60),
# each with its seed corpus fuzz/seeds/<name without fuzz_>/ when it exists, and the valid objects seedgen
# writes to DIR/seeds-gen/<name without fuzz_>/. New corpus entries go to a
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
# valid CKKS/FHE objects (made with keys, so not committed): seedgen writes them for those targets
if [ -x "$dir/seedgen" ] && ! "$dir/seedgen" "$dir/seeds-gen" >/dev/null; then
  echo "run-fuzz: $dir/seedgen failed" >&2
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
  [ -d "$dir/seeds-gen/${name#fuzz_}" ] && cp -r "$dir/seeds-gen/${name#fuzz_}"/. "$corpus"/
  echo "== $name: ${secs}s, seeds $(ls "$corpus" | wc -l)"
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
