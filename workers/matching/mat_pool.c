/*
 * mat_pool: see mat_pool.h.
 *
 * Cost per request: about six statements on the batch's session (ride lookup, demand,
 * surge, claim, ride insert, and the outbox row the runtime adds), plus one search of
 * the index under its read lock (mat_match.h). Per ride event: a lookup and an update,
 * and for a decline the search and claim of the next offer.
 */
#include "mat_pool.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "mat_eta.h"
#include "mat_fare.h"
#include "mat_feed.h"
#include "mat_geo.h"
#include "mat_match.h"
#include "mat_ride.h"
#include "mat_surge.h"
#include "souk_kafka.h"
#include "souk_log.h"
#include "souk_pgarray.h"
#include "souk_uuid.h"

#define MAT_POOL_REQUESTS "ride-requests"
#define MAT_POOL_EVENTS "ride-events"
#define MAT_POOL_MATCHES "ride-matches"
#define MAT_POOL_SURGE "surge"
#define MAT_POOL_TICK_MS 500
#define MAT_POOL_MAX_PARTITIONS 256
#define MAT_POOL_MAX_OFFERS 32	  /* the highest matching.max_offers */
#define MAT_POOL_CLAIM_TRIES 16	  /* drivers found claimed by others, per offer */
#define MAT_POOL_EXPIRE_LIMIT 100 /* expired offers re-offered per tick */
#define MAT_POOL_SURGE_LIMIT 1000 /* cells per surge pass */
#define MAT_POOL_MODEL_CHECK_MS 60000
#define MAT_POOL_FLAT_MPS (30 / 3.6) /* the model before any was trained */
#define MAT_POOL_FLAT_DETOUR 1.3

const struct souk_config_def mat_pool_config[] = {
    {.name = "matching.res", .type = SOUK_CONFIG_INT, .def = "9", .min = 0, .max = 15,
     .help = "H3 resolution of the driver index's cells"},
    {.name = "matching.stale",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "30s",
     .min = 1000,
     .max = 3600000,
     .help = "a driver without a location this long is not offered; also the window "
	     "the index is rebuilt from at start"},
    {.name = "matching.k_max",
     .type = SOUK_CONFIG_INT,
     .def = "20",
     .min = 0,
     .max = MAT_MATCH_K_MAX,
     .help = "the farthest ring of cells a request searches (20 at resolution 9: "
	     "about 7 km)"},
    {.name = "matching.offer_ttl",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "15s",
     .min = 1000,
     .max = 600000,
     .help = "an offer not accepted or declined by then goes to the next driver"},
    {.name = "matching.max_offers",
     .type = SOUK_CONFIG_INT,
     .def = "10",
     .min = 1,
     .max = MAT_POOL_MAX_OFFERS,
     .help = "offers a request gets before it ends no_driver"},
    {.name = "matching.area_res",
     .type = SOUK_CONFIG_INT,
     .def = "7",
     .min = 0,
     .max = 15,
     .help = "H3 resolution of the ETA model's areas (a trip's area is its pickup's "
	     "cell there); souk-eta train uses the trips' stored areas"},
    {.name = "matching.surge_res",
     .type = SOUK_CONFIG_INT,
     .def = "7",
     .min = 0,
     .max = 15,
     .help = "H3 resolution of surge cells (at most matching.res)"},
    {.name = "matching.surge_window",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "5m",
     .min = 10000,
     .max = 3600000,
     .help = "the sliding window demand is counted over (whole seconds)"},
    {.name = "matching.surge_interval",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "5s",
     .min = 500,
     .max = 600000,
     .help = "how often the owner of a cell updates and publishes its multiplier"},
    {.name = "matching.surge_threshold", .type = SOUK_CONFIG_STRING, .def = "1.0",
     .help = "requests per window per available driver at or below which surge is 1.0"},
    {.name = "matching.surge_slope", .type = SOUK_CONFIG_STRING, .def = "0.5",
     .help = "multiplier added per unit of demand/supply above the threshold"},
    {.name = "matching.surge_cap", .type = SOUK_CONFIG_STRING, .def = "3.0",
     .help = "the highest multiplier (1 to 10)"},
    {.name = "matching.surge_half_life",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "10s",
     .min = 0,
     .max = 3600000,
     .help = "time for a cell's multiplier to close half the gap to its target"},
    {.name = "matching.currency", .type = SOUK_CONFIG_STRING, .def = "AED",
     .help = "the fare quotes' currency"},
    {.name = "matching.fare_base", .type = SOUK_CONFIG_STRING, .def = "5.00",
     .help = "per ride, in major units of matching.currency"},
    {.name = "matching.fare_per_km", .type = SOUK_CONFIG_STRING, .def = "1.80",
     .help = "per kilometre of the trip (straight line x the model's detour)"},
    {.name = "matching.fare_per_minute", .type = SOUK_CONFIG_STRING, .def = "0.50",
     .help = "per minute of the trip's predicted duration"},
    {.name = "matching.fare_minimum", .type = SOUK_CONFIG_STRING, .def = "12.00",
     .help = "the least a quote can be (not multiplied)"},
    {.name = "matching.claims_refresh",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "1s",
     .min = 100,
     .max = 60000,
     .help = "how often the index's claims are made equal to driver_claims"},
    {.name = "matching.ready_timeout",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "120s",
     .min = 1000,
     .max = 3600000,
     .help = "how long a start may take to read the recent locations"},
    {.name = NULL},
};

/* A ride as read from (or about to be written to) the rides table. */
struct mat_pool_ride {
	bool exists;
	char request_id[SOUK_EVENT_IDENT_SIZE];
	char rider_id[SOUK_EVENT_IDENT_SIZE];
	char client_id[SOUK_EVENT_IDENT_SIZE];
	struct mat_geo_point pickup, dropoff;
	char surge_cell[SOUK_EVENT_CELL_SIZE];
	enum mat_ride_state state;
	char driver_id[SOUK_EVENT_IDENT_SIZE]; /* "" when none */
	int offers;
	char passed[MAT_POOL_MAX_OFFERS + 1][SOUK_EVENT_IDENT_SIZE];
	int npassed;
	int64_t version;
	/* the current offer, as sent */
	int64_t eta_s, fare;
	char currency[SOUK_EVENT_CURRENCY_SIZE];
	double surge;
	/* the request as consumed */
	int32_t src_partition;
	int64_t src_offset;
	char src_event_id[SOUK_EVENT_UUID_SIZE];
};

/* One thread's state. */
struct mat_pool_state {
	struct mat_feed *feed;
	mat_eta_t *model; /* the newest stored model, or the built-in one */
	int64_t model_checked_ms;
	double detour;
	mat_fare_tariff_t tariff;
	mat_surge_params_t surge;
	int res, area_res, surge_res, k_max, max_offers, nreq_partitions;
	int64_t offer_ttl_ms, surge_window_ms, surge_interval_ms, last_surge_ms;
	int32_t parts[MAT_POOL_MAX_PARTITIONS]; /* owned, of ride-requests */
	size_t nparts;
	/* The batch's claims and releases, settled in the feed after it. */
	char (*claims)[SOUK_EVENT_IDENT_SIZE], (*releases)[SOUK_EVENT_IDENT_SIZE];
	size_t nclaims, nreleases, cap_claims, cap_releases;
	/* The batch's requests per surge cell, upserted once at its end in cell order:
	 * two threads then lock ride_demand rows in the same order (no deadlock), one
	 * statement a batch. */
	struct mat_pool_demand {
		char cell[SOUK_EVENT_CELL_SIZE]; /* first: qsort compares it */
		int64_t requests;
	} *demand;
	size_t ndemand, cap_demand;
	char scratch[SOUK_EVENT_MAX_BYTES + 1];
	struct souk_metrics_series *requests[3], *offers[3], *events[4], *surge_sent;
};

