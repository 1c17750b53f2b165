/*
 * souk-eta: trains the matching pool's ETA model (mat_eta.h) on historical trips and
 * shows the stored models.
 *
 *   souk-eta train [--since DURATION] [--holdout-share P] [--dry-run] [--json]
 *       reads the trips (PostgreSQL, table trips) completed within DURATION (default
 *       30d), holds out a share P (default 0.2) of them, fits the model to the rest,
 *       measures its error on the held-out trips and stores it in eta_models, whose
 *       newest row the pool uses.
 *   souk-eta show [--json] [ID]
 *       prints the newest stored model, or the one with id ID, and its held-out error.
 *
 * Which trips are held out depends on each trip's request_id alone (a hash), and the
 * fit on the set of trips alone, so training again on the same trips gives the same
 * model with the same id: the INSERT (ON CONFLICT (id) DO NOTHING) then adds no row.
 *
 * Exit status: 0 done, 1 failure (PostgreSQL, too few usable trips, no such model),
 * 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mat_eta.h"
#include "souk_config.h"
#include "souk_log.h"
#include "souk_pg.h"

#define ETA_MAIN_PG_TIMEOUT_MS 10000
#define ETA_MAIN_DEFAULT_SINCE "30d"
#define ETA_MAIN_DEFAULT_HOLDOUT 0.2
/* --since at most 100 years: now() - interval stays far inside PostgreSQL's range. */
#define ETA_MAIN_MAX_SINCE_S (100LL * 365 * 86400)
#define ETA_MAIN_NUMBER_SIZE 32

enum { OPT_SINCE = 256, OPT_HOLDOUT_SHARE, OPT_JSON, OPT_DRY_RUN };

/* What the command line asked. */
struct eta_main_opts {
	const char *command; /* "train" or "show" */
	const char *id;	     /* show: the model's id, NULL for the newest */
	const char *since;   /* train: as given, for the report */
	long long since_s;
	double holdout_share;
	bool json, dry_run;
};

/*
 * The eta.* keys. Their defaults are mat_eta_params_default's, printed into text[] at
 * start so that the two cannot differ.
 */
struct eta_main_keys {
	char text[4][ETA_MAIN_NUMBER_SIZE];
	struct souk_config_def defs[5];
};

/* A model with its held-out error, as train made it or show read it. */
struct eta_main_report {
	const mat_eta_t *model;
	const char *text; /* the model's text form (mat_eta_encode) */
	/* false: no held-out trip was usable (or none was held out); then eval.trips
	 * is 0 and the errors unknown */
	bool evaluated;
	mat_eta_eval_t eval;
	bool eval_skipped_known; /* show does not know eval.skipped */
	/* train only (read < 0 for show): the trips read and how it was stored,
	 * "inserted", "already" (the same model was there) or "dry_run" */
	int64_t read;
	const char *since;
	const char *stored;
	const char *created_at; /* show only, else NULL: when it was stored, UTC */
};

static void
eta_main_usage(FILE *out, const struct souk_config_def *const *tables)
{
	fprintf(
	    out,
	    "usage: souk-eta [options] train [--since DURATION] [--holdout-share P]\n"
	    "                          [--dry-run] [--json]\n"
	    "       souk-eta [options] show [--json] [ID]\n"
	    "\n"
	    "  train  fit the ETA model (speed by hour of day and area, and a detour\n"
	    "         factor) to the trips completed within DURATION, measure its error\n"
	    "         on a held-out share of them, store it in eta_models (the pool\n"
	    "         uses the newest) and print a summary\n"
	    "  show   print the newest stored model, or the one with id ID, and its\n"
	    "         held-out error\n"
	    "\n"
	    "      --since DURATION      trips completed this long ago or later: 90s,\n"
	    "                            30m, 12h, 30d (default " ETA_MAIN_DEFAULT_SINCE
	    ")\n"
	    "      --holdout-share P     the share of trips held out for the error,\n"
	    "                            chosen by a hash of request_id; 0 to <1\n"
	    "                            (default 0.2; 0: no held-out error)\n"
	    "      --dry-run             fit and report, store nothing\n"
	    "      --json                print one JSON object instead of the summary\n"
	    "  -c, --config FILE         read \"key = value\" lines from FILE\n"
	    "  -X, --set KEY=VALUE       set one key (repeatable)\n"
	    "  -h, --help                this help\n"
	    "  -V, --version             print the version\n"
	    "\n"
	    "exit status: 0 done, 1 a failure (PostgreSQL, fewer usable trips than\n"
	    "eta.min_trips, no such model), 2 usage\n");
	if (tables) {
		fprintf(out, "\nkeys:\n");
		souk_config_help(tables, out);
	}
}

