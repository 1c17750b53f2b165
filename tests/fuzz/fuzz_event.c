/*
 * fuzz_event: souk_event_decode on arbitrary bytes, and the codec's round trip.
 *
 * One target covers the ten event types: decode dispatches on the "type" member, and
 * the seeds (every event of tests/vectors/events.json, valid and invalid, all types)
 * give the fuzzer a well-formed start for each type's body. A per-type target would
 * only pin the type, which mutation of a seed rarely changes anyway.
 *
 * Properties, beyond "no crash, no out-of-bounds read, no undefined behaviour" (the
 * input buffer is exactly size bytes, not NUL-terminated, as a Kafka payload is):
 *   - the status is one of the six, and every error has a message;
 *   - only a JSON error carries a byte offset, and it lies inside the input;
 *   - a decoded event has a valid envelope and a partition key;
 *   - round trip: it encodes, the encoding decodes to an equal event (memcmp), and
 *     encoding that again gives the same bytes.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "souk_event.h"

static char enc1[SOUK_EVENT_MAX_BYTES + 1];
static char enc2[SOUK_EVENT_MAX_BYTES + 1];

static void
check_round_trip(const souk_event_t *ev)
{
	souk_event_t again;
	souk_event_error_t err;
	souk_event_status_t st;
	size_t len1, len2;
	char errstr[256];

	FUZZ_CHECK(
	    souk_event_encode(ev, enc1, sizeof(enc1), &len1, errstr, sizeof(errstr)) == 0,
	    "a decoded %s event does not encode: %s", souk_event_type_name(ev->type),
	    errstr);
	FUZZ_CHECK(len1 == strlen(enc1), "encoded length %zu, string length %zu", len1,
		   strlen(enc1));
	st = souk_event_decode(enc1, len1, &again, &err);
	FUZZ_CHECK(st == SOUK_EVENT_OK, "the encoding does not decode (%s: %s): %s",
		   souk_event_status_name(st), err.message, enc1);
	FUZZ_CHECK(memcmp(ev, &again, sizeof(again)) == 0,
		   "the encoding decodes to another event: %s", enc1);
	FUZZ_CHECK(souk_event_encode(&again, enc2, sizeof(enc2), &len2, errstr,
				     sizeof(errstr)) == 0,
		   "the re-decoded event does not encode: %s", errstr);
	FUZZ_CHECK(len1 == len2 && memcmp(enc1, enc2, len1) == 0,
		   "encoding is not stable:\n%s\n%s", enc1, enc2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	souk_event_t ev;
	souk_event_error_t err;
	souk_event_status_t st = souk_event_decode((const char *)data, size, &ev, &err);
	int64_t ms;

	FUZZ_CHECK(st >= SOUK_EVENT_OK && st <= SOUK_EVENT_EFIELD, "status %d", (int)st);
	if (st != SOUK_EVENT_OK) {
		FUZZ_CHECK(err.message[0] != '\0', "%s without a message",
			   souk_event_status_name(st));
		if (st == SOUK_EVENT_EJSON)
			FUZZ_CHECK(err.offset >= -1 && err.offset <= (long)size,
				   "offset %ld in %zu bytes", err.offset, size);
		else
			FUZZ_CHECK(err.offset == -1, "%s with offset %ld",
				   souk_event_status_name(st), err.offset);
		return 0;
	}
	FUZZ_CHECK(souk_event_uuid_valid(ev.event_id), "event_id \"%s\"", ev.event_id);
	FUZZ_CHECK(souk_event_ts_ms(ev.ts, &ms) == 0, "ts \"%s\"", ev.ts);
	FUZZ_CHECK(souk_event_identifier_valid(ev.client_id), "client_id \"%s\"",
		   ev.client_id);
	FUZZ_CHECK(ev.version == SOUK_EVENT_VERSION, "version %lld",
		   (long long)ev.version);
	FUZZ_CHECK(souk_event_topic(ev.type) != NULL, "type %d has no topic",
		   (int)ev.type);
	FUZZ_CHECK(ev.key_valid && souk_event_key(&ev) != NULL,
		   "a decoded %s event has no key", souk_event_type_name(ev.type));
	check_round_trip(&ev);
	return 0;
}