enum { MAT_REQ_MATCHED, MAT_REQ_NO_DRIVER, MAT_REQ_REPEAT };
enum { MAT_OFFER_REQUEST, MAT_OFFER_DECLINE, MAT_OFFER_EXPIRED };
enum { MAT_EV_APPLIED, MAT_EV_DUPLICATE, MAT_EV_ILLEGAL, MAT_EV_UNKNOWN };

/* ---- SQL ------------------------------------------------------------------------- */

enum {
	MAT_COL_STATE,
	MAT_COL_DRIVER,
	MAT_COL_OFFERS,
	MAT_COL_PASSED,
	MAT_COL_VERSION,
	MAT_COL_PICKUP_LAT,
	MAT_COL_PICKUP_LNG,
	MAT_COL_DROPOFF_LAT,
	MAT_COL_DROPOFF_LNG,
	MAT_COL_SURGE_CELL,
	MAT_COL_RIDER,
	MAT_COL_CLIENT,
	MAT_COL_ETA,
	MAT_COL_FARE,
	MAT_COL_CURRENCY,
	MAT_COL_SURGE,
	MAT_COL_SRC_PARTITION,
	MAT_COL_SRC_OFFSET,
	MAT_COL_SRC_EVENT,
};

static const struct {
	const char *name, *sql;
	int nparams;
} mat_pool_sql[] = {
    {"mat_ride_get",
     "SELECT state, coalesce(driver_id, ''), offers, array_to_string(passed, ','), "
     "version, pickup_lat, pickup_lng, dropoff_lat, dropoff_lng, surge_cell, rider_id, "
     "client_id, coalesce(eta_s, 0), coalesce(fare_amount, 0), "
     "coalesce(fare_currency, ''), coalesce(surge, 1), source_partition, source_offset, "
     "source_event_id FROM rides WHERE request_id = $1",
     1},
    /* $1 cells (sorted), $2 their requests */
    {"mat_demand",
     "INSERT INTO ride_demand (surge_cell, second, requests) "
     "SELECT c, date_trunc('second', now()), n FROM unnest($1::text[], $2::int[]) "
     "AS d (c, n) ON CONFLICT (surge_cell, second) "
     "DO UPDATE SET requests = ride_demand.requests + EXCLUDED.requests",
     2},
    {"mat_surge_get", "SELECT multiplier FROM surge_cells WHERE surge_cell = $1", 1},
    {"mat_claim",
     "INSERT INTO driver_claims (driver_id, request_id) VALUES ($1, $2) "
     "ON CONFLICT DO NOTHING",
     2},
    {"mat_unclaim", "DELETE FROM driver_claims WHERE driver_id = $1 AND request_id = $2",
     2},
    /* $10 state, $11 driver (NULL: none), $12 offer ttl ms (NULL: not offered) */
    {"mat_ride_insert",
     "INSERT INTO rides (request_id, rider_id, client_id, pickup_lat, pickup_lng, "
     "dropoff_lat, dropoff_lng, surge_cell, source_partition, state, driver_id, "
     "offer_expires_at, offers, eta_s, distance_m, fare_amount, fare_currency, surge, "
     "model_id, index_offsets, source_offset, source_event_id) VALUES ($1, $2, $3, $4, "
     "$5, $6, $7, $8, $9, $10, $11, now() + $12::bigint * interval '1 millisecond', "
     "$13, $14, $15, $16, $17, $18, $19, $20::bigint[], $21, $22)",
     22},
    /* a new offer, or no_driver: $3 state, $4 driver, $5 ttl, $6 passed driver */
    {"mat_ride_offer",
     "UPDATE rides SET state = $3, driver_id = coalesce($4, driver_id), "
     "offer_expires_at = now() + $5::bigint * interval '1 millisecond', "
     "offers = $6, passed = passed || $7::text[], eta_s = coalesce($8, eta_s), "
     "distance_m = coalesce($9, distance_m), fare_amount = coalesce($10, fare_amount), "
     "fare_currency = coalesce($11, fare_currency), surge = coalesce($12, surge), "
     "model_id = coalesce($13, model_id), "
     "index_offsets = coalesce($14::bigint[], index_offsets), version = version + 1, "
     "updated_at = now() WHERE request_id = $1 AND version = $2",
     14},
    {"mat_ride_move",
     "UPDATE rides SET state = $3, offer_expires_at = NULL, "
     "started_at = CASE WHEN $3 = 'started' THEN $4::timestamptz ELSE started_at END, "
     "version = version + 1, updated_at = now() "
     "WHERE request_id = $1 AND version = $2",
     4},
    {"mat_trip",
     "INSERT INTO trips (request_id, driver_id, rider_id, pickup_lat, pickup_lng, "
     "dropoff_lat, dropoff_lng, area, straight_m, started_at, completed_at) "
     "SELECT request_id, driver_id, rider_id, pickup_lat, pickup_lng, dropoff_lat, "
     "dropoff_lng, $2, $3, least(started_at, $4::timestamptz), $4::timestamptz "
     "FROM rides WHERE request_id = $1 ON CONFLICT (request_id) DO NOTHING",
     4},
    {"mat_expired",
     "SELECT request_id FROM rides WHERE state = 'offered' AND offer_expires_at < now() "
     "AND source_partition = ANY ($1::int[]) ORDER BY offer_expires_at LIMIT $2",
     2},
    /* the cells with demand in the window or a multiplier above 1, with both */
    {"mat_surge_cells",
     "SELECT c.surge_cell, coalesce(d.demand, 0), coalesce(s.multiplier, 1), "
     "coalesce(floor(extract(epoch FROM s.at) * 1000)::bigint, 0) "
     "FROM (SELECT surge_cell FROM ride_demand WHERE second > now() - $1::bigint * "
     "interval '1 millisecond' UNION SELECT surge_cell FROM surge_cells "
     "WHERE multiplier > 1) c LEFT JOIN (SELECT surge_cell, sum(requests) AS demand "
     "FROM ride_demand WHERE second > now() - $1::bigint * interval '1 millisecond' "
     "GROUP BY surge_cell) d USING (surge_cell) LEFT JOIN surge_cells s "
     "USING (surge_cell) LIMIT $2",
     2},
    /* every cell of a surge pass: $1 cells, $2 multipliers, $3 demand, $4 supply */
    {"mat_surge_put",
     "INSERT INTO surge_cells (surge_cell, multiplier, demand, supply, at) "
     "SELECT c, m, d, s, to_timestamp($5::bigint / 1000.0) FROM unnest($1::text[], "
     "$2::float8[], $3::bigint[], $4::bigint[]) AS x (c, m, d, s) "
     "ON CONFLICT (surge_cell) DO UPDATE SET multiplier = EXCLUDED.multiplier, "
     "demand = EXCLUDED.demand, supply = EXCLUDED.supply, at = EXCLUDED.at",
     5},
    {"mat_demand_purge",
     "DELETE FROM ride_demand WHERE second < now() - $1::bigint * "
     "interval '1 millisecond' - interval '1 second'",
     1},
    {"mat_model", "SELECT id, model FROM eta_models ORDER BY created_at DESC LIMIT 1",
     0},
};

/* ---- helpers ---------------------------------------------------------------------- */

static int64_t
mat_pool_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int
mat_pool_hour(int64_t ms)
{
	return (int)((ms / 3600000) % 24);
}

/* Runs a prepared statement; *ok_rows (when not NULL) = the rows it changed. Returns
 * 0, or -1 with errstr. */
static int
mat_pool_exec(struct souk_pg *pg, const char *name, int n, const char *const *v,
	      PGresult **res, long *rows, char *errstr, size_t errstr_size)
{
	PGresult *r = NULL;

	if (souk_pg_exec_prepared(pg, name, n, v, &r, errstr, errstr_size))
		return -1;
	if (rows)
		*rows = strtol(PQcmdTuples(r), NULL, 10);
	if (res)
		*res = r;
	else
		PQclear(r);
	return 0;
}

