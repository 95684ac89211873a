#!/usr/bin/env bash
# paf-ort-check.sh - a PAF model (ai.privnn nodes) against ONNX Runtime: `privnn paf export --expand`
# writes it with standard ops only; ORT runs that on a batch of Fashion-MNIST training images, privnn
# runs the original PAF model on the same batch, and the logits must agree within 1e-4 of their
# magnitude. PN_MEAN/PN_STD override the normalisation (default: the reference models').
#
# usage: scripts/paf-ort-check.sh MODEL.onnx [BUILD_DIR] [BATCH]
# ORT (onnxruntime-node from npm) is installed into bench/.ort on first use: a test oracle, never a
# build dependency. Exit 0 when they agree, 1 otherwise. Prints one line per model.
set -euo pipefail
MODEL=${1:?usage: scripts/paf-ort-check.sh MODEL.onnx [BUILD_DIR] [BATCH]}
BUILD=${2:-build}
BATCH=${3:-8}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PRIVNN=$(cd "$BUILD" && pwd)/privnn
[ -x "$PRIVNN" ] || { echo "paf-ort-check: $PRIVNN not found (build first)" >&2; exit 1; }
command -v node >/dev/null || { echo "paf-ort-check: node not found" >&2; exit 1; }
if [ ! -d "$ROOT/bench/.ort/node_modules/onnxruntime-node" ]; then
  echo "paf-ort-check: installing onnxruntime-node into bench/.ort ..." >&2
  ONNXRUNTIME_NODE_INSTALL=skip npm install --silent --no-audit --no-fund --prefix "$ROOT/bench/.ort" onnxruntime-node >&2
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/paf-ort.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
"$PRIVNN" paf export "$MODEL" --expand -o "$WORK/expanded.onnx" >/dev/null
# the input: the first BATCH Fashion-MNIST training images, normalised as the reference models are
# (a static-scale PAF is only defined on the range it was calibrated on: random inputs overflow it);
# one batch, because the dynamic scale of a PAF spans the whole batch
node -e '
const fs = require("fs"), zlib = require("zlib");
const [file, n, out, mean, std] = process.argv.slice(1);
const raw = zlib.gunzipSync(fs.readFileSync(file));
if (raw.readUInt32BE(0) !== 0x803) throw new Error(file + ": not an IDX image file");
const count = Number(n), px = 28 * 28, data = Buffer.alloc(4 * count * px);
for (let i = 0; i < count * px; i++) data.writeFloatLE((raw[16 + i] / 255 - Number(mean)) / Number(std), 4 * i);
const v = (x) => { const b = []; do { let c = x & 0x7f; x >>>= 7; if (x) c |= 0x80; b.push(c); } while (x); return b; };
const head = [0x08, ...v(count), 0x08, 1, 0x08, 28, 0x08, 28, 0x10, 1, 0x4a, ...v(data.length)];
fs.writeFileSync(out, Buffer.concat([Buffer.from(head), data]));' \
  "${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}/train-images-idx3-ubyte.gz" "$BATCH" "$WORK/x.pb" \
  "${PN_MEAN:-0.28612554}" "${PN_STD:-0.35305753}"
"$PRIVNN" run "$MODEL" --input "$WORK/x.pb" -o "$WORK/y.pb" >/dev/null
res=$(node "$ROOT/bench/ort_time.js" --model "$WORK/expanded.onnx" --input-pb "$WORK/x.pb" --compare "$WORK/y.pb" \
      --warmup 0 --repeat 1)
node -e '
const r = JSON.parse(process.argv[1]), name = process.argv[2];
const rel = r.max_abs_diff / Math.max(1, r.max_abs_out);
const ok = rel <= 1e-4;
console.log(`${name}: ONNX Runtime ${r.ort_version} on the expanded model vs privnn on the PAF model: ` +
            `max |diff| ${r.max_abs_diff.toExponential(2)}, max |logit| ${r.max_abs_out.toFixed(3)}, ` +
            `relative ${rel.toExponential(2)} ${ok ? "<=" : ">"} 1e-4 ${ok ? "ok" : "FAILED"}`);
process.exit(ok ? 0 : 1);' "$res" "$(basename "$MODEL")"
