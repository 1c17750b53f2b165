/*
 * souk-admin: the small Kafka admin tool ops/stack uses.
 *
 *   souk-admin wait [--timeout S]            until the cluster answers a metadata request
 *   souk-admin topics [--partitions N] [--replication R]
 *                                             create every souk topic in one CreateTopics
 *                                             request; existing topics are left alone.
 *                                             R > 1: first waits for R brokers, then
 *                                             until every partition of the souk topics
 *                                             has a leader and R replicas in sync
 *   souk-admin list [--json]                  the souk topics with partitions and
 * settings souk-admin tail [--group G] [--count N] [--timeout S] TOPIC... consume TOPICs
 * in group G (default souk-tail), decode each event with the codec and print one line per
 * message
 *
 * Exit status: 0 success, 1 failure, 2 usage error. librdkafka's own log is off:
 * failures are reported once, by the command that saw them.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "souk_event.h"
#include "souk_kafka.h"

#define ADMIN_EXIT_FAIL 1
#define ADMIN_EXIT_USAGE 2

/* One row per topic in DESIGN.md. A NULL-terminated list of name=value settings. */
struct admin_topic {
	const char *name;
	int has_dlq; /* consumed by a pool: undecodable events go to <name>.dlq */
	const char *configs[6];
};

static const struct admin_topic admin_topics[] = {
    {"orders", 1, {NULL}},
    {"order-results", 0, {NULL}},
    /* 24 h: payment idempotency keys are kept at least this long (DESIGN.md). */
    {"payments", 1, {"retention.ms", "86400000", NULL}},
    {"payment-results", 0, {NULL}},
    /* Personal data: one hour, in 10-minute segments so old ones really go. */
    {"locations", 1, {"retention.ms", "3600000", "segment.ms", "600000", NULL}},
    /* ride-requests and ride-events share a partition count: one request's whole
     * life runs on one consumer. Every topic here gets the same count. */
    {"ride-requests", 1, {NULL}},
    {"ride-matches", 0, {NULL}},
    {"ride-events", 1, {NULL}},
    /* Latest multiplier per cell. */
    {"surge", 0, {"cleanup.policy", "compact", NULL}},
};
#define ADMIN_NTOPICS (sizeof(admin_topics) / sizeof(admin_topics[0]))

static void
admin_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: souk-admin [-b BROKERS] <command> [options]\n"
	    "\n"
	    "commands:\n"
	    "  wait [--timeout S]        wait until the cluster answers (default 60 s)\n"
	    "  topics [--partitions N] [--replication R]\n"
	    "                            create every souk topic (and .dlq topics) in "
	    "one\n"
	    "                            request; existing ones are kept (default 6, 1);\n"
	    "                            with R > 1, waits for R brokers first and\n"
	    "                            returns once every partition has a leader and\n"
	    "                            R replicas in sync (within --timeout)\n"
	    "  list [--json]             print the souk topics and their partition "
	    "counts\n"
	    "  tail [--group G] [--count N] [--timeout S] TOPIC...\n"
	    "                            consume in group G (default souk-tail; offsets\n"
	    "                            are committed, so a second run shows only new\n"
	    "                            events) and print each event decoded; stops\n"
	    "                            after N events or S seconds without one\n"
	    "\n"
	    "options:\n"
	    "  -b, --brokers LIST        bootstrap servers (env SOUK_KAFKA_BROKERS,\n"
	    "                            default 127.0.0.1:19092)\n"
	    "  -h, --help                this help\n"
	    "  -V, --version             print the version\n");
}

static rd_kafka_t *
admin_client_new(const char *brokers, char *errstr, size_t errstr_size)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk = NULL;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, errstr_size) !=
		RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "log_level", "0", errstr, errstr_size) !=
		RD_KAFKA_CONF_OK)
		goto out;
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
	if (rk)
		conf = NULL; /* owned by rk now */
out:
	if (conf)
		rd_kafka_conf_destroy(conf);
	return rk;
}

/* Polls metadata until the cluster answers with at least min_brokers brokers. Cost:
 * one metadata round trip per attempt, one attempt per 250 ms at most. */
