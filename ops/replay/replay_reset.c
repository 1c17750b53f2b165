/* replay_reset: see replay_reset.h. */
#include "replay_reset.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "replay_kafka.h"

/* Attempts of a group request while the group's coordinator is not ready, and the
 * pause before each further one (doubling, at most 1 s): about 8 s in all. */
#define REPLAY_RESET_COORD_ATTEMPTS 10
#define REPLAY_RESET_COORD_BACKOFF_MS 100

/* The group's rows of one topic. */
static const char replay_reset_read_sql[] =
    "SELECT partition, next_offset, epoch FROM consumer_offsets "
    "WHERE group_id = $1 AND topic = $2";
/* Compare-and-set on the epoch the plan read: a claim since then makes it miss. */
static const char replay_reset_update_sql[] =
    "UPDATE consumer_offsets SET next_offset = $4, updated_at = now() "
    "WHERE group_id = $1 AND topic = $2 AND partition = $3 AND epoch = $5";
static const char replay_reset_insert_sql[] =
    "INSERT INTO consumer_offsets (group_id, topic, partition, next_offset, epoch) "
    "VALUES ($1, $2, $3, $4, 0) ON CONFLICT DO NOTHING";

/*
 * The errors of a group request sent before the group's coordinator is ready: on a
 * fresh cluster the first request for a group creates __consumer_offsets and the
 * broker that leads the group's partition loads it; after a broker failure the
 * coordinator moves. Asking again a little later works.
 */
static bool
replay_reset_coordinator_busy(rd_kafka_resp_err_t err)
{
	return err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
	       err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
	       err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR;
}

/* Whether to send a group request again after err at attempt (0 the first), having
 * slept before it if so. */
static bool
replay_reset_again(rd_kafka_resp_err_t err, int attempt)
{
	long ms = REPLAY_RESET_COORD_BACKOFF_MS << (attempt < 4 ? attempt : 4);
	struct timespec ts;

	if (!replay_reset_coordinator_busy(err) ||
	    attempt + 1 >= REPLAY_RESET_COORD_ATTEMPTS)
		return false;
	if (ms > 1000)
		ms = 1000;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	return true;
}

/* Waits for an admin request's answer on q. Returns the event (the caller destroys
 * it), or NULL with errstr and *code. */
static rd_kafka_event_t *
replay_reset_wait(rd_kafka_queue_t *q, const char *what, rd_kafka_resp_err_t *code,
		  char *errstr, size_t errstr_size)
{
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, REPLAY_KAFKA_TIMEOUT_MS + 1000);

	if (!ev) {
		*code = RD_KAFKA_RESP_ERR__TIMED_OUT;
		snprintf(errstr, errstr_size, "could not %s: no answer within %d ms",
			 what, REPLAY_KAFKA_TIMEOUT_MS);
		return NULL;
	}
	if ((*code = rd_kafka_event_error(ev))) {
		snprintf(errstr, errstr_size, "could not %s: %s", what,
			 rd_kafka_event_error_string(ev));
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	return ev;
}

/* The partitions of the one group an admin request named, or NULL with errstr saying
 * what could not be done (the group's error, or no answer for it) and *code. A
 * partition's own error fails it too: any when strict (an offset commit), else only
 * a coordinator's (an offset read answers the others per partition). */
static const rd_kafka_topic_partition_list_t *
replay_reset_group_partitions(const rd_kafka_group_result_t **groups, size_t n,
			      bool strict, const char *what, rd_kafka_resp_err_t *code,
			      char *errstr, size_t errstr_size)
{
	const rd_kafka_error_t *error =
	    n == 1 ? rd_kafka_group_result_error(groups[0]) : NULL;
	const rd_kafka_topic_partition_list_t *got;

	if (n != 1 || error) {
		*code = error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR__FAIL;
		snprintf(errstr, errstr_size, "could not %s: %s", what,
			 error ? rd_kafka_error_string(error) : "no answer for it");
		return NULL;
	}
	got = rd_kafka_group_result_partitions(groups[0]);
	for (int i = 0; got && i < got->cnt; i++) {
		if (got->elems[i].err &&
		    (strict || replay_reset_coordinator_busy(got->elems[i].err))) {
			*code = got->elems[i].err;
			snprintf(errstr, errstr_size, "could not %s: partition %d: %s",
				 what, (int)got->elems[i].partition,
				 rd_kafka_err2str(got->elems[i].err));
			return NULL;
		}
	}
	return got;
}

