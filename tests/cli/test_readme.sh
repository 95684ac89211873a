#!/usr/bin/env bash
# test_readme.sh - every `build/privnn ...` command in README.md's sh blocks runs as shown (exit 0).
# Usage: test_readme.sh PRIVNN SOURCE_DIR. Commands run from SOURCE_DIR with build/privnn -> PRIVNN.
set -u
PRIVNN=$(realpath "$1")
cd "$2" || exit 1
mkdir -p build
rm -rf build/bundle # `obf split` refuses a non-empty bundle folder (by design): a second run starts clean
export PN_NO_PROGRESS=1
pass=0 fail=0
while IFS= read -r line; do
  cmd=${line%%#*}                       # drop trailing comments
  cmd="$PRIVNN${cmd#build/privnn}"
  if out=$(bash -c "$cmd" 2>&1); then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    printf 'FAILED: %s\n%s\n' "$line" "$(printf '%s\n' "$out" | tail -5)"
  fi
done < <(awk '/^```sh/{on=1; next} /^```/{on=0} on && /^build\/privnn /' README.md)
echo "test_readme: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
