#!/bin/bash
# ort_compare.sh - privnn's plaintext executor against ONNX Runtime on the zoo's models.
#
# usage: bench/ort_compare.sh BUILD_DIR
#   env: REPEAT=20 SMALL_REPEAT=300 (resnet18 at 1x3x32x32) WARMUP=3 THREADS="1 N" (N = nproc)
#        BLAS="env auto" (just env when OPENBLAS_CORETYPE is unset; BLAS_AUTO=1 means BLAS=auto)
#        ROWS="..." (default: all), QUICK=1 (resnet18 32x32 only, 1 thread, 3 runs)
# Rows (issue 18): resnet18 and resnet50 at 1x3x224x224, mobilenetv2 at 1x3x224x224, the BERT
# encoder (12 layers, hidden 768) at batch 1 x seq 128, resnet18 at 1x3x32x32 and 64x3x32x32;
# ROWS selects some by name (r18, r50, mnv2, bert, r18s, r18b64). Each row runs single-threaded
# and on all cores, and privnn runs twice: with the environment's OPENBLAS_CORETYPE (BLAS=env;
# some machines pin Haswell, i.e. AVX2 kernels, on AVX-512 CPUs) and with it unset so OpenBLAS
# picks the CPU's own kernels (BLAS=auto; privnn run also does so itself when the variable is
# unset). Installs onnxruntime-node into bench/.ort/ if missing (not a build dependency), writes
# each model with `privnn zoo` and times
#   privnn run --input X.pb --threads T --warmup W --repeat R      (median and minimum ms)
#   node bench/ort_time.js (intraOpNumThreads T, graphOptimizationLevel 'all')
# on the same input, checking that both give the same output (max |diff|). Prints a table with
# the load average before and after and the target of each row (issue 18: <= 1.0x ORT on
# resnet18/224 single-threaded, <= 1.2x elsewhere), writes bench/out/ort_compare.csv and, if
# gnuplot is installed, bench/out/ort_compare.png. Times are only meaningful on a quiet machine:
# on a shared one the minimum is the steadier figure.
set -euo pipefail
BUILD=${1:?usage: bench/ort_compare.sh BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
PRIVNN=$(cd "$BUILD" && pwd)/privnn
. "$HERE/common.sh"
# QUICK=1: resnet18 at 1x3x32x32 only, one thread, the environment's BLAS, 3 timed runs
[ "$QUICK" = 1 ] && ROWS=${ROWS:-r18s} REPEAT=${REPEAT:-3} WARMUP=${WARMUP:-1} THREADS=${THREADS:-1} BLAS=${BLAS:-env}
REPEAT=${REPEAT:-20}
# resnet18 at 1x3x32x32 runs in ~0.3 ms: 20 runs are a 6 ms sample, whose median one scheduler
# hiccup on the second core moves by half (two-thread medians 0.27-0.54 ms in one session, minima
# 0.25-0.27). Both runtimes get the same count.
SMALL_REPEAT=${SMALL_REPEAT:-$([ "$QUICK" = 1 ] && echo "$REPEAT" || echo 300)}
WARMUP=${WARMUP:-3}
OUT=$HERE/out
WORK=$OUT/ort_compare
mkdir -p "$WORK"
export PN_NO_PROGRESS=${PN_NO_PROGRESS:-}

[ -x "$PRIVNN" ] || { echo "ort_compare.sh: $PRIVNN not found (build first)" >&2; exit 1; }
command -v node >/dev/null || { echo "ort_compare.sh: node not found" >&2; exit 1; }
if [ ! -d "$HERE/.ort/node_modules/onnxruntime-node" ]; then
  echo "ort_compare.sh: installing onnxruntime-node into bench/.ort ..." >&2
  command -v npm >/dev/null || { echo "ort_compare.sh: npm not found" >&2; exit 1; }
  ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --no-audit --no-fund --prefix "$HERE/.ort" onnxruntime-node >&2
fi

json_field() { # json_field FILE-or-STRING KEY: a number from a JSON object (run.json or one line)
  node -e 'const fs=require("fs");const a=process.argv[1];const s=fs.existsSync(a)?fs.readFileSync(a,"utf8"):a;
           const o=JSON.parse(s);const k=process.argv[2].split(".");let v=o;for(const x of k)v=v[x];console.log(v)' "$1" "$2"
}

CSV=$OUT/ort_compare.csv
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?"; }
NPROC=$(nproc 2>/dev/null || echo 1)
THREADS=${THREADS:-"1 $NPROC"}
if [ "${BLAS_AUTO:-0}" = 1 ]; then BLAS=${BLAS:-auto}; fi   # the older spelling
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then BLAS=${BLAS:-"env auto"}; else BLAS=${BLAS:-env}; fi
ROWS=${ROWS:-"r18 r50 mnv2 bert r18s r18b64"}
echo "load average before: $(loadavg) ($NPROC cores); OPENBLAS_CORETYPE in the environment: ${OPENBLAS_CORETYPE:-unset}"
echo "model,shape,threads,blas,privnn_ms,ort_ms,ratio,max_abs_diff,max_abs_out,privnn_min_ms,ort_min_ms,min_ratio,target" >"$CSV.tmp"
printf "%-11s %-13s %3s %-5s %10s %9s %6s %10s %9s %6s %7s %10s\n" model shape thr blas "privnn ms" "ORT ms" ratio \
  "privnn min" "ORT min" "min r" target "max |diff|"
for row in $ROWS; do
  case $row in
    r18) name=resnet18 shape=1x3x224x224 zoo=(--input-shape 1x3x224x224) ;;
    r50) name=resnet50 shape=1x3x224x224 zoo=(--input-shape 1x3x224x224) ;;
    mnv2) name=mobilenetv2 shape=1x3x224x224 zoo=(--input-shape 1x3x224x224) ;;
    bert) name=bert shape=1x128x768 zoo=(--batch 1 --seq 128) ;;
    r18s) name=resnet18 shape=1x3x32x32 zoo=(--input-shape 1x3x32x32) ;;
    r18b64) name=resnet18 shape=64x3x32x32 zoo=(--input-shape 64x3x32x32) ;;
    *) echo "ort_compare.sh: unknown row '$row' (r18 r50 mnv2 bert r18s r18b64)" >&2; exit 2 ;;
  esac
  tag=${name}_$shape
  rep=$REPEAT
  [ "$row" = r18s ] && rep=$SMALL_REPEAT
  model=$WORK/$tag.onnx
  "$PRIVNN" zoo "$name" -o "$model" "${zoo[@]}" --seed 1 >/dev/null
  input=$WORK/input_$tag.pb
  # one shared random input (written by ort_time.js as a TensorProto) for both runtimes
  node "$HERE/ort_time.js" --model "$model" --warmup 0 --repeat 1 --seed 1 --save-input "$input" >/dev/null
  for t in $THREADS; do
    target=1.2
    [ "$row" = r18 ] && [ "$t" = 1 ] && target=1.0
    o_ms="" o_min=""
    for blas in $BLAS; do
      env_args=()
      if [ "$blas" = auto ]; then env_args=(-u OPENBLAS_CORETYPE)
      elif [ "$blas" != env ]; then echo "ort_compare.sh: BLAS takes env and/or auto" >&2; exit 2; fi
      out=$WORK/privnn_${tag}_t${t}_$blas
      env "${env_args[@]}" "$PRIVNN" run "$model" --input "$input" --threads "$t" --warmup "$WARMUP" \
        --repeat "$rep" --json "$out.json" -o "$out.pb" >/dev/null
      p_ms=$(json_field "$out.json" timing.median_ms)
      p_min=$(json_field "$out.json" timing.min_ms)
      if [ -z "$o_ms" ]; then   # ORT once per row and thread count (it does not use OpenBLAS)
        ort=$(node "$HERE/ort_time.js" --model "$model" --input-pb "$input" --threads "$t" --warmup "$WARMUP" \
          --repeat "$rep" --compare "$out.pb")
        o_ms=$(json_field "$ort" median_ms)
        o_min=$(json_field "$ort" min_ms)
        diff=$(json_field "$ort" max_abs_diff)
        mag=$(json_field "$ort" max_abs_out)
      fi
      ratio=$(awk -v a="$p_ms" -v b="$o_ms" 'BEGIN { printf "%.2f", a / b }')
      mratio=$(awk -v a="$p_min" -v b="$o_min" 'BEGIN { printf "%.2f", a / b }')
      printf "%-11s %-13s %3s %-5s %10.2f %9.2f %6s %10.2f %9.2f %6s %7s %10.3g\n" "$name" "$shape" "$t" "$blas" \
        "$p_ms" "$o_ms" "$ratio" "$p_min" "$o_min" "$mratio" "<=$target" "$diff"
      echo "$name,$shape,$t,$blas,$p_ms,$o_ms,$ratio,$diff,$mag,$p_min,$o_min,$mratio,$target" >>"$CSV.tmp"
    done
  done
done
mv "$CSV.tmp" "$CSV"
echo "load average after: $(loadavg)"
echo "ratio = privnn / ORT median time per inference (min r: of the minima); blas env = OPENBLAS_CORETYPE as set, auto = unset;"
echo "max |diff| compares the two outputs (same input; for BERT the largest of 98k values of order 1-10)."
bench_meta "$PRIVNN" "$CSV"
echo "wrote $CSV"

if command -v gnuplot >/dev/null; then
  gnuplot <<GP
set terminal pngcairo size 1200,560 noenhanced
set output "$OUT/ort_compare.png"
set datafile separator ","
set title "privnn / ONNX Runtime latency (median; below 1 = privnn faster)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set ylabel "privnn ms / ORT ms"
set yrange [0:*]
set grid ytics
set key off
set xtics rotate by -35 font ",9"
plot "$CSV" every ::1 using 7:xticlabels(sprintf("%s %s t=%s %s", stringcolumn(1), stringcolumn(2), stringcolumn(3), stringcolumn(4))), \
     1 with lines lw 2 lc rgb "black" notitle
GP
  echo "wrote $OUT/ort_compare.png"
fi
