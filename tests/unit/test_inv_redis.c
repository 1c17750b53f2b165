/*
 * inv_redis without a server: the key names (the gateway's display key, and one
 * cluster slot for all four keys of a SKU) and the seen entries' format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "inv_redis.h"

/* Redis Cluster's key slot: CRC16 (XMODEM) of the hash tag, or of the whole key when
 * it has none, modulo 16384. */
static unsigned
slot(const char *key)
{
	const char *open = strchr(key, '{'), *close = open ? strchr(open + 1, '}') : NULL;
	const char *s = key;
	size_t len = strlen(key);
	unsigned crc = 0;

	if (open && close && close > open + 1) {
		s = open + 1;
		len = (size_t)(close - open - 1);
	}
	for (size_t i = 0; i < len; i++) {
		crc ^= (unsigned)(unsigned char)s[i] << 8;
		for (int b = 0; b < 8; b++)
			crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
		crc &= 0xffff;
	}
	return crc % 16384;
}

static void
test_keys_share_one_slot_and_keep_the_display_key(void **state)
{
	char k[4][INV_REDIS_KEY_SIZE], other[INV_REDIS_KEY_SIZE];

	(void)state;
	for (int i = 0; i < 4; i++)
		inv_redis_key((enum inv_redis_key)i, "SKU-1", k[i]);
	assert_string_equal(k[INV_KEY_STOCK],
			    "souk:stock:SKU-1"); /* GET /v1/stock/SKU-1 */
	assert_string_equal(k[INV_KEY_SEEN], "souk:seen:{souk:stock:SKU-1}");
	assert_int_equal(slot("123456789"), 0x31c3 % 16384); /* the CRC's check value */
	for (int i = 1; i < 4; i++)
		assert_int_equal(slot(k[i]), slot(k[INV_KEY_STOCK]));
	inv_redis_key(INV_KEY_STOCK, "SKU-2", other);
	assert_int_not_equal(slot(other), slot(k[INV_KEY_STOCK]));
}

static void
test_seen_entries_parse(void **state)
{
	struct inv_seen s;

	(void)state;
	assert_int_equal(inv_redis_seen_parse("accepted 2 1800000000123 u:42", &s), 0);
	assert_int_equal(s.answer, INV_ACCEPTED);
	assert_int_equal(s.qty, 2);
	assert_int_equal(s.ms, 1800000000123LL);
	assert_string_equal(s.user_id, "u:42");
	assert_int_equal(inv_redis_seen_parse("limit_exceeded 1 5 u", &s), 0);
	assert_int_equal(s.answer, INV_LIMIT_EXCEEDED);
	assert_int_equal(inv_redis_seen_parse("accepted 2 1800000000123", &s), -1);
	assert_int_equal(inv_redis_seen_parse("accepted 2 1800000000123 ", &s), -1);
	assert_int_equal(inv_redis_seen_parse("taken 2 1 u", &s), -1);
	assert_int_equal(inv_redis_seen_parse("accepted two 1 u", &s), -1);
	assert_int_equal(inv_redis_seen_parse("accepted", &s), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys_share_one_slot_and_keep_the_display_key),
	    cmocka_unit_test(test_seen_entries_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
