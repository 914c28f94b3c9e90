# Thin wrapper over CMake and scripts/ for the README commands.
#   make demo    the main job on the shipped data (installs the build's
#                Debian packages first when any is missing)
#   make test    every test stage (scripts/test_all.sh; what CI runs), after
#                installing the test packages when any is missing
#   make check   the native build and its test suite only (fast loop)
#   make deps / make test-deps   only the package installs
#                (scripts/install-deps.sh [--test])
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=
DEMO_MODEL ?= models/gesture.rvne
DEMO_MODEL2 ?= models/motion.rvne
DEMO_INPUT ?= data/esp32-raw-2node-excerpt.csi.jsonl

.PHONY: all build test check demo bench clean deps test-deps

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

deps:
	sh scripts/install-deps.sh

test-deps:
	sh scripts/install-deps.sh --test

test: test-deps
	JOBS=$(JOBS) BUILD=$(BUILD) sh scripts/test_all.sh

check: build
	sh scripts/check.sh $(BUILD) $(JOBS)

demo: deps
	$(MAKE) --no-print-directory build
	./$(BUILD)/aether inspect $(DEMO_MODEL)
	./$(BUILD)/aether run --model $(DEMO_MODEL) --input $(DEMO_INPUT) --every 50
	./$(BUILD)/aether run --model $(DEMO_MODEL2) --input $(DEMO_INPUT)

bench: build
	./$(BUILD)/aether bench --quick

clean:
	rm -rf $(BUILD) build-*
