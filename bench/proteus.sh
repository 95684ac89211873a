#!/usr/bin/env bash
# proteus.sh - Proteus end to end on resnet50, mobilenetv2 and the BERT encoder.
#
# Per model: split (K sentinels per part) and join times; latency of the model optimized whole vs.
# optimized through Proteus (bundle optimized file by file, then joined), both in ONNX Runtime
# (level $LEVEL, timed with optimizations disabled so the optimizer's output is what runs) and in
# privnn's executor (ORT 'basic' output, which stays standard ONNX, and privnn's own `optimize`).
# Targets (issue 6): Proteus within 5% of the whole-model optimum; split+join under 10 s.
#
#   bench/proteus.sh [BUILD_DIR] env: PRIVNN (default BUILD_DIR/privnn), K (20), LEVEL (extended),
#                               MODELS ("resnet50 mobilenetv2 bert"), REPEAT (10), OUT (bench/out/proteus),
#                               SEED (split seed, default random), QUICK (1: split, ORT-optimize at
#                               LEVEL and join only; no latency runs -> proteus-quick.csv),
#                               PLOT_ONLY (1: redraw the plot of an existing CSV)
# Output: $OUT/proteus.csv (or proteus-quick.csv), its .meta.csv and, with gnuplot, proteus.png
# (latency per model: whole vs Proteus in each runtime) or proteus-quick.png (split and join times).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
arg=${1:-$root/build}
if [[ -d $arg ]]; then bin=${PRIVNN:-$arg/privnn}; else bin=${PRIVNN:-$arg}; fi
. "$root/bench/common.sh"
# QUICK=1: mobilenetv2 only, K = 4, split + ORT-optimize + join (no latency runs)
[[ $QUICK == 1 ]] && MODELS=${MODELS:-mobilenetv2} K=${K:-4}
K=${K:-20}
LEVEL=${LEVEL:-extended}
MODELS=${MODELS:-"resnet50 mobilenetv2 bert"}
REPEAT=${REPEAT:-10}
out=${OUT:-$root/bench/out/proteus}
# plot_quick / plot_full: the PNG of $out/proteus-quick.csv / $out/proteus.csv
plot_quick() {
  local csv=$out/proteus-quick.csv
  awk -F, 'NR == 1 { print "model,split (s),join (s)"; next } { print $1 " (" $4 " files; " $5 " GB)," $6 "," $7 }' \
    "$csv" > "$out/proteus-quick_pivot.csv"
  bench_bars "$out/proteus-quick_pivot.csv" "$out/proteus-quick.png" "privnn obf split / join, K = $K" "seconds"
}
plot_full() {
  local csv=$out/proteus.csv
  # latency of each model optimized whole vs through Proteus, per runtime and optimizer
  awk -F, 'NR == 1 { print "model,ORT " lvl " whole,ORT " lvl " Proteus,privnn (ORT basic) whole,privnn (ORT basic) Proteus,privnn (optimize) whole,privnn (optimize) Proteus"; next }
           { print $1 "," $6 "," $7 "," $8 "," $9 "," $10 "," $11 }' lvl="$LEVEL" "$csv" > "$out/proteus_pivot.csv"
  bench_bars "$out/proteus_pivot.csv" "$out/proteus.png" \
    "Proteus: one-thread latency, whole model vs optimized through Proteus (K = $K)" "ms per inference (log scale)" \
    "set logscale y"
}
# PLOT_ONLY=1: only redraw the plot of an existing CSV (proteus-quick.csv with QUICK=1)
if [[ ${PLOT_ONLY:-0} == 1 ]]; then
  if [[ $QUICK == 1 ]]; then plot_quick; else plot_full; fi
  exit 0
fi
[[ -x $bin ]] || { echo "proteus.sh: $bin not found (build first, or set PRIVNN)" >&2; exit 1; }
mkdir -p "$out"
ort_dir=$root/bench/.ort
if [[ ! -d $ort_dir/node_modules/onnxruntime-node ]]; then
  mkdir -p "$ort_dir"
  ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --prefix "$ort_dir" onnxruntime-node >&2
fi
ort_time() { NODE_PATH=$ort_dir/node_modules node "$root/bench/proteus_time.js" "$1" "$2" "$REPEAT" | sed -n 's/.*"median_ms":\([0-9.e+-]*\).*/\1/p'; }
pn_time() { "$bin" run "$1" --random --repeat "$REPEAT" --warmup 1 --threads 1 --json "$2" >/dev/null && sed -n 's/.*"median_ms":[[:space:]]*\([0-9.e+-]*\).*/\1/p' "$2" | head -1; }
jnum() { sed -n "s/.*\"$2\":[[:space:]]*\([0-9.e+-]*\).*/\1/p" "$1" | head -1; }
now() { date +%s.%N; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (a / b - 1) * 100 }'; }

