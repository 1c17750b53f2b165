/*
 * match_check: recomputes the matching pool's first offers by brute force.
 *
 *   match_check BROKERS DSN PREFIX START
 *
 * PREFIX selects the rides (request_id LIKE 'PREFIX%'); START is where the run's
 * locations begin, "p:offset,p:offset,...". For the rides in decision order (rides.seq:
 * one consumer thread), it rebuilds a driver index (mat_index, the pool's resolution 9
 * and 30 s staleness) from the locations messages from START up to the offsets the
 * ride recorded, and ranks EVERY driver of it -- not the pool's ring search -- by the
 * pool's ETA (the recorded model, or the flat one, with the cells' traffic hints):
 * available, fresh at the ride's created_at, within 20 rings of the pickup (the pool's
 * default k_max), not offered to an earlier ride (the run never frees a driver: no
 * ride events, offers that outlive it). The best, ties to the smaller id, should be the
 * ride's driver with its ETA ("exact"); a no_driver ride must have no candidate.
 *
 * One thing the offsets do not fix: a cell's traffic hint is a running mean over its
 * busy drivers' readings that turns exponential past MAT_INDEX_HINT_WINDOW readings, so
 * its value depends on how the partitions' messages interleaved, which the pool does
 * not record; this checker applies them partition by partition. An offer whose driver
 * is a candidate within 5% + 1 s of the best ETA counts as "near"; anything else
 * disagrees.
 *
 * Prints "checked N agree N (exact N near N) disagree N no_driver N" and the first
 * disagreements and near ones; exit 0 when none disagree, 1 otherwise, 2 on a failure
 * to read.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "mat_eta.h"
#include "mat_feed.h"
#include "mat_geo.h"
#include "mat_index.h"
#include "souk_event.h"
#include "souk_map.h"
#include "souk_pg.h"

#define CHECK_RES 9
#define CHECK_STALE_MS 30000
#define CHECK_AREA_RES 7
#define CHECK_K_MAX 20
#define CHECK_PARTS 64

struct check_ride {
	char id[SOUK_EVENT_IDENT_SIZE], driver[SOUK_EVENT_IDENT_SIZE], state[16];
	struct mat_geo_point pickup;
	int64_t eta_s, created_ms, offsets[CHECK_PARTS];
	size_t noffsets;
	char model[MAT_ETA_ID_SIZE];
};

/* One partition's location updates, in offset order; ids[i] is v[i]'s driver_id. */
struct check_msgs {
	mat_index_update_t *v;
	char (*ids)[SOUK_EVENT_IDENT_SIZE];
	size_t n, cap;
};

struct check_best {
	const mat_index_t *idx;
	const mat_eta_t *model;
	const struct souk_map *claimed;
	struct mat_geo_point pickup;
	H3Index origin;
	int64_t area, now_ms;
	int hour;
	double eta;
	char driver[SOUK_EVENT_IDENT_SIZE];
	size_t candidates;
	const char
	    *offered; /* the ride's driver, and its ETA when a candidate (-1 not) */
	double offered_eta;
};

static int
check_die(const char *what)
{
	fprintf(stderr, "match_check: %s\n", what);
	return 2;
}

/* Reads the rides, in decision order. */
static int
check_rides(const char *dsn, const char *prefix, struct check_ride **out, size_t *n)
{
	char errstr[512];
	struct souk_pg *pg = souk_pg_connect(dsn, 5000, errstr, sizeof(errstr));
	const char *v[] = {prefix};
	PGresult *res = NULL;

	if (!pg ||
	    souk_pg_prepare(pg, "rides",
			    "SELECT request_id, state, coalesce(driver_id, ''), "
			    "pickup_lat, pickup_lng, coalesce(eta_s, 0), "
			    "floor(extract(epoch FROM created_at) * 1000)::bigint, "
			    "array_to_string(index_offsets, ','), coalesce(model_id, '') "
			    "FROM rides WHERE request_id LIKE $1 || '%' ORDER BY seq",
			    1, errstr, sizeof(errstr)) ||
	    souk_pg_exec_prepared(pg, "rides", 1, v, &res, errstr, sizeof(errstr))) {
		souk_pg_destroy(pg);
		return check_die(errstr);
	}
	*n = (size_t)PQntuples(res);
	*out = calloc(*n ? *n : 1, sizeof(**out));
	for (size_t i = 0; *out && i < *n; i++) {
		struct check_ride *r = &(*out)[i];
		char *offs = PQgetvalue(res, (int)i, 7), *save = NULL;

		snprintf(r->id, sizeof(r->id), "%s", PQgetvalue(res, (int)i, 0));
		snprintf(r->state, sizeof(r->state), "%s", PQgetvalue(res, (int)i, 1));
		snprintf(r->driver, sizeof(r->driver), "%s", PQgetvalue(res, (int)i, 2));
		r->pickup.lat = strtod(PQgetvalue(res, (int)i, 3), NULL);
		r->pickup.lng = strtod(PQgetvalue(res, (int)i, 4), NULL);
		r->eta_s = strtoll(PQgetvalue(res, (int)i, 5), NULL, 10);
		r->created_ms = strtoll(PQgetvalue(res, (int)i, 6), NULL, 10);
		for (char *o = strtok_r(offs, ",", &save); o && r->noffsets < CHECK_PARTS;
		     o = strtok_r(NULL, ",", &save))
			r->offsets[r->noffsets++] = strtoll(o, NULL, 10);
		snprintf(r->model, sizeof(r->model), "%s", PQgetvalue(res, (int)i, 8));
	}
	PQclear(res);
	souk_pg_destroy(pg);
	return *out ? 0 : check_die("out of memory");
}

