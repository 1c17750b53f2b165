#include "lag_report.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "souk_json.h"

size_t
lag_report_group_end(const struct lag_sample_pass *pass, size_t first)
{
	size_t end = first + 1;

	while (end < pass->n && !strcmp(pass->rows[end].group, pass->rows[first].group))
		end++;
	return end;
}

static void
lag_report_num(char *buf, size_t size, int64_t v)
{
	if (v < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%" PRId64, v);
}

/* ms as seconds with 3 decimals, "-" when negative. */
static void
lag_report_secs(char *buf, size_t size, int64_t ms)
{
	if (ms < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.3f", (double)ms / 1000.0);
}

enum { LAG_REPORT_COLS = 12 };

static const char *const lag_report_heads[LAG_REPORT_COLS] = {
    "GROUP",	      "TOPIC",	     "PARTITION",   "CURRENT-OFFSET",
    "LOG-END-OFFSET", "LAG",	     "LAG-SECONDS", "STATUS",
    "PG-OFFSET",      "CONSUMER-ID", "HOST",	    "CLIENT-ID"};

int
lag_report_table(FILE *out, const struct lag_sample_pass *pass,
		 const enum lag_status *statuses)
{
	char(*cells)[LAG_REPORT_COLS][LAG_SAMPLE_NAME_MAX] =
	    calloc(pass->n ? pass->n : 1, sizeof(*cells));
	int width[LAG_REPORT_COLS];

	if (!cells)
		return -1;
	for (int c = 0; c < LAG_REPORT_COLS; c++)
		width[c] = (int)strlen(lag_report_heads[c]);
	for (size_t i = 0; i < pass->n; i++) {
		const struct lag_sample_row *r = &pass->rows[i];
		char(*row)[LAG_SAMPLE_NAME_MAX] = cells[i];

		snprintf(row[0], sizeof(row[0]), "%s", r->group);
		snprintf(row[1], sizeof(row[1]), "%s", r->topic);
		lag_report_num(row[2], sizeof(row[2]), r->partition);
		lag_report_num(row[3], sizeof(row[3]), lag_sample_offset(r));
		lag_report_num(row[4], sizeof(row[4]), r->high);
		lag_report_num(row[5], sizeof(row[5]), lag_sample_lag(r));
		lag_report_secs(row[6], sizeof(row[6]), lag_sample_lag_ms(r));
		snprintf(row[7], sizeof(row[7]), "%s", lag_status_name(statuses[i]));
		lag_report_num(row[8], sizeof(row[8]), r->pg_committed);
		snprintf(row[9], sizeof(row[9]), "%s",
			 r->consumer_id[0] ? r->consumer_id : "-");
		snprintf(row[10], sizeof(row[10]), "%s", r->host[0] ? r->host : "-");
		snprintf(row[11], sizeof(row[11]), "%s",
			 r->client_id[0] ? r->client_id : "-");
		for (int c = 0; c < LAG_REPORT_COLS; c++)
			if ((int)strlen(row[c]) > width[c])
				width[c] = (int)strlen(row[c]);
	}
	/* the last column unpadded: no trailing blanks */
	for (int c = 0; c < LAG_REPORT_COLS; c++)
		fprintf(out, "%-*s%s", c + 1 < LAG_REPORT_COLS ? width[c] : 0,
			lag_report_heads[c], c + 1 < LAG_REPORT_COLS ? " " : "\n");
	for (size_t i = 0; i < pass->n; i++)
		for (int c = 0; c < LAG_REPORT_COLS; c++)
			fprintf(out, "%-*s%s", c + 1 < LAG_REPORT_COLS ? width[c] : 0,
				cells[i][c], c + 1 < LAG_REPORT_COLS ? " " : "\n");
	for (size_t first = 0; first < pass->n;) {
		size_t end = lag_report_group_end(pass, first);
		int64_t total = 0;

		for (size_t i = first; i < end; i++)
			total += lag_sample_lag(&pass->rows[i]) > 0
				     ? lag_sample_lag(&pass->rows[i])
				     : 0;
		fprintf(out, "%sgroup %s: %s, %zu partitions, total lag %" PRId64 "\n",
			first ? "" : "\n", pass->rows[first].group,
			lag_status_name(lag_status_group(statuses + first, end - first)),
			end - first, total);
		first = end;
	}
	free(cells);
	return 0;
}

void
lag_report_gen_int_or_null(yajl_gen g, const char *key, int64_t v)
{
	if (key)
		souk_json_gen_str(g, key);
	if (v < 0)
		yajl_gen_null(g);
	else
		yajl_gen_integer(g, v);
}

void
lag_report_gen_seconds_or_null(yajl_gen g, const char *key, int64_t ms)
{
	char num[32];
	int len;

	if (key)
		souk_json_gen_str(g, key);
	if (ms < 0) {
		yajl_gen_null(g);
		return;
	}
	len = snprintf(num, sizeof(num), "%" PRId64 ".%03d", ms / 1000, (int)(ms % 1000));
	yajl_gen_number(g, num, (size_t)len);
}

static void
lag_report_gen_str_or_null(yajl_gen g, const char *key, const char *v)
{
	souk_json_gen_str(g, key);
	if (v[0])
		souk_json_gen_str(g, v);
	else
		yajl_gen_null(g);
}

static void
lag_report_gen_partition(yajl_gen g, const struct lag_sample_row *r,
			 enum lag_status status, enum lag_rule rule)
{
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "topic");
	souk_json_gen_str(g, r->topic);
	souk_json_gen_str(g, "partition");
	yajl_gen_integer(g, r->partition);
	lag_report_gen_int_or_null(g, "current_offset", lag_sample_offset(r));
	lag_report_gen_int_or_null(g, "log_end_offset", r->high);
	lag_report_gen_int_or_null(g, "log_start_offset", r->low);
	lag_report_gen_int_or_null(g, "lag", lag_sample_lag(r));
	lag_report_gen_seconds_or_null(g, "lag_seconds", lag_sample_lag_ms(r));
	lag_report_gen_int_or_null(g, "oldest_unconsumed_timestamp_ms", r->oldest_ts_ms);
	lag_report_gen_int_or_null(g, "kafka_offset", r->committed);
	lag_report_gen_int_or_null(g, "pg_offset", r->pg_committed);
	souk_json_gen_str(g, "offsets_differ");
	yajl_gen_bool(g, r->committed >= 0 && r->pg_committed >= 0 &&
			     r->committed != r->pg_committed);
	souk_json_gen_str(g, "status");
	souk_json_gen_str(g, lag_status_name(status));
	souk_json_gen_str(g, "rule");
	souk_json_gen_str(g, lag_status_rule_name(rule));
	lag_report_gen_str_or_null(g, "consumer_id", r->consumer_id);
	lag_report_gen_str_or_null(g, "host", r->host);
	lag_report_gen_str_or_null(g, "client_id", r->client_id);
	lag_report_gen_int_or_null(g, "sampled_at_ms", r->t_ms);
	yajl_gen_map_close(g);
}

void
lag_report_gen_backlog(yajl_gen g, const char *key, const struct lag_backlog *b)
{
	if (key)
		souk_json_gen_str(g, key);
	yajl_gen_map_open(g);
	lag_report_gen_int_or_null(g, "orders_undecided", b->orders_undecided);
	lag_report_gen_seconds_or_null(g, "orders_oldest_seconds", b->orders_oldest_ms);
	lag_report_gen_int_or_null(g, "payments_parked", b->payments_parked);
	lag_report_gen_seconds_or_null(g, "payments_parked_oldest_seconds",
				       b->payments_parked_oldest_ms);
	souk_json_gen_str(g, "payments_stuck");
	yajl_gen_map_open(g);
	lag_report_gen_int_or_null(g, "created", b->payments_stuck_created);
	lag_report_gen_int_or_null(g, "authorized", b->payments_stuck_authorized);
	yajl_gen_map_close(g);
	lag_report_gen_seconds_or_null(g, "stuck_after_seconds", b->stuck_after_ms);
	lag_report_gen_int_or_null(g, "rides_open", b->rides_open);
	lag_report_gen_seconds_or_null(g, "rides_open_oldest_seconds",
				       b->rides_open_oldest_ms);
	yajl_gen_map_close(g);
}

void
lag_report_backlog_table(FILE *out, const struct lag_backlog *b)
{
	char n[8][24];

	lag_report_num(n[0], sizeof(n[0]), b->orders_undecided);
	lag_report_num(n[1], sizeof(n[1]), b->payments_parked);
	lag_report_num(n[2], sizeof(n[2]), b->payments_stuck_created);
	lag_report_num(n[3], sizeof(n[3]), b->payments_stuck_authorized);
	lag_report_secs(n[4], sizeof(n[4]), b->orders_oldest_ms);
	lag_report_secs(n[5], sizeof(n[5]), b->payments_parked_oldest_ms);
	lag_report_num(n[6], sizeof(n[6]), b->rides_open);
	lag_report_secs(n[7], sizeof(n[7]), b->rides_open_oldest_ms);
	fprintf(out, "backlog: orders undecided %s (oldest %s s)\n", n[0], n[4]);
	fprintf(out,
		"backlog: payments parked %s (oldest %s s), stuck > %lld min: %s "
		"created, %s authorized\n",
		n[1], n[5], (long long)(b->stuck_after_ms / 60000), n[2], n[3]);
	fprintf(out, "backlog: rides without a final outcome %s (oldest %s s)\n", n[6],
		n[7]);
}

char *
lag_report_json(const struct lag_sample_pass *pass, size_t nsamples,
		const enum lag_status *statuses, const enum lag_rule *rules,
		const struct lag_backlog *backlog, uint64_t seq)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	char *text = NULL;
	size_t len;

	if (!g)
		return NULL;
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "pass");
	yajl_gen_integer(g, (long long)seq);
	souk_json_gen_str(g, "samples");
	yajl_gen_integer(g, (long long)nsamples);
	souk_json_gen_str(g, "groups");
	yajl_gen_array_open(g);
	for (size_t first = 0; first < pass->n;) {
		size_t end = lag_report_group_end(pass, first);
		int64_t total = 0;

		yajl_gen_map_open(g);
		souk_json_gen_str(g, "group");
		souk_json_gen_str(g, pass->rows[first].group);
		souk_json_gen_str(g, "status");
		souk_json_gen_str(
		    g, lag_status_name(lag_status_group(statuses + first, end - first)));
		souk_json_gen_str(g, "partitions");
		yajl_gen_array_open(g);
		for (size_t i = first; i < end; i++) {
			int64_t lag = lag_sample_lag(&pass->rows[i]);

			total += lag > 0 ? lag : 0;
			lag_report_gen_partition(g, &pass->rows[i], statuses[i],
						 rules[i]);
		}
		yajl_gen_array_close(g);
		souk_json_gen_str(g, "total_lag");
		yajl_gen_integer(g, total);
		yajl_gen_map_close(g);
		first = end;
	}
	yajl_gen_array_close(g);
	if (backlog)
		lag_report_gen_backlog(g, "backlog", backlog);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
		text = strndup((const char *)buf, len);
	yajl_gen_free(g);
	return text;
}

