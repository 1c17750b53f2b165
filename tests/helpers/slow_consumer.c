/*
 * slow_consumer: a consumer group member that reads one message every DELAY_MS and
 * commits each one synchronously, so its committed offsets move steadily while it
 * keeps a backlog: the lagging consumer of the dashboard's browser test.
 *
 *   slow_consumer BROKERS GROUP TOPIC DELAY_MS
 *
 * Reads from the earliest offset when the group has none; session timeout 6 s (the
 * broker's minimum), so a killed member leaves the group soon. Runs until killed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

static int
set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
	char errstr[512];

	if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) ==
	    RD_KAFKA_CONF_OK)
		return 0;
	fprintf(stderr, "error: %s\n", errstr);
	return -1;
}

int
main(int argc, char **argv)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *topics;
	rd_kafka_t *rk;
	char errstr[512];
	long delay_ms;

	if (argc != 5) {
		fprintf(stderr, "usage: slow_consumer BROKERS GROUP TOPIC DELAY_MS\n");
		return 2;
	}
	delay_ms = strtol(argv[4], NULL, 10);
	if (set(conf, "bootstrap.servers", argv[1]) || set(conf, "group.id", argv[2]) ||
	    set(conf, "auto.offset.reset", "earliest") ||
	    set(conf, "enable.auto.commit", "false") ||
	    set(conf, "session.timeout.ms", "6000"))
		return 1;
	if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr)))) {
		fprintf(stderr, "error: %s\n", errstr);
		return 1;
	}
	rd_kafka_poll_set_consumer(rk);
	topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, argv[3], RD_KAFKA_PARTITION_UA);
	if (rd_kafka_subscribe(rk, topics)) {
		fprintf(stderr, "error: could not subscribe to %s\n", argv[3]);
		return 1;
	}
	rd_kafka_topic_partition_list_destroy(topics);
	for (;;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
		struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000};

		if (!m)
			continue;
		if (!m->err)
			rd_kafka_commit_message(rk, m, 0);
		rd_kafka_message_destroy(m);
		nanosleep(&ts, NULL);
	}
}
