# Thin front door over CMake. Two targets matter to a newcomer:
#   make demo  - install missing Debian packages, build (Release), run the main job
#   make test  - install missing Debian packages, build with -Werror, run ctest
#                normally and under AddressSanitizer + UndefinedBehaviorSanitizer
#                (it replays every committed fuzz input, tests/fuzz/)
#   make fuzz  - by hand: build the libFuzzer harnesses with clang and run each for
#                FUZZ_SECONDS (default 60), one process each (tests/fuzz/README.md)
# and make install [PREFIX=/usr/local] [DESTDIR=...] installs the library and program.
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ ?=
DEMO_CORPUS ?= data/synth-default
DEMO_OUT ?= runs/demo

PREFIX ?= /usr/local

.PHONY: all deps build build-asan demo test test-release test-asan bench fuzz install clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DVEIL_WERROR=ON -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVEIL_SANITIZE=ON -DVEIL_WERROR=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)/veil $(DEMO_CORPUS) $(DEMO_OUT)

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

# Both suites run; the summary of each is printed, the exit status fails if either failed.
test: build build-asan
	@scripts/run-tests.sh $(BUILD) $(ASAN_BUILD) $(JOBS)

bench: build
	@scripts/install-deps.sh --bench
	bench/run-all.sh $(BUILD)

# FUZZ=npy,results runs only those harnesses.
fuzz:
	@scripts/install-deps.sh --fuzz
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVEIL_FUZZ=ON -DVEIL_WERROR=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	@scripts/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ)

# libveil.so/.a, the public headers, veil.pc, the veil program and its man page under
# $(DESTDIR)$(PREFIX) (docs/library.md). make install PREFIX=/opt/veil DESTDIR=/tmp/stage
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
