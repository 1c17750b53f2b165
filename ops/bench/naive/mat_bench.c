/*
 * souk-bench-matching: the measurements of ops/bench/matching, on the matching pool's
 * own modules (workers/matching/).
 *
 *   souk-bench-matching index --topic T [--brokers B] [--res R] [-X name=value]
 *   souk-bench-matching decide [--drivers N] [--requests N] [--redis URL] ...
 *   souk-bench-matching e2e --tag T [--rate R] [--seconds S] [--drivers N] ...
 *
 * index: one worker's index fed from a pre-filled topic of location events, as
 * mat_feed.c feeds it: one thread, every partition assigned from its start (no group),
 * rd_kafka_consume_batch_queue, souk_event_decode, mat_index_apply. Timed from the
 * first message taken to the last applied. The messages are kept, then decoded again
 * and applied again to a fresh index from memory, each step timed alone, so the
 * Kafka fetch's share shows.
 *
 * decide: the decision of one request, from the request taken off the batch to its
 * driver chosen, in a city of --drivers drivers (80 % available, 15 % busy, 5 %
 * offline, uniform over a box around Dubai, all fresh), against the design a user
 * would reach for, on the same city and the same pickups:
 *   souk   mat_pool_find's search: the pickup's area cell, the read lock, then
 *          mat_match_find (rings of H3 cells, ranked by the ETA model)
 *   redis  the available drivers' positions in a Redis GEO set (GEOADD); per request
 *          GEOSEARCH FROMLONLAT .. BYRADIUS r m ASC COUNT c WITHDIST, starting at
 *          --radius metres and --count candidates, asking for 4x the candidates
 *          while every one returned is claimed or stale and doubling the radius up
 *          to the search's reach (k_max rings) while fewer come back; the candidates
 *          are ranked by the same ETA (mat_eta_predict on Redis's distance, same
 *          area and hour), ties to the smaller id. Claims and freshness are looked
 *          up in this process's memory (an array by driver number, the cheapest
 *          store there is), not in Redis: the baseline at its strongest. The default
 *          radius, 250 m, is the best of 250, 500 and 1000 m for it in this city
 *          (about 7 available drivers within 250 m of a pickup).
 * Both use the pool's built-in ETA model (30 km/h, detour 1.3). Busy drivers report
 * the model's own speed, so the index's traffic hints leave every ETA as the model
 * says and the two designs rank by the same function. Each design runs over every
 * pickup in a pass of its own (a Redis round trip between two searches would leave
 * the search cold caches). The claim both make after a decision (PostgreSQL's
 * driver_claims in the pool) is left out of the timing; here souk's driver of each
 * request is claimed after it, in the pass's design, and released --claims
 * decisions later, so both passes see the same drivers taken at every request.
 * Every pair of answers is compared: the same driver, a tie (their distances within
 * 1 m: Redis stores positions as 52-bit geohashes, about 0.6 m, on another earth
 * radius), or a disagreement. The run must take less than the index's stale window
 * (30 s) for the drivers to stay fresh.
 *
 * e2e: the pool end to end (a souk-worker matching must be running): --drivers
 * drivers (all available, uniform over a box around Riyadh) send their locations to
 * `locations` (each again every --refresh seconds while it
 * runs), then ride requests r-<tag>-<n> to `ride-requests` at --rate per second for
 * --seconds, while a thread reads `ride-matches` from its end. The latency of a
 * request is from just before its produce call to its first ride_match taken off
 * ride-matches by this process; the match message's timestamp (the outbox relay's
 * produce call) is reported beside it.
 *
 * Output: readable lines on stdout, each figure the script needs on a line of its own
 * (see each mode's report). Exit status: 0 done, 1 a failure, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "mat_eta.h"
#include "mat_feed.h"
#include "mat_geo.h"
#include "mat_index.h"
#include "mat_match.h"
#include "souk_event.h"
#include "souk_kafka.h"
#include "souk_redis.h"
#include "souk_uuid.h"

#define BENCH_NAME "souk-bench-matching"
#define BENCH_DEFAULT_BROKERS "127.0.0.1:19092"
#define BENCH_DEFAULT_REDIS "redis://127.0.0.1:16379/0"
#define BENCH_EXIT_FAIL 1
#define BENCH_EXIT_USAGE 2
#define BENCH_TIMEOUT_MS 10000
#define BENCH_BATCH 512	 /* messages per consume call, as mat_feed.c */
#define BENCH_AREA_RES 7 /* the pool's matching.area_res */
#define BENCH_GEO_KEY "souk:bench:matching:drivers"
#define BENCH_GEOADD_CHUNK 1000 /* members per GEOADD */
#define BENCH_TIE_M 1.0		/* picks this close in distance are a tie */
#define BENCH_FITTED_MPS 8.333	/* the built-in model's speed, as fitted */

/* decide's city: the box souk-loadgen city uses by default (Dubai). e2e's: one of
 * the same size around Riyadh, out of the way of other runs' Dubai drivers. */
static const double bench_box[4] = {25.05, 55.10, 25.35, 55.45};
static const double bench_e2e_box[4] = {24.55, 46.55, 24.85, 46.90};

/* ---- helpers ---------------------------------------------------------------------- */

static int64_t
bench_mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t
bench_wall_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* xorshift64*: the city and the pickups from --seed. */
static uint64_t
bench_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

/* Uniform in [0, 1). */
static double
bench_unit(uint64_t *s)
{
	return (double)(bench_rand(s) >> 11) / 9007199254740992.0;
}

/* A point uniform in box (lat1, lng1, lat2, lng2). */
static struct mat_geo_point
bench_point(const double box[4], uint64_t *s)
{
	return (struct mat_geo_point){box[0] + bench_unit(s) * (box[2] - box[0]),
				      box[1] + bench_unit(s) * (box[3] - box[1])};
}

static int
bench_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Sorts v[0..n) and returns its p-th quantile (nearest rank), 0 when empty. */
static int64_t
bench_quantile(int64_t *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), bench_cmp_i64);
	rank = (size_t)ceil(p * (double)n);
	return v[rank ? rank - 1 : 0];
}

static double
bench_mean(const int64_t *v, size_t n)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (double)v[i];
	return n ? sum / (double)n : 0;
}