/* Ends g's document: "request": {"url", "host"}}, and returns it as a string. */
static char *
lag_report_burrow_end(yajl_gen g, const char *request_url, const char *host)
{
	const unsigned char *buf;
	char *text = NULL;
	size_t len;

	souk_json_gen_str(g, "request");
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "url");
	souk_json_gen_str(g, request_url);
	souk_json_gen_str(g, "host");
	souk_json_gen_str(g, host);
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) == yajl_gen_status_ok)
		text = strndup((const char *)buf, len);
	yajl_gen_free(g);
	return text;
}

/* Opens g's document: {"error": error, "message": message. */
static yajl_gen
lag_report_burrow_start(bool error, const char *message)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (!g)
		return NULL;
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "error");
	yajl_gen_bool(g, error);
	souk_json_gen_str(g, "message");
	souk_json_gen_str(g, message);
	return g;
}

char *
lag_report_burrow_consumers(const struct lag_sample_pass *pass, const char *request_url,
			    const char *host)
{
	yajl_gen g = lag_report_burrow_start(false, "consumer list returned");

	if (!g)
		return NULL;
	souk_json_gen_str(g, "consumers");
	yajl_gen_array_open(g);
	for (size_t first = 0; first < pass->n; first = lag_report_group_end(pass, first))
		souk_json_gen_str(g, pass->rows[first].group);
	yajl_gen_array_close(g);
	return lag_report_burrow_end(g, request_url, host);
}

