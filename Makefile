# The two commands a fresh machine needs, and the steps they are made of. Each does
# its own set-up: packages and the Kafka jars (ops/deps), the build, the servers.
#
#   make demo    set up, start the stack, publish a sample of every event, consume it
#   make test    set up, build (default, ASan/UBSan, TSan, fuzz), start the stack, run every test
#   make fuzz    each libFuzzer target for FUZZ_SECONDS (600), FUZZ_JOBS (1) at a time
#   make faults  the fault tests' long form (10 kills a worker, each server fault 3 times,
#                4x the traffic, payments under kills; 3 broker kills in a 3-broker cluster
#                and 3% packet loss, in network namespaces of their own)
.PHONY: all deps build asan tsan fuzz-build stack demo test test-unit fuzz faults e2e-full bench down clean

all: build

deps:
	ops/deps

build: deps
	cmake --preset default >/dev/null
	cmake --build --preset default

asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan

tsan: deps
	cmake --preset tsan >/dev/null
	cmake --build --preset tsan

# The libFuzzer targets (tests/fuzz) and only what they link, with clang.
fuzz-build: deps
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz

stack: build
	ops/stack up

demo: stack
	ops/demo

# Every label runs here in bounded sizes (unit, integration, e2e, faults, fuzz);
# benchmarks run only in `make bench`. The unit and integration suites run again under
# ASan/UBSan (their binaries, and the tools the script tests start); the integration
# tests that drive souk's threads run again under TSan (tests/tsan/run.sh, about 2 min).
# The fuzz label is a 20 s run of each fuzz target, two at a time.
test: stack asan tsan fuzz-build
	ctest --preset default --label-exclude bench
	ctest --preset asan --label-regex 'unit|integration'
	tests/tsan/run.sh
	ctest --preset fuzz

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

faults: stack
	/usr/bin/python3 tests/faults/test_kill_workers.py --long
	/usr/bin/python3 tests/faults/test_servers.py --long
	/usr/bin/python3 tests/faults/test_gateway_kill.py --long
	/usr/bin/python3 tests/faults/test_kill_payments.py --long
	/usr/bin/python3 tests/faults/test_broker_cluster.py --long
	/usr/bin/python3 tests/faults/test_packet_loss.py --long

test-unit: build
	ctest --preset default --label-regex unit

# Each fuzz target for FUZZ_SECONDS from the seeds and the corpus it grew before
# (build-fuzz/fuzz/): prints executions, execs/s and crashes per target and fails on any
# crash, saving the input in build-fuzz/fuzz/crashes/<target>/.
FUZZ_SECONDS ?= 600
FUZZ_JOBS ?= 1
fuzz: fuzz-build
	FUZZ_JOBS=$(FUZZ_JOBS) tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

down:
	ops/stack down

clean:
	rm -rf build build-asan build-tsan build-fuzz