static rd_kafka_AdminOptions_t *
replay_reset_options(rd_kafka_t *rk, rd_kafka_admin_op_t op)
{
	rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, op);

	rd_kafka_AdminOptions_set_request_timeout(opts, REPLAY_KAFKA_TIMEOUT_MS, NULL, 0);
	return opts;
}

/* The group's state and members, into plan. */
static int
replay_reset_describe(rd_kafka_t *rk, rd_kafka_queue_t *q, struct replay_reset_plan *plan,
		      char *errstr, size_t errstr_size)
{
	const char *groups[1] = {plan->group};
	rd_kafka_AdminOptions_t *opts =
	    replay_reset_options(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
	const rd_kafka_ConsumerGroupDescription_t **descs;
	const rd_kafka_error_t *error = NULL;
	rd_kafka_resp_err_t code;
	rd_kafka_event_t *ev = NULL;
	size_t n = 0, len = 0;
	char what[300];
	int rc = -1;

	snprintf(what, sizeof(what), "describe consumer group \"%s\"", plan->group);
	for (int attempt = 0;; attempt++) {
		if (ev)
			rd_kafka_event_destroy(ev);
		rd_kafka_DescribeConsumerGroups(rk, groups, 1, opts, q);
		ev = replay_reset_wait(q, what, &code, errstr, errstr_size);
		if (!ev) {
			if (replay_reset_again(code, attempt))
				continue;
			goto out;
		}
		descs = rd_kafka_DescribeConsumerGroups_result_groups(
		    rd_kafka_event_DescribeConsumerGroups_result(ev), &n);
		error = n == 1 ? rd_kafka_ConsumerGroupDescription_error(descs[0]) : NULL;
		code = error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR_NO_ERROR;
		if (n == 1 && (!error || code == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND))
			break;
		snprintf(errstr, errstr_size, "could not %s: %s", what,
			 error ? rd_kafka_error_string(error) : "no answer for it");
		if (n != 1 || !replay_reset_again(code, attempt))
			goto out;
	}
	plan->state = rd_kafka_consumer_group_state_name(
	    error ? RD_KAFKA_CONSUMER_GROUP_STATE_DEAD
		  : rd_kafka_ConsumerGroupDescription_state(descs[0]));
	plan->members =
	    error ? 0 : rd_kafka_ConsumerGroupDescription_member_count(descs[0]);
	for (size_t i = 0; i < plan->members && i < 4; i++) {
		const rd_kafka_MemberDescription_t *m =
		    rd_kafka_ConsumerGroupDescription_member(descs[0], i);
		int w = snprintf(plan->member_names + len,
				 sizeof(plan->member_names) - len, "%s%s@%s",
				 i ? ", " : "", rd_kafka_MemberDescription_client_id(m),
				 rd_kafka_MemberDescription_host(m));

		if (w < 0 || (size_t)w >= sizeof(plan->member_names) - len)
			break;
		len += (size_t)w;
	}
	rc = 0;
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(opts);
	return rc;
}

/* A partition list of the plan's rows, each at its target. */
static rd_kafka_topic_partition_list_t *
replay_reset_list(const struct replay_reset_plan *plan)
{
	rd_kafka_topic_partition_list_t *list =
	    rd_kafka_topic_partition_list_new((int)(plan->n ? plan->n : 1));

	for (size_t i = 0; i < plan->n; i++)
		rd_kafka_topic_partition_list_add(list, plan->topic,
						  plan->rows[i].partition)
		    ->offset = plan->rows[i].target;
	return list;
}

/* The group's committed offsets, into the rows. */
static int
replay_reset_committed(rd_kafka_t *rk, rd_kafka_queue_t *q,
		       struct replay_reset_plan *plan, char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *list = replay_reset_list(plan);
	rd_kafka_AdminOptions_t *opts =
	    replay_reset_options(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
	const rd_kafka_group_result_t **groups;
	const rd_kafka_topic_partition_list_t *got = NULL;
	rd_kafka_resp_err_t code;
	rd_kafka_event_t *ev = NULL;
	char what[300];
	size_t n = 0;
	int rc = -1;

	snprintf(what, sizeof(what), "read the offsets of consumer group \"%s\"",
		 plan->group);
	for (int attempt = 0; !got; attempt++) {
		/* the request is the caller's again once sent; one per attempt */
		rd_kafka_ListConsumerGroupOffsets_t *req =
		    rd_kafka_ListConsumerGroupOffsets_new(plan->group, list);

		if (ev)
			rd_kafka_event_destroy(ev);
		rd_kafka_ListConsumerGroupOffsets(rk, &req, 1, opts, q);
		rd_kafka_ListConsumerGroupOffsets_destroy(req);
		ev = replay_reset_wait(q, what, &code, errstr, errstr_size);
		if (ev) {
			groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
			    rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
			got = replay_reset_group_partitions(groups, n, false, what, &code,
							    errstr, errstr_size);
		}
		if (!got && !replay_reset_again(code, attempt))
			goto out;
	}
	for (size_t i = 0; i < plan->n; i++) {
		const rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
		    got, plan->topic, plan->rows[i].partition);

		plan->rows[i].committed =
		    tp && !tp->err && tp->offset >= 0 ? tp->offset : -1;
	}
	rc = 0;
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_topic_partition_list_destroy(list);
	return rc;
}

static int
replay_reset_prepare(struct souk_pg *pg, char *errstr, size_t errstr_size)
{
	if (souk_pg_prepare(pg, "replay_reset_read", replay_reset_read_sql, 2, errstr,
			    errstr_size) ||
	    souk_pg_prepare(pg, "replay_reset_update", replay_reset_update_sql, 5, errstr,
			    errstr_size) ||
	    souk_pg_prepare(pg, "replay_reset_insert", replay_reset_insert_sql, 4, errstr,
			    errstr_size))
		return -1;
	return 0;
}

/* The group's rows in consumer_offsets, into the plan's rows. */
static int
replay_reset_stored(struct souk_pg *pg, struct replay_reset_plan *plan, char *errstr,
		    size_t errstr_size)
{
	const char *values[2] = {plan->group, plan->topic};
	PGresult *res = NULL;

	if (souk_pg_exec_prepared(pg, "replay_reset_read", 2, values, &res, errstr,
				  errstr_size))
		return -1;
	for (int r = 0; r < PQntuples(res); r++) {
		int32_t partition = (int32_t)strtol(PQgetvalue(res, r, 0), NULL, 10);

		for (size_t i = 0; i < plan->n; i++) {
			if (plan->rows[i].partition != partition)
				continue;
			plan->rows[i].stored = strtoll(PQgetvalue(res, r, 1), NULL, 10);
			plan->rows[i].epoch = strtoll(PQgetvalue(res, r, 2), NULL, 10);
		}
	}
	PQclear(res);
	return 0;
}

struct replay_reset_plan *
replay_reset_plan_new(rd_kafka_t *rk, struct souk_pg *pg, const char *group,
		      const char *topic, const struct replay_selection *sel,
		      enum replay_reset_to to, int64_t value, char *errstr,
		      size_t errstr_size)
{
	struct replay_reset_plan *plan = calloc(1, sizeof(*plan));
	struct replay_kafka_part *kp = NULL;
	int64_t *lookup = NULL;
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	size_t n = 0;

	if (!plan || !(plan->group = strdup(group)) || !(plan->topic = strdup(topic))) {
		snprintf(errstr, errstr_size, "could not plan the reset: out of memory");
		goto fail;
	}
	if (replay_kafka_partitions(rk, topic, sel, &kp, &n, NULL, errstr, errstr_size))
		goto fail;
	plan->rows = calloc(n ? n : 1, sizeof(*plan->rows));
	lookup = calloc(n ? n : 1, sizeof(*lookup));
	if (!plan->rows || !lookup) {
		snprintf(errstr, errstr_size, "could not plan the reset: out of memory");
		goto fail;
	}
	plan->n = n;
	if (to == REPLAY_RESET_DATETIME &&
	    replay_kafka_lookup(rk, topic, kp, n, value, lookup, errstr, errstr_size))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		struct replay_reset_row *row = &plan->rows[i];

		row->partition = kp[i].partition;
		row->low = kp[i].low;
		row->high = kp[i].high;
		row->committed = row->stored = row->epoch = -1;
		row->target =
		    replay_reset_target(to, value, row->low, row->high, lookup[i]);
	}
	if (replay_reset_describe(rk, q, plan, errstr, errstr_size) ||
	    replay_reset_committed(rk, q, plan, errstr, errstr_size) ||
	    replay_reset_prepare(pg, errstr, errstr_size) ||
	    replay_reset_stored(pg, plan, errstr, errstr_size))
		goto fail;
	free(kp);
	free(lookup);
	rd_kafka_queue_destroy(q);
	return plan;
fail:
	free(kp);
	free(lookup);
	rd_kafka_queue_destroy(q);
	replay_reset_plan_destroy(plan);
	return NULL;
}

