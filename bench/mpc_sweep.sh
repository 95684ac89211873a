#!/usr/bin/env bash
# mpc_sweep.sh - HummingBird's budget sweep (`privnn mpc search --budget B` for B = 16 12 10 8 6 5 4,
# plus the error-free plan) for cnn-s, vgg-s and resnet-s on Fashion-MNIST: bits discarded, test
# accuracy before and after fine-tuning with the plan in the loop, and end-to-end two-party time and
# bytes against full-bit on the emulated LAN and WAN. Writes bench/out/mpc_sweep/mpc_sweep.csv (one
# row per model and plan), its .meta.csv, every command's JSON report and, with gnuplot,
# mpc_sweep.png (test accuracy vs share bits discarded, one line per model, the fine-tuned plans as
# a second point style per model).
#
# Selection uses the validation split only (the search on its first COUNT images, fine-tuning's
# epoch choice on its first FT_VAL); the test split is read once per final plan (search --verify,
# bit-exact simulator) and once per fine-tuned model (mpc infer --sim), nothing is chosen from it.
# Each step is skipped when its JSON report exists (rerun to resume; delete OUT to start again).
#
# usage: bench/mpc_sweep.sh [BUILD_DIR or path/to/privnn]          (default build)
# knobs (environment); the defaults are a shortened run (~2-3 h on 2 quiet cores):
#   MODELS="cnn-s vgg-s resnet-s"   BUDGETS="16 12 10 8 6 5 4"   EF=1 (also the error-free plan)
#   COUNT=2000          search images (validation split; 5000 = all)
#   PROBE=1000          budget search: images of the per-layer loss curves
#   VERIFY="cnn-s=2000 vgg-s=2000 resnet-s=10000"   first N test images per model (10000 = all)
#   FT_MAX=8            fine-tune the plans of budgets <= FT_MAX (0 = none)
#   FT_EPOCHS=1 FT_TRAIN=20000 FT_VAL=2000   fine-tuning epochs, training images, validation images
#   E2E_COUNT=20        test images per end-to-end two-party run;  NETS="lan wan"
#   PHASES="search e2e finetune"   which phases to run (in this order; "" = only the CSV and plot)
#   QUICK=1             cnn-s, budgets 8 and 4, 500 images, LAN, no fine-tuning (a few minutes)
#   KEEP=FILE           an earlier mpc_sweep.csv: its rows are kept for every (model, plan) that OUT
#                       has no search report of (a plan searched in OUT replaces its whole row, the
#                       full-bit row is replaced when OUT has one of its end-to-end runs); OUT's
#                       fine-tuning and end-to-end reports of a kept plan (its plan file put in OUT
#                       again) add their cells to the kept row. To add cells without re-running the
#                       rest, e.g. MODELS=vgg-s BUDGETS=10 EF=0 KEEP=docs/mpc_sweep.csv (then copy
#                       OUT's CSV and PNG back)
# The full run (the paper's recipe; many hours on 2 cores):
#   COUNT=5000 VERIFY="cnn-s=10000 vgg-s=10000 resnet-s=10000" FT_MAX=64 FT_EPOCHS=10 \
#     FT_TRAIN=55000 FT_VAL=5000 E2E_COUNT=100 bench/mpc_sweep.sh build
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$here/common.sh"
bin="${1:-build}"
[ -d "$bin" ] && bin="$bin/privnn"
[ -x "$bin" ] || { echo "mpc_sweep.sh: $bin not found (build first)" >&2; exit 1; }
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
MODELS=${MODELS:-"cnn-s vgg-s resnet-s"}
BUDGETS=${BUDGETS:-"16 12 10 8 6 5 4"}
EF=${EF:-1}
COUNT=${COUNT:-2000}
PROBE=${PROBE:-1000}
VERIFY=${VERIFY:-"cnn-s=2000 vgg-s=2000 resnet-s=10000"}
FT_MAX=${FT_MAX:-8}
FT_EPOCHS=${FT_EPOCHS:-1}
FT_TRAIN=${FT_TRAIN:-20000}
FT_VAL=${FT_VAL:-2000}
E2E_COUNT=${E2E_COUNT:-20}
NETS=${NETS:-"lan wan"}
PHASES=${PHASES-"search e2e finetune"}
if [ "$QUICK" = 1 ]; then
  MODELS=cnn-s BUDGETS="8 4" EF=0 COUNT=500 PROBE=250 VERIFY="cnn-s=500" FT_MAX=0
  E2E_COUNT=4 NETS=lan