static int
admin_wait(rd_kafka_t *rk, int timeout_s, int min_brokers)
{
	time_t deadline = time(NULL) + timeout_s;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	int nbrokers = 0;

	for (;;) {
		const struct rd_kafka_metadata *md = NULL;

		err = rd_kafka_metadata(rk, 0, NULL, &md, 1000);
		if (!err) {
			nbrokers = md->broker_cnt;
			rd_kafka_metadata_destroy(md);
			if (nbrokers >= min_brokers && nbrokers > 0)
				return 0;
		}
		if (time(NULL) >= deadline)
			break;
		usleep(250 * 1000);
	}
	if (err)
		fprintf(stderr, "error: kafka did not answer within %d s: %s\n",
			timeout_s, rd_kafka_err2str(err));
	else
		fprintf(stderr, "error: kafka has %d of %d brokers after %d s\n",
			nbrokers, min_brokers, timeout_s);
	return -1;
}

/* Whether name is a souk topic (or its DLQ). */
static int
admin_is_souk_topic(const char *name)
{
	for (size_t i = 0; i < ADMIN_NTOPICS; i++) {
		size_t len = strlen(admin_topics[i].name);

		if (!strncmp(name, admin_topics[i].name, len) &&
		    (name[len] == '\0' ||
		     (admin_topics[i].has_dlq && !strcmp(name + len, ".dlq"))))
			return 1;
	}
	return 0;
}

/* Polls metadata until every partition of the souk topics has a leader and
 * replication replicas in sync, and that leader answers a ListOffsets request, or the
 * deadline. The second check matters: a broker's metadata may name the new leader
 * before that broker has taken the role, and a client asking it then is refused (not
 * leader). rd_kafka_offsets_for_times, not rd_kafka_query_watermark_offsets: the
 * latter waits past its timeout while a leader refuses connections (librdkafka 2.0.2).
 * Cost per attempt: one metadata request (every topic's), one ListOffsets request per
 * leader; one attempt per 250 ms at most. */
static int
admin_wait_isr(rd_kafka_t *rk, time_t deadline, int replication)
{
	char why[256] = "no metadata";
	size_t want = 0;

	for (size_t i = 0; i < ADMIN_NTOPICS; i++)
		want += 1 + (admin_topics[i].has_dlq != 0);
	for (;;) {
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_topic_partition_list_t *list =
		    rd_kafka_topic_partition_list_new(64);
		rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 5000);
		int ok = !err;
		size_t seen = 0;

		if (err)
			snprintf(why, sizeof(why), "%s", rd_kafka_err2str(err));
		for (int t = 0; ok && t < md->topic_cnt; t++) {
			const rd_kafka_metadata_topic_t *mt = &md->topics[t];

			if (!admin_is_souk_topic(mt->topic))
				continue;
			seen++;
			if (mt->err) {
				snprintf(why, sizeof(why), "topic \"%s\": %s", mt->topic,
					 rd_kafka_err2str(mt->err));
				ok = 0;
			}
			for (int p = 0; ok && p < mt->partition_cnt; p++) {
				const rd_kafka_metadata_partition_t *mp =
				    &mt->partitions[p];

				if (mp->leader < 0 || mp->isr_cnt < replication) {
					snprintf(why, sizeof(why),
						 "\"%s\" [%d]: leader %d, %d of %d "
						 "replicas in sync",
						 mt->topic, (int)mp->id, (int)mp->leader,
						 mp->isr_cnt, replication);
					ok = 0;
				}
				rd_kafka_topic_partition_list_add(list, mt->topic, mp->id)
				    ->offset = RD_KAFKA_OFFSET_END;
			}
		}
		/* the broker that answered may not know every topic yet */
		if (ok && seen < want) {
			snprintf(why, sizeof(why), "%zu of %zu topics known to broker %d",
				 seen, want, (int)md->orig_broker_id);
			ok = 0;
		}
		if (ok) {
			/* offsets_for_times leaves the list as given (-1) where no answer
			 * came in time */
			err = rd_kafka_offsets_for_times(rk, list, 5000);
			for (int i = 0; ok && i < list->cnt; i++) {
				const rd_kafka_topic_partition_t *tp = &list->elems[i];

				rd_kafka_resp_err_t e = err ? err : tp->err;

				if (!e && tp->offset < 0)
					e = RD_KAFKA_RESP_ERR__TIMED_OUT;
				if (e) {
					snprintf(why, sizeof(why),
						 "\"%s\" [%d]: its leader did not "
						 "answer: %s",
						 tp->topic, (int)tp->partition,
						 rd_kafka_err2str(e));
					ok = 0;
				}
			}
		}
		rd_kafka_topic_partition_list_destroy(list);
		if (md)
			rd_kafka_metadata_destroy(md);
		if (ok)
			return 0;
		if (time(NULL) >= deadline)
			break;
		usleep(250 * 1000);
	}
	fprintf(stderr, "error: the souk topics are not fully replicated: %s\n", why);
	return -1;
}