static int
mat_pool_push(char (**v)[SOUK_EVENT_IDENT_SIZE], size_t *n, size_t *cap, const char *id)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 16;
		char(*nv)[SOUK_EVENT_IDENT_SIZE] = realloc(*v, c * sizeof(**v));

		if (!nv)
			return -1;
		*v = nv, *cap = c;
	}
	snprintf((*v)[(*n)++], SOUK_EVENT_IDENT_SIZE, "%s", id);
	return 0;
}

/* FNV-1a of the cell's text: which ride-requests partition owns its surge. */
static int32_t
mat_pool_cell_owner(const char *cell, int n)
{
	uint32_t h = 2166136261u;

	for (const char *p = cell; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return (int32_t)(h % (uint32_t)n);
}

static bool
mat_pool_owns(const struct mat_pool_state *s, int32_t partition)
{
	for (size_t i = 0; i < s->nparts; i++)
		if (s->parts[i] == partition)
			return true;
	return false;
}

/* ---- the ETA model ---------------------------------------------------------------- */

/* Loads the newest stored model if it is not the one in use. */
static int
mat_pool_load_model(struct mat_pool_state *s, struct souk_pg *pg, char *errstr,
		    size_t errstr_size)
{
	PGresult *res = NULL;
	mat_eta_t *m = NULL;
	mat_eta_summary_t sum;
	int rc = -1;

	if (mat_pool_exec(pg, "mat_model", 0, NULL, &res, NULL, errstr, errstr_size))
		return -1;
	if (PQntuples(res) == 0) {
		/* until souk-eta train stored one: 30 km/h, detour 1.3 */
		rc = s->model ? 0
			      : mat_eta_flat(MAT_POOL_FLAT_MPS, MAT_POOL_FLAT_DETOUR, &m,
					     errstr, errstr_size);
	} else if (s->model && !strcmp(mat_eta_id(s->model), PQgetvalue(res, 0, 0))) {
		rc = 0;
	} else {
		rc = mat_eta_decode(PQgetvalue(res, 0, 1),
				    (size_t)PQgetlength(res, 0, 1), &m, errstr,
				    errstr_size);
	}
	if (rc == 0 && m) {
		mat_eta_destroy(s->model);
		s->model = m;
		mat_eta_summarize(m, &sum);
		s->detour = sum.detour;
		SOUK_LOG_INFO("matching_model", "id=%s trips=%lld detour=%.4f speed=%.3f",
			      mat_eta_id(m), (long long)sum.trips, sum.detour, sum.speed);
	}
	PQclear(res);
	return rc;
}

/* ---- rides ------------------------------------------------------------------------ */

/* Reads request_id's row into *r (r->exists false when there is none). */
static int
mat_pool_ride_get(struct souk_pg *pg, const char *request_id, struct mat_pool_ride *r,
		  char *errstr, size_t errstr_size)
{
	const char *v[] = {request_id};
	PGresult *res;
	char *passed, *save = NULL;

	memset(r, 0, sizeof(*r));
	snprintf(r->request_id, sizeof(r->request_id), "%s", request_id);
	if (mat_pool_exec(pg, "mat_ride_get", 1, v, &res, NULL, errstr, errstr_size))
		return -1;
	if (PQntuples(res) == 1) {
		r->exists = true;
		mat_ride_state_parse(PQgetvalue(res, 0, MAT_COL_STATE), &r->state);
		snprintf(r->driver_id, sizeof(r->driver_id), "%s",
			 PQgetvalue(res, 0, MAT_COL_DRIVER));
		r->offers = atoi(PQgetvalue(res, 0, MAT_COL_OFFERS));
		passed = PQgetvalue(res, 0, MAT_COL_PASSED);
		for (char *id = strtok_r(passed, ",", &save);
		     id && r->npassed < MAT_POOL_MAX_OFFERS; id = strtok_r(NULL, ",", &save))
			snprintf(r->passed[r->npassed++], sizeof(r->passed[0]), "%s", id);
		r->version = strtoll(PQgetvalue(res, 0, MAT_COL_VERSION), NULL, 10);
		r->pickup.lat = strtod(PQgetvalue(res, 0, MAT_COL_PICKUP_LAT), NULL);
		r->pickup.lng = strtod(PQgetvalue(res, 0, MAT_COL_PICKUP_LNG), NULL);
		r->dropoff.lat = strtod(PQgetvalue(res, 0, MAT_COL_DROPOFF_LAT), NULL);
		r->dropoff.lng = strtod(PQgetvalue(res, 0, MAT_COL_DROPOFF_LNG), NULL);
		snprintf(r->surge_cell, sizeof(r->surge_cell), "%s",
			 PQgetvalue(res, 0, MAT_COL_SURGE_CELL));
		snprintf(r->rider_id, sizeof(r->rider_id), "%s",
			 PQgetvalue(res, 0, MAT_COL_RIDER));
		snprintf(r->client_id, sizeof(r->client_id), "%s",
			 PQgetvalue(res, 0, MAT_COL_CLIENT));
		r->eta_s = strtoll(PQgetvalue(res, 0, MAT_COL_ETA), NULL, 10);
		r->fare = strtoll(PQgetvalue(res, 0, MAT_COL_FARE), NULL, 10);
		snprintf(r->currency, sizeof(r->currency), "%s",
			 PQgetvalue(res, 0, MAT_COL_CURRENCY));
		r->surge = strtod(PQgetvalue(res, 0, MAT_COL_SURGE), NULL);
		r->src_partition =
		    (int32_t)strtol(PQgetvalue(res, 0, MAT_COL_SRC_PARTITION), NULL, 10);
		r->src_offset = strtoll(PQgetvalue(res, 0, MAT_COL_SRC_OFFSET), NULL, 10);
		snprintf(r->src_event_id, sizeof(r->src_event_id), "%s",
			 PQgetvalue(res, 0, MAT_COL_SRC_EVENT));
	}
	PQclear(res);
	return 0;
}

static bool
mat_pool_passed(const struct mat_pool_ride *r, const char *driver)
{
	for (int i = 0; i < r->npassed; i++)
		if (!strcmp(r->passed[i], driver))
			return true;
	return false;
}

/* Emits r's current decision on ride-matches: its offer (matched) or no_driver. The
 * result id is derived from the request and the number of decisions before this one,
 * so the same decision sent again keeps its id. */
static int
mat_pool_emit_match(struct mat_pool_state *s, struct souk_txn *t,
		    const struct souk_pool_event *src, const struct mat_pool_ride *r,
		    char *errstr, size_t errstr_size)
{
	souk_event_t ev = {.type = SOUK_EVENT_TYPE_RIDE_MATCH,
			   .version = SOUK_EVENT_VERSION};
	souk_event_ride_match_t *m = &ev.ride_match;
	bool matched = r->state != MAT_RIDE_NO_DRIVER && r->state != MAT_RIDE_CANCELLED;
	unsigned long decision = (unsigned long)(matched ? r->offers - 1 : r->offers);
	size_t len;
	char why[256];

	souk_uuid_derive("souk-ride-match", r->request_id, decision, ev.event_id);
	souk_event_ts_now(ev.ts);
	snprintf(ev.client_id, sizeof(ev.client_id), "matching");
	snprintf(m->request_id, sizeof(m->request_id), "%s", r->request_id);
	snprintf(m->source_event_id, sizeof(m->source_event_id), "%s", r->src_event_id);
	m->status = matched ? SOUK_EVENT_MATCH_MATCHED : SOUK_EVENT_MATCH_NO_DRIVER;
	if (matched) {
		snprintf(m->driver_id, sizeof(m->driver_id), "%s", r->driver_id);
		m->eta_s = r->eta_s;
		m->fare.amount = r->fare;
		snprintf(m->fare.currency, sizeof(m->fare.currency), "%s", r->currency);
		m->surge = r->surge;
	}
	if (souk_event_encode(&ev, s->scratch, sizeof(s->scratch), &len, why,
			      sizeof(why))) {
		snprintf(errstr, errstr_size, "could not encode the match of %s: %s",
			 r->request_id, why);
		return -1;
	}
	if (souk_txn_emit(t, src, MAT_POOL_MATCHES, r->request_id, s->scratch, len,
			  ev.event_id)) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	return 0;
}

/* The index's locations offsets as a PostgreSQL array literal into buf. */
static void
mat_pool_offsets_text(struct mat_pool_state *s, char *buf, size_t size)
{
	int64_t offsets[MAT_INDEX_PARTITIONS_MAX];
	size_t n, at = 0;

	mat_feed_offsets(s->feed, offsets, MAT_INDEX_PARTITIONS_MAX, &n);
	at += (size_t)snprintf(buf, size, "{");
	for (size_t i = 0; i < n && at < size; i++)
		at += (size_t)snprintf(buf + at, size - at, "%s%" PRId64, i ? "," : "",
				       offsets[i]);
	if (at < size)
		snprintf(buf + at, size - at, "}");
}

/*
 * Finds the next driver for r (none of r->passed) and claims it. On success r carries
 * the offer (driver, ETA, fare, surge) with r->state offered; with nobody left,
 * r->state is no_driver. distance_m gets the driver's distance. Returns 0, or -1 with
 * errstr.
 */
static int
mat_pool_find(struct mat_pool_state *s, struct souk_pg *pg, struct mat_pool_ride *r,
	      double *distance_m, char *errstr, size_t errstr_size)
{
	const char *exclude[MAT_POOL_MAX_OFFERS + MAT_POOL_CLAIM_TRIES];
	char taken[MAT_POOL_CLAIM_TRIES][SOUK_EVENT_IDENT_SIZE];
	size_t nexclude = 0;
	int64_t now = mat_pool_now_ms();
	H3Index area;
	mat_match_request_t req;
	mat_match_result_t found;

	r->state = MAT_RIDE_NO_DRIVER;
	if (r->offers >= s->max_offers)
		return 0;
	if (mat_geo_cell(r->pickup, s->area_res, &area, errstr, errstr_size))
		return -1;
	for (int i = 0; i < r->npassed; i++)
		exclude[nexclude++] = r->passed[i];
	for (int tries = 0; tries < MAT_POOL_CLAIM_TRIES; tries++) {
		const char *v[] = {NULL, r->request_id};
		mat_match_status_t st;
		long rows;

		req = (mat_match_request_t){.pickup = r->pickup,
					    .area = (int64_t)area,
					    .hour = mat_pool_hour(now),
					    .now_ms = now,
					    .k_max = s->k_max,
					    .exclude = exclude,
					    .n_exclude = nexclude};
		st = mat_match_find(mat_feed_read(s->feed), s->model, &req, &found, errstr,
				    errstr_size);
		mat_feed_unlock(s->feed);
		if (st == MAT_MATCH_ERROR)
			return -1;
		if (st == MAT_MATCH_NO_DRIVER)
			return 0;
		v[0] = found.driver_id;
		if (mat_pool_exec(pg, "mat_claim", 2, v, NULL, &rows, errstr, errstr_size))
			return -1;
		if (rows == 1)
			break;
		/* Another ride holds the driver: the overlay learns it, the search goes
		 * on without them. */
		snprintf(taken[tries], sizeof(taken[0]), "%s", found.driver_id);
		exclude[nexclude++] = taken[tries];
		found.driver_id[0] = '\0';
	}
	if (!found.driver_id[0])
		return 0;
	if (mat_feed_claim(s->feed, found.driver_id, errstr, errstr_size) ||
	    mat_pool_push(&s->claims, &s->nclaims, &s->cap_claims, found.driver_id)) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	{
		/* The quote: the trip's straight line x the detour, its duration from
		 * the model, at the cell's surge as shown (tenths). */
		double trip_m = mat_geo_distance_m(r->pickup, r->dropoff), trip_s;
		const char *v[] = {r->surge_cell};
		PGresult *res;
		int tenths;

		if (mat_eta_predict(s->model, (int64_t)area, req.hour, trip_m, NULL,
				    &trip_s) ||
		    mat_pool_exec(pg, "mat_surge_get", 1, v, &res, NULL, errstr,
				  errstr_size))
			return -1;
		tenths = mat_surge_tenths(PQntuples(res) ? strtod(PQgetvalue(res, 0, 0), NULL)
							 : 1.0);
		PQclear(res);
		if (mat_fare_quote(&s->tariff, llround(trip_m * s->detour), llround(trip_s),
				   tenths, &r->fare, errstr, errstr_size))
			return -1;
		r->surge = tenths / 10.0;
	}
	snprintf(r->driver_id, sizeof(r->driver_id), "%s", found.driver_id);
	snprintf(r->currency, sizeof(r->currency), "%s", s->tariff.currency);
	r->eta_s = llround(found.eta_s) > 86400 ? 86400 : llround(found.eta_s);
	*distance_m = found.distance_m;
	r->state = MAT_RIDE_OFFERED;
	r->offers++;
	return 0;
}

/* One more request in cell this batch. O(cells in the batch). */
static int
mat_pool_count_demand(struct mat_pool_state *s, const char *cell)
{
	struct mat_pool_demand *d;

	for (size_t i = 0; i < s->ndemand; i++)
		if (!strcmp(s->demand[i].cell, cell)) {
			s->demand[i].requests++;
			return 0;
		}
	if (s->ndemand == s->cap_demand) {
		size_t cap = s->cap_demand ? 2 * s->cap_demand : 16;

		if (!(d = realloc(s->demand, cap * sizeof(*d))))
			return -1;
		s->demand = d, s->cap_demand = cap;
	}
	d = &s->demand[s->ndemand++];
	snprintf(d->cell, sizeof(d->cell), "%s", cell);
	d->requests = 1;
	return 0;
}

static int
mat_pool_demand_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mat_pool_demand *)a)->cell,
		      ((const struct mat_pool_demand *)b)->cell);
}

