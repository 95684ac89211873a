#!/usr/bin/env bash
# check-install.sh BUILD SOURCE - the installed library as a user gets it (ctest `examples`).
#
# Installs BUILD into BUILD/stage, then checks:
#   1. the installed headers are exactly those <privnn/privnn.h> reaches, none of the internal ones
#      (kernels, op tables, window geometry, n-gram internals, onnx.pb-c.h) among them, and each
#      compiles on its own with -Wall -Wextra -Werror;
#   2. libprivnn.so exports only pn_ symbols, and exactly the functions the installed headers declare
#      (so each carries PN_API and has a definition) and the variables they declare PN_API;
#   3. every examples/*.c builds with `cc $(pkg-config --cflags --libs privnn)` against the staged
#      prefix, loads the staged libprivnn.so, and runs from the source folder with exit status 0;
#   4. the same examples build as a CMake project (examples/CMakeLists.txt: find_package(privnn),
#      target privnn::privnn) against the staged prefix, load the staged library and run.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
stage=$build/stage
cc=${CC:-cc}
fail() { echo "check-install: $*" >&2; exit 1; }

rm -rf "$stage"
cmake --install "$build" --prefix "$stage" >/dev/null
inc=$stage/include
so=$(find "$stage" -name 'libprivnn.so' | head -1)
[ -n "$so" ] || fail "no libprivnn.so installed under $stage"
libdir=$(dirname "$so")
[ -f "$libdir/pkgconfig/privnn.pc" ] || fail "no privnn.pc in $libdir/pkgconfig"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1. headers
(cd "$inc/privnn" && find . -name '*.h' | sed 's|^\./||' | sort) > "$tmp/installed"
echo '#include <privnn/privnn.h>' | $cc -std=c11 -I"$inc" -H -fsyntax-only -x c - 2> "$tmp/trace" ||
  fail "<privnn/privnn.h> does not compile: $(cat "$tmp/trace")"
grep -o "$inc/privnn/[^ ]*" "$tmp/trace" | sed "s|^$inc/privnn/||" | while read -r p; do
  realpath -m --relative-to="$inc/privnn" "$inc/privnn/$p"; done | sort -u > "$tmp/reached"
diff -u "$tmp/reached" "$tmp/installed" > "$tmp/hdiff" ||
  fail "installed headers differ from those privnn.h reaches (- reached, + installed):
$(cat "$tmp/hdiff")"
for bad in onnx.pb-c.h graph/kernels.h graph/op_def.h graph/window.h graph/zoo_build.h \
           ckks/ckks_impl.h obf/obf_ngram.h util/report.h util/bytes.h util/arena.h util/util.h; do
  grep -qx "$bad" "$tmp/installed" && fail "internal header $bad is installed"
done
grep -q '^graph/k_' "$tmp/installed" && fail "kernel headers are installed"
while read -r h; do
  echo "#include <privnn/$h>" | $cc -std=c11 -Wall -Wextra -Werror -I"$inc" -fsyntax-only -x c - ||
    fail "<privnn/$h> does not compile on its own"
done < "$tmp/installed"
echo "headers: $(wc -l < "$tmp/installed") installed, all reached from <privnn/privnn.h>, each compiles alone"

# 2. symbols
nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVWi]$/ {print $3}' | sed 's/@.*//' | sort -u > "$tmp/exported"
grep -v '^pn_' "$tmp/exported" > "$tmp/foreign" && fail "libprivnn.so exports non-pn_ symbols:
$(head -20 "$tmp/foreign")"
# declared: every function the installed headers declare (the compiler lists them: -aux-info;
# static inline ones are definitions, not imports) and every PN_API variable
echo '#include <privnn/privnn.h>' > "$tmp/all.c"
$cc -std=c11 -I"$inc" -aux-info "$tmp/aux" -fsyntax-only "$tmp/all.c"
grep -F "$inc/privnn/" "$tmp/aux" | grep ' extern ' |
  sed -E 's/^.*\*\/ extern [^(]*[ *]([A-Za-z_][A-Za-z0-9_]*) \(.*$/\1/' > "$tmp/declared"
find "$inc/privnn" -name '*.h' -exec cat {} + | tr '\n' ' ' | grep -o 'PN_API extern[^;]*;' |
  sed -E 's/\[.*//; s/;.*//' | grep -oE 'pn_[A-Za-z0-9_]+ *$' | tr -d ' ' >> "$tmp/declared"
sort -u -o "$tmp/declared" "$tmp/declared"
comm -23 "$tmp/exported" "$tmp/declared" > "$tmp/undeclared"
comm -13 "$tmp/exported" "$tmp/declared" > "$tmp/missing"
[ -s "$tmp/undeclared" ] && fail "exported but declared in no installed header:
$(cat "$tmp/undeclared")"
[ -s "$tmp/missing" ] && fail "declared in an installed header but not exported (no PN_API, or no definition):
$(cat "$tmp/missing")"
echo "symbols: libprivnn.so exports $(wc -l < "$tmp/exported") pn_ symbols, exactly what the installed headers declare"

# 3. examples, built and run the way a user would
export PKG_CONFIG_PATH=$libdir/pkgconfig
flags=$(pkg-config --cflags privnn)
libs=$(pkg-config --libs privnn)
n=0
for ex in "$src"/examples/*.c; do
  name=$(basename "$ex" .c)
  # shellcheck disable=SC2086
  $cc -std=c11 -Wall -Wextra -Werror $flags "$ex" -o "$tmp/$name" $libs || fail "$name does not build"
  deps=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/$name")
  grep -qF "$libdir/libprivnn.so" <<< "$deps" || fail "$name does not load the installed libprivnn.so"
  (cd "$src" && LD_LIBRARY_PATH=$libdir "$tmp/$name") || fail "$name failed"
  n=$((n + 1))
done
[ $n -gt 0 ] || fail "no examples in $src/examples"
echo "examples: $n built with pkg-config against $stage and run"

# 4. the same examples through the CMake package: find_package(privnn) and privnn::privnn
cmake -S "$src/examples" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$stage" -DCMAKE_BUILD_TYPE=Release \
  > "$tmp/cmake.log" 2>&1 || fail "examples/CMakeLists.txt: find_package(privnn) failed: $(tail -20 "$tmp/cmake.log")"
cmake --build "$tmp/cmake" > "$tmp/cmake.log" 2>&1 || fail "the examples do not build through CMake: $(tail -20 "$tmp/cmake.log")"
n=0
for ex in "$src"/examples/*.c; do
  name=$(basename "$ex" .c)
  grep -qF "$libdir/libprivnn.so" <<< "$(ldd "$tmp/cmake/$name")" || fail "$name (CMake) does not load the installed libprivnn.so"
  (cd "$src" && "$tmp/cmake/$name" > /dev/null) || fail "$name (CMake) failed"
  n=$((n + 1))
done
echo "examples: $n built with find_package(privnn) against $stage and run"