/* Parses a positive integer option, at most max. Returns 0, or -1 with a message. */
static int
bench_parse_long(const char *opt, const char *text, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < 1 || v > max) {
		fprintf(stderr,
			BENCH_NAME ": could not parse --%s \"%s\": not an integer "
				   "from 1 to %ld\n",
			opt, text, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* The ETA model a pool uses until one is trained (mat_pool.c's default): 30 trips of
 * 1 km straight, 1.3 km driven at 30 km/h, so every bucket falls back to 8.333 m/s
 * with a detour of 1.3. */
static int
bench_model(mat_eta_t **model, char *errstr, size_t errstr_size)
{
	mat_eta_trip_t trips[30];
	mat_eta_params_t params;

	mat_eta_params_default(&params);
	for (int i = 0; i < 30; i++)
		trips[i] = (mat_eta_trip_t){.area = 0,
					    .hour = i % 24,
					    .straight_m = 1000,
					    .road_m = 1300,
					    .duration_s = 1300 / (30 / 3.6)};
	return mat_eta_fit(trips, 30, &params, model, errstr, errstr_size);
}

/* Extra librdkafka properties (-X name=value), as a worker's kafka.* keys. */
#define BENCH_MAX_PROPS 16
struct bench_props {
	const char *name[BENCH_MAX_PROPS], *value[BENCH_MAX_PROPS];
	char text[BENCH_MAX_PROPS][256];
	int n;
};

/* A consumer that only assigns (no group join, no commit), as mat_feed.c's, with the
 * extra properties (may be NULL) applied first. */
static rd_kafka_t *
bench_consumer(const char *brokers, const struct bench_props *extra, char *errstr,
	       size_t errstr_size)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	const char *props[][2] = {
	    {"bootstrap.servers", brokers},
	    {"group.id", BENCH_NAME},
	    {"enable.auto.commit", "false"},
	    {"enable.partition.eof", "false"},
	};
	rd_kafka_t *rk;
	char err[256];

	for (int i = 0; extra && i < extra->n; i++)
		if (rd_kafka_conf_set(conf, extra->name[i], extra->value[i], err,
				      sizeof(err)) != RD_KAFKA_CONF_OK) {
			snprintf(errstr, errstr_size, "%s", err);
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
		if (rd_kafka_conf_set(conf, props[i][0], props[i][1], err, sizeof(err)) !=
		    RD_KAFKA_CONF_OK) {
			snprintf(errstr, errstr_size, "%s", err);
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)))) {
		snprintf(errstr, errstr_size, "could not create a consumer: %s", err);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

/*
 * Assigns every partition of topic, each from its low watermark (from_end false) or
 * its high one; *total = the messages between the two over all partitions, and
 * high[p] (when not NULL, room for BENCH_MAX_PARTITIONS) the high watermarks.
 */
#define BENCH_MAX_PARTITIONS 1024
static int
bench_assign(rd_kafka_t *rk, const char *topic, bool from_end, int64_t *total,
	     int64_t *high, char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *list = NULL;
	rd_kafka_resp_err_t err;
	int n, rc = -1;

	if ((n = souk_kafka_partition_count(rk, topic, BENCH_TIMEOUT_MS, errstr,
					    errstr_size)) < 0)
		return -1;
	if (n > BENCH_MAX_PARTITIONS) {
		snprintf(errstr, errstr_size, "%s has %d partitions, at most %d are read",
			 topic, n, BENCH_MAX_PARTITIONS);
		return -1;
	}
	list = rd_kafka_topic_partition_list_new(n);
	*total = 0;
	for (int32_t p = 0; p < n; p++) {
		int64_t lo, hi;

		if (souk_kafka_watermarks(rk, topic, p, &lo, &hi, BENCH_TIMEOUT_MS,
					  errstr, errstr_size))
			goto out;
		rd_kafka_topic_partition_list_add(list, topic, p)->offset =
		    from_end ? hi : lo;
		*total += hi - lo;
		if (high)
			high[p] = hi;
	}
	if ((err = rd_kafka_assign(rk, list))) {
		snprintf(errstr, errstr_size, "could not assign %s: %s", topic,
			 rd_kafka_err2str(err));
		goto out;
	}
	rc = n;
out:
	rd_kafka_topic_partition_list_destroy(list);
	return rc;
}

/* ---- index ------------------------------------------------------------------------ */

static int
bench_index(const char *brokers, const struct bench_props *props, const char *topic,
	    int res)
{
	rd_kafka_t *rk = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_message_t **msgs = NULL;
	mat_index_update_t *ups = NULL;
	char(*ids)[SOUK_EVENT_IDENT_SIZE] = NULL;
	mat_index_t *idx = NULL;
	mat_index_stats_t st;
	int64_t total, taken = 0, applied = 0, invalid = 0, t_first = 0, t_last = 0, t0;
	double kafka_s, decode_s, apply_s;
	char errstr[512], why[256];
	int parts, rc = BENCH_EXIT_FAIL;

	if (!(rk = bench_consumer(brokers, props, errstr, sizeof(errstr))) ||
	    (parts = bench_assign(rk, topic, false, &total, NULL, errstr,
				  sizeof(errstr))) < 0 ||
	    !(idx =
		  mat_index_new(res, MAT_INDEX_STALE_MS_DEFAULT, errstr, sizeof(errstr))))
		goto fail;
	if (total == 0) {
		snprintf(errstr, sizeof(errstr), "%s is empty", topic);
		goto fail;
	}
	q = rd_kafka_queue_get_consumer(rk);
	msgs = malloc((size_t)total * sizeof(*msgs));
	if (!msgs)
		goto oom;

	/* 1. As a worker's feed thread: consume, decode, apply; messages kept. */
	while (taken < total) {
		ssize_t n = rd_kafka_consume_batch_queue(
		    q, 1000, msgs + taken,
		    (size_t)(total - taken) < BENCH_BATCH ? (size_t)(total - taken)
							  : BENCH_BATCH);

		if (n < 0) {
			snprintf(errstr, sizeof(errstr), "could not consume %s: %s",
				 topic, rd_kafka_err2str(rd_kafka_last_error()));
			goto fail;
		}
		if (n == 0) {
			if (t_first && bench_mono_ns() - t_last > 30LL * 1000000000) {
				snprintf(errstr, sizeof(errstr),
					 "%s: nothing more after %" PRId64 " of %" PRId64
					 " messages",
					 topic, taken, total);
				goto fail;
			}
			continue;
		}
		if (!t_first)
			t_first = bench_mono_ns();
		for (ssize_t i = 0; i < n; i++) {
			rd_kafka_message_t *m = msgs[taken + i];
			souk_event_t ev;
			mat_index_update_t u;

			if (m->err || mat_feed_decode(m, &ev, &u) ||
			    mat_index_apply(idx, &u, why, sizeof(why)) == MAT_INDEX_ERROR)
				invalid++;
			else
				applied++;
		}
		taken += n;
		t_last = bench_mono_ns();
	}
	kafka_s = (double)(t_last - t_first) / 1e9;
	mat_index_stats(idx, &st);
	mat_index_destroy(idx);
	idx = NULL;

	/* 2. Decode alone, from memory, into updates. */
	ups = malloc((size_t)total * sizeof(*ups));
	ids = malloc((size_t)total * sizeof(*ids));
	if (!ups || !ids)
		goto oom;
	t0 = bench_mono_ns();
	for (int64_t i = 0; i < total; i++) {
		souk_event_t ev;

		if (msgs[i]->err || mat_feed_decode(msgs[i], &ev, &ups[i]))
			ups[i].driver_id = NULL; /* counted invalid above */
		else
			ups[i].driver_id =
			    memcpy(ids[i], ev.location.driver_id, sizeof(ids[i]));
	}
	decode_s = (double)(bench_mono_ns() - t0) / 1e9;

	/* 3. Apply alone, to a fresh index. */
	if (!(idx =
		  mat_index_new(res, MAT_INDEX_STALE_MS_DEFAULT, errstr, sizeof(errstr))))
		goto fail;
	t0 = bench_mono_ns();
	for (int64_t i = 0; i < total; i++)
		if (ups[i].driver_id)
			mat_index_apply(idx, &ups[i], why, sizeof(why));
	apply_s = (double)(bench_mono_ns() - t0) / 1e9;

	printf("index: %" PRId64
	       " location messages from %s (%d partitions), one thread, "
	       "resolution %d%s",
	       total, topic, parts, res, props->n ? ", with" : "\n");
	for (int i = 0; i < props->n; i++)
		printf(" %s=%s%s", props->name[i], props->value[i],
		       i == props->n - 1 ? "\n" : "");
	printf("  consume + decode + apply: %" PRId64 " updates in %.0f ms (%" PRId64
	       " invalid)\n",
	       applied, kafka_s * 1000, invalid);
	printf("  from memory: decode %.2f us, apply %.2f us an update (decode + apply "
	       "%.0f updates/s)\n",
	       decode_s * 1e6 / (double)total, apply_s * 1e6 / (double)total,
	       (double)applied / (decode_s + apply_s));
	printf("  index: %zu drivers, %zu cells, %.1f MB\n", st.drivers, st.cells,
	       (double)st.bytes / 1e6);
	printf("index-rate %.0f\n", (double)applied / kafka_s);
	rc = 0;
	goto out;
oom:
	snprintf(errstr, sizeof(errstr), "out of memory");
fail:
	fprintf(stderr, BENCH_NAME ": %s\n", errstr);
out:
	for (int64_t i = 0; msgs && i < taken; i++)
		rd_kafka_message_destroy(msgs[i]);
	free(msgs);
	free(ups);
	free(ids);
	mat_index_destroy(idx);
	if (q)
		rd_kafka_queue_destroy(q);
	if (rk) {
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	}
	return rc;
}

/* ---- decide ----------------------------------------------------------------------- */

struct bench_decide_opts {
	long drivers, requests, warmup, claims, radius_m, count;
	int k_max, res;
	uint64_t seed;
	const char *redis_url;
};

/* The baseline's own view of a driver, by its number (ids are d-<number>). */
struct bench_driver {
	struct mat_geo_point pos;
	mat_index_status_t status;
	int64_t ts_ms;
	bool claimed;
};

/* One design's answer. */
struct bench_pick {
	bool found;
	char id[SOUK_EVENT_IDENT_SIZE];
	double eta_s;
};

struct bench_city {
	const struct bench_decide_opts *o;
	struct bench_driver *drivers;
	mat_index_t *idx;
	pthread_rwlock_t lock; /* as mat_feed's, over idx */
	mat_eta_t *model;
	struct souk_redis *redis;
	double reach_m; /* the souk search's farthest reach, the baseline's too */
	/* the baseline's work, summed */
	int64_t queries, candidates;
	/* the search's work, summed */
	int64_t rings, examined;
};

static int
bench_now_hour(int64_t now_ms)
{
	return (int)((now_ms / 3600000) % 24);
}

static int64_t
bench_now_ms(void)
{
	return bench_wall_us() / 1000;
}

/* Places the drivers in the index and, the available ones, in Redis. */
static int
bench_city_build(struct bench_city *c, uint64_t *rng, char *errstr, size_t errstr_size)
{
	const struct bench_decide_opts *o = c->o;
	const char **argv = NULL;
	char(*text)[3][SOUK_EVENT_IDENT_SIZE] = NULL;
	int64_t now = bench_now_ms();
	redisReply *reply = NULL;
	int argc = 2, rc = -1;

	if (!(c->drivers = calloc((size_t)o->drivers, sizeof(*c->drivers))) ||
	    !(argv = malloc((2 + 3 * BENCH_GEOADD_CHUNK) * sizeof(*argv))) ||
	    !(text = malloc(BENCH_GEOADD_CHUNK * sizeof(*text)))) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	if (souk_redis_command(c->redis, &reply, errstr, errstr_size, "DEL %s",
			       BENCH_GEO_KEY))
		goto out;
	freeReplyObject(reply);
	reply = NULL;
	argv[0] = "GEOADD";
	argv[1] = BENCH_GEO_KEY;
	for (long i = 0; i < o->drivers; i++) {
		struct bench_driver *d = &c->drivers[i];
		double roll = bench_unit(rng);
		char id[SOUK_EVENT_IDENT_SIZE];
		mat_index_update_t u;

		d->pos = bench_point(bench_box, rng);
		d->status = roll < 0.80	  ? MAT_INDEX_AVAILABLE
			    : roll < 0.95 ? MAT_INDEX_BUSY
					  : MAT_INDEX_OFFLINE;
		d->ts_ms = now;
		snprintf(id, sizeof(id), "d-%ld", i);
		u = (mat_index_update_t){
		    .driver_id = id,
		    .pos = d->pos,
		    .speed_mps = d->status == MAT_INDEX_BUSY ? BENCH_FITTED_MPS : 0,
		    .status = d->status,
		    .ts_ms = now,
		    .partition = 0,
		    .offset = i};
		if (mat_index_apply(c->idx, &u, errstr, errstr_size) == MAT_INDEX_ERROR)
			goto out;
		if (d->status == MAT_INDEX_AVAILABLE) {
			char(*t)[SOUK_EVENT_IDENT_SIZE] = text[(argc - 2) / 3];

			snprintf(t[0], sizeof(t[0]), "%.7f", d->pos.lng);
			snprintf(t[1], sizeof(t[1]), "%.7f", d->pos.lat);
			snprintf(t[2], sizeof(t[2]), "%s", id);
			argv[argc++] = t[0];
			argv[argc++] = t[1];
			argv[argc++] = t[2];
		}
		if (argc == 2 + 3 * BENCH_GEOADD_CHUNK ||
		    (i == o->drivers - 1 && argc > 2)) {
			if (souk_redis_command_argv(c->redis, &reply, errstr, errstr_size,
						    argc, argv, NULL))
				goto out;
			freeReplyObject(reply);
			reply = NULL;
			argc = 2;
		}
	}
	rc = 0;
out:
	free(argv);
	free(text);
	return rc;
}

/* The number of driver id d-<number>, or -1. */
static long
bench_driver_number(const struct bench_city *c, const char *id, size_t len)
{
	char buf[24], *end;
	long n;

	if (len < 3 || len >= sizeof(buf) || id[0] != 'd' || id[1] != '-')
		return -1;
	memcpy(buf, id + 2, len - 2);
	buf[len - 2] = '\0';
	n = strtol(buf, &end, 10);
	return *end || n < 0 || n >= c->o->drivers ? -1 : n;
}

static int
bench_souk(struct bench_city *c, struct mat_geo_point pickup, struct bench_pick *pick,
	   char *errstr, size_t errstr_size)
{
	mat_match_request_t req;
	mat_match_result_t found;
	mat_match_status_t st;
	int64_t now = bench_now_ms();
	H3Index area;

	if (mat_geo_cell(pickup, BENCH_AREA_RES, &area, errstr, errstr_size))
		return -1;
	req = (mat_match_request_t){.pickup = pickup,
				    .area = (int64_t)area,
				    .hour = bench_now_hour(now),
				    .now_ms = now,
				    .k_max = c->o->k_max};
	pthread_rwlock_rdlock(&c->lock);
	st = mat_match_find(c->idx, c->model, &req, &found, errstr, errstr_size);
	pthread_rwlock_unlock(&c->lock);
	if (st == MAT_MATCH_ERROR)
		return -1;
	pick->found = st == MAT_MATCH_FOUND;
	snprintf(pick->id, sizeof(pick->id), "%s", found.driver_id);
	pick->eta_s = found.eta_s;
	c->rings += found.rings;
	c->examined += (int64_t)found.examined;
	return 0;
}

static int
bench_redis(struct bench_city *c, struct mat_geo_point pickup, struct bench_pick *pick,
	    char *errstr, size_t errstr_size)
{
	int64_t now = bench_now_ms();
	int hour = bench_now_hour(now);
	double radius = (double)c->o->radius_m;
	long count = c->o->count;
	H3Index area;
	char lng[32], lat[32], r[32], n[24];
	const char *argv[] = {
	    "GEOSEARCH", BENCH_GEO_KEY, "FROMLONLAT", lng,     lat, "BYRADIUS",
	    r,		 "m",		"ASC",	      "COUNT", n,   "WITHDIST"};

	if (mat_geo_cell(pickup, BENCH_AREA_RES, &area, errstr, errstr_size))
		return -1;
	snprintf(lng, sizeof(lng), "%.7f", pickup.lng);
	snprintf(lat, sizeof(lat), "%.7f", pickup.lat);
	pick->found = false;
	for (;;) {
		redisReply *reply;
		size_t got;

		if (radius > c->reach_m)
			radius = c->reach_m;
		snprintf(r, sizeof(r), "%.0f", radius);
		snprintf(n, sizeof(n), "%ld", count);
		if (souk_redis_command_argv(c->redis, &reply, errstr, errstr_size,
					    (int)(sizeof(argv) / sizeof(argv[0])), argv,
					    NULL))
			return -1;
		c->queries++;
		got = reply->type == REDIS_REPLY_ARRAY ? reply->elements : 0;
		c->candidates += (int64_t)got;
		for (size_t i = 0; i < got; i++) {
			const redisReply *e = reply->element[i];
			const struct bench_driver *d;
			double eta_s;
			long k;

			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
			    (k = bench_driver_number(c, e->element[0]->str,
						     e->element[0]->len)) < 0)
				continue;
			d = &c->drivers[k];
			if (d->status != MAT_INDEX_AVAILABLE || d->claimed ||
			    (now > d->ts_ms &&
			     now - d->ts_ms > MAT_INDEX_STALE_MS_DEFAULT))
				continue;
			mat_eta_predict(c->model, (int64_t)area, hour,
					strtod(e->element[1]->str, NULL), NULL, &eta_s);
			if (pick->found && (eta_s > pick->eta_s ||
					    (eta_s == pick->eta_s &&
					     strcmp(e->element[0]->str, pick->id) >= 0)))
				continue;
			pick->found = true;
			pick->eta_s = eta_s;
			snprintf(pick->id, sizeof(pick->id), "%s", e->element[0]->str);
		}
		freeReplyObject(reply);
		if (pick->found)
			return 0;
		if ((long)got == count)
			count *= 4; /* all taken: more of the same circle */
		else if (radius < c->reach_m)
			radius *= 2;
		else
			return 0;
	}
}

/*
 * The claims of a pass: the driver chosen by souk for request i is claimed after it,
 * in the design the pass measures (the index's overlay, or the baseline's array), and
 * released o->claims claims later, so both passes see the same drivers taken at every
 * request.
 */
struct bench_claims {
	char (*ring)[SOUK_EVENT_IDENT_SIZE];
	long size, held, next;
};

static int
bench_claim(struct bench_city *c, struct bench_claims *cl, bool in_index, const char *id,
	    char *errstr, size_t errstr_size)
{
	const char *ids[2] = {NULL, id}; /* released, claimed */

	if (cl->held == cl->size)
		ids[0] = cl->ring[cl->next];
	else
		cl->held++;
	for (int claimed = 0; claimed < 2; claimed++) {
		long k;

		if (!ids[claimed])
			continue;
		if ((k = bench_driver_number(c, ids[claimed], strlen(ids[claimed]))) <
		    0) {
			snprintf(errstr, errstr_size, "driver %s is not of the city",
				 ids[claimed]);
			return -1;
		}
		if (!in_index)
			c->drivers[k].claimed = claimed;
		else if (!claimed)
			mat_index_release(c->idx, ids[claimed]);
		else if (mat_index_claim(c->idx, ids[claimed], errstr, errstr_size))
			return -1;
	}
	snprintf(cl->ring[cl->next], sizeof(cl->ring[0]), "%s", id);
	cl->next = (cl->next + 1) % cl->size;
	return 0;
}

static void
bench_report(const char *name, int64_t *ns, size_t n, int64_t *p50, int64_t *p99)
{
	double mean = bench_mean(ns, n);

	*p50 = bench_quantile(ns, n, 0.50);
	*p99 = bench_quantile(ns, n, 0.99);
	printf("  %-6s p50 %8.2f us  p99 %8.2f us  mean %8.2f us  max %9.2f us\n", name,
	       (double)*p50 / 1e3, (double)*p99 / 1e3, mean / 1e3,
	       (double)ns[n - 1] / 1e3);
}

/* One design over every pickup: its decisions into picks[] and, past the warm-up,
 * their times into ns[]. */
static int
bench_pass(struct bench_city *c, bool souk, const struct mat_geo_point *pickups,
	   const struct bench_pick *souk_picks, struct bench_pick *picks, int64_t *ns,
	   char *errstr, size_t errstr_size)
{
	const struct bench_decide_opts *o = c->o;
	struct bench_claims cl = {.size = o->claims};
	int rc = -1;

	if (!(cl.ring = calloc((size_t)o->claims, sizeof(*cl.ring)))) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	for (long i = 0; i < o->warmup + o->requests; i++) {
		int64_t t0;

		if (i == o->warmup) /* the measured requests' work only */
			c->queries = c->candidates = c->rings = c->examined = 0;
		t0 = bench_mono_ns();
		if ((souk ? bench_souk : bench_redis)(c, pickups[i], &picks[i], errstr,
						      errstr_size))
			goto out;
		if (i >= o->warmup)
			ns[i - o->warmup] = bench_mono_ns() - t0;
		if (souk_picks[i].found &&
		    bench_claim(c, &cl, souk, souk_picks[i].id, errstr, errstr_size))
			goto out;
	}
	/* The index's claims are let go: the next pass starts from the same city. */
	for (long j = 0; j < cl.held; j++)
		if (souk)
			mat_index_release(c->idx, cl.ring[j]);
		else
			c->drivers[bench_driver_number(c, cl.ring[j], strlen(cl.ring[j]))]
			    .claimed = false;
	rc = 0;
out:
	free(cl.ring);
	return rc;
}

static int
bench_decide(const struct bench_decide_opts *o)
{
	struct bench_city c = {.o = o};
	uint64_t rng = o->seed ? o->seed : 1;
	long total = o->warmup + o->requests;
	struct mat_geo_point *pickups = NULL;
	struct bench_pick *sp = NULL, *rp = NULL;
	int64_t *souk_ns = NULL, *redis_ns = NULL, same = 0, ties = 0, differ = 0,
		none = 0, souk50, souk99, redis50, redis99, t0;
	double rings, examined;
	char errstr[512];
	int rc = BENCH_EXIT_FAIL;

	pthread_rwlock_init(&c.lock, NULL);
	/* the reach of k_max rings: their cells' centres are at most k_max * sqrt(3)
	 * edges away, plus one cell's radius */
	{
		double edge;

		getHexagonEdgeLengthAvgM(o->res, &edge);
		c.reach_m = edge * (o->k_max * sqrt(3) + 1);
	}
	if (bench_model(&c.model, errstr, sizeof(errstr)) ||
	    !(c.idx = mat_index_new(o->res, MAT_INDEX_STALE_MS_DEFAULT, errstr,
				    sizeof(errstr))) ||
	    !(c.redis = souk_redis_connect(o->redis_url, BENCH_TIMEOUT_MS, errstr,
					   sizeof(errstr))))
		goto fail;
	souk_ns = malloc((size_t)o->requests * sizeof(*souk_ns));
	redis_ns = malloc((size_t)o->requests * sizeof(*redis_ns));
	pickups = malloc((size_t)total * sizeof(*pickups));
	sp = calloc((size_t)total, sizeof(*sp));
	rp = calloc((size_t)total, sizeof(*rp));
	if (!souk_ns || !redis_ns || !pickups || !sp || !rp) {
		snprintf(errstr, sizeof(errstr), "out of memory");
		goto fail;
	}
	t0 = bench_mono_ns();
	if (bench_city_build(&c, &rng, errstr, sizeof(errstr)))
		goto fail;
	for (long i = 0; i < total; i++)
		pickups[i] = bench_point(bench_box, &rng);
	printf("decide: %ld drivers (80 %% available, 15 %% busy, 5 %% offline) in "
	       "%.2f,%.2f..%.2f,%.2f, built in %.0f ms; %ld requests after %ld warm-up, "
	       "each design in its own pass, a driver claimed for %ld decisions\n",
	       o->drivers, bench_box[0], bench_box[1], bench_box[2], bench_box[3],
	       (double)(bench_mono_ns() - t0) / 1e6, o->requests, o->warmup, o->claims);
	if (bench_pass(&c, true, pickups, sp, sp, souk_ns, errstr, sizeof(errstr)))
		goto fail;
	rings = (double)c.rings / (double)o->requests;
	examined = (double)c.examined / (double)o->requests;
	if (bench_pass(&c, false, pickups, sp, rp, redis_ns, errstr, sizeof(errstr)))
		goto fail;
	for (long i = 0; i < total; i++) {
		const struct bench_pick *s = &sp[i], *r = &rp[i];

		if (!s->found || !r->found) {
			none += !s->found && !r->found;
			differ += s->found != r->found;
		} else if (!strcmp(s->id, r->id)) {
			same++;
		} else {
			const struct bench_driver *x =
			    &c.drivers[bench_driver_number(&c, s->id, strlen(s->id))];
			const struct bench_driver *y =
			    &c.drivers[bench_driver_number(&c, r->id, strlen(r->id))];
			double dx = mat_geo_distance_m(x->pos, pickups[i]),
			       dy = mat_geo_distance_m(y->pos, pickups[i]);

			if (fabs(dx - dy) <= BENCH_TIE_M) {
				ties++;
			} else if (++differ <= 5) {
				fprintf(
				    stderr,
				    "disagreement at %.6f,%.6f: souk %s %.1f m (eta %.2f "
				    "s), redis %s %.1f m (eta %.2f s)\n",
				    pickups[i].lat, pickups[i].lng, s->id, dx, s->eta_s,
				    r->id, dy, r->eta_s);
			}
		}
	}
	printf("  souk:  %.1f rings and %.1f drivers examined a request (k_max %d, "
	       "resolution %d)\n",
	       rings, examined, o->k_max, o->res);
	printf("  redis: %.2f GEOSEARCH and %.1f candidates a request (from %ld m, COUNT "
	       "%ld, reach %.0f m)\n",
	       (double)c.queries / (double)o->requests,
	       (double)c.candidates / (double)o->requests, o->radius_m, o->count,
	       c.reach_m);
	printf("  answers over all %ld requests: %" PRId64 " same driver, %" PRId64
	       " ties within %.0f m, %" PRId64 " disagreements, %" PRId64
	       " with no driver\n",
	       total, same, ties, BENCH_TIE_M, differ, none);
	bench_report("souk", souk_ns, (size_t)o->requests, &souk50, &souk99);
	bench_report("redis", redis_ns, (size_t)o->requests, &redis50, &redis99);
	printf("decide-souk-p99-us %.2f\n", (double)souk99 / 1e3);
	printf("decide-redis-p99-us %.2f\n", (double)redis99 / 1e3);
	printf("decide-p50-ratio %.1f\n",
	       (double)redis50 / (double)(souk50 ? souk50 : 1));
	printf("decide-p99-ratio %.1f\n",
	       (double)redis99 / (double)(souk99 ? souk99 : 1));
	printf("decide-disagreements %" PRId64 "\n", differ);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, BENCH_NAME ": %s\n", errstr);
out:
	if (c.redis) {
		redisReply *reply = NULL;

		if (souk_redis_command(c.redis, &reply, errstr, sizeof(errstr), "DEL %s",
				       BENCH_GEO_KEY) == SOUK_REDIS_OK)
			freeReplyObject(reply);
	}
	souk_redis_destroy(c.redis);
	mat_index_destroy(c.idx);
	mat_eta_destroy(c.model);
	pthread_rwlock_destroy(&c.lock);
	free(c.drivers);
	free(souk_ns);
	free(redis_ns);
	free(pickups);
	free(sp);
	free(rp);
	return rc;
}