/* Writes the batch's demand, cells in sorted order, in one statement. */
static int
mat_pool_flush_demand(struct mat_pool_state *s, struct souk_pg *pg, char *errstr,
		      size_t errstr_size)
{
	struct souk_pgarray cells, counts;
	const char *v[2];
	int rc = -1;

	if (s->ndemand == 0)
		return 0;
	qsort(s->demand, s->ndemand, sizeof(*s->demand), mat_pool_demand_cmp);
	souk_pgarray_init(&cells);
	souk_pgarray_init(&counts);
	for (size_t i = 0; i < s->ndemand; i++) {
		souk_pgarray_add_str(&cells, s->demand[i].cell);
		souk_pgarray_add_int(&counts, s->demand[i].requests);
	}
	v[0] = souk_pgarray_text(&cells);
	v[1] = souk_pgarray_text(&counts);
	if (!v[0] || !v[1])
		snprintf(errstr, errstr_size, "out of memory");
	else
		rc = mat_pool_exec(pg, "mat_demand", 2, v, NULL, NULL, errstr, errstr_size);
	souk_pgarray_free(&cells);
	souk_pgarray_free(&counts);
	s->ndemand = 0;
	return rc;
}

/* A request: a ride seen before answers its current decision again; a new one counts
 * its demand, finds and claims a driver, and is written. */