void
replay_reset_plan_destroy(struct replay_reset_plan *plan)
{
	if (!plan)
		return;
	free(plan->group);
	free(plan->topic);
	free(plan->rows);
	free(plan);
}

/* Kafka's committed offsets, at the plan's targets. */
static int
replay_reset_apply_kafka(rd_kafka_t *rk, const struct replay_reset_plan *plan,
			 char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *list = replay_reset_list(plan);
	rd_kafka_AdminOptions_t *opts =
	    replay_reset_options(rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	const rd_kafka_group_result_t **groups;
	const rd_kafka_topic_partition_list_t *got = NULL;
	rd_kafka_resp_err_t code;
	rd_kafka_event_t *ev = NULL;
	char what[300];
	size_t n = 0;
	int rc = -1;

	snprintf(what, sizeof(what), "commit the offsets of consumer group \"%s\"",
		 plan->group);
	for (int attempt = 0; !got; attempt++) {
		rd_kafka_AlterConsumerGroupOffsets_t *req =
		    rd_kafka_AlterConsumerGroupOffsets_new(plan->group, list);

		if (ev)
			rd_kafka_event_destroy(ev);
		rd_kafka_AlterConsumerGroupOffsets(rk, &req, 1, opts, q);
		rd_kafka_AlterConsumerGroupOffsets_destroy(req);
		ev = replay_reset_wait(q, what, &code, errstr, errstr_size);
		if (ev) {
			groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(
			    rd_kafka_event_AlterConsumerGroupOffsets_result(ev), &n);
			got = replay_reset_group_partitions(groups, n, true, what, &code,
							    errstr, errstr_size);
		}
		if (!got && !replay_reset_again(code, attempt))
			goto out;
	}
	rc = 0;
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_topic_partition_list_destroy(list);
	return rc;
}

/* consumer_offsets, at the plan's targets, in one transaction (see the header). */
static int
replay_reset_apply_pg(struct souk_pg *pg, const struct replay_reset_plan *plan,
		      char *errstr, size_t errstr_size)
{
	bool open = false;
	int rc = -1;

	if (souk_pg_begin(pg, errstr, errstr_size))
		goto out;
	open = true;
	for (size_t i = 0; i < plan->n; i++) {
		const struct replay_reset_row *row = &plan->rows[i];
		char partition[16], target[24], epoch[24];
		const char *values[5] = {plan->group, plan->topic, partition, target,
					 epoch};
		PGresult *res = NULL;
		bool hit;

		snprintf(partition, sizeof(partition), "%" PRId32, row->partition);
		snprintf(target, sizeof(target), "%" PRId64, row->target);
		snprintf(epoch, sizeof(epoch), "%" PRId64, row->epoch);
		if (souk_pg_exec_prepared(
			pg,
			row->stored >= 0 ? "replay_reset_update" : "replay_reset_insert",
			row->stored >= 0 ? 5 : 4, values, &res, errstr, errstr_size))
			goto out;
		hit = strcmp(PQcmdTuples(res), "1") == 0;
		PQclear(res);
		if (!hit) {
			snprintf(
			    errstr, errstr_size,
			    "could not reset partition %d of group \"%s\" in "
			    "consumer_offsets: a consumer claimed it since the plan was "
			    "read (is a worker running?)",
			    (int)row->partition, plan->group);
			goto out;
		}
	}
	open = false;
	if (souk_pg_commit(pg, errstr, errstr_size))
		goto out;
	rc = 0;
out:
	if (open) {
		char ignored[256];

		souk_pg_rollback(pg, ignored, sizeof(ignored));
	}
	return rc;
}

int
replay_reset_apply(rd_kafka_t *rk, struct souk_pg *pg,
		   const struct replay_reset_plan *plan, char *errstr, size_t errstr_size)
{
	if (plan->members > 0) {
		snprintf(
		    errstr, errstr_size,
		    "could not reset consumer group \"%s\": it has members (%zu: %s); "
		    "stop them first",
		    plan->group, plan->members, plan->member_names);
		return -1;
	}
	if (replay_reset_apply_kafka(rk, plan, errstr, errstr_size))
		return -1;
	return replay_reset_apply_pg(pg, plan, errstr, errstr_size);
}
