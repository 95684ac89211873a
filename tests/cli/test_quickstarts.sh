#!/usr/bin/env bash
# test_quickstarts.sh - the quickstart of each user doc runs as printed.
# Usage: test_quickstarts.sh PRIVNN SOURCE_DIR
#
# For docs/mpc.md, ckks.md, training.md and proteus.md: every ```sh block of the "## Quickstart"
# section (up to the next "## " heading) runs with bash -e, in order, in one scratch folder per doc
# holding the repository's models/, data/ and scripts/, with `privnn` on PATH being PRIVNN — as a
# reader who installed privnn would type it. A doc without a quickstart block fails.
set -u
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
cli_setup "$@"
mkdir -p "$W/bin"
ln -s "$PRIVNN" "$W/bin/privnn"
export PATH="$W/bin:$PATH"
pass=0 fail=0
for doc in mpc ckks training proteus; do
  d="$W/$doc"
  mkdir -p "$d"
  for x in models data scripts; do ln -s "$SRC/$x" "$d/$x"; done
  awk '/^## /{q = ($0 ~ /^## Quickstart/)} q && /^```sh/{on=1; next} q && on && /^```/{on=0; print "#--"; next} q && on' \
    "$SRC/docs/$doc.md" > "$d/quick.sh"
  if ! grep -q '^privnn ' "$d/quick.sh"; then
    printf 'FAILED: docs/%s.md has no quickstart sh block with a privnn command\n' "$doc"
    fail=$((fail + 1))
    continue
  fi
  if out=$(cd "$d" && bash -e quick.sh 2>&1); then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    printf 'FAILED: docs/%s.md quickstart:\n%s\n' "$doc" "$(printf '%s\n' "$out" | tail -8)"
  fi
done
echo "test_quickstarts: $pass docs passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -eq 4 ]
