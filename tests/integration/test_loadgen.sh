#!/usr/bin/env bash
# integration.loadgen: souk-loadgen replays a seed byte for byte, and --kafka delivers
# exactly the events it would print, each to its topic under its key.
#
# Needs SOUK_BIN (build/bin) and, for the Kafka part, the broker of `ops/stack up`
# (or SOUK_KAFKA_BROKERS); waits up to SOUK_STACK_WAIT_S (default 60) for
# `ops/stack status` to pass. Uses kcat for offsets and consuming.
set -euo pipefail

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

[[ -n ${SOUK_BIN:-} ]] || fail "SOUK_BIN must point at the build's bin directory"
SRC=${SOUK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
LG=$SOUK_BIN/souk-loadgen
BROKERS=${SOUK_KAFKA_BROKERS:-127.0.0.1:19092}
[[ -x $LG ]] || fail "$LG is not built"
command -v kcat >/dev/null || fail "kcat is not installed (ops/deps installs it)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- determinism, without servers ---------------------------------------------------

modes=(
	"flash-sale --users 3000 --invalid-share 0.01"
	"payments --payments 300"
	"city --drivers 100 --requests 40 --duration 300"
)
for mode in "${modes[@]}"; do
	# shellcheck disable=SC2086 # the mode is a word list on purpose
	{
		"$LG" $mode --seed 42 >"$tmp/a" 2>/dev/null
		"$LG" $mode --seed 42 >"$tmp/b" 2>/dev/null
		"$LG" $mode --seed 43 >"$tmp/c" 2>/dev/null
		"$LG" $mode --seed 42 --count 25 >"$tmp/d" 2>/dev/null
	} || fail "souk-loadgen $mode failed"
	[[ -s $tmp/a ]] || fail "$mode: no output"
	cmp "$tmp/a" "$tmp/b" || fail "$mode: the same seed gave different bytes"
	if cmp -s "$tmp/a" "$tmp/c"; then
		fail "$mode: seeds 42 and 43 gave the same bytes"
	fi
	head -n 25 "$tmp/a" | cmp - "$tmp/d" || fail "$mode: --count 25 is not the first 25 lines"
done

# --start moves every timestamp, nothing else.
"$LG" payments --payments 20 --start 2030-06-01T08:00:00.000Z >"$tmp/s" 2>/dev/null
grep -q '"ts":"2030-06-01T08:' "$tmp/s" || fail "--start did not move the timestamps"
if grep -q '"ts":"2026-' "$tmp/s"; then
	fail "--start left timestamps at the default start"
fi

# Usage errors exit 2 and say what is wrong.
expect_usage() {
	local want=$1 rc=0
	shift
	"$LG" "$@" >/dev/null 2>"$tmp/err" || rc=$?
	[[ $rc -eq 2 ]] || fail "souk-loadgen $*: exit $rc, expected 2"
	grep -qF -- "$want" "$tmp/err" ||
		fail "souk-loadgen $*: stderr lacks \"$want\": $(cat "$tmp/err")"
}
expect_usage 'unknown mode "shop"' shop
expect_usage '--drivers is not an option of flash-sale' flash-sale --drivers 3
expect_usage '--zipf: must be a number between 0 and 10, got "x"' flash-sale --zipf x
expect_usage 'could not parse bbox' city --bbox 1,2,3
"$LG" --help | grep -q 'usage: souk-loadgen' || fail "--help prints no usage"

# --- --kafka into the real broker ---------------------------------------------------

waited=0
until "$SRC/ops/stack" status >/dev/null 2>&1; do
	((waited < ${SOUK_STACK_WAIT_S:-60})) ||
		fail "the stack is not up after ${waited} s (ops/stack up)"
	sleep 10
	waited=$((waited + 10))
done

# "partition high-watermark" lines for every partition of topic $1.
partition_ends() {
	local topic=$1 parts args=() p
	parts=$(kcat -b "$BROKERS" -L -t "$topic" | sed -n 's/^ *partition \([0-9]*\),.*/\1/p')
	[[ -n $parts ]] || fail "topic $topic has no partitions"
	for p in $parts; do args+=(-t "$topic:$p:-1"); done
	kcat -b "$BROKERS" -Q "${args[@]}" | sed -n 's/.*\[\([0-9]*\)\] offset \([0-9]*\).*/\1 \2/p'
}

high_watermarks() {
	partition_ends "$1" | awk '{ sum += $2 } END { print sum + 0 }'
}

# A seed of its own per run: its tag marks this run's messages among any others'.
seed=$(date +%s%N)
sale=(flash-sale --users 300 --skus 4 --stock 10 --orders 200 --retry-share 0.5
	--invalid-share 0.02 --seed "$seed")
"$LG" "${sale[@]}" >"$tmp/expected" 2>"$tmp/expected.err" || fail "the stdout run failed"
count=$(wc -l <"$tmp/expected")
tag=$(sed -n 's/.*"sku":"SKU-\([0-9a-f]*\)-.*/\1/p' "$tmp/expected" | head -n 1)
[[ $count -gt 200 && -n $tag ]] || fail "unexpected sale: $count lines, tag \"$tag\""

partition_ends orders >"$tmp/starts"
before=$(high_watermarks orders)
"$LG" "${sale[@]}" --kafka --brokers "$BROKERS" 2>"$tmp/kafka.err" ||
	fail "souk-loadgen --kafka failed: $(cat "$tmp/kafka.err")"
after=$(high_watermarks orders)
grep -q "; $count delivered, 0 failed" "$tmp/kafka.err" ||
	fail "the summary does not report $count delivered: $(cat "$tmp/kafka.err")"
# Other tests may write to orders at the same time: at least our count, and below
# exactly our messages.
((after - before >= count)) || fail "orders grew by $((after - before)), expected $count"

# Read back what arrived since the start offsets: this run's messages are exactly the
# lines the stdout run printed, each keyed by its SKU.
while read -r p offset; do
	kcat -b "$BROKERS" -C -t orders -p "$p" -o "$offset" -e -q -f '%k\t%s\n'
done <"$tmp/starts" | grep -F "SKU-$tag-" >"$tmp/got" || true
[[ $(wc -l <"$tmp/got") -eq $count ]] ||
	fail "read back $(wc -l <"$tmp/got") messages of run $tag, expected $count"
awk -F'\t' '{ if (index($2, "\"sku\":\"" $1 "\"") == 0) { print; exit 1 } }' "$tmp/got" ||
	fail "a message is not keyed by its sku"
cut -f2- "$tmp/got" | sort >"$tmp/got.sorted"
sort "$tmp/expected" >"$tmp/expected.sorted"
cmp "$tmp/got.sorted" "$tmp/expected.sorted" || fail "the topic holds other bytes than stdout"

echo "ok: deterministic in 3 modes; $count events of run $tag delivered to orders"
