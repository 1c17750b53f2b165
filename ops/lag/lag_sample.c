#include "lag_sample.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <libpq-fe.h>

#include "souk_pg.h"

#define LAG_SAMPLE_TIMEOUT_MS 10000
/* How long a pass waits for the oldest unconsumed messages, all partitions together. */
#define LAG_SAMPLE_FETCH_MS 5000
#define LAG_SAMPLE_PG_CONNECT_MS 5000

/* The timestamp of the message at (topic, partition, offset). */
struct lag_sample_ts {
	char topic[LAG_SAMPLE_NAME_MAX];
	int32_t partition;
	int64_t offset;
	int64_t ts_ms;
};

struct lag_sampler {
	rd_kafka_t *rk; /* consumer type: admin calls, watermarks, and reading messages */
	rd_kafka_queue_t *q;
	struct souk_pg *pg; /* NULL: PostgreSQL left out */
	regex_t *res;
	size_t nres;
	/* The timestamps the last pass used; a pass keeps only those it uses, so the
	 * cache holds at most one entry per partition with lag. Looked up linearly. */
	struct lag_sample_ts *cache;
	size_t ncache;
};

int64_t
lag_sample_offset(const struct lag_sample_row *row)
{
	return row->committed >= 0 ? row->committed : row->pg_committed;
}

int64_t
lag_sample_lag(const struct lag_sample_row *row)
{
	int64_t offset = lag_sample_offset(row);

	if (offset < 0 || row->high < 0)
		return -1;
	return row->high > offset ? row->high - offset : 0;
}

int64_t
lag_sample_lag_ms(const struct lag_sample_row *row)
{
	int64_t lag = lag_sample_lag(row);

	if (lag <= 0)
		return lag;
	if (row->oldest_ts_ms < 0)
		return -1;
	return row->t_ms > row->oldest_ts_ms ? row->t_ms - row->oldest_ts_ms : 0;
}

static int64_t
lag_sample_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void
lag_sampler_destroy(struct lag_sampler *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nres; i++)
		regfree(&s->res[i]);
	free(s->res);
	free(s->cache);
	souk_pg_destroy(s->pg);
	if (s->q)
		rd_kafka_queue_destroy(s->q);
	if (s->rk)
		rd_kafka_destroy(s->rk);
	free(s);
}

static int
lag_sample_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
		    char *errstr, size_t errstr_size)
{
	char err[256];

	if (rd_kafka_conf_set(conf, name, value, err, sizeof(err)) == RD_KAFKA_CONF_OK)
		return 0;
	snprintf(errstr, errstr_size, "could not set kafka property \"%s\": %s", name,
		 err);
	return -1;
}

int
lag_sample_regex(regex_t *re, const char *group, char *errstr, size_t errstr_size)
{
	char *whole = NULL, err[256];
	int rc;

	if (asprintf(&whole, "^(%s)$", group) < 0) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	rc = regcomp(re, whole, REG_EXTENDED | REG_NOSUB);
	free(whole);
	if (rc) {
		regerror(rc, NULL, err, sizeof(err));
		snprintf(errstr, errstr_size, "could not parse group regex \"%s\": %s",
			 group, err);
		return -1;
	}
	return 0;
}

struct lag_sampler *
lag_sampler_new(const char *brokers, const struct souk_kafka_prop *props, size_t nprops,
		const char *pg_dsn, const char *const *groups, size_t ngroups,
		char *errstr, size_t errstr_size)
{
	struct lag_sampler *s = calloc(1, sizeof(*s));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[256];

	if (!s || !conf) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	s->res = calloc(ngroups ? ngroups : 1, sizeof(*s->res));
	if (!s->res) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	for (; s->nres < ngroups; s->nres++)
		if (lag_sample_regex(&s->res[s->nres], groups[s->nres], errstr,
				     errstr_size))
			goto fail;
	/* The group id is only what librdkafka's consumer requires: the handle never
	 * subscribes nor commits, so the group never exists on the broker. */
	if (lag_sample_conf_set(conf, "bootstrap.servers", brokers, errstr,
				errstr_size) ||
	    lag_sample_conf_set(conf, "group.id", "souk-lag", errstr, errstr_size) ||
	    lag_sample_conf_set(conf, "enable.auto.commit", "false", errstr,
				errstr_size) ||
	    lag_sample_conf_set(conf, "client.id", "souk-lag", errstr, errstr_size))
		goto fail;
	for (size_t i = 0; i < nprops; i++)
		if (lag_sample_conf_set(conf, props[i].name, props[i].value, errstr,
					errstr_size))
			goto fail;
	s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	if (!s->rk) {
		snprintf(errstr, errstr_size, "could not create the kafka handle: %s",
			 err);
		goto fail;
	}
	conf = NULL; /* owned by s->rk now */
	s->q = rd_kafka_queue_new(s->rk);
	if (pg_dsn) {
		s->pg = souk_pg_connect(pg_dsn, LAG_SAMPLE_PG_CONNECT_MS, errstr,
					errstr_size);
		if (!s->pg)
			goto fail;
	}
	return s;
fail:
	if (conf)
		rd_kafka_conf_destroy(conf);
	lag_sampler_destroy(s);
	return NULL;
}

