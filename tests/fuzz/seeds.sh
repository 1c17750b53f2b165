#!/usr/bin/env bash
# Writes the seed inputs of one fuzz target into a folder, from the repository's test
# data, so that no seed is committed: tests/vectors/events.json (every event, valid or
# not, one file each) and ops/samples/demo.ndjson, plus a few config and key files
# written here.
#
# usage: tests/fuzz/seeds.sh TARGET DIR    (TARGET: event, ndjson, config, gw_keys,
#                                           gw_request)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
vectors=$root/tests/vectors/events.json
sample=$root/ops/samples/demo.ndjson
target=${1:?usage: seeds.sh TARGET DIR}
dir=${2:?usage: seeds.sh TARGET DIR}
mkdir -p "$dir"

# Each vector is one line: {"name": ..., "status": "...", "event": EVENT},
# prints "valid<TAB>EVENT" per vector, EVENT as written in the file.
vector_events() {
	sed -nE 's/.*"valid": (true|false), .*"status": "[a-z]+", "event": (.*)\},?$/\1\t\2/p' \
		"$vectors"
}

route_of() {
	case $1 in
	order) echo /v1/orders ;;
	payment) echo /v1/payments ;;
	location) echo /v1/locations ;;
	ride_request) echo /v1/ride-requests ;;
	ride_event) echo /v1/ride-events ;;
	*) return 1 ;;
	esac
}

case $target in
event)
	n=0
	while IFS=$'\t' read -r _ event; do
		printf '%s' "$event" >"$dir/vector-$((++n))"
	done < <(vector_events)
	n=0
	while IFS= read -r line; do
		printf '%s' "$line" >"$dir/sample-$((++n))"
	done <"$sample"
	;;
ndjson)
	cp "$sample" "$dir/sample"
	sed 's/$/\r/' "$sample" >"$dir/sample-crlf"
	printf '%s' "$(head -c -1 "$sample")" >"$dir/sample-no-final-newline"
	printf '\n  \n%s\n\t\r\n\n%s' "$(head -1 "$sample")" "$(tail -1 "$sample")" \
		>"$dir/blank-lines"
	;;
config)
	cat >"$dir/every-key" <<'CONF'
# every key of the fuzz table
kafka.brokers = 127.0.0.1:19092,127.0.0.1:19093
pg.dsn = host=127.0.0.1 port=15432 dbname=souk user=souk
redis.url = redis://user:p%40ss@127.0.0.1:16379/2
log.level = debug
http.listen = 0.0.0.0:8080
tool.port = 9090
tool.batch = -5
tool.dry_run = yes
tool.ratio = 0.25
tool.scale = -1.5e300
tool.poll = 2s
tool.mode = safe
pg.password = secret
CONF
	printf '\n  # comment\n\tkafka.linger.ms = 5\r\nkafka.acks=all\ntool.poll=1h\n' \
		>"$dir/pass-through"
	printf 'redis.url = redis://[::1]:6379\nhttp.listen = 127.0.0.1:0\ntool.poll = 250\n' \
		>"$dir/ipv6"
	printf 'tool.port = 0\n' >"$dir/out-of-bounds"
	printf 'no equals sign\n' >"$dir/malformed"
	;;
gw_keys)
	printf '# souk-gateway keys\n\n   \nsk-0123456789abcdef shop-1\n  # indented\n\tsk-fleet-0000000002\tfleet.eu:2 \r\n' \
		>"$dir/keys"
	printf 'sk-0123456789abcdef shop-1\nsk-0123456789abcdef shop-2\n' >"$dir/repeated"
	printf 'short shop-1\n' >"$dir/short-key"
	;;
gw_request)
	# Every valid vector of a type clients send, on its route; the vectors' own
	# envelope is left in (the gateway replaces it). Alternately with an API key and
	# an Idempotency-Key, and without.
	n=0
	while IFS=$'\t' read -r valid event; do
		[[ $valid == true ]] || continue
		type=$(sed -nE 's/^\{"event_id": "[^"]*", "type": "([a-z_]+)".*/\1/p' <<<"$event")
		route=$(route_of "$type") || continue
		if ((++n % 2)); then
			printf '%s\nAuthorization: Bearer fuzz-key-shop-0000000001\nIdempotency-Key: k-%d\n\n%s' \
				"$route" "$n" "$event" >"$dir/vector-$n"
		else
			printf '%s\n\n%s' "$route" "$event" >"$dir/vector-$n"
		fi
	done < <(vector_events)
	events=$(grep -E '"type":"(order|payment|location|ride_request|ride_event)"' "$sample")
	printf '/v1/events\nAuthorization: bearer fuzz-key-fleet-000000002\nIdempotency-Key: batch-1\n\n%s\n' \
		"$events" >"$dir/sample-batch"
	printf '/v1/events\n\n%s\n' "$events" >"$dir/sample-batch-open"
	;;
*)
	echo "seeds.sh: unknown target \"$target\"" >&2
	exit 2
	;;
esac