/* ---- e2e -------------------------------------------------------------------------- */

struct bench_e2e_opts {
	const char *brokers, *tag;
	long rate, seconds, drivers, refresh_s, wait_s;
	uint64_t seed;
};

/* What the reader of ride-matches saw of each request (by number). */
struct bench_seen {
	int64_t recv_us;   /* 0 until its first ride_match */
	int64_t create_ms; /* the match message's timestamp */
	bool matched;	   /* matched, not no_driver */
};

struct bench_reader {
	rd_kafka_t *rk;
	const char *prefix; /* r-<tag>- */
	struct bench_seen *seen;
	long n;
	atomic_long first; /* requests with a ride_match */
	atomic_bool stop;
	int64_t others; /* ride_match messages of other requests */
};

static void *
bench_read(void *arg)
{
	struct bench_reader *r = arg;
	size_t plen = strlen(r->prefix);

	while (!atomic_load(&r->stop)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 100);
		int64_t now = bench_wall_us();
		char key[SOUK_EVENT_IDENT_SIZE], *end;
		long k;

		if (!m)
			continue;
		if (m->err || !m->key || m->key_len <= plen ||
		    m->key_len >= sizeof(key) || memcmp(m->key, r->prefix, plen)) {
			r->others++;
			rd_kafka_message_destroy(m);
			continue;
		}
		memcpy(key, m->key, m->key_len);
		key[m->key_len] = '\0';
		k = strtol(key + plen, &end, 10);
		if (!*end && k >= 0 && k < r->n && !r->seen[k].recv_us) {
			souk_event_t ev;
			souk_event_error_t err;

			r->seen[k].recv_us = now;
			r->seen[k].create_ms = rd_kafka_message_timestamp(m, NULL);
			r->seen[k].matched =
			    souk_event_decode(m->payload, m->len, &ev, &err) ==
				SOUK_EVENT_OK &&
			    ev.type == SOUK_EVENT_TYPE_RIDE_MATCH &&
			    ev.ride_match.status == SOUK_EVENT_MATCH_MATCHED;
			atomic_fetch_add(&r->first, 1);
		}
		rd_kafka_message_destroy(m);
	}
	return NULL;
}