/* v as the shortest decimal that reads back as exactly v (%.17g always does). */
static void
eta_main_fmt_double(char *buf, size_t size, double v)
{
	for (int digits = 15; digits <= 17; digits++) {
		snprintf(buf, size, "%.*g", digits, v);
		if (strtod(buf, NULL) == v)
			break;
	}
}

static void
eta_main_keys_init(struct eta_main_keys *k)
{
	mat_eta_params_t p;

	mat_eta_params_default(&p);
	snprintf(k->text[0], sizeof(k->text[0]), "%" PRId64, p.min_trips);
	eta_main_fmt_double(k->text[1], sizeof(k->text[1]), p.min_straight_m);
	eta_main_fmt_double(k->text[2], sizeof(k->text[2]), p.default_detour);
	eta_main_fmt_double(k->text[3], sizeof(k->text[3]), p.hint_half);
	k->defs[0] = (struct souk_config_def){
	    .name = "eta.min_trips",
	    .type = SOUK_CONFIG_INT,
	    .def = k->text[0],
	    .min = 1,
	    .max = 1e9,
	    .help = "fewest trips for a speed of its own (an hour, an area at an hour) "
		    "and for a fitted detour; fewer usable trips in all: no model"};
	k->defs[1] = (struct souk_config_def){
	    .name = "eta.min_straight_m",
	    .type = SOUK_CONFIG_DOUBLE,
	    .def = k->text[1],
	    .min = 0,
	    .max = 1e6,
	    .help = "trips shorter than this (straight line, metres) are not used"};
	k->defs[2] = (struct souk_config_def){
	    .name = "eta.default_detour",
	    .type = SOUK_CONFIG_DOUBLE,
	    .def = k->text[2],
	    .min = 1,
	    .max = MAT_ETA_MAX_DETOUR,
	    .help = "road over straight-line distance when fewer than eta.min_trips "
		    "trips know their road distance"};
	k->defs[3] = (struct souk_config_def){
	    .name = "eta.hint_half",
	    .type = SOUK_CONFIG_DOUBLE,
	    .def = k->text[3],
	    .min = 0,
	    .max = 1e6,
	    .help = "drivers whose current speed gets half the weight against the "
		    "fitted speed (kept in the model, for the pool)"};
	k->defs[4] = (struct souk_config_def){.name = NULL};
}

static void
eta_main_params(const struct souk_config *cfg, mat_eta_params_t *p)
{
	p->min_trips = souk_config_get_int(cfg, "eta.min_trips");
	p->min_straight_m = souk_config_get_double(cfg, "eta.min_straight_m");
	p->default_detour = souk_config_get_double(cfg, "eta.default_detour");
	p->hint_half = souk_config_get_double(cfg, "eta.hint_half");
}

/* Reads "90s", "30m", "12h" or "30d" (a whole number > 0 and a unit) into *s, at most
 * ETA_MAIN_MAX_SINCE_S. Returns 0, or -1. */
static int
eta_main_parse_since(const char *text, long long *s)
{
	static const struct {
		char unit;
		long long s;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	char *end;
	long long n;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	n = strtoll(text, &end, 10);
	if (errno || n <= 0 || end[0] == '\0' || end[1] != '\0')
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (end[0] == units[i].unit) {
			if (n > ETA_MAIN_MAX_SINCE_S / units[i].s)
				return -1;
			*s = n * units[i].s;
			return 0;
		}
	}
	return -1;
}

