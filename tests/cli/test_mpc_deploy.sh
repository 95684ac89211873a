#!/bin/bash
# test_mpc_deploy.sh - `mpc share | dealer | party | reveal | psk` as two hosts would run them, on
# loopback: a full run, and the ways an operator or a stranger can get it wrong (issues 12, 19).
# Ports: every listening side binds port 0 and the test reads the port it prints, so several
# worktrees can run this at once. No wall-clock assertion: `timeout` only bounds a hang.
# Usage: bash test_mpc_deploy.sh PATH/TO/privnn SOURCE_DIR
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"
M=$SRC/models/lenet5.onnx
T="timeout 300"

# start_listener NAME ARGS...: `privnn ARGS` in the background (stderr in NAME.err) until it says
# where it listens; sets PORT and LPID.
start_listener() {
  local name=$1
  shift
  $T "$PRIVNN" "$@" >"$name.out" 2>"$name.err" &
  LPID=$!
  PORT=
  for _ in $(seq 1200); do
    PORT=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\),.*/\1/p' "$name.err" | head -1)
    [ -n "$PORT" ] && return 0
    kill -0 $LPID 2>/dev/null || break
    sleep 0.1
  done
  fail "$name never said where it listens: $(cat "$name.err")"
  PORT=1
}

# strangers: an HTTP request, and a port scan's connect-and-close
stranger() {
  { exec 3<>"/dev/tcp/127.0.0.1/$1" && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && exec 3>&-; } 2>/dev/null
  { exec 3<>"/dev/tcp/127.0.0.1/$1" && exec 3>&-; } 2>/dev/null
}

share() { "$PRIVNN" mpc share "$M" --data fashion-mnist --count "$2" --batch 4 -o "$1" >/dev/null || fail "mpc share $1"; }
dealer() { "$PRIVNN" mpc dealer "$M" --batch 4 --batches "$2" -o "$1" >/dev/null || fail "mpc dealer $1"; }

# party_pair TAG "ARGS0" "ARGS1" [ARGS for both]: the first party listens, the second connects;
# sets RC0 RC1; outputs TAG.p0 TAG.p1, messages TAG0.err TAG1.err
party_pair() {
  local tag=$1 a0=$2 a1=$3
  shift 3
  # shellcheck disable=SC2086
  start_listener "${tag}0" mpc party --listen 127.0.0.1:0 "$M" $a0 -o "$tag.p0" --wait 60 "$@"
  # shellcheck disable=SC2086
  $T "$PRIVNN" mpc party --connect "127.0.0.1:$PORT" "$M" $a1 -o "$tag.p1" "$@" \
    >"${tag}1.out" 2>"${tag}1.err"
  RC1=$?
  wait $LPID
  RC0=$?
}
p0() { echo "--id 0 --input $1.p0.share --dealer $2.p0.dealer"; }
p1() { echo "--id 1 --input $1.p1.share --dealer $2.p1.dealer"; }

# ---- keys ----
"$PRIVNN" mpc psk -o k >/dev/null; want_rc "mpc psk" $? 0
[ "$(stat -c %a k)" = 600 ] && [ "$(stat -c %s k)" = 32 ] && ok || fail "psk file: mode $(stat -c %a k), $(stat -c %s k) bytes"
"$PRIVNN" mpc psk -o k >/dev/null 2>psk.err; want_rc "mpc psk over an existing key" $? 1 psk.err "exists"
"$PRIVNN" mpc psk -o k2 >/dev/null
"$PRIVNN" mpc psk -o kd >/dev/null

# ---- a full run, strangers knocking first (issue 12 item 6) ----
share a 8
dealer d1 2
start_listener r0 mpc party --listen 127.0.0.1:0 "$M" $(p0 a d1) --psk-file k -o run1.p0 --wait 60
grep -q "waiting for party 1" r0.err && ok || fail "the listening party does not say whom it waits for: $(cat r0.err)"
stranger "$PORT"
$T "$PRIVNN" mpc party --connect "127.0.0.1:$PORT" "$M" $(p1 a d1) --psk-file k -o run1.p1 >r1.out 2>r1.err
want_rc "P1 after strangers" $? 0 r1.err "runs the same job"
wait $LPID
want_rc "P0 after strangers" $? 0 r0.err "dropped a connection"
[ "$(stat -c %a run1.p0)" = 600 ] && [ "$(stat -c %a a.labels.json)" = 600 ] && ok || fail "output share or labels not 0600"
"$PRIVNN" mpc reveal run1.p0 run1.p1 --labels a.labels.json >rev.out 2>rev.err
want_rc "reveal" $? 0 rev.out "8 images: accuracy"

# ---- dealer material is single-use (item 1): both parties refuse their used file ----
"$PRIVNN" mpc party --connect 127.0.0.1:1 "$M" $(p1 a d1) --psk-file k -o x.p1 >/dev/null 2>used1.err
want_rc "second use of P1's dealer file" $? 1 used1.err "already used"
"$PRIVNN" mpc party --listen 127.0.0.1:0 "$M" $(p0 a d1) --psk-file k -o x.p0 >/dev/null 2>used0.err
want_rc "second use of P0's dealer file" $? 1 used0.err "already used"

