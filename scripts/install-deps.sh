#!/usr/bin/env bash
# install-deps.sh [fuzz] - install the Debian packages privnn builds and tests with, only those missing;
# with `fuzz` also clang and its libFuzzer runtime (`make fuzz`; `make check` replays the fuzz targets'
# seed corpora with gcc and needs neither). Idempotent and quiet when everything is present. Needs root
# (or sudo) only when something is missing.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev   # ONNX schema, compiled at build time
  libopenblas-dev                                     # CBLAS sgemm
  libssl-dev                                          # AES-CTR PRG, TLS 1.3
  zlib1g-dev dataset-fashion-mnist                    # IDX .gz dataset
  libpng-dev                                          # PNG inputs (privnn tensor, --input)
  libonnx-testdata                                    # ONNX backend node tests
  libcjson-dev                                        # JSON reports, plans, manifests
  libcmocka-dev                                       # unit tests
  libgmp-dev                                          # exact CRT checks in CKKS tests
  python3-onnx python3-numpy                          # test tooling (/usr/bin/python3 only)
  gnuplot-nox                                         # PNG plots of benchmark CSVs
  valgrind                                            # memcheck over a few commands (make check)
)
if [ "${1:-}" = fuzz ]; then
  PKGS+=(clang libclang-rt-14-dev)                    # libFuzzer targets (make fuzz)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps.sh: missing packages (${missing[*]}) and not root; install them with apt-get" >&2
    exit 1
  fi
fi
echo "install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