static int
admin_create_topics(rd_kafka_t *rk, int partitions, int replication)
{
	rd_kafka_NewTopic_t *newt[ADMIN_NTOPICS * 2];
	size_t n = 0;
	char errstr[512];
	char min_isr[16];
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_AdminOptions_t *opts =
	    rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	rd_kafka_event_t *ev = NULL;
	int rc = -1;

	/* With three brokers an acknowledged write must be on two of them. */
	snprintf(min_isr, sizeof(min_isr), "%d", replication >= 3 ? 2 : 1);
	rd_kafka_AdminOptions_set_request_timeout(opts, 30000, errstr, sizeof(errstr));
	rd_kafka_AdminOptions_set_operation_timeout(opts, 30000, errstr, sizeof(errstr));

	for (size_t i = 0; i < ADMIN_NTOPICS; i++) {
		const struct admin_topic *t = &admin_topics[i];

		for (int dlq = 0; dlq <= t->has_dlq; dlq++) {
			char name[256];
			rd_kafka_NewTopic_t *nt;

			snprintf(name, sizeof(name), "%s%s", t->name, dlq ? ".dlq" : "");
			nt = rd_kafka_NewTopic_new(name, partitions, replication, errstr,
						   sizeof(errstr));
			if (!nt) {
				fprintf(stderr,
					"error: could not describe topic \"%s\": %s\n",
					name, errstr);
				goto out;
			}
			newt[n++] = nt;
			rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", min_isr);
			if (dlq)
				continue; /* a DLQ keeps the broker's default retention */
			for (const char *const *c = t->configs; *c; c += 2)
				rd_kafka_NewTopic_set_config(nt, c[0], c[1]);
		}
	}

	rd_kafka_CreateTopics(rk, newt, n, opts, q);
	ev = rd_kafka_queue_poll(q, 60000);
	if (!ev) {
		fprintf(stderr,
			"error: could not create topics: no answer within 60 s\n");
		goto out;
	}
	if (rd_kafka_event_error(ev)) {
		fprintf(stderr, "error: could not create topics: %s\n",
			rd_kafka_event_error_string(ev));
		goto out;
	}

	const rd_kafka_CreateTopics_result_t *res =
	    rd_kafka_event_CreateTopics_result(ev);
	size_t nres = 0;
	const rd_kafka_topic_result_t **tres =
	    rd_kafka_CreateTopics_result_topics(res, &nres);
	int created = 0, existed = 0, failed = 0;

	for (size_t i = 0; i < nres; i++) {
		rd_kafka_resp_err_t err = rd_kafka_topic_result_error(tres[i]);

		if (!err)
			created++;
		else if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
			existed++;
		else {
			failed++;
			fprintf(stderr, "error: could not create topic \"%s\": %s\n",
				rd_kafka_topic_result_name(tres[i]),
				rd_kafka_topic_result_error_string(tres[i]));
		}
	}
	printf("topics: %d created, %d already there, %d failed\n", created, existed,
	       failed);
	rc = failed ? -1 : 0;
out:
	if (ev)
		rd_kafka_event_destroy(ev);
	for (size_t i = 0; i < n; i++)
		rd_kafka_NewTopic_destroy(newt[i]);
	rd_kafka_AdminOptions_destroy(opts);
	rd_kafka_queue_destroy(q);
	return rc;
}

