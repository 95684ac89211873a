#!/usr/bin/env bash
# test_readme.sh - every `privnn ...` command in README.md's sh blocks runs as shown (exit 0).
# Usage: test_readme.sh PRIVNN SOURCE_DIR. The commands run in order, as a reader who installed
# privnn would type them, in a scratch folder holding the repository's models/ (so the files they
# write land there, not in the source tree); `privnn` is PRIVNN.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"
ln -s "$SRC/models" "$W/models"
ln -s "$SRC/data" "$W/data"
pass=0 fail=0
while IFS= read -r line; do
  cmd=${line%%#*}                       # drop trailing comments
  cmd="$PRIVNN${cmd#privnn}"
  if out=$(bash -c "$cmd" 2>&1); then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    printf 'FAILED: %s\n%s\n' "$line" "$(printf '%s\n' "$out" | tail -5)"
  fi
done < <(awk '/^```sh/{on=1; next} /^```/{on=0} on && /^privnn /' "$SRC/README.md")
echo "test_readme: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