void
lag_sample_pass_clear(struct lag_sample_pass *pass)
{
	free(pass->rows);
	pass->rows = NULL;
	pass->n = 0;
}

static bool
lag_sample_wanted(const struct lag_sampler *s, const char *group)
{
	if (s->nres == 0)
		return true;
	for (size_t i = 0; i < s->nres; i++)
		if (regexec(&s->res[i], group, 0, NULL, 0) == 0)
			return true;
	return false;
}

/* The row of (group, topic, partition), added with nothing known if missing, or NULL
 * when out of memory. O(rows). */
static struct lag_sample_row *
lag_sample_row(struct lag_sample_pass *pass, size_t *cap, const char *group,
	       const char *topic, int32_t partition)
{
	struct lag_sample_row *row;

	for (size_t i = 0; i < pass->n; i++) {
		row = &pass->rows[i];
		if (row->partition == partition && !strcmp(row->topic, topic) &&
		    !strcmp(row->group, group))
			return row;
	}
	if (pass->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct lag_sample_row *rows = realloc(pass->rows, ncap * sizeof(*rows));

		if (!rows)
			return NULL;
		pass->rows = rows;
		*cap = ncap;
	}
	row = &pass->rows[pass->n++];
	memset(row, 0, sizeof(*row));
	snprintf(row->group, sizeof(row->group), "%s", group);
	snprintf(row->topic, sizeof(row->topic), "%s", topic);
	row->partition = partition;
	row->committed = row->pg_committed = row->low = row->high = row->oldest_ts_ms =
	    -1;
	return row;
}

/* Waits for an admin request's answer. Returns the event (the caller destroys it),
 * or NULL with errstr. */
static rd_kafka_event_t *
lag_sample_wait(struct lag_sampler *s, const char *what, char *errstr, size_t errstr_size)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(s->q, LAG_SAMPLE_TIMEOUT_MS + 1000);

	if (!ev) {
		snprintf(errstr, errstr_size, "could not %s: no answer within %d ms",
			 what, LAG_SAMPLE_TIMEOUT_MS);
		return NULL;
	}
	if (rd_kafka_event_error(ev)) {
		snprintf(errstr, errstr_size, "could not %s: %s", what,
			 rd_kafka_event_error_string(ev));
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	return ev;
}

static rd_kafka_AdminOptions_t *
lag_sample_options(struct lag_sampler *s, rd_kafka_admin_op_t op)
{
	rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(s->rk, op);

	rd_kafka_AdminOptions_set_request_timeout(opts, LAG_SAMPLE_TIMEOUT_MS, NULL, 0);
	return opts;
}

/* The names of the wanted groups Kafka knows, into *names (an array of *n strings the
 * caller frees, each and the array). */
static int
lag_sample_groups(struct lag_sampler *s, char ***names, size_t *n, char *errstr,
		  size_t errstr_size)
{
	rd_kafka_AdminOptions_t *opts =
	    lag_sample_options(s, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
	const rd_kafka_ConsumerGroupListing_t **listings;
	rd_kafka_event_t *ev;
	size_t nlist = 0;
	int rc = -1;

	*names = NULL;
	*n = 0;
	rd_kafka_ListConsumerGroups(s->rk, opts, s->q);
	ev = lag_sample_wait(s, "list consumer groups", errstr, errstr_size);
	if (!ev)
		goto out;
	listings = rd_kafka_ListConsumerGroups_result_valid(
	    rd_kafka_event_ListConsumerGroups_result(ev), &nlist);
	*names = calloc(nlist ? nlist : 1, sizeof(**names));
	if (!*names) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nlist; i++) {
		const char *id = rd_kafka_ConsumerGroupListing_group_id(listings[i]);

		if (!lag_sample_wanted(s, id))
			continue;
		if (!((*names)[*n] = strdup(id))) {
			snprintf(errstr, errstr_size, "out of memory");
			goto out;
		}
		(*n)++;
	}
	rc = 0;
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(opts);
	return rc;
}