seed_opt=()
[[ -n ${SEED:-} ]] && seed_opt=(--seed "$SEED")
if [[ ${QUICK:-0} == 1 ]]; then
  csv=$out/proteus-quick.csv
  echo "model,k,parts,files,bundle_gb,split_s,join_s" > "$csv"
  printf "%-12s %3s %5s %5s %9s %8s %7s\n" model k parts files bundle_GB split_s join_s
  for m in $MODELS; do
    w=$out/$m
    rm -rf "$w"
    mkdir -p "$w"
    "$bin" zoo "$m" -o "$w/model.onnx" >/dev/null
    t0=$(now)
    "$bin" obf split "$w/model.onnx" --bundle "$w/bundle" --secret "$w/secret.json" -k "$K" "${seed_opt[@]}" \
      --ngram "$root/data/obf/ngram-corpus.json" --json "$w/split.json" >/dev/null
    t1=$(now)
    gb=$(du -sb "$w/bundle" | awk '{ printf "%.2f", $1 / 1e9 }')
    "$root/scripts/ort-optimize.sh" --level "$LEVEL" "$w/bundle" "$w/bundle_ort" 2>/dev/null
    t2=$(now)
    "$bin" obf join --secret "$w/secret.json" --bundle "$w/bundle_ort" -o "$w/proteus_ort.onnx" >/dev/null
    t3=$(now)
    split_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    join_s=$(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.2f", b - a }')
    printf "%-12s %3s %5s %5s %9s %8s %7s\n" "$m" "$K" "$(jnum "$w/split.json" parts)" \
      "$(jnum "$w/split.json" files)" "$gb" "$split_s" "$join_s"
    echo "$m,$K,$(jnum "$w/split.json" parts),$(jnum "$w/split.json" files),$gb,$split_s,$join_s" >> "$csv"
    rm -rf "$w/bundle" "$w/bundle_ort"
  done
  bench_meta "$bin" "$csv"
  plot_quick
  echo "results: $csv"
  exit 0
fi

csv=$out/proteus.csv
echo "model,parts,files,split_s,join_s,ort_whole_ms,ort_proteus_ms,pn_basic_whole_ms,pn_basic_proteus_ms,pn_opt_whole_ms,pn_opt_proteus_ms" > "$csv"
printf "%-12s %5s %5s %8s %7s | %-28s | %-28s | %-28s\n" model parts files split_s join_s \
  "ORT $LEVEL whole/proteus ms" "privnn(ORT basic) ms" "privnn(optimize) ms"
for m in $MODELS; do
  w=$out/$m
  rm -rf "$w"
  mkdir -p "$w"
  "$bin" zoo "$m" -o "$w/model.onnx" >/dev/null
  if [[ $m == bert ]]; then shape=1x128x768; else shape=1x3x224x224; fi
  t0=$(now)
  "$bin" obf split "$w/model.onnx" --bundle "$w/bundle" --secret "$w/secret.json" -k "$K" "${seed_opt[@]}" \
    --ngram "$root/data/obf/ngram-corpus.json" --json "$w/split.json" >/dev/null
  t1=$(now)
  parts=$(jnum "$w/split.json" parts)
  files=$(jnum "$w/split.json" files)
  # ONNX Runtime at $LEVEL: whole vs. through Proteus
  "$root/scripts/ort-optimize.sh" --level "$LEVEL" "$w/model.onnx" "$w/whole_ort.onnx" 2>/dev/null
  "$root/scripts/ort-optimize.sh" --level "$LEVEL" "$w/bundle" "$w/bundle_ort" 2>/dev/null
  t2=$(now)
  "$bin" obf join --secret "$w/secret.json" --bundle "$w/bundle_ort" -o "$w/proteus_ort.onnx" --json "$w/join.json" >/dev/null
  t3=$(now)
  # ONNX Runtime at 'basic' (standard ops only: privnn's executor runs it)
  "$root/scripts/ort-optimize.sh" --level basic "$w/model.onnx" "$w/whole_basic.onnx" 2>/dev/null
  "$root/scripts/ort-optimize.sh" --level basic "$w/bundle" "$w/bundle_basic" 2>/dev/null
  "$bin" obf join --secret "$w/secret.json" --bundle "$w/bundle_basic" -o "$w/proteus_basic.onnx" >/dev/null
  # privnn's own optimizer, whole vs. file by file
  "$bin" optimize "$w/model.onnx" -o "$w/whole_pn.onnx" >/dev/null
  mkdir -p "$w/bundle_pn"
  for f in "$w/bundle"/*.onnx; do "$bin" optimize "$f" -o "$w/bundle_pn/$(basename "$f")" >/dev/null; done
  "$bin" obf join --secret "$w/secret.json" --bundle "$w/bundle_pn" -o "$w/proteus_pn.onnx" >/dev/null
  split_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  join_s=$(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.2f", b - a }')
  ow=$(ort_time "$w/whole_ort.onnx" "$shape"); op=$(ort_time "$w/proteus_ort.onnx" "$shape")
  bw=$(pn_time "$w/whole_basic.onnx" "$w/t1.json"); bp=$(pn_time "$w/proteus_basic.onnx" "$w/t2.json")
  pw=$(pn_time "$w/whole_pn.onnx" "$w/t3.json"); pp=$(pn_time "$w/proteus_pn.onnx" "$w/t4.json")
  printf "%-12s %5s %5s %8s %7s | %8.2f %8.2f %9s | %8.2f %8.2f %9s | %8.2f %8.2f %9s\n" "$m" "$parts" "$files" \
    "$split_s" "$join_s" "$ow" "$op" "$(pct "$op" "$ow")" "$bw" "$bp" "$(pct "$bp" "$bw")" "$pw" "$pp" "$(pct "$pp" "$pw")"
  echo "$m,$parts,$files,$split_s,$join_s,$ow,$op,$bw,$bp,$pw,$pp" >> "$csv"
  rm -rf "$w/bundle" "$w/bundle_ort" "$w/bundle_basic" "$w/bundle_pn"
done
bench_meta "$bin" "$csv"
plot_full
echo "results: $csv"
