/*
 * lag_report: a pass with its statuses, as the table souk-lag --once prints and as
 * JSON (souk-lag --once --json and GET /lag).
 */
#ifndef LAG_REPORT_H
#define LAG_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <yajl/yajl_gen.h>

#include "lag_backlog.h"
#include "lag_sample.h"
#include "lag_status.h"
#include "lag_window.h"

/* The rows [first, end) of the group of row first (pass is sorted by group). */
size_t lag_report_group_end(const struct lag_sample_pass *pass, size_t first);

/* The table kafka-consumer-groups --describe prints (GROUP TOPIC PARTITION
 * CURRENT-OFFSET LOG-END-OFFSET LAG), with LAG-SECONDS, STATUS and PG-OFFSET added
 * before CONSUMER-ID HOST CLIENT-ID, then a line per group: "group G: STATUS, N
 * partitions, total lag L". statuses[i] is row i's. Returns 0, or -1 when out of
 * memory (nothing written). */
int lag_report_table(FILE *out, const struct lag_sample_pass *pass,
		     const enum lag_status *statuses);

/* {"pass": seq, "samples": n, "groups": [{"group", "status", "partitions": [{"topic",
 * "partition", "current_offset", "log_end_offset", "log_start_offset", "lag",
 * "lag_seconds", "oldest_unconsumed_timestamp_ms", "kafka_offset", "pg_offset",
 * "offsets_differ", "status", "rule", "consumer_id", "host", "client_id",
 * "sampled_at_ms"}], "total_lag"}], "backlog": {see lag_report_gen_backlog}}, unknown
 * figures null, "backlog" only when backlog is not NULL; seq numbers the passes of a
 * process (1 the first). Returns a malloc'd NUL-terminated string (the caller's), or
 * NULL when out of memory. */
char *lag_report_json(const struct lag_sample_pass *pass, size_t nsamples,
		      const enum lag_status *statuses, const enum lag_rule *rules,
		      const struct lag_backlog *backlog, uint64_t seq);

/* The business backlog's lines under the table: "backlog: orders undecided N (oldest
 * S s)", "backlog: payments parked N (oldest S s), stuck > M min: N created, N
 * authorized", "backlog: rides without a final outcome N (oldest S s)" (unknown
 * figures "-"). */
void lag_report_backlog_table(FILE *out, const struct lag_backlog *b);

/* {"orders_undecided", "orders_oldest_seconds", "payments_parked",
 * "payments_parked_oldest_seconds", "payments_stuck": {"created", "authorized"},
 * "stuck_after_seconds", "rides_open", "rides_open_oldest_seconds"} as the value of key
 * (none: key NULL), unknown figures null. */
void lag_report_gen_backlog(yajl_gen g, const char *key, const struct lag_backlog *b);

/* v, or null when negative, as the value of key (none: key NULL). */
void lag_report_gen_int_or_null(yajl_gen g, const char *key, int64_t v);

/* ms as seconds with 3 decimals, or null when negative, as the value of key (none:
 * key NULL). */
void lag_report_gen_seconds_or_null(yajl_gen g, const char *key, int64_t ms);

/* Burrow's v3 HTTP API, for its clients and notifiers. request_url and host go in
 * "request". Each returns a malloc'd NUL-terminated string (the caller's), or NULL when
 * out of memory. */

/* GET /v3/kafka/{cluster}/consumer: {"error": false, "message": "consumer list
 * returned", "consumers": [the groups of pass], "request"}. */
char *lag_report_burrow_consumers(const struct lag_sample_pass *pass,
				  const char *request_url, const char *host);

/* GET /v3/kafka/{cluster}/consumer/{group}/lag for the group of the newest pass's rows
 * [first, end): {"error": false, "message": "consumer status returned", "status":
 * {"cluster", "group", "status", "complete", "partitions": [{"topic", "partition",
 * "owner", "client_id", "status", "start", "end", "current_lag", "complete"}],
 * "partition_count", "maxlag", "totallag"}, "request"}; start and end are the oldest
 * and newest samples in the window ({"offset", "timestamp", "observedAt", "lag"}),
 * complete the share of the window filled. statuses[i] is the newest pass's row i's. */
char *lag_report_burrow_lag(const struct lag_window *w, size_t first, size_t end,
			    const enum lag_status *statuses, const char *cluster,
			    const char *request_url, const char *host);

/* {"error": true, "message": "cluster or consumer not found", "request"}. */
char *lag_report_burrow_not_found(const char *request_url, const char *host);

#endif