/* ---- train -------------------------------------------------------------------- */

/* The trips read, split into the fit's and the held-out ones. */
struct eta_main_trips {
	mat_eta_trip_t *fit, *held;
	size_t n_fit, n_held;
};

/*
 * Whether the trip of request_id is held out: a hash of the id, mapped onto [0, 1),
 * is below share. FNV-1a alone hardly changes its top bits with the last characters
 * (ids that differ in a counter suffix), so murmur3's finalizer mixes them in.
 */
static bool
eta_main_held_out(const char *request_id, double share)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (const unsigned char *p = (const unsigned char *)request_id; *p; p++) {
		h ^= *p;
		h *= UINT64_C(0x100000001b3);
	}
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return (double)(h >> 11) / 9007199254740992.0 < share;
}

/* hour is the UTC hour of the start, duration the seconds to the end. Sorted by
 * request_id so that the sums of the held-out error add up in the same order on every
 * run over the same trips. */
static const char eta_main_trips_sql[] =
    "SELECT request_id, area, extract(hour FROM started_at AT TIME ZONE 'UTC')::int, "
    "straight_m, road_m, extract(epoch FROM completed_at - started_at)::float8 "
    "FROM trips WHERE completed_at >= now() - $1::bigint * interval '1 second' "
    "ORDER BY request_id";

/*
 * Reads the trips completed in the last since_s seconds into *t (the caller frees its
 * arrays), holding out share of them. One query with every row in memory at once:
 * libpq keeps the whole result (about 150 bytes a trip) while it is copied into two
 * arrays of 40-byte trips, each with room for every row, so a million trips peak near
 * 250 MB (the fit then needs some 25 bytes a trip more); O(n) here plus the server's
 * sort. Returns SOUK_PG_OK, or another souk_pg_status with errstr.
 */
static int
eta_main_read_trips(struct souk_pg *pg, long long since_s, double share,
		    struct eta_main_trips *t, char *errstr, size_t errstr_size)
{
	char since[ETA_MAIN_NUMBER_SIZE];
	const char *values[] = {since};
	PGresult *res = NULL;
	size_t n;
	int rc;

	snprintf(since, sizeof(since), "%lld", since_s);
	rc = souk_pg_prepare(pg, "eta_trips", eta_main_trips_sql, 1, errstr, errstr_size);
	if (rc == SOUK_PG_OK)
		rc = souk_pg_exec_prepared(pg, "eta_trips", 1, values, &res, errstr,
					   errstr_size);
	if (rc != SOUK_PG_OK)
		goto out;
	n = (size_t)PQntuples(res);
	t->fit = malloc((n ? n : 1) * sizeof(*t->fit));
	t->held = malloc((n ? n : 1) * sizeof(*t->held));
	if (!t->fit || !t->held) {
		snprintf(errstr, errstr_size, "out of memory for %zu trips", n);
		rc = SOUK_PG_ERROR;
		goto out;
	}
	for (int i = 0; i < (int)n; i++) {
		mat_eta_trip_t trip = {
		    .area = strtoll(PQgetvalue(res, i, 1), NULL, 10),
		    .hour = atoi(PQgetvalue(res, i, 2)),
		    .straight_m = strtod(PQgetvalue(res, i, 3), NULL),
		    /* NULL: unknown, which mat_eta spells 0 */
		    .road_m =
			PQgetisnull(res, i, 4) ? 0 : strtod(PQgetvalue(res, i, 4), NULL),
		    .duration_s = strtod(PQgetvalue(res, i, 5), NULL),
		};

		if (eta_main_held_out(PQgetvalue(res, i, 0), share))
			t->held[t->n_held++] = trip;
		else
			t->fit[t->n_fit++] = trip;
	}
out:
	PQclear(res);
	return rc;
}

static const char eta_main_insert_sql[] =
    "INSERT INTO eta_models (id, model, trips, held_out, mae_s, mape) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING id";

