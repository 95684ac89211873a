#!/bin/bash
# test_progress.sh - progress bars as a person at a terminal sees them: script(1) gives each
# command a pseudo-terminal. obf split/join count parts, obf attack models, eval and mpc profile
# images, each with a rate and an ETA; nothing is drawn when PN_NO_PROGRESS is set or stderr is a
# file. obf split prints the bundle's size, and warns of a big one (threshold lowered by
# PN_OBF_SPLIT_WARN_BYTES). train and eval run with passive OpenMP waits unless
# the user chose a policy (their reports say which).
# Usage: bash test_progress.sh PATH/TO/privnn SOURCE_DIR
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"
unset PN_NO_PROGRESS OMP_WAIT_POLICY PN_NO_REEXEC
P=$PRIVNN
if ! command -v script >/dev/null; then
  echo "test_progress: script(1) (Debian package bsdutils) not found" >&2
  exit 1
fi
# on_tty OUT CMD...: run CMD on a pseudo-terminal, stdout and stderr together into OUT
on_tty() {
  local out=$1
  shift
  script -qec "$(printf '%q ' "$@")" /dev/null >"$out" 2>&1
}
# bar FILE LABEL UNIT: FILE shows LABEL's bar counting UNIT, with a rate and an ETA, drawn in place
bar() {
  if grep -aq "$2 \[[#.]*\] [0-9]*/[0-9]* $3  [0-9.]* $3/s  [0-9:]* ETA [-0-9:]*" "$1" &&
    grep -aq $'\r\033\[K' "$1"; then
    ok
  else
    fail "no '$2' bar counting $3 in: $(tr '\r' '\n' <"$1" | tail -5)"
  fi
}
no_bar() {
  if grep -aq "ETA\|"$'\033\[K' "$1"; then fail "$2: a bar was drawn: $(tr '\r' '\n' <"$1" | head -3)"; else ok; fi
}

# obf split: a bar of parts (partitioning first), the bundle's size in its summary
on_tty split.tty "$P" obf split "$SRC/models/cnn-s.onnx" --bundle b1 --secret s1.json -k 2 --seed 3 -P 4 --threads 1
want_rc "obf split on a terminal" $? 0 split.tty
bar split.tty "obf split" parts
grep -aq "partitioning" split.tty && ok || fail "split did not say it was partitioning"
size=$(stat -c %s b1/* | awk "{ s += \$1 } END { print s }")
mb=$(awk -v b="$size" 'BEGIN { printf "%.1f MB", b / 1e6 }')
grep -aq "files ($mb) in b1" split.tty && ok || fail "split's summary lacks the bundle size $mb: $(grep -a 'files' split.tty)"
# obf join: parts loaded, then its steps
on_tty join.tty "$P" obf join --secret s1.json --bundle b1 -o j.onnx --seed 1 --threads 1
want_rc "obf join on a terminal" $? 0 join.tty
bar join.tty "obf join" parts
grep -aq "verifying on random inputs" join.tty && ok || fail "join did not say it was verifying"
# the user turns bars off; a log file never gets one
rm -rf b2
PN_NO_PROGRESS=1 on_tty quiet.tty "$P" obf split "$SRC/models/cnn-s.onnx" --bundle b2 --secret s2.json -k 2 --seed 3
want_rc "obf split, PN_NO_PROGRESS" $? 0 quiet.tty
no_bar quiet.tty "PN_NO_PROGRESS=1"
rm -rf b2
"$P" obf split "$SRC/models/cnn-s.onnx" --bundle b2 --secret s2.json -k 2 --seed 3 >log.out 2>log.err
want_rc "obf split into a log" $? 0 log.err
no_bar log.err "stderr to a file"
grep -q "warning" log.err && fail "a 1 MB bundle was warned about: $(cat log.err)" || ok
# the size warning (4 GiB, or more than is free): PN_OBF_SPLIT_WARN_BYTES lowers the threshold; the
# warning comes before any file is written and the bundle is still written
rm -rf b3
PN_OBF_SPLIT_WARN_BYTES=1000 "$P" obf split "$SRC/models/cnn-s.onnx" --bundle b3 --secret s3.json -k 2 --seed 3 \
  >warn.out 2>warn.err
want_rc "obf split above the warning threshold" $? 0 warn.err \
  "privnn obf split: warning: writing about "
grep -Eq "^privnn obf split: warning: writing about [0-9.]+ [kMG]B into b3 \(k \+ 1 = 3 copies of the weights; [0-9.]+ [kMG]B free\); a smaller -k writes less$" warn.err &&
  ok || fail "split's size warning: $(cat warn.err)"
[ -s s3.json ] && [ "$(ls b3 | wc -l)" -gt 0 ] && ok || fail "split did not write the bundle after its warning"
# obf attack: models simulated
on_tty attack.tty "$P" obf attack --models resnet18,vgg11 -k 2 --seed 1 --threads 1
want_rc "obf attack on a terminal" $? 0 attack.tty
bar attack.tty "obf attack" models
# eval and mpc profile: images
on_tty eval.tty "$P" eval "$SRC/models/lenet5.onnx" --limit 1000 --batch 100 --threads 1
want_rc "eval on a terminal" $? 0 eval.tty
bar eval.tty eval images
grep -aq "images  [0-9.]* images/s  [0-9:]* ETA [-0-9:]*  accuracy [0-9.]*%" eval.tty && ok ||
  fail "eval's bar lacks the running accuracy: $(tr '\r' '\n' <eval.tty | tail -3)"
on_tty profile.tty "$P" mpc profile "$SRC/models/lenet5.onnx" --count 400 --batch 50 -o plan.json --threads 1
want_rc "mpc profile on a terminal" $? 0 profile.tty
bar profile.tty "mpc profile" images

# OpenMP waits: passive unless the user set a policy; the reports say which
"$P" train --arch lenet5 --epochs 1 --max-train 256 --seed 1 --threads 1 -o t.onnx --json t.json >/dev/null 2>t.err
want_rc "train" $? 0 t.err
[ "$(json t.json 'd["omp_wait_policy"]')" = passive ] && ok || fail "train: wait policy $(json t.json 'd.get("omp_wait_policy")'), wanted passive"
OMP_WAIT_POLICY=active "$P" eval "$SRC/models/lenet5.onnx" --limit 200 --threads 1 --json e.json >/dev/null 2>e.err
want_rc "eval, OMP_WAIT_POLICY=active" $? 0 e.err
[ "$(json e.json 'd["omp_wait_policy"]')" = active ] && ok || fail "eval: the user's policy was replaced: $(json e.json 'd.get("omp_wait_policy")')"
"$P" eval "$SRC/models/lenet5.onnx" --limit 200 --threads 1 --json e2.json >/dev/null 2>e.err
want_rc "eval" $? 0 e.err
[ "$(json e2.json 'd["omp_wait_policy"]')" = passive ] && ok || fail "eval: wait policy $(json e2.json 'd.get("omp_wait_policy")'), wanted passive"
PN_NO_REEXEC=1 "$P" eval "$SRC/models/lenet5.onnx" --limit 200 --threads 1 --json e3.json >/dev/null 2>e.err
want_rc "eval, PN_NO_REEXEC" $? 0 e.err
[ "$(json e3.json 'd["omp_wait_policy"]')" = default ] && ok || fail "eval with PN_NO_REEXEC: $(json e3.json 'd.get("omp_wait_policy")')"
finish test_progress
