#!/bin/bash
# test_cli_options.sh - every command's option table, checked through its own help page.
# Usage: bash test_cli_options.sh PATH/TO/privnn SOURCE_DIR
#
# For every command and subcommand that `privnn --help` and `privnn CMD --help` list: the page opens
# with its own usage line; every option the page lists is accepted by that subcommand (an option
# taking a value, given without one, says "needs a value" - not "unknown option"; a flag followed
# by --help prints the page); options of other subcommands are refused; numbers are range-checked
# (no silent 0 for "abc"); `privnn help CMD [SUB]` prints the same page as `--help`.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"

# The subcommands a dispatcher page lists ("subcommands:" then "  NAME  summary" lines).
subs_of() { sed -n '/^subcommands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }'; }

"$PRIVNN" --help >"$W/top" || fail "privnn --help exited non-zero"
cmds=$(sed -n '/^commands:/,/^$/p' "$W/top" | awk 'NR > 1 && NF { print $1 }')
[ -n "$cmds" ] || fail "privnn --help lists no commands"
pages=()
for c in $cmds; do
  "$PRIVNN" "$c" --help >"$W/page" 2>&1 || { fail "privnn $c --help exited non-zero"; continue; }
  if grep -q '^subcommands:' "$W/page"; then
    s=$(subs_of <"$W/page")
    [ -n "$s" ] || fail "privnn $c --help: empty subcommand list"
    for x in $s; do pages+=("$c $x"); done
    # no subcommand: the list on stderr, usage exit
    "$PRIVNN" "$c" >/dev/null 2>"$W/err"
    [ $? -eq 2 ] && grep -q "^subcommands:" "$W/err" && ok || fail "privnn $c without subcommand"
    expect_err 2 "unknown subcommand 'frob'" "$PRIVNN" "$c" frob
  else
    pages+=("$c")
  fi
done
[ ${#pages[@]} -ge 20 ] || fail "only ${#pages[@]} command pages found: ${pages[*]}"

nopts=0
for p in "${pages[@]}"; do
  # shellcheck disable=SC2086
  "$PRIVNN" $p --help >"$W/page" 2>"$W/err" || { fail "privnn $p --help exited non-zero"; continue; }
  [ -s "$W/err" ] && fail "privnn $p --help wrote to stderr: $(head -c 200 "$W/err")"
  head -1 "$W/page" | grep -q "^usage: privnn $p\b" || fail "privnn $p --help: first line '$(head -1 "$W/page")'"
  grep -q '^options:' "$W/page" || fail "privnn $p --help: no options section"
  grep -q '^example:' "$W/page" || fail "privnn $p --help: no example"
  # the example line runs the same subcommand
  ex=$(sed -n '/^example:/{n;p}' "$W/page")
  case "$ex" in "  privnn $p "*|"  privnn $p") ok ;; *) fail "privnn $p: example '$ex' is another command" ;; esac
  # privnn help CMD [SUB] prints the same page
  # shellcheck disable=SC2086
  "$PRIVNN" help $p >"$W/page2" 2>&1 && cmp -s "$W/page" "$W/page2" && ok || fail "privnn help $p differs from --help"
  # each option line: "  -a, --name ARG  help" or "  --name  help"
  while IFS= read -r line; do
    spec=$(printf '%s\n' "$line" | sed -E 's/^  //; s/  .*//')
    name=$(printf '%s\n' "$spec" | sed -E 's/^-[a-zA-Z], //' | awk '{print $1}')
    arg=$(printf '%s\n' "$spec" | sed -E 's/^-[a-zA-Z], //' | awk '{print $2}')
    [ "$name" = "--help" ] || [ "$name" = "-h" ] && continue
    nopts=$((nopts + 1))
    if [ -n "$arg" ]; then
      # shellcheck disable=SC2086
      expect_err 2 "$name needs a value" "$PRIVNN" $p "$name"
    else
      # shellcheck disable=SC2086
      "$PRIVNN" $p "$name" --help >"$W/out" 2>"$W/err"
      [ $? -eq 0 ] && grep -q "^usage: privnn $p" "$W/out" && ok || fail "privnn $p $name --help: $(head -c 200 "$W/err")"
      # shellcheck disable=SC2086
      expect_err 2 "$name takes no value" "$PRIVNN" $p "$name=1"
    fi
  done < <(sed -n '/^options:/,/^$/p' "$W/page" | grep -E '^  -')
  # shellcheck disable=SC2086
  expect_err 2 "unknown option '--frob'" "$PRIVNN" $p --frob