struct bench_sender {
	struct souk_kafka_producer *p;
	atomic_long failed;
};

static void
bench_delivered(void *opaque, void *msg_opaque, const char *topic, int32_t partition,
		int64_t offset, rd_kafka_resp_err_t err, const char *errstr)
{
	struct bench_sender *s = opaque;

	(void)msg_opaque, (void)topic, (void)partition, (void)offset, (void)errstr;
	if (err)
		atomic_fetch_add(&s->failed, 1);
}

/* Produces ev, keyed by key (its driver or request id), to its topic; waits out a
 * full queue. */
static int
bench_send(struct bench_sender *s, souk_event_t *ev, const char *key, char *errstr,
	   size_t errstr_size)
{
	char buf[1024];
	size_t len;
	int rc;

	souk_uuid_random(ev->event_id);
	souk_event_ts_now(ev->ts);
	if (souk_event_encode(ev, buf, sizeof(buf), &len, errstr, errstr_size))
		return -1;
	while ((rc = souk_kafka_produce(s->p, souk_event_topic(ev->type), key,
					strlen(key), buf, len, NULL, 0, NULL, errstr,
					errstr_size)) == SOUK_KAFKA_QUEUE_FULL)
		souk_kafka_poll(s->p, 10);
	return rc == SOUK_KAFKA_OK ? 0 : -1;
}

