#!/usr/bin/env bash
# demo.sh - the tour `make demo` runs on the embedded defaults: the plaintext engine on a zoo model,
# then HummingBird private inference of the reference resnet-s (models/) on Fashion-MNIST test
# images: the error-free reduced-ring plan against the full-bit (CrypTen-equivalent) baseline, both
# on an emulated 1 Gbit/s, 0.5 ms LAN between two parties on this machine; then a shipped SmartPAF
# model (models/paf/) against its original; then encrypted inference under CKKS of a small shipped PAF
# model on a few test images (client and server in one process).
set -euo pipefail
PRIVNN=${1:-build/privnn}
OUT=${DEMO_DIR:-build/demo}
COUNT=${DEMO_COUNT:-200}
MODEL=${DEMO_MODEL:-models/resnet-s.onnx}
mkdir -p "$OUT"
step() { printf '\n== %s\n' "$*"; }

step "plaintext engine: privnn zoo resnet18 -> info -> run"
"$PRIVNN" zoo resnet18 --input-shape 1x3x32x32 --classes 10 --seed 1 -o "$OUT/r18.onnx"
"$PRIVNN" info "$OUT/r18.onnx" | head -8
"$PRIVNN" run "$OUT/r18.onnx" --random --seed 1 --repeat 10 --warmup 2 | tail -3

step "the reference model: privnn eval $MODEL --split test"
"$PRIVNN" eval "$MODEL" --data fashion-mnist --split test

step "error-free HummingBird plan searched on 1000 validation images: privnn mpc search"
"$PRIVNN" mpc search "$MODEL" --data fashion-mnist --error-free --count 1000 --verify 0 \
  -o "$OUT/plan.json" | grep -E "^(error-free plan|search images|stages)"

step "private inference, full-bit ReLU (CrypTen-equivalent), $COUNT test images, emulated LAN"
"$PRIVNN" mpc infer "$MODEL" --data fashion-mnist --count "$COUNT" --net lan --weights public \
  --json "$OUT/fullbit.json" | tail -4

step "private inference, error-free reduced-ring plan, $COUNT test images, emulated LAN"
"$PRIVNN" mpc infer "$MODEL" --data fashion-mnist --count "$COUNT" --net lan --weights public \
  --plan "$OUT/plan.json" --json "$OUT/hummingbird.json" | tail -4

step "summary"
/usr/bin/python3 - "$OUT/fullbit.json" "$OUT/hummingbird.json" <<'PY' 2>/dev/null || true
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
def row(n, r):
    print(f"{n:<12} agreement {r['agreement']:.4f}  accuracy {r['accuracy']:.4f}  "
          f"bits discarded {r['bits_discarded']:.1%}  {r['bytes_per_party']/1e6:9.2f} MB/party  "
          f"{r['rounds']:5d} rounds  {r['seconds']:7.2f} s")
row("full-bit", a); row("HummingBird", b)
print(f"speed-up {a['seconds']/b['seconds']:.2f}x, communication {a['bytes_per_party']/b['bytes_per_party']:.2f}x less")
PY

PAF_MODEL=${DEMO_PAF_MODEL:-models/paf/cnn-s-f1g2.onnx}
PAF_BASE=${DEMO_PAF_BASE:-models/cnn-s.onnx}
step "SmartPAF: $PAF_BASE against its polynomial version $PAF_MODEL (shipped; no training here)"
"$PRIVNN" paf info "$PAF_MODEL"
"$PRIVNN" eval "$PAF_BASE" --data fashion-mnist --split test --json "$OUT/paf-original.json" >"$OUT/paf-original.txt"
"$PRIVNN" eval "$PAF_MODEL" --data fashion-mnist --split test --json "$OUT/paf.json" >"$OUT/paf.txt"
head -n 1 "$OUT/paf-original.txt" "$OUT/paf.txt"
/usr/bin/python3 - "$OUT/paf-original.json" "$OUT/paf.json" <<'PY' 2>/dev/null || true
import json, sys
a, b = (json.load(open(p))["accuracy"] for p in sys.argv[1:3])
print(f"test top-1: original {a:.2%}, PAF {b:.2%} ({(a - b) * 100:.2f} points lost); "
      "CKKS levels per activation: see 'paf info' above")
PY

FHE_MODEL=${DEMO_FHE_MODEL:-models/paf/fhe-s-f1g2.onnx}
FHE_COUNT=${DEMO_FHE_COUNT:-3}
FHE_THREADS=${DEMO_FHE_THREADS:-1}   # one thread: OpenMP threads lose badly on a shared machine
FHE_OPTS=${DEMO_FHE_KEYS:+--max-keys $DEMO_FHE_KEYS}   # default: every rotation key the program uses
step "encrypted inference under CKKS: $FHE_MODEL on $FHE_COUNT test images the server never sees"
echo "The compiler turns the PAF model into a CKKS program and picks the smallest 128-bit ring its depth fits:"
"$PRIVNN" fhe plan "$FHE_MODEL" $FHE_OPTS >"$OUT/fhe-plan.txt"
head -n 2 "$OUT/fhe-plan.txt"
echo "The client makes its keys, encrypts each image; the server evaluates; the client decrypts the logits..."
"$PRIVNN" fhe infer "$FHE_MODEL" --data fashion-mnist --split test --count "$FHE_COUNT" $FHE_OPTS \
  --threads "$FHE_THREADS" --json "$OUT/fhe.json" >"$OUT/fhe.txt"
/usr/bin/python3 - "$OUT/fhe.json" <<'PY' 2>/dev/null || tail -n 5 "$OUT/fhe.txt"
import json, sys
d = json.load(open(sys.argv[1]))
n = d["images"]
print(f"keys: {d['keygen_seconds']:.1f} s to make; the server gets {d['key_bytes'] / 1e6:.0f} MB of evaluation keys "
      f"({d['rotation_keys']} rotation keys), the {d['secret_key_bytes'] / 1e3:.0f} kB secret key stays with the client")
print(f"per image: {d['bytes_up'] / 1e3:.0f} kB up, {d['bytes_down'] / 1e3:.0f} kB down; the server's evaluation "
      f"{d['seconds_per_image']:.2f} s ({d['cpu_seconds_per_image']:.2f} s CPU)")
agree = round(d["agreement"] * n)
print(f"decrypted top-1 = the plaintext PAF model's on {agree}/{n} images, max |logit error| {d['max_abs_err']:.1e}; "
      f"top-1 accuracy {d['accuracy']:.2f} on these {n}")
PY