done
[ $nopts -ge 100 ] || fail "only $nopts options found on ${#pages[@]} pages"

# options of one subcommand are not accepted by another
M=$W/m.onnx
"$PRIVNN" zoo resnet18 --input-shape 1x3x8x8 --classes 4 -o "$M" >/dev/null || fail "zoo"
expect_err 2 "unknown option '--sim'" "$PRIVNN" mpc dealer "$M" --sim -o "$W/d"
expect_err 2 "unknown option '--net'" "$PRIVNN" mpc profile "$M" --net lan -o "$W/p.json"
expect_err 2 "unknown option '--data'" "$PRIVNN" mpc weights "$M" --data random -o "$W/w"
expect_err 2 "unknown option '--seed'" "$PRIVNN" mpc dealer "$M" --seed 3 -o "$W/d"
expect_err 2 "unknown option '--count'" "$PRIVNN" mpc party --count 3
expect_err 2 "unknown option '--bundle'" "$PRIVNN" obf attack --bundle x
expect_err 2 "unknown option '--tries'" "$PRIVNN" obf attack --tries 3

# numbers: checked, never a silent 0
expect_err 2 "--min-ms 'abc': expected a number in 0..999999" "$PRIVNN" bench ckks --min-ms abc
expect_err 2 "--threads '0': expected an integer in 1..256" "$PRIVNN" bench ckks --threads 0
expect_err 2 "--ops: no operation 'relinn'" "$PRIVNN" bench ckks --ops relin,relinn
expect_err 2 "--count '1e3': expected an integer in 1..16777216" "$PRIVNN" mpc infer "$M" --count 1e3
expect_err 2 "--count '0': expected an integer" "$PRIVNN" mpc infer "$M" --count 0
expect_err 2 "--batch '99999999999999999999': expected an integer in 1..65536" "$PRIVNN" eval "$M" --batch 99999999999999999999
expect_err 2 "--seed '-1': expected a non-negative integer" "$PRIVNN" obf split "$M" --seed -1
expect_err 2 "--tol 'nan': expected a number" "$PRIVNN" obf join --tol nan
expect_err 2 "--data 'mnist': expected one of fashion-mnist,random" "$PRIVNN" mpc infer "$M" --data mnist
expect_err 2 "--weights 'both': expected one of public,secret" "$PRIVNN" mpc infer "$M" --weights both
expect_err 2 "--net 'lna': expected one of lan,wan,both" "$PRIVNN" bench mpc --net lna
expect_err 2 "-k '-1': expected an integer in 0..1000" "$PRIVNN" obf split "$M" -k -1
# positionals
expect_err 2 "more than one model" "$PRIVNN" mpc infer "$M" "$M"
expect_err 2 "no model given" "$PRIVNN" mpc profile -o "$W/p.json"
expect_err 2 "unexpected argument 'x'" "$PRIVNN" obf join x
expect_err 2 "give --listen or --connect, not both" "$PRIVNN" mpc party --listen a:1 --connect b:2
# a valid run through the table: --opt=value and -a value forms, defaults kept
"$PRIVNN" mpc infer "$SRC/models/lenet5.onnx" --data=random --count 2 --batch=2 --sim -q --seed 5 \
  --json "$W/i.json" >"$W/out" 2>"$W/err" && grep -Eq '"images":[[:space:]]*2,' "$W/i.json" && grep -Eq '"batch":[[:space:]]*2,' "$W/i.json" \
  && ok || fail "mpc infer --sim via the table: $(head -c 300 "$W/err")"
expect_err 2 "privnn help: unknown command 'frob'" "$PRIVNN" help frob

echo "test_cli_options: $pass passed, $fails failed (${#pages[@]} pages, $nopts options)"
[ $fails -eq 0 ]
