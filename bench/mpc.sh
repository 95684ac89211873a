#!/bin/sh
# bench/mpc.sh - HummingBird MPC benchmarks in one run:
#   1. bits and rounds per ReLU for full-bit and HummingBird n = 64, 32, 18, 12, 8, 6 (measured on
#      loopback against the formulas) and ReLU throughput;
#   2. end-to-end private inference of resnet-s (Fashion-MNIST, models/resnet-s.onnx) and of the zoo
#      resnet18 at 1x3x32x32 (random weights and inputs): full-bit vs the error-free plan vs uniform
#      n = 8, on emulated LAN and WAN, with --weights public and secret.
# Usage: bench/mpc.sh [BUILD_DIR | path/to/privnn]   (default build/privnn; reports in bench/out/mpc/)
#   env: OUT=dir, COUNT=images for resnet-s, COUNT18=images for resnet18, NETS="lan wan",
#        WEIGHTS="public secret"
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
arg=${1:-$here/build}
if [ -d "$arg" ]; then PRIVNN=${PRIVNN:-$arg/privnn}; else PRIVNN=${PRIVNN:-$arg}; fi
OUT=${OUT:-$here/bench/out/mpc}
COUNT=${COUNT:-20}
COUNT18=${COUNT18:-4}
NETS=${NETS:-"lan wan"}
WEIGHTS=${WEIGHTS:-"public secret"}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
mkdir -p "$OUT"
[ -x "$PRIVNN" ] || { echo "bench/mpc.sh: $PRIVNN not found (build first or set PRIVNN)" >&2; exit 1; }

echo "== ReLU protocols: bits and rounds per ReLU per party (measured vs formula) =="
"$PRIVNN" mpc bench-relu --count 65536 --json "$OUT/relu.json"

RS=$here/models/resnet-s.onnx
if [ ! -f "$RS" ]; then
  echo "bench/mpc.sh: $RS missing; training a quick resnet-s (1 epoch, 20000 images)" >&2
  RS=$OUT/resnet-s-quick.onnx
  [ -f "$RS" ] || "$PRIVNN" train --arch resnet-s --data fashion-mnist --epochs 1 --max-train 20000 \
    -o "$RS" >/dev/null
fi
R18=$OUT/resnet18-32.onnx
[ -f "$R18" ] || "$PRIVNN" zoo resnet18 --input-shape 1x3x32x32 --classes 10 -o "$R18" >/dev/null

echo "== plans =="
"$PRIVNN" mpc profile "$RS" --data fashion-mnist --count 1000 -o "$OUT/rs.errfree.json" | tail -1
"$PRIVNN" mpc profile "$RS" --data fashion-mnist --count 1000 --uniform 8 -o "$OUT/rs.n8.json" | tail -1
"$PRIVNN" mpc profile "$R18" --data random --count 20 --batch 10 --seed 7 -o "$OUT/r18.errfree.json" | tail -1
"$PRIVNN" mpc profile "$R18" --data random --count 20 --batch 10 --seed 7 --uniform 8 -o "$OUT/r18.n8.json" | tail -1

run() { # model tag data count batch plan net weights
  model=$1 tag=$2 data=$3 count=$4 batch=$5 plan=$6 net=$7 w=$8
  pl=""
  [ "$plan" = full ] || pl="--plan $OUT/$tag.$plan.json"
  # shellcheck disable=SC2086
  "$PRIVNN" mpc infer "$model" --data "$data" --count "$count" --batch "$batch" $pl --net "$net" \
    --weights "$w" --seed 11 --json "$OUT/e2e.$tag.$plan.$net.$w.json" >/dev/null
}

echo "== end to end (two parties, TLS 1.3 PSK over loopback with the link emulator) =="
for net in $NETS; do
  for w in $WEIGHTS; do
    for plan in full errfree n8; do
      run "$RS" rs fashion-mnist "$COUNT" 10 "$plan" "$net" "$w"
      run "$R18" r18 random "$COUNT18" 1 "$plan" "$net" "$w"
    done
  done
done

echo
printf '%-9s %-4s %-7s %-8s %9s %10s %7s %9s %8s %8s %8s\n' model net weights plan agreement \
  accuracy "disc%" "MB/img" "rnd/bat" "s/img" "speedup"
for tag in rs r18; do
  for net in $NETS; do
    for w in $WEIGHTS; do
      base=$(jq -r '.seconds_per_image' "$OUT/e2e.$tag.full.$net.$w.json")
      for plan in full errfree n8; do
        f=$OUT/e2e.$tag.$plan.$net.$w.json
        jq -r --arg t "$tag" --arg n "$net" --arg w "$w" --arg p "$plan" --argjson b "$base" \
          '[$t, $n, $w, $p, .agreement, (.accuracy // "-"), (.bits_discarded*100),
            (.bytes_per_party_per_image/1e6), .rounds_per_batch, .seconds_per_image,
            ($b / .seconds_per_image)] |
           "\(.[0]|.[0:9]) \(.[1]) \(.[2]) \(.[3]) \(.[4]) \(.[5]) \(.[6]|floor) \(.[7]*1000|floor/1000) \(.[8]) \(.[9]*1000|floor/1000) \(.[10]*100|floor/100)x"' "$f"
      done
    done
  done
done | awk '{printf "%-9s %-4s %-7s %-8s %9s %10s %7s %9s %8s %8s %8s\n", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11}'
echo "reports: $OUT/*.json"