# ---- the hello binds roles, client runs and dealer sessions, checked on both sides (item 3) ----
dealer d2 2
party_pair both0 "$(p0 a d2)" "$(p0 a d2)" --psk-file k
want_rc "two processes as party 0 (listener)" $RC0 1 both00.err "also party 0"
want_rc "two processes as party 0 (connector)" $RC1 1 both01.err "also party 0"
share b 8
party_pair twoclients "$(p0 a d2)" "$(p1 b d2)" --psk-file k
want_rc "shares of two clients (P0)" $RC0 1 twoclients0.err "another client run"
want_rc "shares of two clients (P1)" $RC1 1 twoclients1.err "another client run"
dealer d3 2
party_pair twodealers "$(p0 a d2)" "$(p1 a d3)" --psk-file k
want_rc "dealer files of two sessions (P0)" $RC0 1 twodealers0.err "another dealer session"
want_rc "dealer files of two sessions (P1)" $RC1 1 twodealers1.err "another dealer session"
# the refused runs used no material: d2 still runs, a second run for client a
party_pair run2 "$(p0 a d2)" "$(p1 a d2)" --psk-file k
want_rc "run 2 (P0)" $RC0 0 run20.err "starting"
want_rc "run 2 (P1)" $RC1 0 run21.err "starting"

# ---- reveal refuses outputs of two runs, inputs and bad labels (issue 19 item 2, items 2, 9) ----
"$PRIVNN" mpc reveal run1.p0 run2.p1 --labels a.labels.json >/dev/null 2>mix.err
want_rc "reveal of two runs" $? 1 mix.err "two different runs"
"$PRIVNN" mpc reveal run2.p0 run2.p1 --labels a.labels.json >/dev/null 2>r2.err
want_rc "reveal of run 2" $? 0
"$PRIVNN" mpc reveal run2.p0 run2.p1 --labels b.labels.json >/dev/null 2>lab.err
want_rc "reveal with another client's labels" $? 1 lab.err "another client run"
echo '{"share_id": "00", "labels": 3}' >badlab.json
"$PRIVNN" mpc reveal run2.p0 run2.p1 --labels badlab.json >/dev/null 2>badlab.err
want_rc "reveal --labels with a non-array" $? 1 badlab.err "must be a non-empty array"
"$PRIVNN" mpc reveal a.p0.share run2.p1 >/dev/null 2>inp.err
want_rc "reveal of an input share" $? 1 inp.err "input share"
# a crafted share header whose batches * words * 8 wraps around 2^64: refused, no crash
printf 'PNMPCSH\0\2\0\0\0\0\0\0\0\1\0\0\0\20\0\0\0\0\0\0\0\0\0\0\40\10\0\0\0\0\0\0\0\2\0\0\0\0\0\0\0' >evil.share
head -c 56 /dev/zero >>evil.share
"$PRIVNN" mpc reveal evil.share run2.p1 >/dev/null 2>evil.err
want_rc "reveal of an overflowing share header" $? 1 evil.err "evil.share"

# ---- keys and identities (item 4, issue 19 item 2) ----
# A peer with the wrong key is dropped and the listener waits on: the right peer, connecting
# only after the listener has logged the drop (a condition, not a timer), still gets served.
dealer d4 2
start_listener wk0 mpc party --listen 127.0.0.1:0 "$M" $(p0 a d4) --psk-file k -o wk.p0 --wait 600
$T "$PRIVNN" mpc party --connect "127.0.0.1:$PORT" "$M" $(p1 a d4) --psk-file k2 -o wk.p1 >/dev/null 2>wk1.err
want_rc "wrong key (connector)" $? 1 wk1.err "wrong pre-shared key"
for _ in $(seq 3000); do grep -q dropped wk0.err && break; kill -0 $LPID 2>/dev/null || break; sleep 0.1; done
grep -q "dropped a connection.*pre-shared key" wk0.err && ok || fail "the listener did not log the wrong key: $(cat wk0.err)"
$T "$PRIVNN" mpc party --connect "127.0.0.1:$PORT" "$M" $(p1 a d4) --psk-file k -o wk.p1 >/dev/null 2>wk1b.err
want_rc "the right peer after a wrong key (connector)" $? 0 wk1b.err "starting"
wait $LPID
want_rc "the right peer after a wrong key (listener)" $? 0 wk0.err "starting"
# ... and with no right peer it gives up when --wait runs out, saying what it dropped (a stranger
# connects as soon as the port is known, so 2 s leave room on a loaded machine)
dealer d5 2
start_listener gu0 mpc party --listen 127.0.0.1:0 "$M" $(p0 a d5) --psk-file k -o gu.p0 --wait 2
stranger "$PORT"
wait $LPID
want_rc "a listener that gives up" $? 1 gu0.err "connection(s) dropped"
chmod 644 k2
"$PRIVNN" mpc party --connect 127.0.0.1:1 "$M" $(p1 a d5) --psk-file k2 -o x >/dev/null 2>perm.err
want_rc "world-readable key" $? 1 perm.err "too open"
"$PRIVNN" mpc party --connect 127.0.0.1:1 "$M" $(p1 a d5) --psk-file k --cert c --key k --ca ca \
  -o x >/dev/null 2>both.err
