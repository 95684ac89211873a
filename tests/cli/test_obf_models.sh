#!/bin/bash
# test_obf_models.sh - `privnn obf split/join` on privnn's own models/ (one channel, 28x28, 5x5
# convolutions without padding, a symbolic batch N) as a user would run them, from an installed
# privnn (`cmake --install`) in a folder with no data/ of its own: it finds its n-gram corpus
# beside itself. A split that fails leaves no bundle folder behind.
# Usage: bash test_obf_models.sh PATH/TO/privnn SOURCE_DIR
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"
BUILD=$(cd "$(dirname "$PRIVNN")" && pwd)

if ! cmake --install "$BUILD" --prefix "$W/prefix" >"$W/install.log" 2>&1; then
  fail "cmake --install: $(tail -3 "$W/install.log")"
  exit 1
fi
P="$W/prefix/bin/privnn"
[ -f "$W/prefix/share/privnn/ngram-corpus.json" ] || fail "the corpus is not installed"
mkdir -p "$W/elsewhere" && cd "$W/elsewhere" || exit 1
for m in lenet5 cnn-s resnet-s vgg-s; do
  for ps in 4 16; do
    b="b-$m-$ps" s="s-$m-$ps.json"
    if ! "$P" obf split "$SRC/models/$m.onnx" --bundle "$b" --secret "$s" -k 3 -P $ps --seed 7 >out 2>err; then
      fail "obf split $m -P $ps: $(head -c 300 err)"
      continue
    fi
    grep -q "building it from the zoo" err && fail "obf split $m: the installed privnn did not find its corpus: $(cat err)"
    grep -q "copy their real part" err && fail "obf split $m -P $ps: sentinels fell back to copies: $(cat err)"
    "$P" obf join --secret "$s" --bundle "$b" -o "j-$m.onnx" >out 2>err || fail "obf join $m -P $ps: $(head -c 300 err)"
    grep -q "verified" out || fail "obf join $m: no verification reported: $(cat out)"
  done
done
# a split failing after it made the bundle folder (the secret cannot be written) removes it
if "$P" obf split "$SRC/models/lenet5.onnx" --bundle failed --secret "$W/no/such/dir/s.json" -k 2 >out 2>err; then
  fail "split with an unwritable secret succeeded"
fi
[ -e failed ] && fail "a failed split left the bundle folder 'failed' behind ($(ls failed | wc -l) files)"
if [ $fails -ne 0 ]; then
  echo "$fails check(s) failed"
  exit 1
fi
echo "obf on models/: all checks passed"
