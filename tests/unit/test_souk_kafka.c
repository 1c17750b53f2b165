/*
 * souk_kafka against librdkafka's mock cluster (in process, no broker): the broker
 * errors a real cluster gives only under faults. tests/faults/test_broker_cluster.py
 * runs the same paths on a real three-broker cluster.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "souk_kafka.h"

#define TOPIC "wm"

struct fixture {
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
};

/* A producer on a mock cluster of three brokers; TOPIC has one partition led by
 * broker 1 and holds three messages. */
static int
setup(void **state)
{
	static struct fixture f;
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "3", errstr,
			      sizeof(errstr)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr)) !=
		RD_KAFKA_CONF_OK)
		return -1;
	f.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!f.rk)
		return -1;
	f.mc = rd_kafka_handle_mock_cluster(f.rk);
	if (!f.mc || rd_kafka_mock_topic_create(f.mc, TOPIC, 1, 3) ||
	    rd_kafka_mock_partition_set_leader(f.mc, TOPIC, 0, 1))
		return -1;
	for (int i = 0; i < 3; i++)
		if (rd_kafka_producev(f.rk, RD_KAFKA_V_TOPIC(TOPIC),
				      RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_VALUE("x", 1),
				      RD_KAFKA_V_END))
			return -1;
	if (rd_kafka_flush(f.rk, 10000))
		return -1;
	*state = &f;
	return 0;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	rd_kafka_destroy(f->rk);
	return 0;
}

/* The leader moves to another broker after the client cached the first one: the
 * query reaches the old leader, which answers NOT_LEADER_FOR_PARTITION. */
static void
test_watermarks_follow_a_leader_change(void **state)
{
	struct fixture *f = *state;
	int64_t low = -1, high = -1;
	char errstr[512] = "";

	assert_int_equal(souk_kafka_watermarks(f->rk, TOPIC, 0, &low, &high, 5000, errstr,
					       sizeof(errstr)),
			 SOUK_KAFKA_OK);
	assert_int_equal(low, 0);
	assert_int_equal(high, 3);

	/* librdkafka alone keeps asking broker 1. If this starts to pass, librdkafka
	 * refreshes by itself and the retry in souk_kafka_watermarks can go. */
	assert_int_equal(rd_kafka_mock_partition_set_leader(f->mc, TOPIC, 0, 2), 0);
	assert_int_equal(rd_kafka_query_watermark_offsets(f->rk, TOPIC, 0, &low, &high,
							  5000),
			 RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);

	low = high = -1;
	assert_int_equal(souk_kafka_watermarks(f->rk, TOPIC, 0, &low, &high, 5000, errstr,
					       sizeof(errstr)),
			 SOUK_KAFKA_OK);
	assert_int_equal(low, 0);
	assert_int_equal(high, 3);

	/* and again, to the third broker */
	assert_int_equal(rd_kafka_mock_partition_set_leader(f->mc, TOPIC, 0, 3), 0);
	low = high = -1;
	assert_int_equal(souk_kafka_watermarks(f->rk, TOPIC, 0, &low, &high, 5000, errstr,
					       sizeof(errstr)),
			 SOUK_KAFKA_OK);
	assert_int_equal(high, 3);
}

/* A broker that answers NOT_LEADER a few times more (a leader not ready yet, as a
 * new topic's is while it creates its logs): asked again until it answers. */
static void
test_watermarks_wait_for_a_leader_to_be_ready(void **state)
{
	struct fixture *f = *state;
	int64_t low, high;
	char errstr[512] = "";

	/* ListOffsets (API key 2): a query is two requests (earliest, latest) */
	rd_kafka_mock_push_request_errors(f->mc, 2, 5,
					  RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
					  RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
					  RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
					  RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
					  RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
	assert_int_equal(souk_kafka_watermarks(f->rk, TOPIC, 0, &low, &high, 5000, errstr,
					       sizeof(errstr)),
			 SOUK_KAFKA_OK);
	assert_int_equal(low, 0);
	assert_int_equal(high, 3);
}

/* A leader that never gets ready: the error, named, at the timeout. */
static void
test_watermarks_give_up_at_the_timeout(void **state)
{
	struct fixture *f = *state;
	int64_t low, high, t0, took;
	char errstr[512] = "";

	for (int i = 0; i < 50; i++)
		rd_kafka_mock_push_request_errors(
		    f->mc, 2, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
		    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
		    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
		    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
	t0 = mono_ms();
	assert_int_equal(souk_kafka_watermarks(f->rk, TOPIC, 0, &low, &high, 1000, errstr,
					       sizeof(errstr)),
			 SOUK_KAFKA_ERROR);
	took = mono_ms() - t0;
	assert_true(took >= 500 && took < 2500);
	assert_string_equal(errstr, "could not query watermarks of \"" TOPIC
				    "\" [0]: Broker: Not leader for partition");
}

/* The leader the client cached goes down (a SIGKILLed broker, before the cluster
 * moved its partitions): the call gives up at its timeout instead of waiting for the
 * broker to come back, and works again once it has. */
static void
test_watermarks_keep_their_timeout_when_the_leader_is_down(void **state)
{
	struct fixture *f = *state;
	int64_t low, high, t0, took;
	char errstr[512] = "";

	assert_int_equal(souk_kafka_watermarks(f->rk, TOPIC, 0, &low, &high, 5000, errstr,
					       sizeof(errstr)),
			 SOUK_KAFKA_OK);
	assert_int_equal(rd_kafka_mock_broker_set_down(f->mc, 1), 0);
	t0 = mono_ms();
	assert_int_equal(souk_kafka_watermarks(f->rk, TOPIC, 0, &low, &high, 1500, errstr,
					       sizeof(errstr)),
			 SOUK_KAFKA_ERROR);
	took = mono_ms() - t0;
	assert_true(took < 3000);
	assert_non_null(strstr(errstr, "could not query watermarks"));

	assert_int_equal(rd_kafka_mock_broker_set_up(f->mc, 1), 0);
	assert_int_equal(souk_kafka_watermarks(f->rk, TOPIC, 0, &low, &high, 10000,
					       errstr, sizeof(errstr)),
			 SOUK_KAFKA_OK);
	assert_int_equal(high, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_watermarks_follow_a_leader_change, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_watermarks_wait_for_a_leader_to_be_ready,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watermarks_give_up_at_the_timeout, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_watermarks_keep_their_timeout_when_the_leader_is_down, setup,
		teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
