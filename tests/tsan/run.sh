#!/usr/bin/env bash
# The integration tests that drive souk's threads, against a ThreadSanitizer build
# (cmake --preset tsan) and the running stack (ops/stack up):
#   integration.souk_runtime  the runtime: consumer threads, outbox relay, HTTP server
#   integration.pay_pool      souk-worker payments (2 threads, janitor, provider calls)
#   integration.matching      souk-worker matching (2 threads and mat_feed's own thread)
#   integration.replay        souk-worker inventory among the replay tools
#   integration.gateway       souk-gateway (libmicrohttpd threads, delivery-report thread)
# The list and TSAN_OPTIONS are the `tsan` test preset's (build dir build-tsan); this
# adds log files.
#
# Usage: tests/tsan/run.sh   (after cmake --preset tsan && cmake --build --preset tsan)
#
# Every process TSan watches writes its reports to build-tsan/tsan/report.<pid>
# (halt_on_error: the first report ends the process, with exit code 66, so the test
# fails too). Any report fails the run and is printed. A failed test runs once more
# and passes if that run does (unless it left a report): some of these tests wait on
# timings that TSan's slowdown (5-15x) stretches, e.g. integration.matching reads
# ride-matches once, without waiting for the outbox relay.
set -euo pipefail

cd "$(dirname "$0")/../.."
reports=$PWD/build-tsan/tsan
rm -rf "$reports"
mkdir -p "$reports"

status=0
TSAN_OPTIONS="log_path=$reports/report" \
	ctest --preset tsan --repeat until-pass:2 || status=$?

if compgen -G "$reports/report.*" >/dev/null; then
	for f in "$reports"/report.*; do
		echo "---- $f"
		cat "$f"
	done
	echo "tsan: $(ls "$reports" | wc -l) process(es) reported, see above" >&2
	exit 1
fi
exit "$status"
