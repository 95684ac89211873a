#!/bin/bash
# test_fhe_cli.sh - privnn fhe: plan (table and JSON) of a PAF lenet5 that needs bootstrapping, with
# real bootstraps (N = 2^16) and with bootstraps placed for the simulation; encrypted inference end to end on a small PAF model cut from it
# (conv-PafRelu-avgpool-dense: fits without bootstrapping) with agreement and logit error read from the
# JSON; the user's own files (--input: .npy and PNG of test images give the classes --data gives, in infer,
# encrypt and query); the same steps as files (keygen, encrypt, eval, decrypt) and their refusals; and bad input: a plain ReLU model, a model too deep without bootstrapping, --boot simulate with
# infer, a missing file, bad options; resnet-s planned under the default key budget (its power-of-two keys exceed it). Each error is one line naming the file or node.
# Usage: bash test_fhe_cli.sh PATH/TO/privnn SOURCE_DIR
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

# ---- a PAF lenet5 (untuned f1g2 with static scales) ----
expect_ok "$PRIVNN" paf approximate "$SRC/models/lenet5.onnx" --form f1g2 --techniques ss --ss-images 500 \
  --max-val 200 --data fashion-mnist -o "$W/l5.onnx"

# ---- plan ----
expect_err 1 "replace it by a PAF first" "$PRIVNN" fhe plan "$SRC/models/lenet5.onnx"
expect_err 1 "bootstrapping is off" "$PRIVNN" fhe plan "$W/l5.onnx" --boot never
expect_ok "$PRIVNN" fhe plan "$W/l5.onnx" --json "$W/planb.json"
[ "$(json "$W/planb.json" "d['bootstraps'] > 0 and d['bootstrapping']['mode'] == 'ciphertexts' and d['params']['logn'] == 16 and d['params']['secure_128'] and d['bootstrapping']['key_bytes_in_memory'] > 0")" = True ] ||
  fail "planb.json (real bootstrapping): $(head -c 600 "$W/planb.json")"
expect_ok "$PRIVNN" fhe plan "$W/l5.onnx" --boot simulate --json "$W/plan.json"
grep -q "^conv2 *Conv *multiplexed" "$W/out" || fail "plan table lacks the conv2 row: $(head -c 600 "$W/out")"
grep -q "bootstrap" "$W/out" || fail "plan table lacks bootstraps"
[ "$(json "$W/plan.json" "d['bootstraps'] > 0 and d['depth'] > d['levels'] and len(d['layers']) > 10")" = True ] ||
  fail "plan.json: $(head -c 400 "$W/plan.json")"
expect_err 1 "only the simulation runs" "$PRIVNN" fhe infer "$W/l5.onnx" --boot simulate --data fashion-mnist
expect_ok "$PRIVNN" fhe plan "$W/l5.onnx" --boot simulate --max-keys 20 --json "$W/plan20.json"
[ "$(json "$W/plan20.json" "d['rotation_keys'] == 20")" = True ] || fail "plan20.json: rotation_keys not 20"
expect_err 1 "power-of-two" "$PRIVNN" fhe plan "$W/l5.onnx" --boot simulate --max-keys 5
# the default key budget (6 GiB) holds 13 of resnet-s's 420 MiB keys: it runs with its 15 power-of-two keys
# anyway; the same budget given with --key-mb is a hard limit
expect_ok "$PRIVNN" fhe plan "$SRC/models/paf/resnet-s-f1g2.onnx" --json "$W/plan_rs.json"
[ "$(json "$W/plan_rs.json" "d['rotation_keys'] == 15 and d['params']['logn'] == 16")" = True ] ||
  fail "plan_rs.json: not the 15 power-of-two keys at N = 2^16: $(head -c 400 "$W/plan_rs.json")"
expect_err 1 "even the 15 power-of-two keys do not" "$PRIVNN" fhe plan "$SRC/models/paf/resnet-s-f1g2.onnx" --key-mb 6144

