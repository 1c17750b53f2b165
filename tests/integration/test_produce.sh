#!/usr/bin/env bash
# souk-produce against the real broker: valid lines land on their type's topic keyed
# as DESIGN.md says and byte for byte as read; an invalid line is reported with its
# file and line number, written to --rejects and not sent; the exit status is 1 when
# anything was rejected; --json prints the summary; usage errors exit 2.
set -euo pipefail
BIN=${SOUK_BIN:-$(dirname "$0")/../../build/bin}
BROKERS=${SOUK_KAFKA_BROKERS:-127.0.0.1:19092}
SRC=${SOUK_SOURCE_DIR:-$(dirname "$0")/../..}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

tag=$$-$RANDOM
uuid() { cat /proc/sys/kernel/random/uuid; }
order() { # order_id qty
	printf '{"event_id":"%s","type":"order","version":1,"ts":"2026-11-27T12:00:00.000Z","client_id":"t","order_id":"%s","user_id":"u-%s","sku":"SKU-%s","qty":%s}\n' \
		"$(uuid)" "$1" "$tag" "$tag" "$2"
}
location() {
	printf '{"event_id":"%s","type":"location","version":1,"ts":"2026-11-27T12:00:00.000Z","client_id":"t","driver_id":"d-%s","lat":25.2,"lng":55.3,"speed_mps":3,"status":"available"}\n' \
		"$(uuid)" "$tag"
}
{
	order "o-$tag-1" 1
	echo
	order "o-$tag-2" 0 # line 3: qty out of range
	location
	echo 'not json'    # line 5
	order "o-$tag-3" 2
} >"$tmp/in.ndjson"

# Where each topic ends now, to read back only this run's messages.
end_offsets() { kcat -b "$BROKERS" -Q -t "$1:0:-1" -t "$1:1:-1" -t "$1:2:-1" -t "$1:3:-1" \
	-t "$1:4:-1" -t "$1:5:-1" 2>/dev/null | awk '{ print $(NF) }' | paste -sd' '; }
orders_before=($(end_offsets orders))

set +e
"$BIN/souk-produce" --rejects "$tmp/rejects" --json "$tmp/in.ndjson" >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
[[ $rc -eq 1 ]] || fail "exit status $rc with rejected lines, want 1"
grep -q 'in.ndjson:3: qty' "$tmp/err" || fail "line 3 not reported by number and field: $(cat "$tmp/err")"
grep -q 'in.ndjson:5: ' "$tmp/err" || fail "line 5 not reported"
[[ $(wc -l <"$tmp/rejects") -eq 2 ]] || fail "rejects file holds $(wc -l <"$tmp/rejects") lines, want 2"
grep -q '"qty":0' "$tmp/rejects" && grep -q '^not json$' "$tmp/rejects" || fail "rejects file content"
grep -q '"lines":5,"sent":3,"delivered":3,"rejected":2,"failed":0' "$tmp/out" ||
	fail "summary: $(cat "$tmp/out")"

# The two valid orders are on orders, keyed by sku, bytes unchanged.
got=0
for p in 0 1 2 3 4 5; do
	from=${orders_before[$p]}
	while IFS=$'\t' read -r key value; do
		[[ $value == *"\"o-$tag-"* ]] || continue
		[[ $key == "SKU-$tag" ]] || fail "order keyed \"$key\", want SKU-$tag"
		grep -qxF "$value" "$tmp/in.ndjson" || fail "order changed on the way: $value"
		got=$((got + 1))
	done < <(kcat -b "$BROKERS" -C -t orders -p $p -o "$from" -e -q -f '%k\t%s\n')
done
[[ $got -eq 2 ]] || fail "$got of 2 orders found on the topic"

# Usage errors.
set +e
"$BIN/souk-produce" --rate 0 "$tmp/in.ndjson" 2>"$tmp/err"; rc=$?
set -e
[[ $rc -eq 2 ]] && grep -q -- '--rate' "$tmp/err" || fail "--rate 0: exit $rc, $(cat "$tmp/err")"
set +e
"$BIN/souk-produce" "$tmp/missing.ndjson" 2>"$tmp/err"; rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q 'missing.ndjson' "$tmp/err" || fail "missing file: exit $rc"

# Every sample event of the demo goes through, each to its own topic.
"$BIN/souk-produce" --json "$SRC/ops/samples/demo.ndjson" >"$tmp/out" 2>/dev/null ||
	fail "the demo samples did not all go through"
grep -q '"delivered":10' "$tmp/out" || fail "demo samples: $(cat "$tmp/out")"
echo "souk-produce: rejects by line and field, exit 1, keys and bytes kept, usage 2"