/* Each member's assigned partitions, as rows with the member filled in. */
static int
lag_sample_members(struct lag_sampler *s, char **names, size_t n,
		   struct lag_sample_pass *pass, size_t *cap, char *errstr,
		   size_t errstr_size)
{
	rd_kafka_AdminOptions_t *opts =
	    lag_sample_options(s, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
	const rd_kafka_ConsumerGroupDescription_t **descs;
	rd_kafka_event_t *ev;
	size_t ndesc = 0;
	int rc = -1;

	rd_kafka_DescribeConsumerGroups(s->rk, (const char **)names, n, opts, s->q);
	ev = lag_sample_wait(s, "describe consumer groups", errstr, errstr_size);
	if (!ev)
		goto out;
	descs = rd_kafka_DescribeConsumerGroups_result_groups(
	    rd_kafka_event_DescribeConsumerGroups_result(ev), &ndesc);
	for (size_t g = 0; g < ndesc; g++) {
		const rd_kafka_ConsumerGroupDescription_t *d = descs[g];
		const char *group = rd_kafka_ConsumerGroupDescription_group_id(d);

		/* a group that went away since it was listed has no members */
		if (rd_kafka_ConsumerGroupDescription_error(d))
			continue;
		for (size_t m = 0; m < rd_kafka_ConsumerGroupDescription_member_count(d);
		     m++) {
			const rd_kafka_MemberDescription_t *md =
			    rd_kafka_ConsumerGroupDescription_member(d, m);
			const rd_kafka_topic_partition_list_t *parts =
			    rd_kafka_MemberAssignment_partitions(
				rd_kafka_MemberDescription_assignment(md));

			for (int i = 0; parts && i < parts->cnt; i++) {
				struct lag_sample_row *row = lag_sample_row(
				    pass, cap, group, parts->elems[i].topic,
				    parts->elems[i].partition);

				if (!row) {
					snprintf(errstr, errstr_size, "out of memory");
					goto out;
				}
				snprintf(row->consumer_id, sizeof(row->consumer_id), "%s",
					 rd_kafka_MemberDescription_consumer_id(md));
				snprintf(row->host, sizeof(row->host), "%s",
					 rd_kafka_MemberDescription_host(md));
				snprintf(row->client_id, sizeof(row->client_id), "%s",
					 rd_kafka_MemberDescription_client_id(md));
			}
		}
	}
	rc = 0;
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(opts);
	return rc;
}

/* The group's committed offsets, every partition it has one for. */
static int
lag_sample_committed(struct lag_sampler *s, const char *group,
		     struct lag_sample_pass *pass, size_t *cap, char *errstr,
		     size_t errstr_size)
{
	rd_kafka_ListConsumerGroupOffsets_t *req =
	    rd_kafka_ListConsumerGroupOffsets_new(group, NULL);
	rd_kafka_AdminOptions_t *opts =
	    lag_sample_options(s, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
	const rd_kafka_group_result_t **groups;
	const rd_kafka_topic_partition_list_t *got;
	rd_kafka_event_t *ev;
	char what[LAG_SAMPLE_NAME_MAX + 64];
	size_t n = 0;
	int rc = -1;

	snprintf(what, sizeof(what), "read the offsets of consumer group \"%s\"", group);
	rd_kafka_ListConsumerGroupOffsets(s->rk, &req, 1, opts, s->q);
	ev = lag_sample_wait(s, what, errstr, errstr_size);
	if (!ev)
		goto out;
	groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
	    rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
	if (n != 1 || rd_kafka_group_result_error(groups[0])) {
		snprintf(
		    errstr, errstr_size, "could not %s: %s", what,
		    n == 1 ? rd_kafka_error_string(rd_kafka_group_result_error(groups[0]))
			   : "no answer for it");
		goto out;
	}
	got = rd_kafka_group_result_partitions(groups[0]);
	for (int i = 0; got && i < got->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &got->elems[i];
		struct lag_sample_row *row;

		if (tp->err || tp->offset < 0)
			continue;
		if (!(row = lag_sample_row(pass, cap, group, tp->topic, tp->partition))) {
			snprintf(errstr, errstr_size, "out of memory");
			goto out;
		}
		row->committed = tp->offset;
	}
	rc = 0;
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
	return rc;
}

/* souk's own offsets (consumer_offsets) of the wanted groups. */
static int
lag_sample_pg(struct lag_sampler *s, struct lag_sample_pass *pass, size_t *cap,
	      char *errstr, size_t errstr_size)
{
	PGresult *res = NULL;
	int rc = -1;

	if (souk_pg_exec(s->pg,
			 "SELECT group_id, topic, partition, next_offset "
			 "FROM consumer_offsets",
			 &res, errstr, errstr_size))
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *group = PQgetvalue(res, i, 0);
		struct lag_sample_row *row;

		if (!lag_sample_wanted(s, group))
			continue;
		row = lag_sample_row(pass, cap, group, PQgetvalue(res, i, 1),
				     (int32_t)strtol(PQgetvalue(res, i, 2), NULL, 10));
		if (!row) {
			snprintf(errstr, errstr_size, "out of memory");
			goto out;
		}
		row->pg_committed = strtoll(PQgetvalue(res, i, 3), NULL, 10);
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

/* The watermarks of every row: one request per (topic, partition), whose answer the
 * other groups reading that partition share (found by a look back: O(rows^2)). A row's
 * t_ms is 0 until then. */
static void
lag_sample_watermarks(struct lag_sampler *s, struct lag_sample_pass *pass)
{
	for (size_t i = 0; i < pass->n; i++) {
		struct lag_sample_row *row = &pass->rows[i];
		int64_t low, high;

		for (size_t j = 0; j < i; j++) {
			const struct lag_sample_row *o = &pass->rows[j];

			if (o->partition == row->partition &&
			    !strcmp(o->topic, row->topic)) {
				row->low = o->low, row->high = o->high,
				row->t_ms = o->t_ms;
				break;
			}
		}
		if (row->t_ms)
			continue;
		row->t_ms = lag_sample_now_ms();
		if (rd_kafka_query_watermark_offsets(
			s->rk, row->topic, row->partition, &low, &high,
			LAG_SAMPLE_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR)
			row->low = low, row->high = high;
	}
}

/* The offset whose message is the oldest unconsumed one: the committed offset, or the
 * low watermark when retention removed it. */
static int64_t
lag_sample_oldest_offset(const struct lag_sample_row *row)
{
	int64_t offset = lag_sample_offset(row);

	return offset > row->low ? offset : row->low;
}

static const struct lag_sample_ts *
lag_sample_cached(const struct lag_sample_ts *cache, size_t n, const char *topic,
		  int32_t partition, int64_t offset)
{
	for (size_t i = 0; i < n; i++)
		if (cache[i].partition == partition && cache[i].offset == offset &&
		    !strcmp(cache[i].topic, topic))
			return &cache[i];
	return NULL;
}

/* Reads, for the entries of fresh[0..n) picked in round (pick[i] == round), the
 * first message at or after each offset, for up to LAG_SAMPLE_FETCH_MS in all. */
static void
lag_sample_fetch_round(struct lag_sampler *s, struct lag_sample_ts *fresh, size_t n,
		       const size_t *pick, size_t round)
{
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(16);
	int64_t deadline = lag_sample_now_ms() + LAG_SAMPLE_FETCH_MS;
	int left = 0;

	for (size_t i = 0; i < n; i++)
		if (pick[i] == round)
			rd_kafka_topic_partition_list_add(list, fresh[i].topic,
							  fresh[i].partition)
			    ->offset = fresh[i].offset;
	if (rd_kafka_assign(s->rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR)
		left = list->cnt;
	while (left > 0) {
		int64_t wait = deadline - lag_sample_now_ms();
		rd_kafka_message_t *m;

		if (wait <= 0)
			break;
		m = rd_kafka_consumer_poll(s->rk, (int)wait);
		if (!m)
			continue;
		for (size_t i = 0; !m->err && i < n; i++) {
			struct lag_sample_ts *e = &fresh[i];

			if (pick[i] == round && e->ts_ms < 0 &&
			    e->partition == m->partition && m->offset >= e->offset &&
			    !strcmp(e->topic, rd_kafka_topic_name(m->rkt))) {
				e->ts_ms = rd_kafka_message_timestamp(m, NULL);
				left--;
				break;
			}
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_assign(s->rk, NULL);
	rd_kafka_topic_partition_list_destroy(list);
}

/* Reads the first message at or after each entry's offset (the entries' ts_ms are -1
 * and stay so when it could not be read). A partition is assigned at one offset at a
 * time, so entries of one partition at several offsets (several groups behind on it)
 * go in successive rounds: as many as the most groups behind on one partition. */
static int
lag_sample_fetch(struct lag_sampler *s, struct lag_sample_ts *fresh, size_t n,
		 char *errstr, size_t errstr_size)
{
	size_t *pick = calloc(n ? n : 1, sizeof(*pick));
	size_t rounds = 0;

	if (!pick) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	/* pick[i]: the round of entry i, one more than that of the last entry before it
	 * on the same partition */
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++)
			if (fresh[j].partition == fresh[i].partition &&
			    !strcmp(fresh[j].topic, fresh[i].topic) && pick[j] >= pick[i])
				pick[i] = pick[j] + 1;
		if (pick[i] + 1 > rounds)
			rounds = pick[i] + 1;
	}
	for (size_t round = 0; round < rounds; round++)
		lag_sample_fetch_round(s, fresh, n, pick, round);
	free(pick);
	return 0;
}

/* Fills oldest_ts_ms of the rows with lag from the cache, reading the missing ones;
 * the cache then holds what this pass used. */
static int
lag_sample_timestamps(struct lag_sampler *s, struct lag_sample_pass *pass, char *errstr,
		      size_t errstr_size)
{
	struct lag_sample_ts *used = calloc(pass->n ? pass->n : 1, sizeof(*used));
	size_t nused = 0, nfresh = 0;
	struct lag_sample_ts *fresh = calloc(pass->n ? pass->n : 1, sizeof(*fresh));
	int rc = -1;

	if (!used || !fresh) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < pass->n; i++) {
		const struct lag_sample_row *row = &pass->rows[i];
		int64_t offset = lag_sample_oldest_offset(row);
		const struct lag_sample_ts *e;

		if (lag_sample_lag(row) <= 0 ||
		    lag_sample_cached(used, nused, row->topic, row->partition, offset) ||
		    lag_sample_cached(fresh, nfresh, row->topic, row->partition, offset))
			continue;
		e = lag_sample_cached(s->cache, s->ncache, row->topic, row->partition,
				      offset);
		if (e) {
			used[nused++] = *e;
			continue;
		}
		fresh[nfresh] = (struct lag_sample_ts){
		    .partition = row->partition, .offset = offset, .ts_ms = -1};
		snprintf(fresh[nfresh].topic, sizeof(fresh[nfresh].topic), "%s",
			 row->topic);
		nfresh++;
	}
	if (lag_sample_fetch(s, fresh, nfresh, errstr, errstr_size))
		goto out;
	for (size_t i = 0; i < nfresh; i++)
		if (fresh[i].ts_ms >= 0)
			used[nused++] = fresh[i];
	for (size_t i = 0; i < pass->n; i++) {
		struct lag_sample_row *row = &pass->rows[i];
		const struct lag_sample_ts *e =
		    lag_sample_lag(row) > 0
			? lag_sample_cached(used, nused, row->topic, row->partition,
					    lag_sample_oldest_offset(row))
			: NULL;

		row->oldest_ts_ms = e ? e->ts_ms : -1;
	}
	free(s->cache);
	s->cache = used;
	s->ncache = nused;
	used = NULL;
	rc = 0;
out:
	free(used);
	free(fresh);
	return rc;
}

static int
lag_sample_cmp(const void *a, const void *b)
{
	const struct lag_sample_row *x = a, *y = b;
	int c = strcmp(x->group, y->group);

	if (!c)
		c = strcmp(x->topic, y->topic);
	if (!c)
		c = (x->partition > y->partition) - (x->partition < y->partition);
	return c;
}

int
lag_sampler_pass(struct lag_sampler *s, struct lag_sample_pass *out, char *errstr,
		 size_t errstr_size)
{
	char **names = NULL;
	size_t nnames = 0, cap = 0;
	int rc = -1;

	lag_sample_pass_clear(out);
	if (lag_sample_groups(s, &names, &nnames, errstr, errstr_size))
		goto out;
	if (nnames &&
	    lag_sample_members(s, names, nnames, out, &cap, errstr, errstr_size))
		goto out;
	for (size_t i = 0; i < nnames; i++)
		if (lag_sample_committed(s, names[i], out, &cap, errstr, errstr_size))
			goto out;
	if (s->pg && lag_sample_pg(s, out, &cap, errstr, errstr_size))
		goto out;
	if (out->n)
		qsort(out->rows, out->n, sizeof(*out->rows), lag_sample_cmp);
	lag_sample_watermarks(s, out);
	if (lag_sample_timestamps(s, out, errstr, errstr_size))
		goto out;
	rc = 0;
out:
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	if (rc)
		lag_sample_pass_clear(out);
	return rc;
}