/* The model the rides name: a stored one, or the flat one the pool starts with. */
static int
check_model(const char *dsn, const char *id, mat_eta_t **model)
{
	char errstr[512];
	struct souk_pg *pg = souk_pg_connect(dsn, 5000, errstr, sizeof(errstr));
	const char *v[] = {id};
	PGresult *res = NULL;
	int rc;

	if (!pg ||
	    souk_pg_prepare(pg, "m", "SELECT model FROM eta_models WHERE id = $1", 1,
			    errstr, sizeof(errstr)) ||
	    souk_pg_exec_prepared(pg, "m", 1, v, &res, errstr, sizeof(errstr))) {
		souk_pg_destroy(pg);
		return check_die(errstr);
	}
	rc = PQntuples(res)
		 ? mat_eta_decode(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0),
				  model, errstr, sizeof(errstr))
		 : mat_eta_flat(30 / 3.6, 1.3, model, errstr, sizeof(errstr));
	PQclear(res);
	souk_pg_destroy(pg);
	if (rc == 0 && strcmp(mat_eta_id(*model), id)) {
		snprintf(errstr, sizeof(errstr),
			 "model %s is not stored and not the flat one", id);
		return check_die(errstr);
	}
	return rc ? check_die(errstr) : 0;
}

static void
check_candidate(const mat_index_driver_t *d, void *opaque)
{
	struct check_best *b = opaque;
	mat_eta_hint_t hint;
	double eta;
	int64_t k;

	if (!mat_index_offerable(b->idx, d, b->now_ms) ||
	    souk_map_get(b->claimed, d->id) ||
	    gridDistance(b->origin, d->cell, &k) != E_SUCCESS || k > CHECK_K_MAX)
		return;
	if (mat_eta_predict(
		b->model, b->area, b->hour, mat_geo_distance_m(d->pos, b->pickup),
		mat_index_hint(b->idx, d->cell, b->now_ms, &hint) ? &hint : NULL, &eta))
		return;
	b->candidates++;
	if (!strcmp(d->id, b->offered))
		b->offered_eta = eta;
	if (!b->driver[0] || eta < b->eta ||
	    (eta == b->eta && strcmp(d->id, b->driver) < 0)) {
		b->eta = eta;
		snprintf(b->driver, sizeof(b->driver), "%s", d->id);
	}
}

/* Every cell of the index at resolution 9 within 20 rings: the disk's cells. */
static void
check_rank(struct check_best *b)
{
	int64_t max = 0;
	H3Index *disk;

	if (maxGridDiskSize(CHECK_K_MAX, &max) ||
	    !(disk = calloc((size_t)max, sizeof(*disk))))
		return;
	if (gridDisk(b->origin, CHECK_K_MAX, disk) == E_SUCCESS)
		for (int64_t i = 0; i < max; i++)
			if (disk[i])
				mat_index_cell_drivers(b->idx, disk[i], check_candidate,
						       b);
	free(disk);
}

