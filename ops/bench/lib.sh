# Shared by the benchmarks: paths, the topic helper and the result line. Sourced.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

BENCH_DIR=$SOUK_STACK_DIR/bench
BIN=$SOUK_BUILD_DIR/bin
mkdir -p "$BENCH_DIR"

# bench_topic NAME PARTITIONS: creates the topic if missing.
bench_topic() {
	"$SOUK_ROOT/ops/kafka" topics --create --if-not-exists --topic "$1" \
		--partitions "$2" --replication-factor 1 >/dev/null
}

# bench_drop_topic NAME: deletes a topic a benchmark filled (each run writes millions of
# messages; kept, they would fill the disk run after run).
bench_drop_topic() {
	"$SOUK_ROOT/ops/kafka" topics --delete --if-exists --topic "$1" >/dev/null
}

# bench_high TOPIC: the sum of the partitions' high watermarks (messages ever written).
# kcat, not the Kafka CLI: a JVM per call would take a core from what is measured.
bench_high() {
	local args=() p
	for p in $(kcat -b "$SOUK_KAFKA_BROKERS" -L -t "$1" | sed -n 's/^ *partition \([0-9]*\),.*/\1/p'); do
		args+=(-t "$1:$p:-1")
	done
	kcat -b "$SOUK_KAFKA_BROKERS" -Q "${args[@]}" 2>/dev/null | awk '{ s += $NF } END { print s + 0 }'
}

# bench_pg_open: one psql session kept open for polling while a benchmark runs. A psql
# and a PostgreSQL backend started per poll cost ~15 ms of CPU each, taken from what is
# measured (on 2 cores, polling every 20 ms that way took a fifth of the machine).
# bench_pg_ask SQL: runs SQL (one statement answering one row) in it; the row is in
# REPLY, columns separated by |. No subshell: call it as a command, not in $( ).
bench_pg_open() {
	coproc BENCH_PG { psql "$SOUK_PG_DSN" -qAtX -v ON_ERROR_STOP=1; }
}
bench_pg_ask() {
	printf '%s;\n' "$1" >&"${BENCH_PG[1]}"
	read -r REPLY <&"${BENCH_PG[0]}" || souk_die "the polling psql session ended (on: $1)"
}

# bench_result NAME FIGURE UNIT BASELINE_NAME BASELINE RATIO TARGET: one JSON line
# appended to $BENCH_DIR/results.jsonl and a readable line on stdout.
bench_result() {
	printf '%-28s %12s %-10s baseline %-22s %12s  ratio %5s  target %s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7"
	printf '{"bench":"%s","figure":%s,"unit":"%s","baseline":"%s","baseline_figure":%s,"ratio":%s,"target":"%s","cores":%s,"date":"%s"}\n' \
		"$1" "$2" "$3" "$4" "$5" "$6" "$7" "$(nproc)" "$(date -u +%FT%TZ)" >>"$BENCH_DIR/results.jsonl"
}

# bench_cpu: CPU seconds used so far by each kind of process of the stack, one
# "name seconds" line each (dead processes' time is lost: take both snapshots of a
# window while what it measures runs, or around processes that outlive it).
bench_cpu() {
	local tick
	tick=$(getconf CLK_TCK)
	for d in /proc/[0-9]*; do
		read -r -a f <"$d/stat" 2>/dev/null || continue
		# comm is field 2, in parentheses; utime and stime are fields 14 and 15.
		echo "${f[1]} ${f[13]} ${f[14]}"
	done 2>/dev/null | awk -v tick="$tick" '
		{ c = $1; gsub(/[()]/, "", c)
		  if (c ~ /^postgres/) c = "postgres"; else if (c == "java") c = "kafka"
		  else if (c ~ /^redis/) c = "redis"; else if (c !~ /^souk-/) next
		  s[c] += ($2 + $3) / tick }
		END { for (c in s) printf "%s %.2f\n", c, s[c] }'
}

# bench_cpu_diff BEFORE AFTER: "name seconds" of AFTER minus BEFORE, on one line.
bench_cpu_diff() {
	awk 'NR == FNR { b[$1] = $2; next } { d = $2 - b[$1]; if (d > 0.005) printf "%s %.2f s, ", $1, d }' \
		<(echo "$1") <(echo "$2") | sed 's/, $/\n/'
}
