# privnn - the README's commands. `make` builds into build/ (CLI at build/privnn).
#   make demo    install missing Debian packages, build, run the main job end to end
#   make check   install missing Debian packages, build, run every test (+ ASan/UBSan unit tests)
#   make bench   build and run the benchmarks in bench/ (QUICK=1: a few minutes; THREADS=, REPEAT=)
#   make fuzz    build the libFuzzer targets (clang) and run each for FUZZ_SECONDS
#   make valgrind  a few commands (inference, MPC simulator, a two-party TLS run) under memcheck
#                (also part of make check when valgrind is installed)
#   make fuzz-graphs  the random-graph differential test at length: GRAPHS graphs from SEED
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
GRAPHS ?= 20000
SEED ?= random
QUICK ?= 0
BUILD ?= build

.PHONY: all deps build demo check check-asan bench fuzz fuzz-graphs clean install valgrind

all: build

deps:
	@scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The demo is a tour, not a build log: the build's output goes to $(BUILD)/build.log (its tail is
# shown if it fails).
demo: deps
	@echo "privnn demo: building privnn (Release, $(JOBS) jobs; compiler output in $(BUILD)/build.log)"
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) >$(BUILD)/build.log 2>&1 || \
		{ tail -n 40 $(BUILD)/build.log; echo "make demo: the build failed; full log in $(BUILD)/build.log" >&2; exit 1; }
	@scripts/demo.sh $(BUILD)/privnn

# The sanitizer run goes first so that the last ctest summary line is the full suite's count.
check: deps build
	@$(MAKE) --no-print-directory check-asan
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# Unit tests (not the long conformance/CLI runs, not the installed-library check) under
# AddressSanitizer + UBSan, in build-asan/.
check-asan:
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPN_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -LE 'slow|cli|install'

valgrind: build
	@scripts/valgrind.sh $(BUILD) .

# QUICK=1: a few minutes in all; THREADS, REPEAT: passed to every script (bench/common.sh)
bench: build
	@QUICK=$(QUICK) $(if $(THREADS),THREADS=$(THREADS)) $(if $(REPEAT),REPEAT=$(REPEAT)) bench/run-all.sh $(BUILD)

fuzz: deps
	@scripts/install-deps.sh fuzz
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DPN_FUZZ=ON -DPN_SANITIZE=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@scripts/run-fuzz.sh build-fuzz/fuzz $(FUZZ_SECONDS)

# tests/graph/test_diff.c over many graphs (make check runs 600 from seed 1); a failing graph
# prints its number K: replay it with build/tests/test_diff --seed K --count 1 -v.
# Against ONNX Runtime as well: scripts/ort-diff.sh --seed S --count N.
fuzz-graphs: build
	@$(BUILD)/tests/test_diff --seed $(SEED) --count $(GRAPHS)

install: build
	@cmake --install $(BUILD)

clean:
	rm -rf build build-asan build-fuzz