static int
mat_pool_request(struct mat_pool_state *s, struct souk_txn *t,
		 const struct souk_pool_event *e, char *errstr, size_t errstr_size)
{
	const souk_event_ride_request_t *q = &e->ev.ride_request;
	struct souk_pg *pg = souk_txn_pg(t);
	struct mat_pool_ride r;
	H3Index cell;
	double distance_m = 0;
	char offsets[MAT_INDEX_PARTITIONS_MAX * 21 + 3];
	char n[12][32];

	if (mat_pool_ride_get(pg, q->request_id, &r, errstr, errstr_size))
		return -1;
	if (r.exists) {
		souk_metrics_counter_add(s->requests[MAT_REQ_REPEAT], 1);
		return r.state == MAT_RIDE_CANCELLED
			   ? 0
			   : mat_pool_emit_match(s, t, e, &r, errstr, errstr_size);
	}
	snprintf(r.rider_id, sizeof(r.rider_id), "%s", q->rider_id);
	snprintf(r.client_id, sizeof(r.client_id), "%s", e->ev.client_id);
	r.pickup = (struct mat_geo_point){q->pickup.lat, q->pickup.lng};
	r.dropoff = (struct mat_geo_point){q->dropoff.lat, q->dropoff.lng};
	r.src_partition = e->partition;
	r.src_offset = e->offset;
	snprintf(r.src_event_id, sizeof(r.src_event_id), "%s", e->ev.event_id);
	if (mat_geo_cell(r.pickup, s->surge_res, &cell, errstr, errstr_size))
		return -1;
	{
		char hex[17]; /* H3 wants room for 16 digits; a cell has 15 */

		h3ToString(cell, hex, sizeof(hex));
		snprintf(r.surge_cell, sizeof(r.surge_cell), "%.15s", hex);
	}
	if (mat_pool_count_demand(s, r.surge_cell)) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	if (mat_pool_find(s, pg, &r, &distance_m, errstr, errstr_size))
		return -1;
	mat_pool_offsets_text(s, offsets, sizeof(offsets));
	snprintf(n[0], sizeof(n[0]), "%.7f", r.pickup.lat);
	snprintf(n[1], sizeof(n[1]), "%.7f", r.pickup.lng);
	snprintf(n[2], sizeof(n[2]), "%.7f", r.dropoff.lat);
	snprintf(n[3], sizeof(n[3]), "%.7f", r.dropoff.lng);
	snprintf(n[4], sizeof(n[4]), "%" PRId32, r.src_partition);
	snprintf(n[5], sizeof(n[5]), "%" PRId64, s->offer_ttl_ms);
	snprintf(n[6], sizeof(n[6]), "%d", r.offers);
	snprintf(n[7], sizeof(n[7]), "%" PRId64, r.eta_s);
	snprintf(n[8], sizeof(n[8]), "%lld", llround(distance_m));
	snprintf(n[9], sizeof(n[9]), "%" PRId64, r.fare);
	snprintf(n[10], sizeof(n[10]), "%.1f", r.surge);
	snprintf(n[11], sizeof(n[11]), "%" PRId64, r.src_offset);
	{
		bool offered = r.state == MAT_RIDE_OFFERED;
		const char *v[] = {r.request_id,
				   r.rider_id,
				   r.client_id,
				   n[0],
				   n[1],
				   n[2],
				   n[3],
				   r.surge_cell,
				   n[4],
				   mat_ride_state_name(r.state),
				   offered ? r.driver_id : NULL,
				   offered ? n[5] : NULL,
				   n[6],
				   offered ? n[7] : NULL,
				   offered ? n[8] : NULL,
				   offered ? n[9] : NULL,
				   offered ? r.currency : NULL,
				   offered ? n[10] : NULL,
				   offered ? mat_eta_id(s->model) : NULL,
				   offsets,
				   n[11],
				   r.src_event_id};

		if (mat_pool_exec(pg, "mat_ride_insert", 22, v, NULL, NULL, errstr,
				  errstr_size))
			return -1;
		souk_metrics_counter_add(
		    s->requests[offered ? MAT_REQ_MATCHED : MAT_REQ_NO_DRIVER], 1);
		if (offered)
			souk_metrics_counter_add(s->offers[MAT_OFFER_REQUEST], 1);
	}
	return mat_pool_emit_match(s, t, e, &r, errstr, errstr_size);
}

/* Frees r's driver (the claim row now, the overlay after the commit). */
static int
mat_pool_unclaim(struct mat_pool_state *s, struct souk_pg *pg,
		 const struct mat_pool_ride *r, char *errstr, size_t errstr_size)
{
	const char *v[] = {r->driver_id, r->request_id};

	if (mat_pool_exec(pg, "mat_unclaim", 2, v, NULL, NULL, errstr, errstr_size))
		return -1;
	if (mat_pool_push(&s->releases, &s->nreleases, &s->cap_releases, r->driver_id)) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	return 0;
}

/* The offered driver passed (declined, or the offer expired): frees them, offers the
 * next driver (or ends no_driver) and sends the decision. 1 when another consumer
 * moved the ride first (the version changed), else 0 or -1 with errstr. */
static int
mat_pool_reoffer(struct mat_pool_state *s, struct souk_txn *t,
		 const struct souk_pool_event *src, struct mat_pool_ride *r, int reason,
		 char *errstr, size_t errstr_size)
{
	struct souk_pg *pg = souk_txn_pg(t);
	char passed[SOUK_EVENT_IDENT_SIZE + 2], offsets[MAT_INDEX_PARTITIONS_MAX * 21 + 3];
	char n[7][32];
	double distance_m = 0;
	bool offered;
	long rows;

	if (mat_pool_unclaim(s, pg, r, errstr, errstr_size))
		return -1;
	snprintf(passed, sizeof(passed), "{%s}", r->driver_id);
	snprintf(r->passed[r->npassed++], sizeof(r->passed[0]), "%s", r->driver_id);
	if (mat_pool_find(s, pg, r, &distance_m, errstr, errstr_size))
		return -1;
	offered = r->state == MAT_RIDE_OFFERED;
	mat_pool_offsets_text(s, offsets, sizeof(offsets));
	snprintf(n[0], sizeof(n[0]), "%" PRId64, r->version);
	snprintf(n[1], sizeof(n[1]), "%" PRId64, s->offer_ttl_ms);
	snprintf(n[2], sizeof(n[2]), "%d", r->offers);
	snprintf(n[3], sizeof(n[3]), "%" PRId64, r->eta_s);
	snprintf(n[4], sizeof(n[4]), "%lld", llround(distance_m));
	snprintf(n[5], sizeof(n[5]), "%" PRId64, r->fare);
	snprintf(n[6], sizeof(n[6]), "%.1f", r->surge);
	{
		const char *v[] = {r->request_id,
				   n[0],
				   mat_ride_state_name(r->state),
				   offered ? r->driver_id : NULL,
				   offered ? n[1] : NULL,
				   n[2],
				   passed,
				   offered ? n[3] : NULL,
				   offered ? n[4] : NULL,
				   offered ? n[5] : NULL,
				   offered ? r->currency : NULL,
				   offered ? n[6] : NULL,
				   offered ? mat_eta_id(s->model) : NULL,
				   offered ? offsets : NULL};

		if (mat_pool_exec(pg, "mat_ride_offer", 14, v, NULL, &rows, errstr,
				  errstr_size))
			return -1;
	}
	if (rows == 0)
		return 1;
	souk_metrics_counter_add(s->offers[reason], 1);
	return mat_pool_emit_match(s, t, src, r, errstr, errstr_size);
}

/* The pickup's area and the straight line of r's trip, for the trips table. */
static int
mat_pool_trip(struct mat_pool_state *s, struct souk_pg *pg, const struct mat_pool_ride *r,
	      const char *completed_ts, char *errstr, size_t errstr_size)
{
	H3Index area;
	char a[24], m[32];
	const char *v[] = {r->request_id, a, m, completed_ts};

	if (mat_geo_cell(r->pickup, s->area_res, &area, errstr, errstr_size))
		return -1;
	snprintf(a, sizeof(a), "%" PRId64, (int64_t)area);
	snprintf(m, sizeof(m), "%.1f", mat_geo_distance_m(r->pickup, r->dropoff));
	return mat_pool_exec(pg, "mat_trip", 4, v, NULL, NULL, errstr, errstr_size);
}