char *
lag_report_burrow_not_found(const char *request_url, const char *host)
{
	yajl_gen g = lag_report_burrow_start(true, "cluster or consumer not found");

	return g ? lag_report_burrow_end(g, request_url, host) : NULL;
}

/* Burrow's offset object: {"offset", "timestamp", "observedAt", "lag"}. */
static void
lag_report_burrow_offset(yajl_gen g, const struct lag_sample_row *r)
{
	int64_t lag = lag_sample_lag(r);

	yajl_gen_map_open(g);
	souk_json_gen_str(g, "offset");
	yajl_gen_integer(g, lag_sample_offset(r));
	souk_json_gen_str(g, "timestamp");
	yajl_gen_integer(g, r->t_ms);
	souk_json_gen_str(g, "observedAt");
	yajl_gen_integer(g, r->t_ms);
	souk_json_gen_str(g, "lag");
	yajl_gen_integer(g, lag > 0 ? lag : 0);
	yajl_gen_map_close(g);
}

static void
lag_report_burrow_partition(yajl_gen g, const struct lag_window *w,
			    const struct lag_sample_row *r, enum lag_status status,
			    double complete)
{
	const struct lag_sample_row *start = lag_window_oldest(w, r);
	int64_t lag = lag_sample_lag(r);

	yajl_gen_map_open(g);
	souk_json_gen_str(g, "topic");
	souk_json_gen_str(g, r->topic);
	souk_json_gen_str(g, "partition");
	yajl_gen_integer(g, r->partition);
	souk_json_gen_str(g, "owner");
	souk_json_gen_str(g, r->host);
	souk_json_gen_str(g, "client_id");
	souk_json_gen_str(g, r->client_id);
	souk_json_gen_str(g, "status");
	souk_json_gen_str(g, lag_status_name(status));
	souk_json_gen_str(g, "start");
	if (start)
		lag_report_burrow_offset(g, start);
	else
		yajl_gen_null(g);
	souk_json_gen_str(g, "end");
	if (lag_sample_offset(r) >= 0)
		lag_report_burrow_offset(g, r);
	else
		yajl_gen_null(g);
	souk_json_gen_str(g, "current_lag");
	yajl_gen_integer(g, lag > 0 ? lag : 0);
	souk_json_gen_str(g, "complete");
	yajl_gen_double(g, complete);
	yajl_gen_map_close(g);
}