/* Driver j's location at its place (moved by a few metres each time). */
static int
bench_send_location(struct bench_sender *s, const struct bench_e2e_opts *o,
		    struct mat_geo_point *places, long j, uint64_t *rng, char *errstr,
		    size_t errstr_size)
{
	souk_event_t ev = {.type = SOUK_EVENT_TYPE_LOCATION,
			   .version = SOUK_EVENT_VERSION};

	places[j].lat += (bench_unit(rng) - 0.5) * 1e-4;
	places[j].lng += (bench_unit(rng) - 0.5) * 1e-4;
	snprintf(ev.client_id, sizeof(ev.client_id), "bench");
	snprintf(ev.location.driver_id, sizeof(ev.location.driver_id), "d-%s-%ld", o->tag,
		 j);
	ev.location.lat = places[j].lat;
	ev.location.lng = places[j].lng;
	ev.location.status = SOUK_EVENT_DRIVER_AVAILABLE;
	return bench_send(s, &ev, ev.location.driver_id, errstr, errstr_size);
}

static int
bench_e2e(const struct bench_e2e_opts *o)
{
	struct bench_sender s = {0};
	struct bench_reader r = {0};
	struct mat_geo_point *places = NULL;
	int64_t *sent_us = NULL, *lat_us = NULL, *relay_us = NULL, t0, deadline;
	long n = o->rate * o->seconds, locs = 0, got = 0, matched = 0, nrelay = 0;
	uint64_t rng = o->seed ? o->seed : 1;
	char prefix[40], errstr[512]; /* a tag of 32 characters at most */
	pthread_t reader;
	bool reading = false;
	int64_t total;
	int rc = BENCH_EXIT_FAIL;

	snprintf(prefix, sizeof(prefix), "r-%.32s-", o->tag);
	r.prefix = prefix;
	r.n = n;
	places = malloc((size_t)o->drivers * sizeof(*places));
	sent_us = calloc((size_t)n, sizeof(*sent_us));
	lat_us = malloc((size_t)n * sizeof(*lat_us));
	relay_us = malloc((size_t)n * sizeof(*relay_us));
	r.seen = calloc((size_t)n, sizeof(*r.seen));
	if (!places || !sent_us || !lat_us || !relay_us || !r.seen) {
		snprintf(errstr, sizeof(errstr), "out of memory");
		goto fail;
	}
	if (!(s.p = souk_kafka_producer_new(o->brokers, NULL, 0, 0, bench_delivered, &s,
					    errstr, sizeof(errstr))) ||
	    !(r.rk = bench_consumer(o->brokers, NULL, errstr, sizeof(errstr))) ||
	    bench_assign(r.rk, "ride-matches", true, &total, NULL, errstr,
			 sizeof(errstr)) < 0)
		goto fail;
	if (pthread_create(&reader, NULL, bench_read, &r)) {
		snprintf(errstr, sizeof(errstr),
			 "could not start the ride-matches reader");
		goto fail;
	}
	reading = true;

	/* The drivers, then a pause for the worker's feed to apply them. */
	for (long j = 0; j < o->drivers; j++) {
		places[j] = bench_point(bench_e2e_box, &rng);
		if (bench_send_location(&s, o, places, j, &rng, errstr, sizeof(errstr)))
			goto fail;
		souk_kafka_poll(s.p, 0);
	}
	if (souk_kafka_flush(s.p, BENCH_TIMEOUT_MS)) {
		snprintf(errstr, sizeof(errstr),
			 "the drivers' locations were not delivered");
		goto fail;
	}
	/* One request before the clock starts: the producer's first message to a topic
	 * waits for the topic's metadata (about 1.5 s here), which is the bench's start,
	 * not the pool's latency. */
	{
		souk_event_t ev = {.type = SOUK_EVENT_TYPE_RIDE_REQUEST,
				   .version = SOUK_EVENT_VERSION};
		struct mat_geo_point p = bench_point(bench_e2e_box, &rng);

		snprintf(ev.client_id, sizeof(ev.client_id), "bench");
		snprintf(ev.ride_request.request_id, sizeof(ev.ride_request.request_id),
			 "w-%.32s", o->tag);
		snprintf(ev.ride_request.rider_id, sizeof(ev.ride_request.rider_id),
			 "rider-%s-warm", o->tag);
		ev.ride_request.pickup = ev.ride_request.dropoff =
		    (souk_event_point_t){p.lat, p.lng};
		if (bench_send(&s, &ev, ev.ride_request.request_id, errstr,
			       sizeof(errstr)) ||
		    souk_kafka_flush(s.p, BENCH_TIMEOUT_MS)) {
			snprintf(errstr, sizeof(errstr), "the warm-up request was not delivered");
			goto fail;
		}
	}
	sleep(2);

	/* Requests at the rate, locations again every refresh_s seconds a driver. */
	t0 = bench_wall_us();
	for (long i = 0; i < n; i++) {
		int64_t at = t0 + (int64_t)((double)i * 1e6 / (double)o->rate), now;
		long due;
		souk_event_t ev = {.type = SOUK_EVENT_TYPE_RIDE_REQUEST,
				   .version = SOUK_EVENT_VERSION};
		struct mat_geo_point pickup = bench_point(bench_e2e_box, &rng),
				     dropoff = bench_point(bench_e2e_box, &rng);

		while ((now = bench_wall_us()) < at) {
			due = (long)((double)(now - t0) / 1e6 * (double)o->drivers /
				     (double)o->refresh_s);
			for (; locs < due; locs++)
				if (bench_send_location(&s, o, places, locs % o->drivers,
							&rng, errstr, sizeof(errstr)))
					goto fail;
			souk_kafka_poll(s.p, 0);
			if (at - bench_wall_us() > 200)
				usleep(100);
		}
		snprintf(ev.client_id, sizeof(ev.client_id), "bench");
		snprintf(ev.ride_request.request_id, sizeof(ev.ride_request.request_id),
			 "%s%ld", prefix, i);
		snprintf(ev.ride_request.rider_id, sizeof(ev.ride_request.rider_id),
			 "rider-%s-%ld", o->tag, i);
		ev.ride_request.pickup = (souk_event_point_t){pickup.lat, pickup.lng};
		ev.ride_request.dropoff = (souk_event_point_t){dropoff.lat, dropoff.lng};
		sent_us[i] = bench_wall_us();
		if (bench_send(&s, &ev, ev.ride_request.request_id, errstr,
			       sizeof(errstr)))
			goto fail;
	}
	printf("e2e: %ld requests in %.1f s (%ld drivers in %.2f,%.2f..%.2f,%.2f, a "
	       "location each every %ld s: %ld sent during the run)\n",
	       n, (double)(bench_wall_us() - t0) / 1e6, o->drivers, bench_e2e_box[0],
	       bench_e2e_box[1], bench_e2e_box[2], bench_e2e_box[3], o->refresh_s, locs);
	souk_kafka_flush(s.p, BENCH_TIMEOUT_MS);
	deadline = bench_wall_us() + o->wait_s * 1000000;
	while (atomic_load(&r.first) < n && bench_wall_us() < deadline)
		usleep(10000);
	atomic_store(&r.stop, true);
	pthread_join(reader, NULL);
	reading = false;

	for (long i = 0; i < n; i++) {
		if (!r.seen[i].recv_us)
			continue;
		matched += r.seen[i].matched;
		lat_us[got++] = r.seen[i].recv_us - sent_us[i];
		relay_us[nrelay++] = r.seen[i].create_ms * 1000 - sent_us[i];
	}
	printf(
	    "  answered %ld of %ld: %ld matched, %ld no_driver; %ld deliveries failed\n",
	    got, n, matched, got - matched, atomic_load(&s.failed));
	if (got == 0) {
		snprintf(errstr, sizeof(errstr),
			 "no ride_match came for %s* within %ld s", prefix, o->wait_s);
		goto fail;
	}
	{
		int64_t p50 = bench_quantile(lat_us, (size_t)got, 0.50),
			p99 = bench_quantile(lat_us, (size_t)got, 0.99),
			r50 = bench_quantile(relay_us, (size_t)nrelay, 0.50),
			r99 = bench_quantile(relay_us, (size_t)nrelay, 0.99);

		printf("  request produced -> ride_match read: p50 %.1f ms  p99 %.1f ms  "
		       "max "
		       "%.1f ms\n",
		       (double)p50 / 1e3, (double)p99 / 1e3,
		       (double)lat_us[got - 1] / 1e3);
		printf("  request produced -> ride_match produced by the relay (its "
		       "timestamp, ms): p50 %.1f ms  p99 %.1f ms\n",
		       (double)r50 / 1e3, (double)r99 / 1e3);
		printf("e2e-p50-ms %.1f\n", (double)p50 / 1e3);
		printf("e2e-p99-ms %.1f\n", (double)p99 / 1e3);
	}
	printf("e2e-missing %ld\n", n - got);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, BENCH_NAME ": %s\n", errstr);