/* A ride event (mat_ride.h). 1 when the ride moved under us (retry the batch). */
static int
mat_pool_event(struct mat_pool_state *s, struct souk_txn *t,
	       const struct souk_pool_event *e, char *errstr, size_t errstr_size)
{
	const souk_event_ride_event_t *re = &e->ev.ride_event;
	struct souk_pg *pg = souk_txn_pg(t);
	struct mat_pool_ride r;
	enum mat_ride_state next;
	char why[256], version[24];
	long rows;

	if (mat_pool_ride_get(pg, re->request_id, &r, errstr, errstr_size))
		return -1;
	if (!r.exists) {
		souk_metrics_counter_add(s->events[MAT_EV_UNKNOWN], 1);
		snprintf(why, sizeof(why), "%s of an unknown ride request",
			 re->action == SOUK_EVENT_RIDE_CANCEL ? "cancel" : "event");
		return souk_txn_dlq(t, e, why) ? -1 : 0;
	}
	switch (mat_ride_judge(r.state, r.driver_id, mat_pool_passed(&r, re->driver_id),
			       re->action, re->driver_id, &next, why, sizeof(why))) {
	case MAT_RIDE_DUPLICATE:
		souk_metrics_counter_add(s->events[MAT_EV_DUPLICATE], 1);
		return 0;
	case MAT_RIDE_ILLEGAL:
		souk_metrics_counter_add(s->events[MAT_EV_ILLEGAL], 1);
		return souk_txn_dlq(t, e, why) ? -1 : 0;
	case MAT_RIDE_REOFFER: {
		/* results carry the request's coordinates, like a timer's */
		int rc = mat_pool_reoffer(s, t, e, &r, MAT_OFFER_DECLINE, errstr,
					  errstr_size);

		if (rc == 0)
			souk_metrics_counter_add(s->events[MAT_EV_APPLIED], 1);
		return rc;
	}
	case MAT_RIDE_MOVE:
		break;
	}
	snprintf(version, sizeof(version), "%" PRId64, r.version);
	{
		const char *v[] = {r.request_id, version, mat_ride_state_name(next), e->ev.ts};

		if (mat_pool_exec(pg, "mat_ride_move", 4, v, NULL, &rows, errstr,
				  errstr_size))
			return -1;
	}
	if (rows == 0)
		return 1;
	if ((next == MAT_RIDE_COMPLETED &&
	     mat_pool_trip(s, pg, &r, e->ev.ts, errstr, errstr_size)) ||
	    ((next == MAT_RIDE_COMPLETED || next == MAT_RIDE_CANCELLED) &&
	     mat_pool_unclaim(s, pg, &r, errstr, errstr_size)))
		return -1;
	souk_metrics_counter_add(s->events[MAT_EV_APPLIED], 1);
	return 0;
}

/* ---- the pool's hooks -------------------------------------------------------------- */

static void mat_pool_close(void *state);

static int
mat_pool_metrics(struct mat_pool_state *s, struct souk_metrics *reg, char *errstr,
		 size_t errstr_size)
{
	static const char *const req[] = {"matched", "no_driver", "repeat"};
	static const char *const off[] = {"request", "decline", "expired"};
	static const char *const ev[] = {"applied", "duplicate", "illegal",
					 "unknown_request"};
	struct souk_metrics_family *fr, *fo, *fe, *fs;

	fr = souk_metrics_register_counter(reg, "souk_matching_requests_total",
					   "Ride requests, by first decision (repeat: a "
					   "request seen before, answered again).",
					   (const char *const[]){"outcome", NULL}, errstr,
					   errstr_size);
	fo = souk_metrics_register_counter(
	    reg, "souk_matching_offers_total",
	    "Offers made, by what led to them.", (const char *const[]){"after", NULL},
	    errstr, errstr_size);
	fe = souk_metrics_register_counter(reg, "souk_matching_ride_events_total",
					   "Ride events, by verdict.",
					   (const char *const[]){"verdict", NULL}, errstr,
					   errstr_size);
	fs = souk_metrics_register_counter(reg, "souk_matching_surge_published_total",
					   "Surge multipliers published.", NULL, errstr,
					   errstr_size);
	if (!fr || !fo || !fe || !fs)
		return -1;
	for (int i = 0; i < 3; i++) {
		s->requests[i] = souk_metrics_series(fr, (const char *const[]){req[i]});
		s->offers[i] = souk_metrics_series(fo, (const char *const[]){off[i]});
	}
	for (int i = 0; i < 4; i++)
		s->events[i] = souk_metrics_series(fe, (const char *const[]){ev[i]});
	s->surge_sent = souk_metrics_series(fs, NULL);
	return 0;
}

/* The tariff and the surge parameters from the configuration. */
static int
mat_pool_prices(struct mat_pool_state *s, const struct souk_config *c, char *errstr,
		size_t errstr_size)
{
	const char *cur = souk_config_get_string(c, "matching.currency");
	const struct {
		const char *key;
		int64_t *out;
	} money[] = {
	    {"matching.fare_base", &s->tariff.base},
	    {"matching.fare_per_km", &s->tariff.per_km},
	    {"matching.fare_per_minute", &s->tariff.per_minute},
	    {"matching.fare_minimum", &s->tariff.minimum},
	};
	const struct {
		const char *key;
		double *out;
	} num[] = {
	    {"matching.surge_threshold", &s->surge.threshold},
	    {"matching.surge_slope", &s->surge.slope},
	    {"matching.surge_cap", &s->surge.cap},
	};
	char why[256];

	if (souk_event_currency_exponent(cur) < 0) {
		snprintf(errstr, errstr_size, "matching.currency: \"%s\" is not a currency souk accepts", cur);
		return -1;
	}
	snprintf(s->tariff.currency, sizeof(s->tariff.currency), "%s", cur);
	for (size_t i = 0; i < sizeof(money) / sizeof(money[0]); i++)
		if (mat_fare_parse(souk_config_get_string(c, money[i].key), cur, money[i].out,
				   why, sizeof(why))) {
			snprintf(errstr, errstr_size, "%s: %s", money[i].key, why);
			return -1;
		}
	mat_surge_params_default(&s->surge);
	for (size_t i = 0; i < sizeof(num) / sizeof(num[0]); i++) {
		const char *v = souk_config_get_string(c, num[i].key);
		char *end;

		*num[i].out = strtod(v, &end);
		if (end == v || *end) {
			snprintf(errstr, errstr_size, "%s: could not parse \"%s\" as a number",
				 num[i].key, v);
			return -1;
		}
	}
	s->surge.half_life_ms = souk_config_get_duration_ms(c, "matching.surge_half_life");
	if (mat_surge_params_check(&s->surge, why, sizeof(why))) {
		snprintf(errstr, errstr_size, "matching.surge_%s", why);
		return -1;
	}
	return 0;
}

static int
mat_pool_collect_prop(const char *name, const char *value, void *opaque)
{
	struct {
		struct souk_kafka_prop v[64];
		size_t n;
	} *p = opaque;

	if (p->n == 64)
		return 1;
	p->v[p->n++] = (struct souk_kafka_prop){name, value};
	return 0;
}

