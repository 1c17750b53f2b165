/*
 * souk-inventory (build/bin, next to this test's build/tests) against the real servers:
 * prewarm fills missing keys, reconcile reports and fixes drift with its exit status,
 * set publishes a stock_set that reads back from the orders topic, and usage errors
 * exit 2. Keys and rows are this test's own SKUs, deleted afterwards; the stock_set
 * goes to the real orders topic, for a SKU no sale uses.
 */
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "inv_redis.h"
#include "souk_event.h"
#include "souk_kafka.h"
#include "souk_pg.h"
#include "souk_redis.h"

#define DEFAULT_DSN "host=127.0.0.1 port=15432 dbname=souk user=souk"
#define DEFAULT_URL "redis://127.0.0.1:16379/0"
#define DEFAULT_BROKERS "127.0.0.1:19092"

struct fixture {
	char bin[PATH_MAX];
	char sku[64];
	struct souk_pg *pg;
	struct souk_redis *admin;
	char out[8192];
	char err[8192];
};

static const char *
env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

static void
sql(struct fixture *f, const char *fmt, ...)
{
	char q[512], err[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	if (souk_pg_exec(f->pg, q, NULL, err, sizeof(err)))
		fail_msg("%s: %s", q, err);
}

static void
redis(struct fixture *f, const char *fmt, const char *a, const char *b)
{
	char err[512];

	if (souk_redis_command(f->admin, NULL, err, sizeof(err), fmt, a, b))
		fail_msg("%s", err);
}

static const char *
redis_get(struct fixture *f, enum inv_redis_key k)
{
	static char out[64];
	char key[INV_REDIS_KEY_SIZE], err[512];
	redisReply *reply = NULL;

	inv_redis_key(k, f->sku, key);
	if (souk_redis_command(f->admin, &reply, err, sizeof(err), "GET %s", key))
		fail_msg("%s", err);
	snprintf(out, sizeof(out), "%s",
		 reply->type == REDIS_REPLY_STRING ? reply->str : "");
	freeReplyObject(reply);
	return out;
}

static void
del_keys(struct fixture *f)
{
	char keys[4][INV_REDIS_KEY_SIZE], err[512];

	for (int k = 0; k < 4; k++)
		inv_redis_key((enum inv_redis_key)k, f->sku, keys[k]);
	if (souk_redis_command(f->admin, NULL, err, sizeof(err), "DEL %s %s %s %s",
			       keys[0], keys[1], keys[2], keys[3]))
		fail_msg("%s", err);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char self[PATH_MAX], err[512];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct timespec ts;

	assert_true(n > 0);
	self[n] = '\0';
	snprintf(f->bin, sizeof(f->bin), "%s/../bin/souk-inventory", dirname(self));
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(f->sku, sizeof(f->sku), "t-cli-%ld-%ld", (long)getpid(),
		 (long)ts.tv_nsec);
	f->pg =
	    souk_pg_connect(env_or("SOUK_PG_DSN", DEFAULT_DSN), 10000, err, sizeof(err));
	f->admin = souk_redis_connect(env_or("SOUK_REDIS_URL", DEFAULT_URL), 5000, err,
				      sizeof(err));
	if (!f->pg || !f->admin)
		fail_msg("%s", err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	sql(f, "DELETE FROM purchases WHERE sku = '%s'", f->sku);
	sql(f, "DELETE FROM stock WHERE sku = '%s'", f->sku);
	del_keys(f);
	souk_pg_destroy(f->pg);
	souk_redis_destroy(f->admin);
	free(f);
	return 0;
}

/* Runs souk-inventory with args; its stdout and stderr land in f->out and f->err.
 * Returns its exit status. */
static int
run(struct fixture *f, const char *args)
{
	char cmd[PATH_MAX + 1024], errfile[] = "/tmp/test_inv_cli_XXXXXX";
	int fd = mkstemp(errfile), status;
	size_t n;
	FILE *p, *e;

	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "'%s' %s 2>%s", f->bin, args, errfile);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(f->out, 1, sizeof(f->out) - 1, p);
	f->out[n] = '\0';
	status = pclose(p);
	e = fopen(errfile, "r");
	assert_non_null(e);
	n = fread(f->err, 1, sizeof(f->err) - 1, e);
	f->err[n] = '\0';
	fclose(e);
	unlink(errfile);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
test_prewarm_then_reconcile_reports_and_fixes_drift(void **state)
{
	struct fixture *f = *state;
	char args[256], key[INV_REDIS_KEY_SIZE];

	sql(f, "INSERT INTO stock (sku, available, limit_per_user) VALUES ('%s', 40, 2)",
	    f->sku);
	sql(f, "INSERT INTO purchases (sku, user_id, qty) VALUES ('%s', 'u1', 2)",
	    f->sku);
	snprintf(args, sizeof(args), "prewarm %s", f->sku);
	assert_int_equal(run(f, args), 0);
	assert_non_null(strstr(f->out, "warmed: available 40"));
	assert_string_equal(redis_get(f, INV_KEY_STOCK), "40");
	assert_string_equal(redis_get(f, INV_KEY_LIMIT), "2");

	snprintf(args, sizeof(args), "reconcile %s", f->sku);
	assert_int_equal(run(f, args), 0);
	assert_non_null(strstr(f->out, "in sync"));

	inv_redis_key(INV_KEY_STOCK, f->sku, key);
	redis(f, "SET %s %s", key, "43");
	snprintf(args, sizeof(args), "reconcile --json %s", f->sku);
	assert_int_equal(run(f, args), 1);
	assert_non_null(strstr(f->out, "\"drift\":3"));
	assert_non_null(strstr(f->out, "\"redis_available\":43"));
	assert_non_null(strstr(f->out, "\"truth\":40"));
	assert_non_null(strstr(f->out, "\"fixed\":true"));
	assert_non_null(strstr(f->out, "\"in_sync\":0,\"fixed\":1,\"failed\":0"));
	assert_string_equal(redis_get(f, INV_KEY_STOCK), "40");

	snprintf(args, sizeof(args), "reconcile %s no-such-sku-%s", f->sku, f->sku);
	assert_int_equal(run(f, args), 1);
	assert_non_null(strstr(f->err, "could not sync sku \"no-such-sku-"));
	assert_non_null(strstr(f->err, "no such sku in the stock table"));
}

static void
test_usage_errors_exit_2(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run(f, ""), 2);
	assert_non_null(strstr(f->err, "name a command"));
	assert_int_equal(run(f, "restock A1"), 2);
	assert_non_null(strstr(f->err, "unknown command \"restock\""));
	assert_int_equal(run(f, "set A1"), 2);
	assert_non_null(strstr(f->err, "--stock"));
	assert_int_equal(run(f, "set A1 --stock many"), 2);
	assert_non_null(strstr(f->err, "--stock: must be an integer, got \"many\""));
	assert_int_equal(run(f, "set A1 --stock 5 --limit-per-user 0"), 2);
	assert_non_null(strstr(f->err, "limit_per_user: must be an integer between 1"));
	assert_int_equal(run(f, "reconcile 'bad sku'"), 2);
	assert_non_null(strstr(f->err, "sku \"bad sku\" is not an identifier"));
	assert_int_equal(run(f, "prewarm --stock 3"), 2);
	assert_int_equal(run(f, "--help"), 0);
	assert_non_null(strstr(f->out, "inventory.reconcile_interval"));
	assert_int_equal(run(f, "--version"), 0);
	assert_non_null(strstr(f->out, "souk-inventory "));
}

static void
test_set_publishes_a_stock_set_keyed_by_sku(void **state)
{
	struct fixture *f = *state;
	struct souk_kafka_consumer *c;
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_message_t *msg = NULL;
	souk_event_error_t derr;
	souk_event_t ev;
	char args[256], group[96], err[512];
	int partition = -1;
	long long offset = -1;
	const char *at;

	snprintf(args, sizeof(args), "set %s --stock 7 --limit-per-user 2", f->sku);
	assert_int_equal(run(f, args), 0);
	at = strstr(f->out, "published to orders partition ");
	assert_non_null(at);
	assert_int_equal(sscanf(at, "published to orders partition %d offset %lld",
				&partition, &offset),
			 2);

	snprintf(group, sizeof(group), "test-inv-cli-%ld", (long)getpid());
	c = souk_kafka_consumer_new(env_or("SOUK_KAFKA_BROKERS", DEFAULT_BROKERS), group,
				    NULL, 0, NULL, NULL, err, sizeof(err));
	if (!c)
		fail_msg("%s", err);
	parts = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(parts, "orders", partition)->offset = offset;
	assert_int_equal(souk_kafka_consumer_assign(c, parts, err, sizeof(err)), 0);
	rd_kafka_topic_partition_list_destroy(parts);
	for (int i = 0; i < 100 && !msg; i++)
		if (souk_kafka_consumer_poll(c, &msg, 1, 100, err, sizeof(err)) < 0)
			fail_msg("%s", err);
	assert_non_null(msg);
	assert_int_equal(msg->offset, offset);
	assert_int_equal(msg->key_len, strlen(f->sku));
	assert_memory_equal(msg->key, f->sku, msg->key_len);
	assert_int_equal(souk_event_decode(msg->payload, msg->len, &ev, &derr),
			 SOUK_EVENT_OK);
	assert_int_equal(ev.type, SOUK_EVENT_TYPE_STOCK_SET);
	assert_string_equal(ev.stock_set.sku, f->sku);
	assert_int_equal(ev.stock_set.stock, 7);
	assert_true(ev.stock_set.has_limit_per_user);
	assert_int_equal(ev.stock_set.limit_per_user, 2);
	rd_kafka_message_destroy(msg);
	souk_kafka_consumer_destroy(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_prewarm_then_reconcile_reports_and_fixes_drift, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usage_errors_exit_2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_publishes_a_stock_set_keyed_by_sku,
					    setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