out:
	if (reading) {
		atomic_store(&r.stop, true);
		pthread_join(reader, NULL);
	}
	if (r.rk) {
		rd_kafka_consumer_close(r.rk);
		rd_kafka_destroy(r.rk);
	}
	if (s.p)
		souk_kafka_flush(s.p, BENCH_TIMEOUT_MS);
	souk_kafka_producer_destroy(s.p);
	free(places);
	free(sent_us);
	free(lat_us);
	free(relay_us);
	free(r.seen);
	return rc;
}

/* ---- main ------------------------------------------------------------------------- */

static void
bench_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: " BENCH_NAME
	    " index --topic T [--brokers B] [--res R] [-X name=value]\n"
	    "       " BENCH_NAME " decide [--drivers N] [--requests N] [--warmup N]\n"
	    "                    [--claims N] [--radius M] [--count N] [--k-max K]\n"
	    "                    [--res R] [--seed S] [--redis URL]\n"
	    "       " BENCH_NAME " e2e --tag T [--rate R] [--seconds S] [--drivers N]\n"
	    "                    [--refresh S] [--wait S] [--seed S] [--brokers B]\n"
	    "\n"
	    "The matching pool's benchmarks (ops/bench/matching):\n"
	    "  index   one worker's index fed from a topic of location events\n"
	    "  decide  a request's decision: souk's index vs Redis GEOSEARCH\n"
	    "  e2e     request produced -> ride_match read, through souk-worker\n"
	    "          matching (which must be running)\n"
	    "\n"
	    "  --brokers B    Kafka (env SOUK_KAFKA_BROKERS, "
	    "default " BENCH_DEFAULT_BROKERS ")\n"
	    "  --redis URL    Redis (env SOUK_REDIS_URL, default " BENCH_DEFAULT_REDIS
	    ")\n"
	    "  --res R        the index's H3 resolution (default 9)\n"
	    "  -X name=value  index: a librdkafka property of the consumer, as a\n"
	    "                 worker's kafka.name (repeatable)\n"
	    "  --drivers N    decide: 50000; e2e: 20000\n"
	    "  --requests N   decide: measured requests (default 20000)\n"
	    "  --warmup N     decide: requests run first, not measured (default 1000)\n"
	    "  --claims N     decide: a driver stays claimed N decisions (default 1000)\n"
	    "  --radius M     decide: Redis's first radius, metres (default 250)\n"
	    "  --count N      decide: Redis's first COUNT (default 16)\n"
	    "  --k-max K      decide: the farthest ring (default 20, the pool's)\n"
	    "  --seed S       the city and the pickups (default 1)\n"
	    "  --tag T        e2e: ids r-T-<n>, d-T-<n>\n"
	    "  --rate R       e2e: requests a second (default 500)\n"
	    "  --seconds S    e2e: seconds of requests (default 20)\n"
	    "  --refresh S    e2e: seconds between a driver's locations (default 15)\n"
	    "  --wait S       e2e: wait this long for the last matches (default 30)\n"
	    "  -h, --help     this help\n"
	    "  -V, --version  print the version\n"
	    "\n"
	    "exit status: 0 success, 1 failure, 2 usage error\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"brokers", required_argument, NULL, 'b'},
	    {"topic", required_argument, NULL, 't'},
	    {"redis", required_argument, NULL, 'R'},
	    {"res", required_argument, NULL, 'r'},
	    {"drivers", required_argument, NULL, 'd'},
	    {"requests", required_argument, NULL, 'n'},
	    {"warmup", required_argument, NULL, 'w'},
	    {"claims", required_argument, NULL, 'c'},
	    {"radius", required_argument, NULL, 'm'},
	    {"count", required_argument, NULL, 'C'},
	    {"k-max", required_argument, NULL, 'k'},
	    {"seed", required_argument, NULL, 's'},
	    {"tag", required_argument, NULL, 'T'},
	    {"rate", required_argument, NULL, 'q'},
	    {"seconds", required_argument, NULL, 'S'},
	    {"refresh", required_argument, NULL, 'f'},
	    {"wait", required_argument, NULL, 'W'},
	    {"set", required_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct bench_props props = {.n = 0};
	const char *brokers = getenv("SOUK_KAFKA_BROKERS"),
		   *redis = getenv("SOUK_REDIS_URL");
	const char *topic = NULL, *tag = NULL, *mode;
	long res = 9, drivers = 0, requests = 20000, warmup = 1000, claims = 1000,
	     radius = 250, count = 16, k_max = 20, seed = 1, rate = 500, seconds = 20,
	     refresh = 15, wait_s = 30, *target;
	int c;

	if (!brokers || !brokers[0])
		brokers = BENCH_DEFAULT_BROKERS;
	if (!redis || !redis[0])
		redis = BENCH_DEFAULT_REDIS;
	while ((c = getopt_long(argc, argv, "X:hV", opts, NULL)) != -1) {
		const char *name = NULL;
		long max = 100000000;

		switch (c) {
		case 'b':
			brokers = optarg;
			continue;
		case 't':
			topic = optarg;
			continue;
		case 'R':
			redis = optarg;
			continue;
		case 'T':
			tag = optarg;
			continue;
		case 'X': {
			char *t = props.text[props.n], *eq;

			if (props.n == BENCH_MAX_PROPS ||
			    snprintf(t, sizeof(props.text[0]), "%s", optarg) >=
				(int)sizeof(props.text[0]) ||
			    !(eq = strchr(t, '=')) || eq == t) {
				fprintf(stderr,
					BENCH_NAME ": could not take -X \"%s\": "
						   "expected name=value (at most %d)\n",
					optarg, BENCH_MAX_PROPS);
				return BENCH_EXIT_USAGE;
			}
			*eq = '\0';
			props.name[props.n] = t;
			props.value[props.n++] = eq + 1;
			continue;
		}
		case 'h':
			bench_usage(stdout);
			return 0;
		case 'V':
			printf(BENCH_NAME " " SOUK_VERSION "\n");
			return 0;
		case 'r':
			name = "res", target = &res, max = MAT_GEO_RES_MAX;
			break;
		case 'd':
			name = "drivers", target = &drivers;
			break;
		case 'n':
			name = "requests", target = &requests;
			break;
		case 'w':
			name = "warmup", target = &warmup;
			break;
		case 'c':
			name = "claims", target = &claims;
			break;
		case 'm':
			name = "radius", target = &radius;
			break;
		case 'C':
			name = "count", target = &count;
			break;
		case 'k':
			name = "k-max", target = &k_max, max = MAT_MATCH_K_MAX;
			break;
		case 's':
			name = "seed", target = &seed, max = LONG_MAX;
			break;
		case 'q':
			name = "rate", target = &rate, max = 100000;
			break;
		case 'S':
			name = "seconds", target = &seconds, max = 3600;
			break;
		case 'f':
			name = "refresh", target = &refresh, max = 3600;
			break;
		case 'W':
			name = "wait", target = &wait_s, max = 3600;
			break;
		default:
			bench_usage(stderr);
			return BENCH_EXIT_USAGE;
		}
		if (bench_parse_long(name, optarg, max, target))
			return BENCH_EXIT_USAGE;
	}
	if (argc - optind != 1) {
		bench_usage(stderr);
		return BENCH_EXIT_USAGE;
	}
	mode = argv[optind];
	signal(SIGPIPE, SIG_IGN); /* souk_redis.h: hiredis writes with write(2) */
	if (!strcmp(mode, "index")) {
		if (!topic) {
			fprintf(stderr, BENCH_NAME " index: --topic is required\n");
			return BENCH_EXIT_USAGE;
		}
		return bench_index(brokers, &props, topic, (int)res);
	}
	if (!strcmp(mode, "decide")) {
		struct bench_decide_opts o = {.drivers = drivers ? drivers : 50000,
					      .requests = requests,
					      .warmup = warmup,
					      .claims = claims,
					      .radius_m = radius,
					      .count = count,
					      .k_max = (int)k_max,
					      .res = (int)res,
					      .seed = (uint64_t)seed,
					      .redis_url = redis};

		return bench_decide(&o);
	}
	if (!strcmp(mode, "e2e")) {
		struct bench_e2e_opts o = {.brokers = brokers,
					   .tag = tag,
					   .rate = rate,
					   .seconds = seconds,
					   .drivers = drivers ? drivers : 20000,
					   .refresh_s = refresh,
					   .wait_s = wait_s,
					   .seed = (uint64_t)seed};

		if (!tag || !souk_event_identifier_valid(tag) || strlen(tag) > 32) {
			fprintf(stderr, BENCH_NAME " e2e: --tag must be an identifier of "
						   "32 characters at most\n");
			return BENCH_EXIT_USAGE;
		}
		return bench_e2e(&o);
	}
	fprintf(stderr,
		BENCH_NAME ": unknown mode \"%s\": expected index, decide or e2e\n",
		mode);
	return BENCH_EXIT_USAGE;
}