fi
OUT=${OUT:-$here/out/mpc_sweep}
mkdir -p "$OUT"
csv="$OUT/mpc_sweep.csv"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
[ -n "${THREADS:-}" ] && export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
data=(--data fashion-mnist)

verify_of() { local m=$1 kv; for kv in $VERIFY; do [ "${kv%%=*}" = "$m" ] && { echo "${kv#*=}"; return; }; done; echo 2000; }
plans_of() { [ "$EF" = 1 ] && echo ef; for b in $BUDGETS; do echo "b$b"; done; }
plans_sorted() { [ "$EF" = 1 ] && echo ef; for b in $BUDGETS; do echo "b$b"; done | sort -t b -k2,2gr; }
# run NAME CMD...: the command with its output in NAME.log, skipped when NAME.json exists
run() {
  local name=$1; shift
  [ -s "$OUT/$name.json" ] && return 0
  echo "[$(date -u +%H:%M:%S)] $name (load $(cut -d' ' -f1-3 /proc/loadavg)): $*" | sed "s|$root/||g"
  local t0=$SECONDS
  if ! "$@" > "$OUT/$name.log" 2>&1; then
    echo "mpc_sweep.sh: $name failed (see $OUT/$name.log)" >&2
    tail -3 "$OUT/$name.log" >&2
    return 1
  fi
  echo "[$(date -u +%H:%M:%S)] $name done in $((SECONDS - t0)) s wall (load $(cut -d' ' -f1-3 /proc/loadavg))"
}

search() {
  local m=$1 p=$2 mode
  if [ "$p" = ef ]; then mode=(--error-free); else mode=(--budget "${p#b}" --probe "$PROBE" --no-confirm); fi
  run "$m.$p.search" "$bin" mpc search "$root/models/$m.onnx" "${data[@]}" "${mode[@]}" --count "$COUNT" \
    --verify "$(verify_of "$m")" -o "$OUT/$m.$p.plan.json" --json "$OUT/$m.$p.search.json"
}
e2e() {
  local m=$1 p=$2 net=$3 plan=()
  [ "$p" = full ] || plan=(--plan "$OUT/$m.$p.plan.json")
  [ "$p" = full ] || [ -s "$OUT/$m.$p.plan.json" ] || return 0
  run "$m.$p.$net" "$bin" mpc infer "$root/models/$m.onnx" "${data[@]}" --count "$E2E_COUNT" --net "$net" \
    --weights public "${plan[@]}" --json "$OUT/$m.$p.$net.json"
}
finetune() {
  local m=$1 p=$2
  [ -s "$OUT/$m.$p.plan.json" ] || return 0
  run "$m.$p.ft" "$bin" mpc finetune "$root/models/$m.onnx" --plan "$OUT/$m.$p.plan.json" \
    -o "$OUT/$m.$p.ft.onnx" --epochs "$FT_EPOCHS" --max-train "$FT_TRAIN" --max-val "$FT_VAL" --check 0 \
    --json "$OUT/$m.$p.ft.json" || return 1
  run "$m.$p.fttest" "$bin" mpc infer "$OUT/$m.$p.ft.onnx" "${data[@]}" --split test \
    --count "$(verify_of "$m")" --batch 50 --sim --weights public --plan "$OUT/$m.$p.ft.plan.json" \
    --json "$OUT/$m.$p.fttest.json"
}

