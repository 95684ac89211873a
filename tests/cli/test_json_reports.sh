#!/bin/bash
# test_json_reports.sh - every --json report in one envelope, checked against one schema.
# Usage: bash test_json_reports.sh PATH/TO/privnn SOURCE_DIR
#
# Runs each command that writes a --json report on small inputs, then checks every report: the
# envelope keys first and in order (command = the command that ran, version and commit = what
# --version prints, status "ok", started = UTC ISO 8601 within this test's run, seconds >= 0),
# then the command's own keys; image counts are "images" (never "count"); `--json -` writes the
# report alone on stdout (the text for people goes to stderr).
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
PRIVNN=${1:?usage: test_json_reports.sh PRIVNN SOURCE_DIR}
SRC=${2:-.}
PY=/usr/bin/python3
W=$(mktemp -d /tmp/privnn-json.XXXXXX)
trap 'rm -rf "$W"' EXIT
export PN_NO_PROGRESS=1
M=$SRC/models/lenet5.onnx
T0=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# run NAME CMD...: the command must succeed and leave $W/NAME.json
run() {
  local name=$1
  shift
  "$@" >"$W/$name.out" 2>"$W/$name.err" || fail "'$*' exited $?: $(head -c 300 "$W/$name.err")"
  [ -s "$W/$name.json" ] || fail "$name: no report written"
}
run info "$PRIVNN" info "$M" --json "$W/info.json"
run run "$PRIVNN" run "$M" --random --seed 1 --json "$W/run.json"
run optimize "$PRIVNN" optimize "$M" -o "$W/opt.onnx" --json "$W/optimize.json"
run eval "$PRIVNN" eval "$M" --data fashion-mnist --limit 100 --json "$W/eval.json"
run train "$PRIVNN" train --arch lenet5 --data fashion-mnist --epochs 1 --max-train 256 --batch 64 \
  -o "$W/t.onnx" --json "$W/train.json"
run infer "$PRIVNN" mpc infer "$M" --data random --count 2 --batch 2 --sim -q --seed 3 --json "$W/infer.json"
run profile "$PRIVNN" mpc profile "$M" --data fashion-mnist --count 20 --batch 10 -o "$W/plan.json" \
  --json "$W/profile.json"
run relu "$PRIVNN" mpc bench-relu --count 64 --json "$W/relu.json"
"$PRIVNN" zoo resnet18 --input-shape 1x3x16x16 --classes 4 -o "$W/r.onnx" >/dev/null || fail zoo
run split "$PRIVNN" obf split "$W/r.onnx" --bundle "$W/b" --secret "$W/s.json" -k 1 --seed 2 \
  --json "$W/split.json"
run join "$PRIVNN" obf join --secret "$W/s.json" --bundle "$W/b" -o "$W/j.onnx" --seed 2 --json "$W/join.json"

# --json -: stdout is the report alone
"$PRIVNN" mpc infer "$M" --data random --count 2 --batch 2 --sim --seed 3 --json - >"$W/stdout.json" 2>"$W/stdout.err" \
  || fail "mpc infer --json - exited $?"
grep -q "agreement with plaintext" "$W/stdout.err" || fail "--json -: the text for people is not on stderr"

version=$("$PRIVNN" --version)
T1=$(date -u +%Y-%m-%dT%H:%M:%SZ)
"$PY" - "$W" "$version" "$T0" "$T1" <<'EOF' || fails=$((fails + 1))
import json, re, sys
w, version, t0, t1 = sys.argv[1:]
m = re.match(r"privnn (\S+) \(commit (\S+)\)$", version)
assert m, version
want = {"info": "info", "run": "run", "optimize": "optimize", "eval": "eval", "train": "train",
        "infer": "mpc infer", "profile": "mpc profile", "relu": "mpc bench-relu", "split": "obf split",
        "join": "obf join", "stdout": "mpc infer"}
env = ["command", "version", "commit", "status", "started", "seconds"]
bad = 0
def walk(o, path):
    global bad
    if isinstance(o, dict):
        for k, v in o.items():
            if k == "count":
                print(f"FAIL: {path}: key 'count' (image counts are 'images')"); bad += 1
            walk(v, path + "." + k)
    elif isinstance(o, list):
        for i, v in enumerate(o): walk(v, f"{path}[{i}]")
for name, cmd in want.items():
    try:
        r = json.load(open(f"{w}/{name}.json"))
    except Exception as e:
        print(f"FAIL: {name}: not JSON: {e}"); bad += 1; continue
    keys = list(r.keys())
    if keys[:6] != env:
        print(f"FAIL: {name}: envelope {keys[:6]}"); bad += 1; continue
    checks = [(r["command"] == cmd, f"command {r['command']!r}, ran {cmd!r}"),
              (r["version"] == m.group(1), f"version {r['version']!r}"),
              (r["commit"] == m.group(2), f"commit {r['commit']!r}"),
              (r["status"] == "ok", f"status {r['status']!r}"),
              (isinstance(r["started"], str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["started"])
               and t0 <= r["started"] <= t1, f"started {r['started']!r} not in [{t0}, {t1}]"),
              (isinstance(r["seconds"], (int, float)) and r["seconds"] >= 0, f"seconds {r['seconds']!r}"),
              (len(keys) > 6, "no keys of its own")]
    for ok, msg in checks:
        if not ok:
            print(f"FAIL: {name}: {msg}"); bad += 1
    walk(r, name)
for name in ("eval", "infer", "profile"):
    r = json.load(open(f"{w}/{name}.json"))
    if not isinstance(r.get("images"), (int, float)) or r["images"] <= 0:
        print(f"FAIL: {name}: no 'images' count"); bad += 1
print(f"test_json_reports: {len(want)} reports checked, {bad} problems")
sys.exit(1 if bad else 0)
EOF
[ $fails -eq 0 ]
