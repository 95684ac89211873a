#!/usr/bin/env bash
# ckks_boot.sh - run `privnn bench ckks --bootstrap` (N = 2^15 and 2^16, full and 2^12 slots, 1 and 2
# threads, median of 3) into bench/out/ckks_boot.{csv,json,txt} and, if gnuplot is installed, render
# bench/out/ckks_boot.png (wall-clock seconds per bootstrap, one bar per thread count).
# Needs ~9.2 GB of memory and ~25 min on 2 quiet cores (key generation is most of it); figures from a
# machine shared with other jobs are not timing figures.
# usage: bench/ckks_boot.sh [BUILD_DIR or path/to/privnn] [extra options for privnn bench ckks --bootstrap]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/common.sh"
bin=$(bench_bin ckks_boot.sh "${1:-}")
shift || true
out="$here/out"
mkdir -p "$out"
"$bin" bench ckks --bootstrap --n 32768,65536 --slots 0,12 --threads 1,2 --reps 3 \
  --csv "$out/ckks_boot.csv" --json "$out/ckks_boot.json" "$@" | tee "$out/ckks_boot.txt"
bench_meta "$bin" "$out/ckks_boot.csv"
# n,slots,threads,ms,... -> "N=n slots=s",s@1 thread,s@2 threads
awk -F, 'NR > 1 { k = "N=" $1 " slots=" $2; if (!(k in seen)) { seen[k] = 1; order[++m] = k }
                  v[k, $3] = $4 / 1000; if (!($3 in th)) { th[$3] = 1; tl[++t] = $3 } }
         END { printf "config"; for (i = 1; i <= t; i++) printf ",%s thread(s)", tl[i]; printf "\n";
               for (j = 1; j <= m; j++) { printf "%s", order[j];
                 for (i = 1; i <= t; i++) { x = v[order[j], tl[i]]; printf ",%s", (x == "" ? "NaN" : x) }
                 printf "\n" } }' "$out/ckks_boot.csv" > "$out/ckks_boot_pivot.csv"
bench_bars "$out/ckks_boot_pivot.csv" "$out/ckks_boot.png" "privnn CKKS bootstrapping" \
  "s per bootstrap (wall-clock, median)"