/*
 * Stores r's model with its held-out error; r->stored becomes "inserted", or
 * "already" when a row had its id (the same model: nothing changes, created_at
 * included). Returns SOUK_PG_OK, or another souk_pg_status with errstr.
 */
static int
eta_main_store(struct souk_pg *pg, struct eta_main_report *r, char *errstr,
	       size_t errstr_size)
{
	char trips[ETA_MAIN_NUMBER_SIZE], held[ETA_MAIN_NUMBER_SIZE];
	char mae[ETA_MAIN_NUMBER_SIZE], mape[ETA_MAIN_NUMBER_SIZE];
	const char *values[] = {
	    mat_eta_id(r->model),      r->text, trips, held, r->evaluated ? mae : NULL,
	    r->evaluated ? mape : NULL};
	mat_eta_summary_t s;
	PGresult *res = NULL;
	int rc;

	mat_eta_summarize(r->model, &s);
	snprintf(trips, sizeof(trips), "%" PRId64, s.trips);
	snprintf(held, sizeof(held), "%" PRId64, r->eval.trips);
	eta_main_fmt_double(mae, sizeof(mae), r->eval.mae_s);
	eta_main_fmt_double(mape, sizeof(mape), r->eval.mape);
	rc = souk_pg_prepare(pg, "eta_insert", eta_main_insert_sql, 6, errstr,
			     errstr_size);
	if (rc == SOUK_PG_OK)
		rc = souk_pg_exec_prepared(pg, "eta_insert", 6, values, &res, errstr,
					   errstr_size);
	if (rc == SOUK_PG_OK)
		r->stored = PQntuples(res) == 1 ? "inserted" : "already";
	PQclear(res);
	return rc;
}

/* ---- output ------------------------------------------------------------------- */

/* "key":v with v a JSON number, or null when not finite. */
static void
eta_main_json_double(FILE *out, const char *key, double v)
{
	char buf[ETA_MAIN_NUMBER_SIZE];

	if (!isfinite(v)) {
		fprintf(out, "\"%s\":null", key);
		return;
	}
	eta_main_fmt_double(buf, sizeof(buf), v);
	fprintf(out, "\"%s\":%s", key, buf);
}

/* r as one line of JSON. Written by hand: every string is a hex id, a timestamp or a
 * fixed word, and the model is already JSON. */
static void
eta_main_print_json(FILE *out, const struct eta_main_report *r)
{
	mat_eta_summary_t s;

	mat_eta_summarize(r->model, &s);
	fprintf(out, "{\"id\":\"%s\",\"trips\":%" PRId64 ",\"skipped\":%" PRId64 ",",
		mat_eta_id(r->model), s.trips, s.skipped);
	eta_main_json_double(out, "detour", s.detour);
	fprintf(out, ",\"detour_trips\":%" PRId64 ",", s.detour_trips);
	eta_main_json_double(out, "speed", s.speed);
	fprintf(out, ",\"hour_buckets\":%zu,\"area_buckets\":%zu", s.hours, s.areas);
	fprintf(out, ",\"held_out\":{\"trips\":%" PRId64, r->eval.trips);
	if (r->eval_skipped_known)
		fprintf(out, ",\"skipped\":%" PRId64, r->eval.skipped);
	fputc(',', out);
	eta_main_json_double(out, "mae_s", r->evaluated ? r->eval.mae_s : NAN);
	fputc(',', out);
	eta_main_json_double(out, "mape", r->evaluated ? r->eval.mape : NAN);
	fputc('}', out);
	if (r->read >= 0)
		fprintf(out, ",\"read\":%" PRId64 ",\"since\":\"%s\",\"stored\":\"%s\"",
			r->read, r->since, r->stored);
	if (r->created_at)
		fprintf(out, ",\"created_at\":\"%s\"", r->created_at);
	fprintf(out, ",\"model\":%s}\n", r->text);
}

