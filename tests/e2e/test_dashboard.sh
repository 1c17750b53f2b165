#!/usr/bin/env bash
# souk-lag's live dashboard in a real browser (headless Debian chromium driven by
# playwright-core; dashboard_browser.js does the browser part).
#
# A topic of this run's own (3 partitions, 2,000 messages of 200 bytes on each) is read by a
# consumer group of its own: slow_consumer (tests/helpers) taking 50 messages/s, so the
# group keeps a backlog while a member holds the partitions and commits. souk-lag serves it
# (1 s interval, a window of 3). The browser test checks that every figure the page
# shows equals the JSON API's for the same pass, that the badge always equals the API's
# status, kills the consumer and waits for the badge to leave OK (STALL while the dead
# member's session lasts, 6 s, then STOP: no member with lag > 0; the group ERR), and
# saves a screenshot.
set -euo pipefail
. "${SOUK_SOURCE_DIR:?}/ops/lib/common.sh"

BIN=${SOUK_BIN:-$SOUK_BUILD_DIR/bin}
TAG=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
TOPIC=lag-dash-$TAG
GROUP=lag-dash-$TAG
WORK=$(mktemp -d)
SHOT=${SOUK_TEST_BIN:?}/dashboard.png
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[[ -s $WORK/lag.log ]] && { echo "--- souk-lag log"; tail -20 "$WORK/lag.log"; }
	rm -rf "$WORK"
}
trap cleanup EXIT

[[ -f $SOUK_PLAYWRIGHT_DIR/.complete ]] ||
	souk_die "playwright-core is missing from $SOUK_PLAYWRIGHT_DIR: run ops/deps"
[[ -x /usr/bin/chromium ]] || souk_die "/usr/bin/chromium is missing: run ops/deps"

"$SOUK_ROOT/ops/kafka" topics --create --topic "$TOPIC" --partitions 3 \
	--replication-factor 1 >/dev/null
for p in 0 1 2; do
	/usr/bin/python3 -c '
import sys
for i in range(2000):
    sys.stdout.write(f"{i:06d}" + "x" * 193 + "\n")
' | kcat -P -b "$SOUK_KAFKA_BROKERS" -t "$TOPIC" -p $p
done

# The lagging consumer: one message every 20 ms, each committed.
"$SOUK_TEST_BIN/slow_consumer" "$SOUK_KAFKA_BROKERS" "$GROUP" "$TOPIC" 20 \
	2>"$WORK/consumer.log" &
consumer=$!
pids+=("$consumer")

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN/souk-lag" -g "$GROUP" -i 1s -n 3 -X "http.listen=127.0.0.1:$port" \
	>"$WORK/lag.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
	sleep 0.2
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || souk_die "souk-lag did not get ready"

NODE_PATH=$SOUK_PLAYWRIGHT_DIR/node_modules node "$SOUK_ROOT/tests/e2e/dashboard_browser.js" \
	"http://127.0.0.1:$port" "$GROUP" "$consumer" "$SHOT"