# ---- encrypted inference on a model that fits without bootstrapping ----
$PY - "$W/l5.onnx" "$W/small.onnx" <<'PYEOF'
import sys, onnx, numpy as np
from onnx import helper, numpy_helper
m = onnx.load(sys.argv[1])
g = m.graph
keep = [n for n in g.node if n.output[0] in ("conv1", "relu1")]
pool = helper.make_node("AveragePool", ["relu1"], ["pool"], kernel_shape=[4, 4], strides=[4, 4])
flat = helper.make_node("Flatten", ["pool"], ["flat"], axis=1)
rng = np.random.default_rng(1)
w = (rng.standard_normal((10, 6 * 7 * 7)) * 0.2).astype(np.float32)
b = (rng.standard_normal(10) * 0.1).astype(np.float32)
gemm = helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], transB=1)
used = {i for n in keep for i in n.input}
inits = [t for t in g.initializer if t.name in used] + [numpy_helper.from_array(w, "fc.w"), numpy_helper.from_array(b, "fc.b")]
del g.node[:]
g.node.extend(keep + [pool, flat, gemm])
del g.initializer[:]
g.initializer.extend(inits)
del g.value_info[:]
onnx.save(m, sys.argv[2])
PYEOF
[ -s "$W/small.onnx" ] || fail "could not cut the small model"
expect_ok "$PRIVNN" fhe infer "$W/small.onnx" --data fashion-mnist --split test --count 2 --json "$W/infer.json"
grep -q "agreement with the plaintext model 1.0000 (2/2)" "$W/out" || fail "infer: $(cat "$W/out")"
[ "$(json "$W/infer.json" "d['agreement'] == 1 and d['max_abs_err'] < 1e-2 and d['images'] == 2")" = True ] ||
  fail "infer.json: agreement/max_abs_err: $(head -c 600 "$W/infer.json")"
[ "$(json "$W/infer.json" "all(k in d for k in ('accuracy','seconds_per_image','bytes_up','bytes_down','key_bytes','layers')) and d['params']['secure_128']")" = True ] ||
  fail "infer.json lacks keys"

# ---- the user's own inputs (--input): test images 0 and 1 as numpy wrote them (uint8), image 1 as PNG ----
$PY - "$W" <<'PYEOF' || fail "numpy could not write the test images"
import gzip, sys, numpy as np
x = np.frombuffer(gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read(), np.uint8, offset=16)
np.save(sys.argv[1] + "/x.npy", x[:2 * 784].reshape(2, 28, 28))
np.save(sys.argv[1] + "/i1.npy", x[784:2 * 784].reshape(28, 28))
PYEOF
expect_ok "$PRIVNN" tensor "$W/i1.npy" -o "$W/i1.png"
expect_ok "$PRIVNN" fhe infer "$W/small.onnx" --input "$W/i1.png" --max-keys 16 --json "$W/infer-png.json"
grep -q "^input 0: class $(json "$W/infer.json" "d['predictions'][1][0]") encrypted, $(json "$W/infer.json" "d['predictions'][1][1]") in plaintext" "$W/out" ||
  fail "infer --input i1.png: not image 1's classes: $(cat "$W/out")"
[ "$(json "$W/infer-png.json" "d['predictions'] == json.load(open('$W/infer.json'))['predictions'][1:] and d['accuracy'] is None and d['max_abs_err'] < 1e-2")" = True ] ||
  fail "infer-png.json: $(head -c 600 "$W/infer-png.json")"
expect_err 2 "exclude each other" "$PRIVNN" fhe infer "$W/small.onnx" --data fashion-mnist --input "$W/x.npy"
expect_err 2 "--resize applies" "$PRIVNN" fhe infer "$W/small.onnx" --data fashion-mnist --resize
expect_err 1 "hold 2 examples" "$PRIVNN" fhe infer "$W/small.onnx" --input "$W/x.npy" --count 3

# ---- the same as files: keygen (client), encrypt, eval (server: no secret key), decrypt ----
K="$W/keys"
expect_ok "$PRIVNN" fhe keygen "$W/small.onnx" --max-keys 16 -o "$K"
[ "$(stat -c %a "$K/secret.key")" = 600 ] || fail "secret.key is not 0600"
expect_ok "$PRIVNN" fhe encrypt "$W/small.onnx" --keys "$K" --data fashion-mnist --split test --index 0 -o "$W/q.bin"
expect_ok "$PRIVNN" fhe eval "$W/small.onnx" "$W/q.bin" --keys "$K/eval.keys" --max-keys 16 -o "$W/r.bin"
expect_ok "$PRIVNN" fhe decrypt "$W/r.bin" --keys "$K" --json "$W/dec.json"
[ "$(json "$W/dec.json" "d['top1']")" = "$(json "$W/infer.json" "d['predictions'][0][1]")" ] ||
  fail "decrypted top-1 differs from the plaintext model's: $(cat "$W/dec.json")"
# the same image from the user's own file: the same class
expect_ok "$PRIVNN" fhe encrypt "$W/small.onnx" --keys "$K" --input "$W/x.npy" --index 0 -o "$W/qx.bin"
expect_ok "$PRIVNN" fhe eval "$W/small.onnx" "$W/qx.bin" --keys "$K/eval.keys" --max-keys 16 -o "$W/rx.bin"
expect_ok "$PRIVNN" fhe decrypt "$W/rx.bin" --keys "$K" --json "$W/decx.json"
[ "$(json "$W/decx.json" "d['top1']")" = "$(json "$W/dec.json" "d['top1']")" ] ||
  fail "encrypt --input x.npy: top-1 differs from --data's image 0: $(cat "$W/decx.json")"