want_rc "--psk-file with --cert" $? 2 both.err "not both"
"$PRIVNN" mpc party --connect 127.0.0.1:1 "$M" $(p1 a d5) --cert c --key k --ca ca -o x >/dev/null 2>noname.err
want_rc "--cert without a peer name" $? 2 noname.err "--peer-name"
"$PRIVNN" mpc party --id 1 --connect 127.0.0.1:1 "$M" --input a.p1.share --dealer-connect 127.0.0.1:1 \
  --psk-file k --dealer-psk-file k -o x >/dev/null 2>samek.err
want_rc "one key for both links" $? 1 samek.err "same key"

# ---- online dealer: strangers first, then both parties, each link with its own key (4, 6) ----
share c 8
start_listener od mpc dealer "$M" --batch 4 --batches 2 --serve 127.0.0.1:0 --psk-file kd
DPORT=$PORT
DPID=$LPID
stranger "$DPORT"
dl="--dealer-connect 127.0.0.1:$DPORT --dealer-psk-file kd --psk-file k"
party_pair onl "--id 0 --input c.p0.share $dl" "--id 1 --input c.p1.share $dl"
want_rc "online dealer run (P0)" $RC0 0 onl0.err "starting"
want_rc "online dealer run (P1)" $RC1 0 onl1.err "starting"
wait $DPID
want_rc "online dealer after a stranger" $? 0 od.err "dropped a connection"
"$PRIVNN" mpc reveal onl.p0 onl.p1 --labels c.labels.json >/dev/null 2>onl.err
want_rc "reveal of the online-dealer run" $? 0

# ---- a vanished peer: exit 1 with a sentence, never 141 (SIGPIPE) (item 5) ----
share e 64
T= # the processes killed are privnn itself, not a wrapper (both sides time out on their own)
for victim in 1 0; do
  dealer "k$victim" 16
  start_listener "kill${victim}0" mpc party --listen 127.0.0.1:0 "$M" $(p0 e "k$victim") --psk-file k \
    -o "kill$victim.p0" --wait 60
  KPID0=$LPID
  $T "$PRIVNN" mpc party --connect "127.0.0.1:$PORT" "$M" $(p1 e "k$victim") --psk-file k \
    -o "kill$victim.p1" >/dev/null 2>"kill${victim}1.err" &
  KPID1=$!
  for _ in $(seq 600); do grep -q starting "kill${victim}1.err" && break; sleep 0.05; done
  sleep 0.3
  if [ "$victim" = 1 ]; then kill -KILL $KPID1; else kill -KILL $KPID0; fi
  wait $KPID0; r0=$?
  wait $KPID1; r1=$?
  if [ "$victim" = 1 ]; then rc=$r0; f="kill${victim}0.err"; else rc=$r1; f="kill${victim}1.err"; fi
  want_rc "party $((1 - victim)) after its peer was killed" $rc 1 "$f" "mpc net"
done
T="timeout 300"

# ---- files (item 7, 9): a FIFO as the plan, garbage after JSON, a plan naming no ReLU ----
mkfifo fifo.json
"$PRIVNN" mpc dealer "$M" --plan fifo.json --batch 4 --batches 1 -o dz >/dev/null 2>fifo.err &
FPID=$!
for _ in $(seq 600); do kill -0 $FPID 2>/dev/null || break; sleep 0.1; done
if kill -0 $FPID 2>/dev/null; then kill $FPID; fail "a FIFO as --plan still blocks after 60 s"; else
  wait $FPID
  want_rc "a FIFO as --plan" $? 1 fifo.err "FIFO"
fi
echo '{"relus": []} trailing' >trail.json
"$PRIVNN" mpc dealer "$M" --plan trail.json --batch 4 --batches 1 -o dz >/dev/null 2>trail.err
want_rc "JSON with trailing garbage" $? 1 trail.err "trailing data"
echo '{"relus": [{"node": "no_such_node", "k": 0, "m": 20}]}' >typo.json
"$PRIVNN" mpc dealer "$M" --plan typo.json --batch 4 --batches 1 -o dz >/dev/null 2>typo.err
want_rc "a plan naming an unknown node" $? 1 typo.err "no_such_node"
truncate -s 3G big.onnx
$T "$PRIVNN" info big.onnx >/dev/null 2>big.err
want_rc "a 3 GiB ONNX file" $? 1 big.err "allowed"
ls ./*.tmp* >/dev/null 2>&1 && fail "temporary files left behind: $(ls ./*.tmp*)" || ok

echo "test_mpc_deploy: $pass checks passed, $fails failed"
[ $fails -eq 0 ]
