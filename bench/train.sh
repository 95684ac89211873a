#!/bin/bash
# train.sh - training throughput (images/s) of cnn-s and resnet-s, and the fraction of this machine's
# single-core sgemm GFLOP/s that their conv layers reach (target >= 40%).
#
# usage: bench/train.sh [BUILD_DIR]      (default: build; needs dataset-fashion-mnist)
# The sgemm peak (the best of the sizes tried) is measured here, by a small C program against the same OpenBLAS (cblas_sgemm,
# 1024^3 and the conv-shaped products of the models). Conv GFLOP/s = flops of the conv layers'
# sgemm calls (forward, weight and input gradients) / time spent in conv forward+backward,
# im2col/col2im and layout copies included, as reported by `privnn train --json` (conv_gflops).
# On a machine shared with other work, wall-clock rates fall with the load, so every rate is also
# given per CPU-second of this process (CLOCK_PROCESS_CPUTIME_ID), for sgemm and training alike.
# Environment: THREADS (default 1), IMAGES (training images per run, default 5120; QUICK=1: 512),
# OUT (default bench/out), PLOT_ONLY=1 (redraw the plots of an existing OUT/train.csv).
# Output: bench/out/train.csv and bench/out/train.json; with gnuplot, bench/out/train.png (images/s
# per architecture, wall clock and per CPU-second) and bench/out/train_conv.png (conv GFLOP/s vs sgemm).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build}
PRIVNN="$BUILD/privnn"
. "$HERE/common.sh"
THREADS=${THREADS:-1}
[ "$QUICK" = 1 ] && IMAGES=${IMAGES:-512}
IMAGES=${IMAGES:-5120}
OUT=${OUT:-$HERE/out}
# plot_train: the PNGs of $OUT/train.csv (and the load in its .meta.csv)
plot_train() {
  local threads images load
  threads=$(awk -F, 'NR == 2 { print $2 }' "$OUT/train.csv")
  images=$(awk -F, 'NR == 2 { print $3 }' "$OUT/train.csv")
  load=$(sed -n 's/^load_1min,//p' "$OUT/train.meta.csv" 2>/dev/null || echo '?')
  # plots: throughput per architecture (wall clock and per CPU-second), and the conv layers' GFLOP/s
  # beside the sgemm peak they are measured against
  awk -F, 'NR == 1 { print "arch,images/s (wall),images per CPU-s"; next } { print $1 "," $4 "," $5 }' \
    "$OUT/train.csv" > "$OUT/train_pivot.csv"
  bench_bars "$OUT/train_pivot.csv" "$OUT/train.png" \
    "privnn train, $images images, $threads thread(s), load $load" "images per second"
  awk -F, 'NR == 1 { print "arch,conv (wall),conv (CPU time),sgemm peak (wall),sgemm peak (CPU time)"; next }
           { print $1 "," $6 "," $7 "," $8 "," $9 }' "$OUT/train.csv" > "$OUT/train_conv_pivot.csv"
  bench_bars "$OUT/train_conv_pivot.csv" "$OUT/train_conv.png" \
    "privnn train: conv layers vs single-core sgemm ($threads thread(s))" "GFLOP/s"
}
# PLOT_ONLY=1: only redraw the plots of an existing $OUT/train.csv
if [ "${PLOT_ONLY:-0}" = 1 ]; then plot_train; exit 0; fi
[ -x "$PRIVNN" ] || { echo "train.sh: $PRIVNN not found (build first)" >&2; exit 1; }
[ -r /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] ||
  { echo "train.sh: install the Debian package dataset-fashion-mnist" >&2; exit 1; }
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS PN_NO_PROGRESS=1