# the CSV from whatever reports exist (also after a partial run)
collect() {
  python3 - "$OUT" "$MODELS" "$(plans_sorted | tr '\n' ' ')" "$NETS" "${KEEP:-}" > "$csv.tmp" <<'PY'
import csv, json, os, sys
out, models, plans, nets, keep = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4].split(), sys.argv[5]
kept = {}
if keep:
    with open(keep, newline="") as f:
        for row in csv.DictReader(f):
            kept[(row["model"], row["plan"])] = row
    models = list(dict.fromkeys([m for m, _ in kept] + models))
def plan_key(p):
    return (0, 0.0) if p == "ef" else (1, -float(p[1:]))
def load(name):
    try:
        with open(os.path.join(out, name + ".json")) as f: return json.load(f)
    except (OSError, ValueError): return None
def fmt(x, spec):
    return "" if x is None else format(x, spec)
cols = ["model", "plan", "budget_bits", "avg_bits", "bits_discarded_pct", "search_images", "val_plain_acc",
        "val_plan_acc", "test_images", "test_plain_acc", "test_acc", "test_agreement", "ft_val_before",
        "ft_val_after", "ft_epoch_kept", "ft_test_plain_acc", "ft_test_acc", "search_s", "ft_s"]
for n in nets:
    cols += [f"{n}_images", f"{n}_mb_per_img", f"{n}_rounds", f"{n}_wall_s_per_img", f"{n}_model_s_per_img",
             f"{n}_wall_speedup", f"{n}_model_speedup", f"{n}_bytes_ratio"]
print(",".join(cols))
for m in models:
    full = {n: load(f"{m}.full.{n}") for n in nets}
    mplans = sorted(set(plans) | {p for k, p in kept if k == m and p != "full"}, key=plan_key)
    for p in ["full"] + mplans:
        s = load(f"{m}.{p}.search") if p != "full" else None
        old = kept.get((m, p))
        fresh = s is not None if p != "full" else any(full.values())
        if not fresh and old is None and p != "full": continue
        r = {"model": m, "plan": p}
        if not fresh and old is not None:
            r = {c: v for c, v in old.items() if v}
        elif p == "full":
            r.update(avg_bits=64.0, bits_discarded_pct=0.0)
        else:
            t = s.get("test", {})
            r.update(budget_bits=s.get("budget_bits"), avg_bits=s.get("avg_bits"),
                     bits_discarded_pct=100 * s["bits_discarded"] if "bits_discarded" in s else None,
                     search_images=s.get("search_images"), val_plain_acc=s.get("plaintext_accuracy"),
                     val_plan_acc=s.get("bit_exact_accuracy", s.get("simulated_accuracy")), test_images=t.get("images"),
                     test_plain_acc=t.get("plaintext_accuracy"), test_acc=t.get("accuracy"),
                     test_agreement=t.get("agreement"), search_s=s.get("search_seconds"))
        # fine-tuning and end-to-end cells also go onto a kept row (its plan put in OUT again)
        ft, ftt = (load(f"{m}.{p}.ft"), load(f"{m}.{p}.fttest")) if p != "full" else (None, None)
        if ft:
            ep, k = ft.get("epochs", []), ft.get("best_epoch", 0)
            r.update(ft_val_before=ft.get("start_val_accuracy"), ft_epoch_kept=k,
                     ft_val_after=ep[k - 1]["val_accuracy"] if k else ft.get("start_val_accuracy"),
                     ft_s=ft.get("seconds"))
        if ftt:
            r.update(ft_test_plain_acc=ftt.get("plaintext_accuracy"), ft_test_acc=ftt.get("accuracy"))
        for n in nets:
            e, f = load(f"{m}.{p}.{n}"), full[n]
            if not e: continue
            img = e.get("images", e.get("count"))
            r[f"{n}_images"] = img
            r[f"{n}_mb_per_img"] = e["bytes_per_party_per_image"] / 1e6
            r[f"{n}_rounds"] = e.get("rounds_per_batch")
            r[f"{n}_wall_s_per_img"] = e["seconds_per_image"]
            r[f"{n}_model_s_per_img"] = e["modeled_seconds_per_image"]
            if f:
                r[f"{n}_wall_speedup"] = f["seconds_per_image"] / e["seconds_per_image"]
                r[f"{n}_model_speedup"] = f["modeled_seconds_per_image"] / e["modeled_seconds_per_image"]
                r[f"{n}_bytes_ratio"] = f["bytes_per_party_per_image"] / e["bytes_per_party_per_image"]
        def cell(c):
            v = r.get(c)
            if v is None: return ""
            if isinstance(v, float): return format(v, ".6g")
            return str(v)
        print(",".join(cell(c) for c in cols))
