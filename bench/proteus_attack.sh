#!/usr/bin/env bash
# proteus_attack.sh - the Proteus attack table (issue 17, item 3): `privnn obf attack` over the zoo's
# model families, for several seeds (six by default: between random draws of one generator the
# figures move by as much as most generator changes, issue 17), one CSV row per model and seed.
#
# privnn obf attack simulates split on every listed zoo model (reduced input size and widths: CNNs
# at 64x64 with 10 classes, inception_v3 at 96x96, Transformers at hidden 64 / 4 heads / seq 16 with
# their full layer count, so node and part counts are those of the full-size models) and trains its
# adversaries leave-one-model-family-out over the listed models. Per model it reports the strongest
# adversary's specificity at 99% recall of real parts and AUC, each adversary's, and log10 of the
# candidate count: sum over parts of log10(1 + (1 - s) * D), D the part's distinct sentinel structures
# other than its own (sentinels with the real part's structure, twins, count none).
#
#   bench/proteus_attack.sh     env: PRIVNN (default build/privnn), K (20), SEEDS ("1 2 3 4 5 6"),
#                               MODELS (comma list; default the paper's twelve plus resnet18, vgg11,
#                               mobilenetv2 and bert: every zoo model), OUT (bench/out/proteus)
# Output: $OUT/attack-<seed>.json (privnn's report) and $OUT/proteus-attack.csv.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${PRIVNN:-$root/build/privnn}
K=${K:-20}
SEEDS=${SEEDS:-"1 2 3 4 5 6"}
out=${OUT:-$root/bench/out/proteus}
[[ -x $bin ]] || { echo "proteus_attack.sh: $bin not found (build first, or set PRIVNN)" >&2; exit 1; }
mkdir -p "$out"
models_opt=()
[[ -n ${MODELS:-} ]] && models_opt=(--models "$MODELS")
csv=$out/proteus-attack.csv
tmp=$(mktemp "$out/.attack.XXXXXX")
trap 'rm -f "$tmp"' EXIT
echo "model,seed,k,parts,sentinel_copies,sentinel_twins,distinct_structures,specificity,auc,log10_candidates,log10_candidates_files,ngram_spec,ngram_auc,clf_spec,clf_auc,medoid_spec,medoid_auc,neighbour_spec,neighbour_auc,seconds" > "$tmp"
for s in $SEEDS; do
  t0=$(date +%s.%N)
  "$bin" obf attack -k "$K" --seed "$s" "${models_opt[@]}" --ngram "$root/data/obf/ngram-corpus.json" \
    --json "$out/attack-$s.json" >"$out/attack-$s.txt"
  t1=$(date +%s.%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
  cat "$out/attack-$s.txt"
  /usr/bin/env python3 - "$out/attack-$s.json" "$s" "$secs" >> "$tmp" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
for m in r["models"]:
    print(",".join(str(x) for x in [
        m["model"], sys.argv[2], m["k"], m["parts"], m["sentinel_copies"], m["sentinel_twins"],
        m["distinct_structures"],
        "%.4f" % m["specificity"], "%.4f" % m["auc"], "%.2f" % m["log10_candidates"],
        "%.2f" % m["log10_candidates_files"],
        "%.4f" % m["ngram"]["specificity"], "%.4f" % m["ngram"]["auc"],
        "%.4f" % m["classifier"]["specificity"], "%.4f" % m["classifier"]["auc"],
        "%.4f" % m["medoid"]["specificity"], "%.4f" % m["medoid"]["auc"],
        "%.4f" % m["neighbour"]["specificity"], "%.4f" % m["neighbour"]["auc"], sys.argv[3]]))
EOF
done
mv "$tmp" "$csv"
trap - EXIT
echo "results: $csv"