char *
lag_report_burrow_lag(const struct lag_window *w, size_t first, size_t end,
		      const enum lag_status *statuses, const char *cluster,
		      const char *request_url, const char *host)
{
	const struct lag_sample_pass *pass = lag_window_last(w);
	yajl_gen g = lag_report_burrow_start(false, "consumer status returned");
	double complete = (double)lag_window_count(w) / (double)lag_window_cap(w);
	size_t max = first;
	int64_t total = 0;

	if (!g)
		return NULL;
	souk_json_gen_str(g, "status");
	yajl_gen_map_open(g);
	souk_json_gen_str(g, "cluster");
	souk_json_gen_str(g, cluster);
	souk_json_gen_str(g, "group");
	souk_json_gen_str(g, pass->rows[first].group);
	souk_json_gen_str(g, "status");
	souk_json_gen_str(
	    g, lag_status_name(lag_status_group(statuses + first, end - first)));
	souk_json_gen_str(g, "complete");
	yajl_gen_double(g, complete);
	souk_json_gen_str(g, "partitions");
	yajl_gen_array_open(g);
	for (size_t i = first; i < end; i++) {
		int64_t lag = lag_sample_lag(&pass->rows[i]);

		total += lag > 0 ? lag : 0;
		if (lag > lag_sample_lag(&pass->rows[max]))
			max = i;
		lag_report_burrow_partition(g, w, &pass->rows[i], statuses[i], complete);
	}
	yajl_gen_array_close(g);
	souk_json_gen_str(g, "partition_count");
	yajl_gen_integer(g, (long long)(end - first));
	souk_json_gen_str(g, "maxlag");
	lag_report_burrow_partition(g, w, &pass->rows[max], statuses[max], complete);
	souk_json_gen_str(g, "totallag");
	yajl_gen_integer(g, total);
	yajl_gen_map_close(g);
	return lag_report_burrow_end(g, request_url, host);
}
