# Shared by the ops/ scripts: paths, addresses and small helpers. Sourced, not run.

SOUK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SOUK_STACK_DIR=${SOUK_STACK_DIR:-$SOUK_ROOT/.stack}
SOUK_CACHE=${SOUK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/souk}

# The Kafka release the broker runs; ops/broker/pom.xml pins the same one.
SOUK_KAFKA_VERSION=4.1.1
SOUK_KAFKA_LIBS=$SOUK_CACHE/kafka-$SOUK_KAFKA_VERSION/libs

# The release of the h3 source distribution on PyPI whose C library (its src/h3lib, H3
# 4.3.0) the matching pool builds; the root CMakeLists.txt reads this pin from here.
SOUK_H3_VERSION=4.3.1
SOUK_H3_DIR=$SOUK_CACHE/h3-$SOUK_H3_VERSION

# playwright-core, which drives Debian's chromium in the dashboard's browser test, from
# the npm registry into a cache folder (its own browser download is never used).
SOUK_PLAYWRIGHT_VERSION=1.65.1
SOUK_PLAYWRIGHT_DIR=$SOUK_CACHE/playwright-core-$SOUK_PLAYWRIGHT_VERSION

# The local Kafka runs one broker, or three (ops/stack up --brokers 3), node N
# listening on 19092+2(N-1) and its controller on the port after it; ops/stack
# records the count in the stack folder, and the default broker list follows it.
souk_kafka_nodes() {
	local n=1
	[[ -s $SOUK_STACK_DIR/kafka-brokers ]] && n=$(<"$SOUK_STACK_DIR/kafka-brokers")
	echo "$n"
}
souk_kafka_list() {
	local n=$1 i list=""
	for ((i = 0; i < n; i++)); do
		list+=${list:+,}127.0.0.1:$((19092 + 2 * i))
	done
	echo "$list"
}

# Local defaults; each is overridable so a user can point souk at their own servers.
SOUK_DEFAULT_KAFKA=$(souk_kafka_list "$(souk_kafka_nodes)")
SOUK_DEFAULT_PG_DSN="host=127.0.0.1 port=15432 dbname=souk user=souk"
SOUK_DEFAULT_REDIS=redis://127.0.0.1:16379/0
SOUK_KAFKA_BROKERS=${SOUK_KAFKA_BROKERS:-$SOUK_DEFAULT_KAFKA}
SOUK_PG_DSN=${SOUK_PG_DSN:-$SOUK_DEFAULT_PG_DSN}
SOUK_REDIS_URL=${SOUK_REDIS_URL:-$SOUK_DEFAULT_REDIS}
export SOUK_KAFKA_BROKERS SOUK_PG_DSN SOUK_REDIS_URL

SOUK_BUILD_DIR=${SOUK_BUILD_DIR:-$SOUK_ROOT/build}

souk_say() { printf '%s\n' "$*" >&2; }
souk_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Milliseconds since the epoch, for the timings the scripts print.
souk_now_ms() { echo $(( ${EPOCHREALTIME/[.,]/} / 1000 )); }

# Stops the souk-lag that make demo leaves serving its dashboard (pid in the stack
# folder), if it still runs.
souk_stop_lag() {
	local pidfile=$SOUK_STACK_DIR/souk-lag.pid pid
	[[ -s $pidfile ]] || return 0
	pid=$(cat "$pidfile")
	if [[ $(cat "/proc/$pid/comm" 2>/dev/null) == souk-lag ]]; then
		kill "$pid"
		while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	fi
	rm -f "$pidfile"
}