expect_err 1 "hold 2 examples" "$PRIVNN" fhe encrypt "$W/small.onnx" --keys "$K" --input "$W/x.npy" --index 2 -o "$W/qy.bin"
expect_err 1 "no-such.npy" "$PRIVNN" fhe encrypt "$W/small.onnx" --keys "$K" --input "$W/x.npy" --input "$W/no-such.npy" -o "$W/qy.bin"
expect_err 1 "program hash differs" "$PRIVNN" fhe eval "$W/small.onnx" "$W/q.bin" --keys "$K/eval.keys" -o "$W/r2.bin"
expect_err 1 "expected a result, got a query" "$PRIVNN" fhe decrypt "$W/q.bin" --keys "$K"
head -c 1000 "$W/q.bin" >"$W/q-cut.bin"
expect_err 1 "truncated" "$PRIVNN" fhe eval "$W/small.onnx" "$W/q-cut.bin" --keys "$K/eval.keys" --max-keys 16 -o "$W/r3.bin"
chmod 644 "$K/secret.key"
expect_err 1 "chmod 600" "$PRIVNN" fhe decrypt "$W/r.bin" --keys "$K"
chmod 600 "$K/secret.key"
cp "$K/eval.keys" "$W/eval.keys" # real keys for the model served below (same plan options), damaged there
rm -rf "$K"

# ---- over TCP: serve (7 sessions: garbage, a good client, a client sending keys that are none, three sending
# real keys damaged (a flipped byte: the record digest; 8 bytes past the object; cut short, then hanging up),
# another good client: its own keys on the weights the server encoded once for all sessions) and query ----
"$PRIVNN" fhe serve "$W/small.onnx" --listen 127.0.0.1:0 --sessions 7 --max-keys 16 >"$W/srv.out" 2>"$W/srv.err" &
SRV=$!
PORT=
for _ in $(seq 1 600); do
  PORT=$(grep -o "listening on port [0-9]*" "$W/srv.out" 2>/dev/null | grep -o "[0-9]*$")
  [ -n "$PORT" ] && break
  kill -0 $SRV 2>/dev/null || break
  sleep 0.2
done
if [ -z "$PORT" ]; then
  fail "fhe serve did not start: $(cat "$W/srv.err")"
else
  # garbage: the server ends that session with a message and keeps serving
  if exec 3<>/dev/tcp/127.0.0.1/"$PORT"; then
    head -c 16 <&3 >"$W/hello-hdr"
    # the server may close as soon as it has read a bad magic: the write must not kill this script (SIGPIPE)
    (trap '' PIPE; printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&3) 2>/dev/null || true
    cat <&3 >/dev/null 2>&1
    exec 3>&-
  fi
  [ "$(head -c 4 "$W/hello-hdr")" = PNFS ] || fail "the server did not speak first with a PNFS frame"
  # the client's own files, normalised as the server's HELLO says: test images 0 and 1
  expect_ok "$PRIVNN" fhe query --connect 127.0.0.1:"$PORT" --input "$W/x.npy" --json "$W/query.json"
  [ "$(json "$W/query.json" "[p['top1'] for p in d['predictions']] == [q[1] for q in json.load(open('$W/infer.json'))['predictions']]")" = True ] ||
    fail "query top-1 differs from the plaintext model's: $(head -c 600 "$W/query.json")"
  [ "$(json "$W/query.json" "d['key_bytes'] > 0 and d['bytes_up'] > d['bytes_down'] > 0")" = True ] ||
    fail "query.json: bytes: $(head -c 300 "$W/query.json")"
  # a well-framed KEYS frame that holds no keys: the server answers with an ERROR frame naming them
  if exec 3<>/dev/tcp/127.0.0.1/"$PORT"; then
    head -c 16 <&3 >/dev/null
    sl=$(head -c 16 "$W/hello-hdr" | od -An -tu8 -j8 -N8 | tr -d ' ')
    head -c "$sl" <&3 >/dev/null
    (trap '' PIPE; printf 'PNFS\x02\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00xxxx' >&3) 2>/dev/null || true
    head -c 200 <&3 | tr -c '[:print:]' '.' >"$W/err-frame"
    exec 3>&-
  fi
  grep -q "^PNFS.*KEYS.*not a privnn FHE object" "$W/err-frame" || fail "no ERROR frame for bad keys: $(cat "$W/err-frame")"
  # real keys damaged, streamed to the server as fhe query would (the server parses them as they arrive)
  for how in flip overlong cut; do
    $PY - "$PORT" "$W/eval.keys" "$how" >"$W/bad-$how" 2>&1 <<'PYEOF'
