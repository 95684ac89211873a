#!/usr/bin/env bash
# valgrind.sh - a few privnn commands under valgrind's memcheck: model loading and inference,
# the MPC simulator, a two-party run on loopback with TLS, and CKKS/file unit tests. The default
# build targets baseline x86-64, so valgrind (which has no AVX-512) runs it as it is; the run-time
# dispatch sees no AVX-512 under valgrind and takes the baseline kernels.
# Usage: scripts/valgrind.sh BUILD_DIR [SOURCE_DIR]. Exit 0 when every command is clean,
# 77 (skipped) when valgrind is not installed.
set -u
B=$(realpath "${1:?usage: valgrind.sh BUILD_DIR [SOURCE_DIR]}")
S=$(realpath "${2:-$(dirname "$0")/..}")
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind not installed, skipped"; exit 77; }
P=$B/privnn
M=$S/models/lenet5.onnx
W=$(mktemp -d /tmp/privnn-vg.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
cd "$W" || exit 1
export PN_NO_PROGRESS=1 OMP_NUM_THREADS=2
VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-fds=no"
fails=0
run() {
  local name=$1
  shift
  if $VG "$@" >"$name.out" 2>"$name.err"; then echo "ok   $name"; else
    echo "FAIL $name (exit $?):"; tail -n 30 "$name.err"; fails=$((fails + 1)); fi
}
run info "$P" info "$M"
run mpc-sim "$P" mpc infer "$M" --data random --count 2 --batch 1 --sim
"$P" mpc share "$M" --data random --count 2 --batch 1 -o in >/dev/null
"$P" mpc dealer "$M" --batch 1 --batches 2 -o dl >/dev/null
"$P" mpc psk -o k >/dev/null
$VG "$P" mpc party --id 0 --listen 127.0.0.1:0 "$M" --input in.p0.share --dealer dl.p0.dealer \
  --psk-file k -o out.p0 --timeout 600000 --wait 600 >p0.out 2>p0.err &
P0=$!
PORT=
for _ in $(seq 1200); do
  PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\),.*/\1/p' p0.err | head -1)
  [ -n "$PORT" ] && break
  sleep 0.1
done
run party1 "$P" mpc party --id 1 --connect "127.0.0.1:${PORT:-1}" "$M" --input in.p1.share \
  --dealer dl.p1.dealer --psk-file k -o out.p1 --timeout 600000
if wait $P0; then echo "ok   party0"; else echo "FAIL party0:"; tail -n 30 p0.err; fails=$((fails + 1)); fi
run reveal "$P" mpc reveal out.p0 out.p1
for t in test_fileio_hard test_ckks_serial; do
  [ -x "$B/tests/$t" ] && run "$t" "$B/tests/$t"
done
echo "valgrind.sh: $fails failure(s)"
[ $fails -eq 0 ]