static void
eta_main_print_text(FILE *out, const struct eta_main_report *r)
{
	mat_eta_summary_t s;

	mat_eta_summarize(r->model, &s);
	if (r->read >= 0)
		fprintf(out,
			"read       %" PRId64 " trips completed in the last %s: %" PRId64
			" to fit, %" PRId64 " held out\n",
			r->read, r->since, s.trips + s.skipped,
			r->eval.trips + r->eval.skipped);
	fprintf(out, "model      %s\n", mat_eta_id(r->model));
	if (r->created_at)
		fprintf(out, "stored     %s\n", r->created_at);
	fprintf(out, "trips      %" PRId64 " used, %" PRId64 " skipped\n", s.trips,
		s.skipped);
	if (s.detour_trips)
		fprintf(out,
			"detour     %.4f (median of %" PRId64
			" trips with a road distance)\n",
			s.detour, s.detour_trips);
	else
		fprintf(out,
			"detour     %.4f (eta.default_detour: too few trips with a road "
			"distance)\n",
			s.detour);
	fprintf(out, "speed      %.3f m/s over all trips\n", s.speed);
	fprintf(out,
		"buckets    %zu hours and %zu (area, hour) pairs with a speed of their "
		"own\n",
		s.hours, s.areas);
	if (r->evaluated)
		fprintf(out, "held out   %" PRId64 " trips: MAE %.1f s, MAPE %.2f %%\n",
			r->eval.trips, r->eval.mae_s, r->eval.mape);
	else
		fprintf(out, "held out   none usable: error unknown\n");
	if (r->eval_skipped_known && r->eval.skipped)
		fprintf(out, "           (%" PRId64 " held-out trips not usable)\n",
			r->eval.skipped);
	if (!r->stored)
		return;
	if (strcmp(r->stored, "inserted") == 0)
		fprintf(out, "stored in eta_models\n");
	else if (strcmp(r->stored, "already") == 0)
		fprintf(out,
			"already in eta_models (the same trips gave the same model)\n");
	else
		fprintf(out, "dry run: not stored\n");
}

/* Prints r as asked; returns 0, or 1 after printing why stdout failed. */
static int
eta_main_print(const struct eta_main_opts *o, const struct eta_main_report *r)
{
	if (o->json)
		eta_main_print_json(stdout, r);
	else
		eta_main_print_text(stdout, r);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "error: could not write to stdout: %m\n");
		return 1;
	}
	return 0;
}

/* ---- the commands ------------------------------------------------------------- */

static int
eta_main_train(const struct souk_config *cfg, const struct eta_main_opts *o)
{
	struct eta_main_trips t = {0};
	struct eta_main_report r = {.eval_skipped_known = true, .since = o->since};
	struct souk_pg *pg = NULL;
	mat_eta_params_t params;
	mat_eta_t *model = NULL;
	char *text = NULL, errstr[1024];
	size_t len;
	int rc = 1;

	eta_main_params(cfg, &params);
	pg = souk_pg_connect(souk_config_get_string(cfg, "pg.dsn"),
			     ETA_MAIN_PG_TIMEOUT_MS, errstr, sizeof(errstr));
	if (!pg || eta_main_read_trips(pg, o->since_s, o->holdout_share, &t, errstr,
				       sizeof(errstr)) != SOUK_PG_OK) {
		fprintf(stderr, "error: could not read the trips from PostgreSQL: %s\n",
			errstr);
		goto out;
	}
	if (mat_eta_fit(t.fit, t.n_fit, &params, &model, errstr, sizeof(errstr))) {
		fprintf(stderr,
			"error: %s; %zu trips completed in the last %s, %zu of them held "
			"out\n",
			errstr, t.n_fit + t.n_held, o->since, t.n_held);
		goto out;
	}
	r.model = model;
	r.read = (int64_t)(t.n_fit + t.n_held);
	/* evaluate fails only when no held-out trip is usable: the error is unknown */
	r.evaluated = mat_eta_evaluate(model, t.held, t.n_held, &r.eval, errstr,
				       sizeof(errstr)) == 0;
	if (!r.evaluated)
		r.eval = (mat_eta_eval_t){.trips = 0, .skipped = (int64_t)t.n_held};
	if (mat_eta_encode(model, &text, &len)) {
		fprintf(stderr, "error: could not encode the eta model: out of memory\n");
		goto out;
	}
	r.text = text;
	if (o->dry_run) {
		r.stored = "dry_run";
	} else if (eta_main_store(pg, &r, errstr, sizeof(errstr)) != SOUK_PG_OK) {
		fprintf(stderr, "error: could not store eta model %s in PostgreSQL: %s\n",
			mat_eta_id(model), errstr);
		goto out;
	}
	rc = eta_main_print(o, &r);
out:
	free(text);
	mat_eta_destroy(model);
	free(t.fit);
	free(t.held);
	souk_pg_destroy(pg);
	return rc;
}

