#!/bin/bash
# test_mpc_search.sh - `mpc search` from the shell (issue 15): an error-free search on lenet5's
# validation images whose plan the two-party runner reads (its bits discarded are the search's, and
# the search images keep every prediction under the bit-exact simulator), a budget search within
# its budget, and the ways a user can get it wrong: conflicting modes, a budget out of range, the
# test split as search images, a plan for another model or with k/m out of range given to
# `mpc infer`, `mpc dealer` or `mpc party` (each checks the plan against the model before any
# material is made or any peer is contacted). No wall-clock assertion.
# Usage: bash test_mpc_search.sh PATH/TO/privnn SOURCE_DIR
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"
M=$SRC/models/lenet5.onnx
T="timeout 900"

# ---- error-free on 300 validation images, the test split read once (--verify) ----
$T "$PRIVNN" mpc search "$M" --data fashion-mnist --error-free --count 200 --verify 100 \
  -o ef.json --json ef.report.json >ef.out 2>ef.err
want_rc "mpc search --error-free" $? 0 ef.out "error-free plan"
grep -q '"model_sha256"' ef.json && ok || fail "the plan does not record the model's SHA-256"
[ "$(json_num ef.report.json simulated_changed)" = 0 ] && ok || fail "simulated plan changed predictions"
[ "$(json_num ef.report.json bit_exact_changed)" = 0 ] && ok || fail "bit-exact simulator changed predictions on the search images"
grep -q "verification, bit-exact simulator, test split: 100 images" ef.out && ok || fail "no test verification line: $(cat ef.out)"
d=$(json_num ef.report.json bits_discarded)
pct=$(awk -v d="$d" 'BEGIN { printf "%.1f%%", 100 * d }')
# the runner reads the plan: its bits discarded are the search's
$T "$PRIVNN" mpc infer "$M" --data fashion-mnist --split val --count 20 --batch 10 --plan ef.json \
  >inf.out 2>inf.err
want_rc "mpc infer with the searched plan" $? 0 inf.out "ReLU share bits discarded: $pct"

# ---- budget: within it ----
$T "$PRIVNN" mpc search "$M" --data fashion-mnist --budget 6 --count 300 --probe 100 --no-confirm \
  -o b6.json --json b6.report.json >b6.out 2>b6.err
want_rc "mpc search --budget 6" $? 0 b6.out "budget plan"
avg=$(json_num b6.report.json avg_bits)
awk -v a="$avg" 'BEGIN { exit !(a <= 6 && a > 0) }' && ok || fail "budget 6: average bits $avg"

# ---- misuse ----
"$PRIVNN" mpc search "$M" --data fashion-mnist --error-free --budget 8 -o x.json >/dev/null 2>u1.err
want_rc "--error-free with --budget" $? 2 u1.err "exclude each other"
"$PRIVNN" mpc search "$M" --data fashion-mnist --budget 65 -o x.json >/dev/null 2>u2.err
want_rc "--budget 65" $? 2 u2.err "--budget"
"$PRIVNN" mpc search "$M" --data fashion-mnist --error-free --split test -o x.json >/dev/null 2>u3.err
want_rc "--split test" $? 2 u3.err "only for --verify"
"$PRIVNN" mpc search "$M" --data fashion-mnist --error-free >/dev/null 2>u4.err
want_rc "no -o" $? 2 u4.err "-o PLAN.json"
# a plan for another model: names lenet5's nodes, cnn-s has others (or the SHA-256 differs)
"$PRIVNN" mpc infer "$SRC/models/cnn-s.onnx" --data fashion-mnist --count 10 --batch 10 \
  --plan ef.json >/dev/null 2>other.err
want_rc "lenet5's plan for cnn-s" $? 1 other.err "another model"
# the same nodes, another model file: only the recorded SHA-256 tells
sed 's/"model_sha256":[[:space:]]*"[0-9a-f]*"/"model_sha256": "'"$(printf '0%.0s' $(seq 64))"'"/' ef.json >sha.json
grep -q '"model_sha256": "0000' sha.json && ok || fail "sha.json not written: $(grep sha256 ef.json)"
"$PRIVNN" mpc infer "$M" --data fashion-mnist --count 10 --batch 10 --plan sha.json >/dev/null 2>sha.err
want_rc "a plan recording another model's SHA-256" $? 1 sha.err "SHA-256"
# mpc dealer and mpc party check the plan as mpc infer does: the right plan is taken, another
# model's is refused before any dealer file is written or any peer contacted
"$PRIVNN" mpc dealer "$M" --plan ef.json --batch 4 --batches 1 -o d >/dev/null 2>d.err
want_rc "mpc dealer with the searched plan" $? 0 d.err
"$PRIVNN" mpc dealer "$M" --plan sha.json --batch 4 --batches 1 -o dsha >/dev/null 2>dsha.err
want_rc "mpc dealer, a plan recording another model's SHA-256" $? 1 dsha.err "SHA-256"
[ -e dsha.p0.dealer ] || [ -e dsha.p1.dealer ] && fail "mpc dealer wrote material for a refused plan" || ok
"$PRIVNN" mpc dealer "$SRC/models/cnn-s.onnx" --plan ef.json --batch 4 --batches 1 -o dcnn >/dev/null 2>dcnn.err
want_rc "mpc dealer, lenet5's plan for cnn-s" $? 1 dcnn.err "another model"
"$PRIVNN" mpc share "$M" --data fashion-mnist --count 4 --batch 4 -o in >/dev/null 2>share.err
want_rc "mpc share" $? 0 share.err
"$PRIVNN" mpc party --id 1 --connect 127.0.0.1:1 --no-tls "$M" --input in.p1.share --dealer d.p1.dealer \
  --plan sha.json -o out >/dev/null 2>psha.err
want_rc "mpc party, a plan recording another model's SHA-256" $? 1 psha.err "SHA-256"
grep -qi "connect" psha.err && fail "mpc party tried its peer before refusing the plan: $(cat psha.err)" || ok
"$PRIVNN" mpc party --id 1 --connect 127.0.0.1:1 --no-tls "$SRC/models/cnn-s.onnx" --input in.p1.share \
  --dealer d.p1.dealer --plan ef.json -o out >/dev/null 2>pcnn.err
want_rc "mpc party, lenet5's plan for cnn-s" $? 1 pcnn.err "another model"
sed 's/"m":[[:space:]]*[0-9]*/"m": 70/' ef.json >m70.json
"$PRIVNN" mpc infer "$M" --data fashion-mnist --count 10 --batch 10 --plan m70.json >/dev/null 2>m70.err
want_rc "a plan with m = 70" $? 1 m70.err "m <= 64"
"$PRIVNN" mpc party --id 1 --connect 127.0.0.1:1 --no-tls "$M" --input in.p1.share --dealer d.p1.dealer \
  --plan m70.json -o out >/dev/null 2>pm70.err
want_rc "mpc party, a plan with m = 70" $? 1 pm70.err "m <= 64"
ls ./*.tmp* >/dev/null 2>&1 && fail "temporary files left behind: $(ls ./*.tmp*)" || ok

echo "test_mpc_search: $pass checks passed, $fails failed"
[ $fails -eq 0 ]
