#!/bin/bash
# test_inputs.sh - a user's own inputs (issue 19 item 1): NumPy arrays written by numpy itself, PNG and
# PGM images, TensorProto files, through `privnn tensor`, `run`, `mpc infer` (simulator and two
# parties), `mpc profile` and `mpc share`, each compared with the Fashion-MNIST path on the same images: the model's
# input equals the dataset's normalisation, `run` on a PNG/PGM of image 0 gives exactly the logits of
# row 0 of the .npy batch, accuracy of `run` on the first 8 test images equals `eval --limit 8`, MPC
# classes equal plaintext ones. Round trips .npy -> .pb -> .npy keep every byte. Refused: Fortran
# order, big-endian and object arrays, shapes the model cannot take (naming [N,1,28,28]), images of
# another size without --resize, --data with --input, --count beyond the files.
# Usage: bash test_inputs.sh PATH/TO/privnn SOURCE_DIR
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"
M=$SRC/models/lenet5.onnx
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

# numpy writes the first 8 Fashion-MNIST test images (uint8 [8,28,28]), labels, and odd arrays
$PY - <<'EOF' || { echo "FAIL: numpy could not write the arrays"; exit 1; }
import gzip, numpy as np
d = "/usr/share/datasets/fashion-mnist/"
x = np.frombuffer(gzip.open(d + "t10k-images-idx3-ubyte.gz").read(), np.uint8, offset=16).reshape(-1, 28, 28)[:8]
y = np.frombuffer(gzip.open(d + "t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)[:8]
np.save("x.npy", x)
np.save("y.npy", y)
np.save("i0.npy", x[0])
with open("x-v2.npy", "wb") as f:
    np.lib.format.write_array(f, x[:2].reshape(2, 1, 28, 28), version=(2, 0))
np.save("fortran.npy", np.asfortranarray(x[0].astype(np.float32)))
np.save("big.npy", x[:1].astype(">f4"))
np.save("obj.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
np.save("wrong.npy", np.zeros((3, 32, 32), np.float32))
np.save("rgb.npy", np.stack([np.full((32, 32), v, np.uint8) for v in (200, 100, 50)]))
with open("i0.pgm", "w") as f:  # P2 by hand, with a comment
    f.write("P2\n# test image 0\n28 28\n255\n" + "\n".join(" ".join(map(str, r)) for r in x[0]) + "\n")
print("%.6g" % x.astype(np.float64).mean(), file=open("mean.txt", "w"))
EOF

# ---- privnn tensor: what a file holds, conversions ----
expect_ok "$PRIVNN" tensor x.npy && grep -q "npy uint8 \[8,28,28\], 6272 elements" "$W/out" && ok ||
  fail "tensor x.npy: $(cat "$W/out")"
grep -q "mean $(cat mean.txt) " "$W/out" && ok || fail "tensor x.npy: mean is not numpy's $(cat mean.txt): $(cat "$W/out")"
expect_ok "$PRIVNN" tensor x.npy -o x.pb
expect_ok "$PRIVNN" tensor x.pb -o back.npy
$PY -c 'import numpy as np, sys; a, b = np.load("x.npy"), np.load("back.npy"); sys.exit(not (a.dtype == b.dtype and np.array_equal(a, b)))' &&
  ok || fail ".npy -> .pb -> .npy changed the array"
expect_ok "$PRIVNN" tensor i0.npy -o i0.png
expect_ok "$PRIVNN" tensor i0.png && grep -q "png uint8 \[1,28,28\]" "$W/out" && ok || fail "tensor i0.png: $(cat "$W/out")"
expect_ok "$PRIVNN" tensor i0.pgm -o i0-p5.pgm
$PY -c '
import numpy as np, sys
b = open("i0-p5.pgm", "rb").read(); x = np.load("i0.npy")
sys.exit(not (b.startswith(b"P5\n28 28\n255\n") and b[-784:] == x.tobytes()))' && ok || fail "P2 -> P5 changed the pixels"

# ---- the model's input: the dataset's normalisation ----
expect_ok "$PRIVNN" tensor x.npy --model "$M" -o in.npy
$PY - "$M" <<'EOF' && ok || fail "tensor --model: not the dataset's normalisation"
import numpy as np, onnx, sys
meta = {p.key: p.value for p in onnx.load(sys.argv[1]).metadata_props}
mean, std = (np.float32(v) for v in meta["privnn.normalize"].split())
x = np.load("x.npy").astype(np.float32)
want = x * np.float32(1 / (np.float32(255) * std)) + (-mean / std)
got = np.load("in.npy")
sys.exit(not (got.shape == (8, 1, 28, 28) and got.dtype == np.float32 and np.allclose(got[:, 0], want, atol=1e-6)))
EOF

# ---- run: the .npy batch, a PNG and a PGM of image 0, a v2 header; eval on the same images ----
expect_ok "$PRIVNN" run "$M" --input x.npy -o logits.npy
expect_ok "$PRIVNN" run "$M" --input i0.png -o l-png.npy
grep -q "pixels, normalised with the model's privnn.normalize" "$W/out" && ok || fail "run i0.png: $(cat "$W/out")"
expect_ok "$PRIVNN" run "$M" --input i0.pgm -o l-pgm.npy
expect_ok "$PRIVNN" run "$M" --input x-v2.npy -o l-v2.npy
$PY -c '
import numpy as np, sys
l = np.load("logits.npy"); png, pgm = np.load("l-png.npy"), np.load("l-pgm.npy")
# the same input tensor at batch 1: identical; at other batch sizes the GEMMs may sum in another order
ok = np.array_equal(png, pgm) and np.allclose(png[0], l[0], rtol=0, atol=1e-4)
ok = ok and np.allclose(np.load("l-v2.npy"), l[:2], rtol=0, atol=1e-4)
sys.exit(not ok)' && ok || fail "PNG / PGM / v2 .npy of the same pixels do not give the same logits"
expect_ok "$PRIVNN" eval "$M" --data fashion-mnist --split test --limit 8 --json eval.json
$PY -c '
import json, numpy as np, sys
acc = float((np.load("logits.npy").argmax(1) == np.load("y.npy")).mean())
sys.exit(abs(acc - json.load(open("eval.json"))["accuracy"]) > 1e-9)' && ok || fail "run on the .npy and eval disagree on accuracy"

# an IDX folder of the same layout (here Fashion-MNIST's own files, linked); a model of another
# shape is refused before it runs, naming the shape it takes; a folder lacking a file names itself
mkdir -p idx half
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  ln -s "/usr/share/datasets/fashion-mnist/$f" "idx/$f"
done
ln -s "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz" half/
expect_ok "$PRIVNN" eval "$M" --data idx --split test --limit 8 --json eval-idx.json
$PY -c 'import json, sys; sys.exit(json.load(open("eval-idx.json"))["accuracy"] != json.load(open("eval.json"))["accuracy"])' &&
  ok || fail "eval on the linked IDX folder differs from fashion-mnist"
expect_err 1 "IDX folder half" "$PRIVNN" eval "$M" --data half --limit 8
"$PRIVNN" zoo resnet18 --input-shape 1x3x32x32 --classes 10 -o r18.onnx >/dev/null || fail "zoo resnet18"
expect_err 1 "the model expects [N,3,32,32]; Fashion-MNIST has 28x28x1 images" "$PRIVNN" eval r18.onnx --data fashion-mnist --limit 8

# ---- MPC on the user's inputs: the plaintext classes ----
expect_ok "$PRIVNN" mpc infer "$M" --input x.npy --sim --batch 4 --seed 3 --json mpc.json
$PY -c '
import json, numpy as np, sys
r = json.load(open("mpc.json")); l = np.load("logits.npy"); p = r["predictions"]
ok = r["images"] == 8 and len(p) == 8 and r["agreement"] == 1
ok = ok and all(e["class"] == int(l[i].argmax()) == e["plaintext_class"] for i, e in enumerate(p))
ok = ok and max(abs(np.array(e["logits"]) - l[i]).max() for i, e in enumerate(p)) < 0.05
sys.exit(not ok)' && ok || fail "mpc infer --sim on x.npy: classes or logits differ from run's"
expect_ok "$PRIVNN" mpc infer "$M" --input i0.png --input i0.pgm --batch 2 --seed 4 --json mpc2.json
$PY -c '
import json, numpy as np, sys
p = json.load(open("mpc2.json"))["predictions"]; c = int(np.load("logits.npy")[0].argmax())
sys.exit(not (len(p) == 2 and p[0]["class"] == p[1]["class"] == c))' && ok ||
  fail "two-party mpc infer on i0.png and i0.pgm: not run's class"
# a HummingBird profile on the user's calibration images = the profile of the same dataset images
expect_ok "$PRIVNN" mpc profile "$M" --input x.npy -o prof-in.json
expect_ok "$PRIVNN" mpc profile "$M" --data fashion-mnist --split test --count 8 --batch 8 -o prof-ds.json
$PY -c '
import json, sys
a, b = (json.load(open(f))["profile"] for f in ("prof-in.json", "prof-ds.json"))
sys.exit(not (len(a) == len(b) > 0 and all(x["max_abs"] == y["max_abs"] and x["m"] == y["m"] for x, y in zip(a, b))))' &&
  ok || fail "mpc profile --input x.npy differs from the same images through --data"
expect_ok "$PRIVNN" mpc share "$M" --input x.npy --batch 4 -o c
[ -s c.p0.share ] && [ -s c.p1.share ] && grep -q '"images":[[:space:]]*8' c.labels.json && ok ||
  fail "mpc share --input x.npy: $(cat "$W/out") $(cat c.labels.json 2>/dev/null)"

# ---- refusals ----
expect_err 1 "Fortran" "$PRIVNN" tensor fortran.npy
expect_err 1 "big-endian" "$PRIVNN" tensor big.npy
expect_err 1 "object" "$PRIVNN" tensor obj.npy
expect_err 1 "[N,1,28,28]" "$PRIVNN" mpc infer "$M" --input wrong.npy --sim
expect_err 1 "wrong.npy" "$PRIVNN" run "$M" --input wrong.npy
expect_ok "$PRIVNN" tensor rgb.npy -o rgb.png
expect_err 1 "--resize" "$PRIVNN" run "$M" --input rgb.png
expect_ok "$PRIVNN" tensor rgb.png --model "$M" --resize && grep -q "float32 \[1,1,28,28\]" "$W/out" && ok ||
  fail "tensor rgb.png --resize: $(cat "$W/out")"
expect_err 2 "exclude each other" "$PRIVNN" mpc infer "$M" --data random --input x.npy --sim
expect_err 1 "hold 8 examples" "$PRIVNN" mpc infer "$M" --input x.npy --count 9 --sim
expect_err 1 "no-such.png" "$PRIVNN" tensor no-such.png
expect_err 2 "--resize needs --model" "$PRIVNN" tensor rgb.png --resize

finish test_inputs
