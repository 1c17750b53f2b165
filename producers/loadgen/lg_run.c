#include "lg_run.h"

#include <stdio.h>
#include <string.h>

#include "lg_time.h"
#include "souk_uuid.h"

/* A stream number no generator uses for anything else. */
#define LG_RUN_STREAM_TAG 0x7461670000000000ULL

void
lg_run_init(struct lg_run *run, uint64_t seed, int64_t start_ms, const char *client_id)
{
	struct lg_rand r;

	lg_rand_seed(&r, seed, LG_RUN_STREAM_TAG);
	run->seed = seed;
	run->start_ms = start_ms;
	run->client_id = client_id;
	snprintf(run->tag, sizeof(run->tag), "%08x", (unsigned)(lg_rand_next(&r) >> 32));
}

void
lg_run_event(const struct lg_run *run, souk_event_t *ev, souk_event_type_t type,
	     int64_t ts_ms, const char *idempotency_key, struct lg_rand *ids)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->version = SOUK_EVENT_VERSION;
	lg_time_format(ts_ms, ev->ts);
	snprintf(ev->client_id, sizeof(ev->client_id), "%s", run->client_id);
	ev->key_valid = true;
	if (idempotency_key != NULL) {
		snprintf(ev->idempotency_key, sizeof(ev->idempotency_key), "%s",
			 idempotency_key);
		souk_uuid_derive(run->client_id, idempotency_key, 0, ev->event_id);
	} else {
		lg_rand_uuid(ids, ev->event_id);
	}
}