cat > "$TMP/sgemm.c" <<'C'
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static double cpu(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
/* best GFLOP/s of C[M,N] = A[M,K] B[K,N] over a few repetitions of >= 0.3 s, by wall and CPU time */
static double best_cpu;
static double bench(int M, int N, int K) {
  float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)K * N),
        *c = malloc(sizeof(float) * (size_t)M * N);
  for (long i = 0; i < (long)M * K; i++) a[i] = (float)(i % 13) * 0.1f;
  for (long i = 0; i < (long)K * N; i++) b[i] = (float)(i % 7) * 0.1f;
  double best = 0;
  best_cpu = 0;
  for (int r = 0; r < 3; r++) {
    int reps = 0;
    double t0 = now(), c0 = cpu(), dt;
    do {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
      reps++;
    } while ((dt = now() - t0) < 0.3);
    double g = 2.0 * M * N * K * reps / dt * 1e-9, gc = 2.0 * M * N * K * reps / (cpu() - c0) * 1e-9;
    if (g > best) best = g;
    if (gc > best_cpu) best_cpu = gc;
  }
  free(a); free(b); free(c);
  return best;
}
int main(void) {
  double g;
  g = bench(1024, 1024, 1024);
  printf("sgemm,1024,1024,1024,%.2f,%.2f\n", g, best_cpu);
  /* conv-shaped: cnn-s conv2 forward (M=64, K=288, N=batch chunk x 196) and a resnet-s 3x3 conv */
  g = bench(64, 14336, 288);
  printf("sgemm,64,14336,288,%.2f,%.2f\n", g, best_cpu);
  g = bench(32, 14336, 288);
  printf("sgemm,32,14336,288,%.2f,%.2f\n", g, best_cpu);
  return 0;
}
C
gcc -O2 -o "$TMP/sgemm" "$TMP/sgemm.c" $(pkg-config --cflags --libs openblas)
"$TMP/sgemm" > "$TMP/sgemm.csv"
PEAK=$(awk -F, '$5 > m {m = $5} END {print m}' "$TMP/sgemm.csv")
PEAK_CPU=$(awk -F, '$6 > m {m = $6} END {print m}' "$TMP/sgemm.csv")
echo "threads: $THREADS"
awk -F, '{printf "sgemm M=%s N=%s K=%s: %s GFLOP/s (wall), %s GFLOP/s (CPU time)\n", $2, $3, $4, $5, $6}' "$TMP/sgemm.csv"

num() { sed -n "s/.*\"$1\":[[:space:]]*\([-0-9.eE+]*\).*/\1/p" "$2" | tail -1; }
div() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", (b > 0 ? a / b : 0)}'; }
echo "arch,threads,images,images_per_s,images_per_cpu_s,conv_gflops,conv_gflops_cpu,sgemm_peak_gflops,sgemm_peak_gflops_cpu,conv_fraction,conv_fraction_cpu" > "$OUT/train.csv"
for arch in cnn-s resnet-s; do
  "$PRIVNN" train --arch "$arch" --data fashion-mnist --epochs 1 --max-train "$IMAGES" --seed 1 \
    --ckpt "$TMP/$arch.ckpt" --json "$TMP/$arch.json" -o "$TMP/$arch.onnx" > "$TMP/$arch.log"
  IPS=$(num images_per_s "$TMP/$arch.json")
  IPC=$(num images_per_cpu_s "$TMP/$arch.json")
  CG=$(num conv_gflops "$TMP/$arch.json")
  CGC=$(num conv_gflops_cpu "$TMP/$arch.json")
  FRAC=$(div "$CG" "$PEAK")
  FRACC=$(div "$CGC" "$PEAK_CPU")
  printf "%-9s %7.1f images/s (%7.1f per CPU-s)  conv %6.2f GFLOP/s = %5.1f%% of sgemm %.2f (CPU time: %6.2f = %5.1f%% of %.2f)\n" \
    "$arch" "$IPS" "$IPC" "$CG" "$(awk -v f="$FRAC" 'BEGIN {print 100 * f}')" "$PEAK" \
    "$CGC" "$(awk -v f="$FRACC" 'BEGIN {print 100 * f}')" "$PEAK_CPU"
  echo "$arch,$THREADS,$IMAGES,$IPS,$IPC,$CG,$CGC,$PEAK,$PEAK_CPU,$FRAC,$FRACC" >> "$OUT/train.csv"
done
{
  echo "{"
  echo "  \"threads\": $THREADS,"
  echo "  \"sgemm_peak_gflops\": $PEAK,"
  echo "  \"sgemm_peak_gflops_cpu\": $PEAK_CPU,"
  echo "  \"results\": ["
  awk -F, 'NR > 1 {printf "%s    {\"arch\": \"%s\", \"images_per_s\": %s, \"images_per_cpu_s\": %s, \"conv_gflops\": %s, \"conv_gflops_cpu\": %s, \"conv_fraction\": %s, \"conv_fraction_cpu\": %s}", (NR > 2 ? ",\n" : ""), $1, $4, $5, $6, $7, $10, $11} END {print ""}' "$OUT/train.csv"
  echo "  ]"
  echo "}"
} > "$OUT/train.json"
bench_meta "$PRIVNN" "$OUT/train.csv"
plot_train
echo "wrote $OUT/train.csv and $OUT/train.json"