/* The newest model ($1 NULL) or the one with id $1; newest as the pool picks it. */
static const char eta_main_show_sql[] =
    "SELECT id, model, held_out, mae_s, mape, "
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
    "FROM eta_models WHERE $1::text IS NULL OR id = $1 "
    "ORDER BY created_at DESC, id DESC LIMIT 1";

static int
eta_main_show(const struct souk_config *cfg, const struct eta_main_opts *o)
{
	struct eta_main_report r = {.read = -1};
	const char *values[] = {o->id};
	struct souk_pg *pg = NULL;
	PGresult *res = NULL;
	mat_eta_t *model = NULL;
	const char *text;
	char errstr[1024];
	int rc = 1;

	pg = souk_pg_connect(souk_config_get_string(cfg, "pg.dsn"),
			     ETA_MAIN_PG_TIMEOUT_MS, errstr, sizeof(errstr));
	if (!pg ||
	    souk_pg_prepare(pg, "eta_show", eta_main_show_sql, 1, errstr,
			    sizeof(errstr)) != SOUK_PG_OK ||
	    souk_pg_exec_prepared(pg, "eta_show", 1, values, &res, errstr,
				  sizeof(errstr)) != SOUK_PG_OK) {
		fprintf(stderr, "error: could not read eta_models from PostgreSQL: %s\n",
			errstr);
		goto out;
	}
	if (PQntuples(res) == 0) {
		if (o->id)
			fprintf(stderr, "error: no eta model with id %s in eta_models\n",
				o->id);
		else
			fprintf(stderr, "error: no eta model in eta_models: run souk-eta "
					"train\n");
		goto out;
	}
	text = PQgetvalue(res, 0, 1);
	if (mat_eta_decode(text, strlen(text), &model, errstr, sizeof(errstr))) {
		fprintf(stderr, "error: could not read eta model %s: %s\n",
			PQgetvalue(res, 0, 0), errstr);
		goto out;
	}
	if (strcmp(mat_eta_id(model), PQgetvalue(res, 0, 0)) != 0) {
		fprintf(stderr, "error: eta_models row %s holds the model with id %s\n",
			PQgetvalue(res, 0, 0), mat_eta_id(model));
		goto out;
	}
	r.model = model;
	r.text = text;
	r.evaluated = !PQgetisnull(res, 0, 3) && !PQgetisnull(res, 0, 4);
	r.eval.trips = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	r.eval.mae_s = strtod(PQgetvalue(res, 0, 3), NULL);
	r.eval.mape = strtod(PQgetvalue(res, 0, 4), NULL);
	r.created_at = PQgetvalue(res, 0, 5);
	rc = eta_main_print(o, &r);
out:
	mat_eta_destroy(model);
	PQclear(res);
	souk_pg_destroy(pg);
	return rc;
}

/* ---- main --------------------------------------------------------------------- */