/* Prints each souk topic with its partition count, or "missing". Returns -1 when any
 * topic is missing or the metadata request failed. */
static int
admin_list(rd_kafka_t *rk, int json)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
	int missing = 0;

	if (err) {
		fprintf(stderr, "error: could not read metadata: %s\n",
			rd_kafka_err2str(err));
		return -1;
	}
	if (json)
		printf("[");
	for (size_t i = 0, first = 1; i < ADMIN_NTOPICS; i++) {
		for (int dlq = 0; dlq <= admin_topics[i].has_dlq; dlq++) {
			char name[256];
			int parts = -1;

			snprintf(name, sizeof(name), "%s%s", admin_topics[i].name,
				 dlq ? ".dlq" : "");
			for (int t = 0; t < md->topic_cnt; t++)
				if (!strcmp(md->topics[t].topic, name) &&
				    !md->topics[t].err)
					parts = md->topics[t].partition_cnt;
			missing += parts < 0;
			if (json)
				printf("%s{\"topic\":\"%s\",\"partitions\":%d}",
				       first ? "" : ",", name, parts);
			else if (parts < 0)
				printf("%-22s missing\n", name);
			else
				printf("%-22s %d partitions\n", name, parts);
			first = 0;
		}
	}
	if (json)
		printf("]\n");
	rd_kafka_metadata_destroy(md);
	return missing ? -1 : 0;
}

/* Consumes topics in group until count messages were printed (0: no limit) or
 * idle_s seconds passed without one. Prints one line per message:
 *   orders[3]@12 key=SKU-1 order event_id=... ok
 * Returns the number printed, or -1 on error. */
static long
admin_tail(const char *brokers, const char *group, const char *const *topics,
	   size_t ntopics, long count, int idle_s)
{
	char errstr[512];
	struct souk_kafka_consumer *c = souk_kafka_consumer_new(
	    brokers, group, NULL, 0, NULL, NULL, errstr, sizeof(errstr));
	long printed = 0;
	time_t last = time(NULL);

	if (!c ||
	    souk_kafka_consumer_subscribe(c, topics, ntopics, errstr, sizeof(errstr))) {
		fprintf(stderr, "error: could not consume: %s\n", errstr);
		souk_kafka_consumer_destroy(c);
		return -1;
	}
	while ((count == 0 || printed < count) && time(NULL) - last < idle_s) {
		rd_kafka_message_t *msgs[64];
		int n =
		    souk_kafka_consumer_poll(c, msgs, 64, 200, errstr, sizeof(errstr));

		if (n == SOUK_KAFKA_FATAL) {
			fprintf(stderr, "error: %s\n", errstr);
			break;
		}
		for (int i = 0; i < n; i++) {
			rd_kafka_message_t *m = msgs[i];
			souk_event_t ev;
			souk_event_error_t err;
			souk_event_status_t st =
			    souk_event_decode(m->payload, m->len, &ev, &err);

			printf("%s[%d]@%lld key=%.*s %s event_id=%s %s%s%s\n",
			       rd_kafka_topic_name(m->rkt), (int)m->partition,
			       (long long)m->offset, (int)m->key_len,
			       m->key ? (const char *)m->key : "",
			       ev.type ? souk_event_type_name(ev.type) : "?",
			       ev.event_id[0] ? ev.event_id : "?",
			       souk_event_status_name(st), st ? ": " : "",
			       st ? err.message : "");
			souk_kafka_consumer_store_offset(c, rd_kafka_topic_name(m->rkt),
							 m->partition, m->offset + 1,
							 errstr, sizeof(errstr));
			rd_kafka_message_destroy(m);
			printed++;
			last = time(NULL);
		}
	}
	fflush(stdout);
	if (printed && souk_kafka_consumer_commit(c, NULL, errstr, sizeof(errstr)))
		fprintf(stderr, "warning: could not commit offsets: %s\n", errstr);
	souk_kafka_consumer_close(c, errstr, sizeof(errstr));
	souk_kafka_consumer_destroy(c);
	return printed;
}

