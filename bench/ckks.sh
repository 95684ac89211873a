#!/usr/bin/env bash
# ckks.sh - run `privnn bench ckks` (ms per CKKS operation, N = 8192, 16384, 32768) into bench/out/ckks.csv
# and, if gnuplot is installed, render bench/out/ckks.png (one group of bars per operation, one bar per N).
# usage: bench/ckks.sh [BUILD_DIR or path/to/privnn] [extra options for privnn bench ckks]
#        env QUICK=1 (N = 8192 only, 30 ms per operation), THREADS (REPEAT: not used; each
#        operation repeats for --min-ms and reports the median)
#        (bench/run-all.sh passes the build directory; default: build)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/common.sh"
bin=$(bench_bin ckks.sh "${1:-}")
shift || true
out="$here/out"
mkdir -p "$out"
knobs=()
[ "$QUICK" = 1 ] && knobs+=(--n 8192 --min-ms 30)
[ -n "${THREADS:-}" ] && knobs+=(--threads "$THREADS")
"$bin" bench ckks --csv "$out/ckks.csv" "${knobs[@]}" "$@" | tee "$out/ckks.txt"
bench_meta "$bin" "$out/ckks.csv"
# pivot n,op,ms into op,ms@8192,ms@16384,ms@32768 for a clustered histogram
ns=$(tail -n +2 "$out/ckks.csv" | cut -d, -f1 | sort -n | uniq | tr '\n' ' ')
awk -F, -v ns="$ns" 'BEGIN { k = split(ns, list, " ") }
         NR > 1 { if (!($2 in seen)) { seen[$2] = 1; order[++m] = $2 } v[$2, $1] = $3 }
         END { printf "op"; for (i = 1; i <= k; i++) printf ",N=%s", list[i]; printf "\n";
               for (j = 1; j <= m; j++) { o = order[j]; printf "%s", o;
                 for (i = 1; i <= k; i++) { x = v[o, list[i]]; printf ",%s", (x == "" ? "NaN" : x) }
                 printf "\n" } }' "$out/ckks.csv" > "$out/ckks_pivot.csv"
bench_bars "$out/ckks_pivot.csv" "$out/ckks.png" "privnn CKKS, single thread (process CPU time)" \
  "ms per operation (log scale)" "set logscale y" "set xtics rotate by -45"