/* Whether id looks like a model id: 16 lower-case hex digits, as eta_models holds. */
static bool
eta_main_valid_id(const char *id)
{
	return strlen(id) == MAT_ETA_ID_SIZE - 1 &&
	       strspn(id, "0123456789abcdef") == MAT_ETA_ID_SIZE - 1;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"since", required_argument, NULL, OPT_SINCE},
	    {"holdout-share", required_argument, NULL, OPT_HOLDOUT_SHARE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
	    {"config", required_argument, NULL, 'c'},
	    {"set", required_argument, NULL, 'X'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct eta_main_keys keys;
	const struct souk_config_def *const tables[] = {souk_config_common, keys.defs,
							NULL};
	const char **sets = calloc((size_t)argc + 1, sizeof(*sets));
	const char *config_path = NULL, *train_only = NULL, *holdout = NULL;
	struct eta_main_opts o = {.since = ETA_MAIN_DEFAULT_SINCE,
				  .holdout_share = ETA_MAIN_DEFAULT_HOLDOUT};
	struct souk_config *cfg = NULL;
	enum souk_log_level level;
	char errstr[512], *end;
	int n_sets = 0, c, rc = 2;

	if (!sets) {
		fprintf(stderr, "error: out of memory\n");
		return 1;
	}
	eta_main_keys_init(&keys);
	while ((c = getopt_long(argc, argv, "c:X:hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SINCE:
			o.since = optarg;
			train_only = "--since";
			break;
		case OPT_HOLDOUT_SHARE:
			holdout = optarg;
			train_only = "--holdout-share";
			break;
		case OPT_DRY_RUN:
			o.dry_run = true;
			train_only = "--dry-run";
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'X':
			sets[n_sets++] = optarg;
			break;
		case 'h':
			eta_main_usage(stdout, tables);
			rc = 0;
			goto out;
		case 'V':
			printf("souk-eta %s\n", SOUK_VERSION);
			rc = 0;
			goto out;
		default:
			eta_main_usage(stderr, NULL);
			goto out;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "error: name a command: train or show\n");
		eta_main_usage(stderr, NULL);
		goto out;
	}
	o.command = argv[optind++];
	if (strcmp(o.command, "train") == 0) {
		if (optind < argc) {
			fprintf(stderr, "error: unexpected argument \"%s\"\n",
				argv[optind]);
			goto out;
		}
	} else if (strcmp(o.command, "show") == 0) {
		if (train_only) {
			fprintf(stderr, "error: %s goes with train, not show\n",
				train_only);
			goto out;
		}
		if (optind < argc)
			o.id = argv[optind++];
		if (optind < argc) {
			fprintf(stderr, "error: unexpected argument \"%s\"\n",
				argv[optind]);
			goto out;
		}
		if (o.id && !eta_main_valid_id(o.id)) {
			fprintf(
			    stderr,
			    "error: model id \"%s\": must be %d lower-case hex digits\n",
			    o.id, MAT_ETA_ID_SIZE - 1);
			goto out;
		}
	} else {
		fprintf(stderr, "error: unknown command \"%s\"\n", o.command);
		eta_main_usage(stderr, NULL);
		goto out;
	}
	if (eta_main_parse_since(o.since, &o.since_s)) {
		fprintf(
		    stderr,
		    "error: --since: must be a whole number of seconds, minutes, hours "
		    "or days (90s, 30m, 12h, 30d) up to 100 years, got \"%s\"\n",
		    o.since);
		goto out;
	}
	if (holdout) {
		errno = 0;
		o.holdout_share = strtod(holdout, &end);
		if (errno || end == holdout || *end || !(o.holdout_share >= 0) ||
		    !(o.holdout_share < 1)) {
			fprintf(
			    stderr,
			    "error: --holdout-share: must be a number from 0 to below 1, "
			    "got \"%s\"\n",
			    holdout);
			goto out;
		}
	}
	cfg = souk_config_new(tables, errstr, sizeof(errstr));
	if (!cfg ||
	    souk_config_load(cfg, config_path, n_sets, sets, errstr, sizeof(errstr))) {
		fprintf(stderr, "error: %s\n", errstr);
		goto out;
	}
	if (souk_log_level_from_name(souk_config_get_string(cfg, "log.level"), &level) ==
	    0)
		souk_log_set_level(level);
	rc = strcmp(o.command, "train") == 0 ? eta_main_train(cfg, &o)
					     : eta_main_show(cfg, &o);
out:
	souk_config_destroy(cfg);
	free(sets);
	return rc;
}
