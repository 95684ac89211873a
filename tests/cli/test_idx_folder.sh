#!/bin/bash
# test_idx_folder.sh - `train` and `eval` on IDX folders other than Fashion-MNIST (issue 19 item 1):
# a 16x16 grey folder (300 training images, 4 classes; gzipped train files, plain test files) is
# trained on with lenet5 and evaluated, the reports agree with the folder (shape, classes, the 1/12
# validation split, a confusion matrix over the test images whose diagonal is the accuracy, both
# engines alike); an RGB folder (channels last) trains cnn-s into a model of input [N,3,12,12].
# Refused, naming what the model expects and what the folder has: a folder model on Fashion-MNIST,
# a Fashion-MNIST model on the folder (eval, and paf approximate before any work), a model with
# fewer logits than classes, an architecture too big for the images; a truncated or inconsistent
# folder names the file and the field. Exit 1, never a crash.
# Usage: bash test_idx_folder.sh PATH/TO/privnn SOURCE_DIR
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

# mk DIR N_TRAIN N_TEST H W C CLASSES: class k is a bright block in cell k of a 2x2 grid (then
# further cells), on seeded noise; C > 1 is stored channels last (N x H x W x C)
mk() {
  "$PY" - "$@" <<'EOF'
import gzip, os, random, struct, sys
d, ntr, nte, h, w, c, k = sys.argv[1], *map(int, sys.argv[2:])
os.makedirs(d, exist_ok=True)
rng = random.Random(5)
def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", x) for x in dims) + bytes(data)
for split, n, gz in (("train", ntr, True), ("t10k", nte, False)):
    img, lab = bytearray(), bytearray()
    for i in range(n):
        y = i % k
        lab.append(y)
        r0, c0 = (y // 2 % 2) * (h // 2), (y % 2) * (w // 2)
        for r in range(h):
            for q in range(w):
                v = 220 if r0 <= r < r0 + h // 2 and c0 <= q < c0 + w // 2 else rng.randrange(60)
                img.extend([v] * c)
    dims = [n, h, w] + ([c] if c > 1 else [])
    op = gzip.open if gz else open
    sfx = ".gz" if gz else ""
    with op(f"{d}/{split}-images-idx3-ubyte{sfx}", "wb") as f: f.write(idx(dims, img))
    with op(f"{d}/{split}-labels-idx1-ubyte{sfx}", "wb") as f: f.write(idx([n], lab))
EOF
}
mk grey 300 80 16 16 1 4 || { echo "FAIL: python could not write the folders"; exit 1; }
mk rgb 60 12 12 12 3 3
mk many 30 10 28 28 1 12
mk small 30 10 8 8 1 3

# ---- train and eval on the 16x16 folder ----
expect_ok "$PRIVNN" train --arch lenet5 --data grey --epochs 4 --batch 25 --lr 0.05 --threads 1 -o g.onnx --json t.json
grep -q "^grey: 16x16x1 images, 4 classes; 275 train, 25 validation, 80 test" "$W/out" && ok ||
  fail "train did not describe the folder: $(head -3 "$W/out")"
[ "$(json t.json 'd["dataset"], d["image_shape"], d["classes"], d["train_images"]')" = "grey [1, 16, 16] 4 275" ] &&
  ok || fail "train report: $(json t.json 'd.get("dataset"), d.get("image_shape"), d.get("classes"), d.get("train_images")')"
[ "$(json t.json 'int(d["val_accuracy"] > 0.5)')" = 1 ] && ok ||
  fail "val accuracy $(json t.json 'd["val_accuracy"]') not above 0.5 (chance 0.25)"
expect_ok "$PRIVNN" eval g.onnx --data grey --split test --json e.json
grep -q "g.onnx on grey test (80 images)" "$W/out" && ok || fail "eval line: $(head -1 "$W/out")"
"$PY" - e.json <<'EOF' && ok || fail "eval report inconsistent: $(cat e.json)"
import json, sys
d = json.load(open(sys.argv[1]))
m = d["confusion_matrix"]
assert d["dataset"] == "grey" and d["classes"] == 4 and d["images"] == 80, d
assert len(m) == 4 and all(len(r) == 4 for r in m), m
assert sum(map(sum, m)) == 80, m
assert abs(sum(m[i][i] for i in range(4)) / 80 - d["accuracy"]) < 1e-12, (m, d["accuracy"])
assert d["accuracy"] > 0.5, d["accuracy"]
EOF
acc_exec=$(json e.json 'd["accuracy"]')
expect_ok "$PRIVNN" eval g.onnx --data grey --split test --engine nn --json n.json
# the training engine and the executor: the same predictions but for a near tie at most
[ "$(json n.json "int(abs(d['accuracy'] - $acc_exec) <= 1 / 80 + 1e-12)")" = 1 ] && ok ||
  fail "engine nn accuracy $(json n.json 'd["accuracy"]') != exec $acc_exec"

# ---- channels last, 3 channels; the folder given by its full path ----
expect_ok "$PRIVNN" train --arch cnn-s --data "$W/rgb" --epochs 1 --batch 10 --threads 1 -o c.onnx --json c.json
[ "$(json c.json 'd["image_shape"], d["classes"]')" = "[3, 12, 12] 3" ] && ok || fail "rgb train report: $(cat c.json)"
# the model records the folder's name, not its path (metadata_props strings are plain in the file)
grep -aq "privnn.dataset" c.onnx && grep -aq "rgb" c.onnx && ! grep -aqF "$W" c.onnx && ok ||
  fail "c.onnx does not record 'rgb' alone as its dataset"
expect_ok "$PRIVNN" eval c.onnx --data rgb --split val
grep -q "c.onnx on rgb val (5 images)" "$W/out" && ok || fail "rgb eval: $(head -1 "$W/out")"

# ---- models that do not fit: what the model expects, what the data has ----
expect_err 1 "the model expects [N,1,16,16]; Fashion-MNIST has 28x28x1 images" "$PRIVNN" eval g.onnx --data fashion-mnist --limit 10
expect_err 1 "the model expects [N,1,28,28]; the dataset grey has 16x16x1 images" "$PRIVNN" eval "$SRC/models/lenet5.onnx" --data grey
expect_err 1 "the model expects [N,3,12,12]; the dataset grey has 16x16x1 images" "$PRIVNN" eval c.onnx --data grey
# paf approximate checks the same before any work (it used to fail only when the executor ran)
expect_err 1 "the model expects [N,1,28,28]; the dataset grey has 16x16x1 images" \
  "$PRIVNN" paf approximate "$SRC/models/lenet5.onnx" --form f1g2 --data grey -o p.onnx
if [ -e p.onnx ] || [ -e p.onnx.ckpt ]; then fail "a refused paf approximate left p.onnx or its checkpoint"; else ok; fi
expect_err 1 "has 10 logits; the dataset many has 28x28x1 images and labels 0..11 (12 classes)" \
  "$PRIVNN" eval "$SRC/models/lenet5.onnx" --data many
expect_err 1 "small has 8x8x1 images: lenet5 needs images of at least 12x12" \
  "$PRIVNN" train --arch lenet5 --data small --epochs 1 --batch 10 -o x.onnx
[ ! -e x.onnx ] && ok || fail "a refused train wrote x.onnx"

# ---- broken folders: the file and the field ----
cp -r grey cut
truncate -s -7 cut/t10k-images-idx3-ubyte
expect_err 1 "cut/t10k-images-idx3-ubyte: IDX header says 20480 data bytes, file has 20473" "$PRIVNN" eval g.onnx --data cut
cp -r grey lab
head -c 50 grey/t10k-labels-idx1-ubyte >lab/t10k-labels-idx1-ubyte # 42 labels left, the header says 80
expect_err 1 "lab/t10k-labels-idx1-ubyte: IDX header says 80 data bytes, file has 42" "$PRIVNN" eval g.onnx --data lab
cp -r grey mix
cp small/t10k-images-idx3-ubyte small/t10k-labels-idx1-ubyte mix/
expect_err 1 "mix/t10k-images-idx3-ubyte: images are 8x8x1 (HxWxC), the training images 16x16x1" \
  "$PRIVNN" eval g.onnx --data mix
cp -r grey cnt
cp rgb/t10k-labels-idx1-ubyte cnt/
expect_err 1 "cnt/t10k-labels-idx1-ubyte: 12 labels (dim 0) for 80 images" "$PRIVNN" train --arch lenet5 --data cnt -o y.onnx
printf 'not an IDX file at all' | gzip >cnt/train-images-idx3-ubyte.gz
expect_err 1 "cnt/train-images-idx3-ubyte.gz: not an IDX file" "$PRIVNN" train --arch lenet5 --data cnt -o y.onnx
rm cnt/train-images-idx3-ubyte.gz
expect_err 1 "cnt/train-images-idx3-ubyte.gz: No such file" "$PRIVNN" eval g.onnx --data cnt

# ---- Fashion-MNIST as before ----
if [ -r /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  expect_ok "$PRIVNN" eval "$SRC/models/lenet5.onnx" --data fashion-mnist --limit 50 --json f.json
  grep -q "on fashion-mnist val (50 images)" "$W/out" && grep -q "^0 T-shirt" "$W/out" && ok ||
    fail "fashion-mnist eval text: $(head -4 "$W/out")"
  [ "$(json f.json 'd["dataset"], d["classes"], len(d["confusion_matrix"])')" = "fashion-mnist 10 10" ] && ok ||
    fail "fashion-mnist report: $(cat f.json)"
fi
finish test_idx_folder