int
main(int argc, char **argv)
{
	struct check_ride *rides = NULL;
	size_t nrides = 0, agree = 0, near = 0, disagree = 0, no_driver = 0;
	int64_t next[CHECK_PARTS] = {0}, last[CHECK_PARTS] = {0};
	size_t applied[CHECK_PARTS] = {0};
	static struct check_msgs msgs[CHECK_PARTS];
	char errstr[512];
	mat_index_t *idx;
	mat_eta_t *model = NULL;
	struct souk_map *claimed = souk_map_new();
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *list =
	    rd_kafka_topic_partition_list_new(CHECK_PARTS);
	rd_kafka_t *rk;
	char *save = NULL;
	int rc;

	if (argc != 5) {
		fprintf(stderr, "usage: match_check BROKERS DSN PREFIX START\n");
		return 2;
	}
	if ((rc = check_rides(argv[2], argv[3], &rides, &nrides)))
		return rc;
	if (nrides == 0)
		return check_die("no rides");
	for (size_t i = 0; i < nrides && !model; i++)
		if (rides[i].model[0] &&
		    (rc = check_model(argv[2], rides[i].model, &model)))
			return rc;
	if (!model && mat_eta_flat(30 / 3.6, 1.3, &model, errstr, sizeof(errstr)))
		return check_die(errstr);
	if (!(idx = mat_index_new(CHECK_RES, CHECK_STALE_MS, errstr, sizeof(errstr))))
		return check_die(errstr);
	rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], NULL, 0);
	rd_kafka_conf_set(conf, "group.id", "match-check", NULL, 0);
	rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
	if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr))))
		return check_die(errstr);
	rd_kafka_poll_set_consumer(rk);
	for (char *s = strtok_r(argv[4], ",", &save); s; s = strtok_r(NULL, ",", &save)) {
		int p = atoi(s);
		const char *colon = strchr(s, ':');

		if (p < 0 || p >= CHECK_PARTS || !colon)
			return check_die("START: expected p:offset,...");
		next[p] = strtoll(colon + 1, NULL, 10);
		rd_kafka_topic_partition_list_add(list, "locations", p)->offset = next[p];
	}
	rd_kafka_assign(rk, list);
	/* every location up to the highest offset a ride recorded, in memory */
	for (size_t i = 0; i < nrides; i++)
		for (size_t p = 0; p < rides[i].noffsets; p++)
			if (rides[i].offsets[p] > last[p])
				last[p] = rides[i].offsets[p];
	for (;;) {
		rd_kafka_message_t *m;
		size_t p = 0;

		while (p < CHECK_PARTS && next[p] >= last[p])
			p++;
		if (p == CHECK_PARTS)
			break;
		if (!(m = rd_kafka_consumer_poll(rk, 10000)))
			return check_die("no message from locations in 10 s");
		if (!m->err && m->partition < CHECK_PARTS) {
			souk_event_t ev;
			mat_index_update_t u;
			struct check_msgs *q = &msgs[m->partition];

			next[m->partition] = m->offset + 1;
			if (mat_feed_decode(m, &ev, &u) == 0) {
				if (q->n == q->cap) {
					q->cap = q->cap ? 2 * q->cap : 1024;
					q->v = realloc(q->v, q->cap * sizeof(*q->v));
					q->ids =
					    realloc(q->ids, q->cap * sizeof(*q->ids));
					if (!q->v || !q->ids)
						return check_die("out of memory");
					for (size_t j = 0; j < q->n; j++) /* ids moved */
						q->v[j].driver_id = q->ids[j];
				}
				size_t k = q->n++;

				snprintf(q->ids[k], sizeof(q->ids[0]), "%s", u.driver_id);
				u.driver_id = q->ids[k];
				q->v[k] = u;
			}
		}
		rd_kafka_message_destroy(m);
	}
	for (size_t i = 0; i < nrides; i++) {
		struct check_ride *r = &rides[i];
		struct check_best b = {.idx = idx,
				       .model = model,
				       .claimed = claimed,
				       .pickup = r->pickup,
				       .now_ms = r->created_ms,
				       .hour = (int)((r->created_ms / 3600000) % 24),
				       .offered = r->driver,
				       .offered_eta = -1};
		H3Index area;

		/* the index as the ride saw it: every partition up to its offsets */
		for (size_t p = 0; p < r->noffsets; p++)
			for (; applied[p] < msgs[p].n &&
			       msgs[p].v[applied[p]].offset < r->offsets[p];
			     applied[p]++)
				mat_index_apply(idx, &msgs[p].v[applied[p]], errstr,
						sizeof(errstr));
		if (mat_geo_cell(r->pickup, CHECK_RES, &b.origin, errstr,
				 sizeof(errstr)) ||
		    mat_geo_cell(r->pickup, CHECK_AREA_RES, &area, errstr,
				 sizeof(errstr)))
			return check_die(errstr);
		b.area = (int64_t)area;
		check_rank(&b);
		if (!strcmp(r->state, "no_driver")) {
			no_driver++;
			if (b.candidates == 0) {
				agree++;
			} else if (disagree++ < 10) {
				printf("%s: no_driver, but %s had an ETA of %.0f s\n",
				       r->id, b.driver, b.eta);
			}
			continue;
		}
		if (!strcmp(b.driver, r->driver) && llround(b.eta) == r->eta_s) {
			agree++;
		} else if (b.offered_eta >= 0 && b.offered_eta <= b.eta * 1.05 + 1) {
			if (near++ < 5)
				printf(
				    "near: %s offered %s (%.1f s here), the best here %s "
				    "(%.1f s)\n",
				    r->id, r->driver, b.offered_eta, b.driver, b.eta);
		} else if (disagree++ < 10) {
			printf("%s: offered %s (ETA %" PRId64
			       " s), the best is %s (%.1f s), "
			       "%zu candidates\n",
			       r->id, r->driver, r->eta_s,
			       b.driver[0] ? b.driver : "nobody", b.eta, b.candidates);
		}
		if (r->driver[0] && !souk_map_get(claimed, r->driver))
			souk_map_put(claimed, r->driver, r->driver);
	}
	printf("checked %zu agree %zu (exact %zu near %zu) disagree %zu no_driver %zu\n",
	       nrides, agree + near, agree, near, disagree, no_driver);
	rd_kafka_topic_partition_list_destroy(list);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	mat_index_destroy(idx);
	mat_eta_destroy(model);
	souk_map_destroy(claimed, NULL);
	free(rides);
	return disagree ? 1 : 0;
}