PY
  mv "$csv.tmp" "$csv"
}

echo "machine load: $(cut -d' ' -f1-3 /proc/loadavg); models: $MODELS; budgets: $BUDGETS; phases: $PHASES"
fails=0
for phase in $PHASES; do
  for m in $MODELS; do
    case $phase in
      search) for p in $(plans_of); do search "$m" "$p" || fails=$((fails + 1)); collect; done ;;
      e2e) for n in $NETS; do for p in full $(plans_of); do e2e "$m" "$p" "$n" || fails=$((fails + 1)); done; done
           collect ;;
      finetune) for b in $BUDGETS; do
                  if awk "BEGIN { exit !($b <= $FT_MAX) }"; then finetune "$m" "b$b" || fails=$((fails + 1)); collect; fi
                done ;;
      *) echo "mpc_sweep.sh: unknown phase '$phase' (search, e2e, finetune)" >&2; exit 2 ;;
    esac
  done
done
collect
bench_meta "$bin" "$csv"
echo "wrote $csv"

if command -v gnuplot >/dev/null 2>&1; then
  # per model: plan points (bits discarded, test accuracy), fine-tuned points, plaintext accuracy
  rm -f "$OUT"/plot.*.dat
  awk -F, -v out="$OUT" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    $c["plan"] != "full" && $c["test_acc"] != "" {
      m = $c["model"]; x = $c["bits_discarded_pct"]
      print x, 100 * $c["test_acc"], 100 * $c["test_plain_acc"] > (out "/plot." m ".dat")
      if ($c["ft_test_acc"] != "") print x, 100 * $c["ft_test_acc"] > (out "/plot." m ".ft.dat") }' "$csv"
  plot=""
  for m in $(awk -F, 'NR > 1 && !seen[$1]++ { print $1 }' "$csv"); do
    [ -s "$OUT/plot.$m.dat" ] || continue
    sort -n -o "$OUT/plot.$m.dat" "$OUT/plot.$m.dat"
    i=$((${i:-0} + 1))
    # before: small filled circles on the line; after fine-tuning: a large open shape of the model's
    # own kind (circle, triangle, diamond, ...), so models whose points coincide stay visible
    ftpt=$(echo "6 8 12 4 10" | cut -d' ' -f$(( (i - 1) % 5 + 1 )))
    plot="$plot${plot:+, }\"$OUT/plot.$m.dat\" using 1:2 with linespoints lw 2 pt 7 ps 0.8 lc $i title \"$m\""
    plot="$plot, \"$OUT/plot.$m.dat\" using 1:3 with lines dt 2 lc $i title \"$m plaintext\""
    if [ -s "$OUT/plot.$m.ft.dat" ]; then
      plot="$plot, \"$OUT/plot.$m.ft.dat\" using 1:2 with points pt $ftpt ps 2.2 lw 2 lc $i title \"$m fine-tuned\""
    fi
  done
  if [ -n "$plot" ]; then
    gnuplot <<GP
set terminal pngcairo size 900,560 noenhanced
set output "$OUT/mpc_sweep.png"
set xlabel "ReLU/MaxPool share bits discarded (%)"
set ylabel "test accuracy (%), bit-exact simulator"
set xrange [*:100]
set title "HummingBird budget sweep, Fashion-MNIST (search: $COUNT validation images)"
set key bottom left
set grid
plot $plot
GP
    echo "wrote $OUT/mpc_sweep.png"
  fi
else
  echo "gnuplot not found: CSV only ($csv)"
fi
[ $fails -eq 0 ]