import socket, struct, sys
port, path, how = int(sys.argv[1]), sys.argv[2], sys.argv[3]
keys = bytearray(open(path, 'rb').read())
s = socket.create_connection(('127.0.0.1', port), timeout=60)
def take(n):
    b = b''
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            break
        b += c
    return b
h = take(16)
take(struct.unpack('<Q', h[8:16])[0])  # HELLO
n = len(keys)
if how == 'flip':
    keys[len(keys) // 2] ^= 0x04
elif how == 'overlong':
    keys += b'\0' * 8
    n += 8
send = keys if how != 'cut' else keys[:len(keys) // 3]
try:
    s.sendall(b'PNFS\x02\0\0\0' + struct.pack('<Q', n) + bytes(send))
except OSError:
    pass  # the server may refuse before it has read all
if how == 'cut':
    s.shutdown(socket.SHUT_WR)
h = take(16)
m = take(struct.unpack('<Q', h[8:16])[0]) if len(h) == 16 else b''
print(h[:4].decode('latin1'), h[4] if h else -1, m.decode('latin1'))
PYEOF
  done
  grep -q "^PNFS 6 .*KEYS.*digest mismatch" "$W/bad-flip" || fail "no ERROR frame for a damaged key: $(cat "$W/bad-flip")"
  grep -q "^PNFS 6 .*KEYS.*payload of" "$W/bad-overlong" || fail "no ERROR frame for an over-long KEYS frame: $(cat "$W/bad-overlong")"
  # a second client after the failed ones: the cached weights serve its keys as well
  expect_ok "$PRIVNN" fhe query --connect 127.0.0.1:"$PORT" --input "$W/x.npy" --json "$W/query2.json"
  [ "$(json "$W/query2.json" "[p['top1'] for p in d['predictions']] == [q[1] for q in json.load(open('$W/infer.json'))['predictions']]")" = True ] ||
    fail "second query's top-1 differs from the plaintext model's: $(head -c 600 "$W/query2.json")"
  wait $SRV
  rc=$?
  [ $rc -eq 0 ] || fail "fhe serve exited $rc: $(cat "$W/srv.err")"
  grep -q "session 1 .*bad magic" "$W/srv.err" || fail "serve did not report the garbage session: $(cat "$W/srv.err")"
  grep -q "session 2 .*2 queries" "$W/srv.out" || fail "serve did not report the good session: $(cat "$W/srv.out")"
  grep -q "session 3 .*KEYS" "$W/srv.err" || fail "serve did not report the bad keys: $(cat "$W/srv.err")"
  grep -q "session 4 .*KEYS.*digest mismatch" "$W/srv.err" || fail "serve did not report the damaged key: $(cat "$W/srv.err")"
  grep -q "session 5 .*KEYS.*payload of" "$W/srv.err" || fail "serve did not report the over-long keys: $(cat "$W/srv.err")"
  grep -q "session 6 .*closed the connection" "$W/srv.err" || fail "serve did not report the cut keys: $(cat "$W/srv.err")"
  grep -q "session 7 .*2 queries" "$W/srv.out" || fail "serve did not report the second good session: $(cat "$W/srv.out")"
  [ "$(grep -c "weights encoded once" "$W/srv.out")" = 1 ] || fail "serve: weights not encoded once: $(cat "$W/srv.out")"
fi
expect_err 1 "cannot connect" "$PRIVNN" fhe query --connect 127.0.0.1:1 --data fashion-mnist --timeout 1
expect_err 2 "--listen" "$PRIVNN" fhe serve "$W/small.onnx"
expect_err 2 "unexpected argument" "$PRIVNN" fhe query "$W/small.onnx" --connect 127.0.0.1:1 --data fashion-mnist
expect_err 2 "exclude each other" "$PRIVNN" fhe query --connect 127.0.0.1:1 --data fashion-mnist --input "$W/x.npy"

# ---- bad input ----
expect_err 1 "no-such.onnx" "$PRIVNN" fhe plan "$W/no-such.onnx"
expect_err 2 "no model given" "$PRIVNN" fhe plan
expect_err 2 "unknown subcommand" "$PRIVNN" fhe frobnicate
expect_err 2 "--count" "$PRIVNN" fhe infer "$W/small.onnx" --data fashion-mnist --count 0
expect_err 2 "no images given" "$PRIVNN" fhe infer "$W/small.onnx"
expect_err 2 "--logn" "$PRIVNN" fhe plan "$W/small.onnx" --logn 40
expect_err 1 "do not fit one ciphertext" "$PRIVNN" fhe plan "$W/small.onnx" --logn 12

echo "test_fhe_cli: $pass passed, $fails failed"
[ $fails -eq 0 ]
