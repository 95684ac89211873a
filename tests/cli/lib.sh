# tests/cli/lib.sh - the set-up and the checks the CLI tests share (sourced by tests/cli/test_*.sh;
# not a test). A script starts with `cli_setup "$@"` (below); expect_ok/expect_err leave the
# command's output in $W/out and $W/err. Each check counts into pass/fails; a script ends with
# `finish NAME` (scripts that use the checks), which prints the counts and returns non-zero when a
# check failed.
# cli_setup PRIVNN SOURCE_DIR (the script's own "$@", as ctest passes them): what every CLI test
# starts with: PRIVNN and SRC made absolute, PY = Debian's python3 (the one that sees python3-onnx
# and numpy), W = a fresh scratch folder removed at exit together with any background job the script
# left running, progress bars off (PN_NO_PROGRESS=1), and the shell left in $W.
cli_setup() {
  local name
  name=$(basename "$0" .sh)
  PRIVNN=$(realpath "${1:?usage: $name.sh PATH/TO/privnn SOURCE_DIR}")
  SRC=$(realpath "${2:-.}")
  PY=/usr/bin/python3
  W=$(mktemp -d "/tmp/privnn-${name#test_}.XXXXXX")
  trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
  export PN_NO_PROGRESS=1
  cd "$W" || exit 1
}

# need_python_onnx WHAT: end the script as skipped (exit 77, with a message naming WHAT) where $PY (Debian's
# python3) cannot import onnx
need_python_onnx() {
  "$PY" -c 'import onnx' 2>/dev/null && return 0
  echo "SKIP: $PY cannot import onnx (apt-get install python3-onnx); $1 did not run"
  exit 77
}

fails=0
pass=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { pass=$((pass + 1)); }

# expect_ok CMD...: exit 0
expect_ok() {
  "$@" >"$W/out" 2>"$W/err"
  local rc=$?
  if [ $rc -ne 0 ]; then fail "'$*' exited $rc: $(head -c 400 "$W/err")"; return 1; fi
  ok
}

# expect_err CODE PATTERN CMD...: exit CODE (1 or 2), no crash, exactly one stderr line
# "privnn CMD: ..." (the command's words only, or none: a page named by a flag such as
# "bench ckks --bootstrap" names the flag in the --help hint, not in the prefix) containing PATTERN
expect_err() {
  local want=$1 pat=$2
  shift 2
  "$@" >"$W/out" 2>"$W/err"
  local rc=$?
  if [ $rc -ge 128 ]; then fail "'$*' crashed (exit $rc): $(head -c 400 "$W/err")"; return 1; fi
  if [ $rc -ne "$want" ]; then fail "'$*' exited $rc, wanted $want: $(head -c 400 "$W/err")"; return 1; fi
  if [ "$(wc -l <"$W/err")" -ne 1 ]; then fail "'$*' printed $(wc -l <"$W/err") stderr lines, wanted 1: $(head -c 400 "$W/err")"; return 1; fi
  if ! grep -Eq "^privnn( [a-z][a-z-]*)*: " "$W/err"; then fail "'$*' message lacks the 'privnn CMD: ' prefix: $(cat "$W/err")"; return 1; fi
  if ! grep -qF -- "$pat" "$W/err"; then fail "'$*' message lacks '$pat': $(cat "$W/err")"; return 1; fi
  ok
}

# want_rc NAME RC WANT [FILE [PATTERN]]: the exit code RC of a command run by the caller is WANT,
# and a line of FILE holds PATTERN
want_rc() {
  local name=$1 rc=$2 want=$3
  if [ "$rc" -ne "$want" ]; then
    fail "$name: exit $rc, wanted $want: $( [ $# -ge 4 ] && tail -c 600 "$4")"
    return 1
  fi
  if [ $# -ge 5 ] && ! grep -qF -- "$5" "$4"; then fail "$name: '$5' not in $4: $(tail -c 600 "$4")"; return 1; fi
  ok
}

# json FILE EXPR: print a Python expression over the JSON document d of FILE
json() {
  "${PY:-/usr/bin/python3}" -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
}
# json_num FILE KEY: the first number written as "KEY": number in FILE (no Python needed)
json_num() { sed -n "s/.*\"$2\":[[:space:]]*\([-0-9.eE+]*\).*/\1/p" "$1" | head -1; }

# finish NAME [MORE]: the summary line; the script's status
finish() {
  echo "$1: $pass checks passed, $fails failed${2:+ ($2)}"
  [ "$fails" -eq 0 ]
}
