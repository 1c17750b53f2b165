# The two commands a fresh machine needs, and the steps they are made of. Each does
# its own set-up: packages and the Kafka jars (ops/deps), the build, the servers.
#
#   make demo    set up, start the stack, publish a sample of every event, consume it
#   make test    set up, build (default and ASan/UBSan), start the stack, run every test
.PHONY: all deps build asan stack demo test test-unit e2e-full bench down clean

all: build

deps:
	ops/deps

build: deps
	cmake --preset default >/dev/null
	cmake --build --preset default

asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan

stack: build
	ops/stack up

demo: stack
	ops/demo

# Every label runs here in bounded sizes (unit, integration, e2e, faults, fuzz);
# benchmarks run only in `make bench`. The unit and integration suites run again under
# ASan/UBSan (their binaries, and the tools the script tests start).
test: stack asan
	ctest --preset default --label-exclude bench
	ctest --preset asan --label-regex 'unit|integration'

# Benchmarks print their figure, the baseline measured in the same run and the ratio;
# .stack/bench/results.jsonl keeps every run; ops/bench/table writes the newest of each
# into ops/bench/results.md and results.json.
bench: stack
	ops/deps --bench
	ops/bench/produce
	ops/bench/gateway
	ops/bench/flash-sale
	ops/bench/payments
	ops/bench/replay
	ops/bench/matching
	ops/bench/table

# The flash-sale end-to-end scenarios at 100K orders (the default suite runs 10K).
e2e-full: stack
	/usr/bin/python3 tests/e2e/test_flash_sale.py --orders 100000

test-unit: build
	ctest --preset default --label-regex unit

down:
	ops/stack down

clean:
	rm -rf build build-asan