static int
mat_pool_open(void **state, const struct souk_pool_env *env, struct souk_pg *pg,
	      char *errstr, size_t errstr_size)
{
	const struct souk_config *c = env->config;
	struct mat_pool_state *s = calloc(1, sizeof(*s));
	struct {
		struct souk_kafka_prop v[64];
		size_t n;
	} props = {.n = 0};
	struct mat_feed_conf fc;
	struct souk_kafka_producer *p = NULL;

	if (!s) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	*state = s;
	s->res = (int)souk_config_get_int(c, "matching.res");
	s->area_res = (int)souk_config_get_int(c, "matching.area_res");
	s->surge_res = (int)souk_config_get_int(c, "matching.surge_res");
	s->k_max = (int)souk_config_get_int(c, "matching.k_max");
	s->max_offers = (int)souk_config_get_int(c, "matching.max_offers");
	s->offer_ttl_ms = souk_config_get_duration_ms(c, "matching.offer_ttl");
	s->surge_window_ms = souk_config_get_duration_ms(c, "matching.surge_window");
	s->surge_interval_ms = souk_config_get_duration_ms(c, "matching.surge_interval");
	if (s->surge_res > s->res) {
		snprintf(errstr, errstr_size,
			 "matching.surge_res %d is finer than matching.res %d", s->surge_res,
			 s->res);
		goto fail;
	}
	if (mat_pool_prices(s, c, errstr, errstr_size) ||
	    mat_pool_metrics(s, env->metrics, errstr, errstr_size))
		goto fail;
	for (size_t i = 0; i < sizeof(mat_pool_sql) / sizeof(mat_pool_sql[0]); i++)
		if (souk_pg_prepare(pg, mat_pool_sql[i].name, mat_pool_sql[i].sql,
				    mat_pool_sql[i].nparams, errstr, errstr_size))
			goto fail;
	if (mat_pool_load_model(s, pg, errstr, errstr_size))
		goto fail;
	s->model_checked_ms = mat_pool_now_ms();
	/* ride-requests' partition count: which partition owns a cell's surge */
	p = souk_kafka_producer_new(souk_config_get_string(c, "kafka.brokers"), NULL, 0, 0,
				    NULL, NULL, errstr, errstr_size);
	if (!p || (s->nreq_partitions = souk_kafka_partition_count(
		       souk_kafka_producer_handle(p), MAT_POOL_REQUESTS, 10000, errstr,
		       errstr_size)) < 1)
		goto fail;
	souk_kafka_producer_destroy(p);
	p = NULL;
	souk_config_foreach_prefix(c, "kafka.", mat_pool_collect_prop, &props);
	fc = (struct mat_feed_conf){
	    .brokers = souk_config_get_string(c, "kafka.brokers"),
	    .props = props.v,
	    .nprops = props.n,
	    .pg_dsn = souk_config_get_string(c, "pg.dsn"),
	    .res = s->res,
	    .stale_ms = souk_config_get_duration_ms(c, "matching.stale"),
	    .claims_refresh_ms = souk_config_get_duration_ms(c, "matching.claims_refresh"),
	    .ready_timeout_ms = souk_config_get_duration_ms(c, "matching.ready_timeout"),
	};
	if (!(s->feed = mat_feed_acquire(&fc, errstr, errstr_size)))
		goto fail;
	return 0;
fail:
	souk_kafka_producer_destroy(p);
	mat_pool_close(s);
	*state = NULL;
	return -1;
}

static void
mat_pool_close(void *state)
{
	struct mat_pool_state *s = state;

	if (!s)
		return;
	mat_feed_release(s->feed);
	mat_eta_destroy(s->model);
	free(s->demand);
	free(s->claims);
	free(s->releases);
	free(s);
}

/* What a failed statement means for the batch: a deadlock or a serialization failure
 * (SQLSTATE class 40) or no SQLSTATE at all (the connection) is worth a retry; any
 * other error is an event's, found by running the events one by one. */
static enum souk_pool_status
mat_pool_failure(struct souk_pg *pg)
{
	const char *state = souk_pg_sqlstate(pg);

	return !state[0] || !strncmp(state, "40", 2) ? SOUK_POOL_RETRY : SOUK_POOL_FAIL;
}

static enum souk_pool_status
mat_pool_apply(void *state, struct souk_txn *t, struct souk_pool_event *events, size_t n,
	       char *errstr, size_t errstr_size)
{
	struct mat_pool_state *s = state;

	s->ndemand = 0; /* a batch run again starts over */
	for (size_t i = 0; i < n; i++) {
		struct souk_pool_event *e = &events[i];
		int rc;

		if (e->status != SOUK_EVENT_OK) {
			/* a field breaks a rule: there is no answer to address */
			if (souk_txn_dlq(t, e, e->err.message))
				return SOUK_POOL_RETRY;
			continue;
		}
		if (e->ev.type == SOUK_EVENT_TYPE_RIDE_REQUEST)
			rc = mat_pool_request(s, t, e, errstr, errstr_size);
		else if (e->ev.type == SOUK_EVENT_TYPE_RIDE_EVENT)
			rc = mat_pool_event(s, t, e, errstr, errstr_size);
		else
			rc = souk_txn_dlq(t, e, "not a ride_request or ride_event") ? -1 : 0;
		if (rc == 1) {
			snprintf(errstr, errstr_size, "ride %s moved under this batch",
				 e->ev.ride_request.request_id);
			return SOUK_POOL_RETRY;
		}
		if (rc)
			return mat_pool_failure(souk_txn_pg(t));
	}
	return mat_pool_flush_demand(s, souk_txn_pg(t), errstr, errstr_size)
		   ? mat_pool_failure(souk_txn_pg(t))
		   : SOUK_POOL_OK;
}

static void
mat_pool_after(void *state, int committed)
{
	struct mat_pool_state *s = state;
	const char *claims[64], *rel[64];
	size_t i = 0, j = 0;

	/* in runs of 64 so the arrays of pointers stay on the stack */
	while (i < s->nclaims || j < s->nreleases) {
		size_t nc = 0, nr = 0;

		for (; i < s->nclaims && nc < 64; i++)
			claims[nc++] = s->claims[i];
		for (; j < s->nreleases && nr < 64; j++)
			rel[nr++] = s->releases[j];
		mat_feed_settle(s->feed, claims, nc, rel, nr, committed);
	}
	s->nclaims = s->nreleases = 0;
}

static void
mat_pool_assigned(void *state, const char *topic, int32_t partition)
{
	struct mat_pool_state *s = state;

	if (strcmp(topic, MAT_POOL_REQUESTS) || s->nparts == MAT_POOL_MAX_PARTITIONS ||
	    mat_pool_owns(s, partition))
		return;
	s->parts[s->nparts++] = partition;
}

static void
mat_pool_revoked(void *state, const char *topic, int32_t partition)
{
	struct mat_pool_state *s = state;

	if (strcmp(topic, MAT_POOL_REQUESTS))
		return;
	for (size_t i = 0; i < s->nparts; i++)
		if (s->parts[i] == partition) {
			s->parts[i] = s->parts[--s->nparts];
			return;
		}
}

/* Offers that expired on the partitions this thread owns go to the next driver. */
static int
mat_pool_expire(struct mat_pool_state *s, struct souk_txn *t, char *errstr,
		size_t errstr_size)
{
	struct souk_pg *pg = souk_txn_pg(t);
	struct souk_pgarray parts;
	PGresult *res = NULL;
	char limit[16];
	int rc = -1;

	souk_pgarray_init(&parts);
	for (size_t i = 0; i < s->nparts; i++)
		souk_pgarray_add_int(&parts, s->parts[i]);
	snprintf(limit, sizeof(limit), "%d", MAT_POOL_EXPIRE_LIMIT);
	{
		const char *v[] = {souk_pgarray_text(&parts), limit};

		if (!v[0]) {
			snprintf(errstr, errstr_size, "out of memory");
			goto out;
		}
		if (mat_pool_exec(pg, "mat_expired", 2, v, &res, NULL, errstr, errstr_size))
			goto out;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		struct mat_pool_ride r;
		struct souk_pool_event src = {.topic = MAT_POOL_REQUESTS};

		if (mat_pool_ride_get(pg, PQgetvalue(res, i, 0), &r, errstr, errstr_size))
			goto out;
		if (!r.exists || r.state != MAT_RIDE_OFFERED)
			continue;
		src.partition = r.src_partition;
		src.offset = r.src_offset;
		snprintf(src.ev.event_id, sizeof(src.ev.event_id), "%s", r.src_event_id);
		if (mat_pool_reoffer(s, t, &src, &r, MAT_OFFER_EXPIRED, errstr, errstr_size) <
		    0)
			goto out;
	}
	rc = 0;
out:
	PQclear(res);
	souk_pgarray_free(&parts);
	return rc;
}

