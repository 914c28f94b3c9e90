# Thin wrapper over CMake for the two README commands.
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all build test demo clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

DEMO_MODEL ?= $(BUILD)/demo.rvne
DEMO_INPUT ?= data/esp32-raw-2node-excerpt.csi.jsonl

demo: build
	./$(BUILD)/aether init-blob $(BUILD)/demo.rvne
	./$(BUILD)/aether run --model $(DEMO_MODEL) --input $(DEMO_INPUT) --every 50

clean:
	rm -rf $(BUILD)