static int
admin_parse_int(const char *s, const char *what, int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr,
			"error: %s: must be an integer between %d and %d, got \"%s\"\n",
			what, min, max, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"brokers", required_argument, NULL, 'b'},
	    {"timeout", required_argument, NULL, 't'},
	    {"partitions", required_argument, NULL, 'p'},
	    {"replication", required_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'j'},
	    {"group", required_argument, NULL, 'g'},
	    {"count", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *brokers = getenv("SOUK_KAFKA_BROKERS");
	int timeout_s = -1, partitions = 6, replication = 1, json = 0, count = 0;
	const char *group = "souk-tail";
	char errstr[512];
	rd_kafka_t *rk = NULL;
	const char *cmd;
	int c, rc = ADMIN_EXIT_FAIL;

	if (!brokers || !*brokers)
		brokers = "127.0.0.1:19092";
	while ((c = getopt_long(argc, argv, "b:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			brokers = optarg;
			break;
		case 't':
			if (admin_parse_int(optarg, "--timeout", 1, 3600, &timeout_s))
				return ADMIN_EXIT_USAGE;
			break;
		case 'p':
			if (admin_parse_int(optarg, "--partitions", 1, 10000,
					    &partitions))
				return ADMIN_EXIT_USAGE;
			break;
		case 'r':
			if (admin_parse_int(optarg, "--replication", 1, 16, &replication))
				return ADMIN_EXIT_USAGE;
			break;
		case 'j':
			json = 1;
			break;
		case 'g':
			group = optarg;
			break;
		case 'n':
			if (admin_parse_int(optarg, "--count", 1, 1000000000, &count))
				return ADMIN_EXIT_USAGE;
			break;
		case 'h':
			admin_usage(stdout);
			return 0;
		case 'V':
			printf("souk-admin %s (librdkafka %s)\n", SOUK_VERSION,
			       rd_kafka_version_str());
			return 0;
		default:
			admin_usage(stderr);
			return ADMIN_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		admin_usage(stderr);
		return ADMIN_EXIT_USAGE;
	}
	cmd = argv[optind];
	if (!strcmp(cmd, "tail")) {
		long printed;

		if (optind + 1 == argc) {
			fprintf(stderr, "error: tail: name at least one topic\n");
			return ADMIN_EXIT_USAGE;
		}
		printed = admin_tail(
		    brokers, group, (const char *const *)argv + optind + 1,
		    (size_t)(argc - optind - 1), count, timeout_s < 0 ? 5 : timeout_s);
		return printed < 0 ? ADMIN_EXIT_FAIL : 0;
	}
	if (optind != argc - 1) {
		admin_usage(stderr);
		return ADMIN_EXIT_USAGE;
	}
	if (strcmp(cmd, "wait") && strcmp(cmd, "topics") && strcmp(cmd, "list")) {
		fprintf(stderr, "error: unknown command \"%s\"\n", cmd);
		admin_usage(stderr);
		return ADMIN_EXIT_USAGE;
	}

	if (timeout_s < 0)
		timeout_s = 60;
	rk = admin_client_new(brokers, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "error: could not create a kafka client: %s\n", errstr);
		return ADMIN_EXIT_FAIL;
	}
	if (!strcmp(cmd, "wait"))
		rc = admin_wait(rk, timeout_s, 1) ? ADMIN_EXIT_FAIL : 0;
	else if (!strcmp(cmd, "topics")) {
		time_t deadline = time(NULL) + timeout_s;

		rc = admin_wait(rk, timeout_s, replication) ||
			     admin_create_topics(rk, partitions, replication) ||
			     (replication > 1 &&
			      admin_wait_isr(rk, deadline, replication))
			 ? ADMIN_EXIT_FAIL
			 : 0;
	} else
		rc = admin_list(rk, json) ? ADMIN_EXIT_FAIL : 0;
	rd_kafka_destroy(rk);
	return rc;
}