/* Supply in a surge cell: the offerable drivers in its children at the index's
 * resolution (7^(res - surge_res) cells, 49 for 9 and 7). */
static int64_t
mat_pool_supply(struct mat_pool_state *s, H3Index cell, int64_t now)
{
	int64_t n = 0, supply = 0;
	H3Index *children;
	const mat_index_t *idx;

	if (cellToChildrenSize(cell, s->res, &n) || n <= 0 ||
	    !(children = calloc((size_t)n, sizeof(*children))))
		return 0;
	if (cellToChildren(cell, s->res, children) == E_SUCCESS) {
		idx = mat_feed_read(s->feed);
		for (int64_t i = 0; i < n; i++)
			if (children[i])
				supply += mat_index_supply(idx, children[i], now);
		mat_feed_unlock(s->feed);
	}
	free(children);
	return supply;
}

/* Sends cell's multiplier (in tenths, as quoted) on the surge topic. */
static int
mat_pool_emit_surge(struct mat_pool_state *s, struct souk_txn *t, const char *cell,
		    int32_t owner, double multiplier, int64_t demand, int64_t supply,
		    int64_t now, char *errstr, size_t errstr_size)
{
	souk_event_t ev = {.type = SOUK_EVENT_TYPE_SURGE, .version = SOUK_EVENT_VERSION};
	/* made by the timer: the owner's partition, no source message */
	struct souk_pool_event src = {.topic = MAT_POOL_REQUESTS,
				      .partition = owner,
				      .offset = -1};
	char why[256];
	size_t len;

	snprintf(ev.surge.cell, sizeof(ev.surge.cell), "%s", cell);
	ev.surge.multiplier = mat_surge_tenths(multiplier) / 10.0;
	ev.surge.demand = demand;
	ev.surge.supply = supply;
	ev.surge.window_s = s->surge_window_ms / 1000;
	/* one id per cell and instant: a re-sent row keeps it */
	souk_uuid_derive("souk-surge", cell, (unsigned long)now, ev.event_id);
	souk_event_ts_now(ev.ts);
	snprintf(ev.client_id, sizeof(ev.client_id), "matching");
	if (souk_event_encode(&ev, s->scratch, sizeof(s->scratch), &len, why,
			      sizeof(why))) {
		snprintf(errstr, errstr_size, "could not encode the surge of %s: %s", cell,
			 why);
		return -1;
	}
	if (souk_txn_emit(t, &src, MAT_POOL_SURGE, cell, s->scratch, len, ev.event_id)) {
		snprintf(errstr, errstr_size, "out of memory");
		return -1;
	}
	souk_metrics_counter_add(s->surge_sent, 1);
	return 0;
}

/* The surge of the cells this thread owns: moved toward their targets and stored (one
 * statement), published when the quoted multiplier (tenths) changed or the cell is
 * new; old demand purged. */
static int
mat_pool_surge(struct mat_pool_state *s, struct souk_txn *t, char *errstr,
	       size_t errstr_size)
{
	struct souk_pg *pg = souk_txn_pg(t);
	struct souk_pgarray cells, mults, demands, supplies;
	char window[24], limit[16], at[24];
	const char *v[] = {window, limit};
	int64_t now = mat_pool_now_ms();
	PGresult *res = NULL;
	size_t n = 0;
	int rc = -1;

	souk_pgarray_init(&cells);
	souk_pgarray_init(&mults);
	souk_pgarray_init(&demands);
	souk_pgarray_init(&supplies);
	snprintf(window, sizeof(window), "%" PRId64, s->surge_window_ms);
	snprintf(limit, sizeof(limit), "%d", MAT_POOL_SURGE_LIMIT);
	if (mat_pool_exec(pg, "mat_surge_cells", 2, v, &res, NULL, errstr, errstr_size))
		goto out;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *cell = PQgetvalue(res, i, 0);
		int32_t owner = mat_pool_cell_owner(cell, s->nreq_partitions);
		int64_t demand = strtoll(PQgetvalue(res, i, 1), NULL, 10), supply;
		mat_surge_state_t st = {strtod(PQgetvalue(res, i, 2), NULL),
					strtoll(PQgetvalue(res, i, 3), NULL, 10)};
		int before = mat_surge_tenths(st.multiplier);
		bool fresh = st.at_ms == 0;
		char m[32];
		H3Index h;

		if (!mat_pool_owns(s, owner) || stringToH3(cell, &h) != E_SUCCESS)
			continue;
		supply = mat_pool_supply(s, h, now);
		if (fresh)
			mat_surge_state_init(&st, now);
		mat_surge_update(&s->surge, &st, demand, supply, now);
		snprintf(m, sizeof(m), "%.4f", st.multiplier);
		souk_pgarray_add_str(&cells, cell);
		souk_pgarray_add_str(&mults, m);
		souk_pgarray_add_int(&demands, demand);
		souk_pgarray_add_int(&supplies, supply);
		n++;
		if ((fresh || mat_surge_tenths(st.multiplier) != before) &&
		    mat_pool_emit_surge(s, t, cell, owner, st.multiplier, demand, supply, now,
					errstr, errstr_size))
			goto out;
	}
	snprintf(at, sizeof(at), "%" PRId64, now);
	if (n) {
		const char *p[] = {souk_pgarray_text(&cells), souk_pgarray_text(&mults),
				   souk_pgarray_text(&demands), souk_pgarray_text(&supplies),
				   at};

		if (!p[0] || !p[1] || !p[2] || !p[3]) {
			snprintf(errstr, errstr_size, "out of memory");
			goto out;
		}
		if (mat_pool_exec(pg, "mat_surge_put", 5, p, NULL, NULL, errstr, errstr_size))
			goto out;
	}
	/* one thread purges: the owner of partition 0 */
	rc = mat_pool_owns(s, 0) ? mat_pool_exec(pg, "mat_demand_purge", 1, v, NULL, NULL,
						 errstr, errstr_size)
				 : 0;
out:
	PQclear(res);
	souk_pgarray_free(&cells);
	souk_pgarray_free(&mults);
	souk_pgarray_free(&demands);
	souk_pgarray_free(&supplies);
	return rc;
}

static enum souk_pool_status
mat_pool_tick(void *state, struct souk_txn *t, char *errstr, size_t errstr_size)
{
	struct mat_pool_state *s = state;
	int64_t now = mat_pool_now_ms();

	if (now - s->model_checked_ms >= MAT_POOL_MODEL_CHECK_MS) {
		if (mat_pool_load_model(s, souk_txn_pg(t), errstr, errstr_size))
			return SOUK_POOL_RETRY;
		s->model_checked_ms = now;
	}
	if (s->nparts == 0)
		return SOUK_POOL_OK;
	if (mat_pool_expire(s, t, errstr, errstr_size))
		return SOUK_POOL_RETRY;
	if (now - s->last_surge_ms >= s->surge_interval_ms) {
		if (mat_pool_surge(s, t, errstr, errstr_size))
			return SOUK_POOL_RETRY;
		s->last_surge_ms = now;
	}
	return SOUK_POOL_OK;
}

static const char *const mat_pool_topics[] = {MAT_POOL_REQUESTS, MAT_POOL_EVENTS, NULL};

const struct souk_pool mat_pool = {
    .name = "matching",
    .topics = mat_pool_topics,
    .default_group = "souk-matching",
    .config = mat_pool_config,
    .open = mat_pool_open,
    .close = mat_pool_close,
    .apply = mat_pool_apply,
    .after = mat_pool_after,
    .assigned = mat_pool_assigned,
    .revoked = mat_pool_revoked,
    .tick = mat_pool_tick,
    .tick_ms = MAT_POOL_TICK_MS,
    .relay_linger_ms = 1, /* a rider waits for the match */
};
