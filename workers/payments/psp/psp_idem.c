#include "psp_idem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "souk_map.h"

enum psp_idem_state {
	PSP_IDEM_FREE,	    /* no request holds it: never claimed, or abandoned */
	PSP_IDEM_EXECUTING, /* claimed, no answer yet */
	PSP_IDEM_DONE,	    /* the answer is stored */
};

struct psp_idem_entry {
	char key[SOUK_EVENT_IDEMPOTENCY_KEY_SIZE]; /* the map key */
	char fingerprint[PSP_FINGERPRINT_SIZE];
	enum psp_idem_state state;
	unsigned attempts; /* abandoned claims */
	struct psp_idem_answer answer;
};

struct psp_idem {
	pthread_mutex_t mutex;
	struct souk_map *keys; /* key -> struct psp_idem_entry */
};

struct psp_idem *
psp_idem_new(void)
{
	struct psp_idem *idem = calloc(1, sizeof(*idem));

	if (!idem)
		return NULL;
	idem->keys = souk_map_new();
	if (!idem->keys) {
		free(idem);
		return NULL;
	}
	pthread_mutex_init(&idem->mutex, NULL);
	return idem;
}

static void
psp_idem_entry_free(void *value)
{
	struct psp_idem_entry *e = value;

	free(e->answer.body);
	free(e);
}

void
psp_idem_destroy(struct psp_idem *idem)
{
	if (!idem)
		return;
	souk_map_destroy(idem->keys, psp_idem_entry_free);
	pthread_mutex_destroy(&idem->mutex);
	free(idem);
}

/* Copies src's body into *dst. Returns 0, or -1 when out of memory. */
static int
psp_idem_copy(struct psp_idem_answer *dst, const struct psp_idem_answer *src)
{
	dst->status = src->status;
	dst->len = src->len;
	dst->body = malloc(src->len + 1);
	if (!dst->body)
		return -1;
	memcpy(dst->body, src->body, src->len);
	dst->body[src->len] = '\0';
	return 0;
}

/* A new free entry for key, added to the map; NULL when out of memory. */
static struct psp_idem_entry *
psp_idem_add(struct psp_idem *idem, const char *key)
{
	struct psp_idem_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	snprintf(e->key, sizeof(e->key), "%s", key);
	if (souk_map_put(idem->keys, e->key, e)) {
		free(e);
		return NULL;
	}
	return e;
}

enum psp_idem_rc
psp_idem_begin(struct psp_idem *idem, const char *key, const char *fingerprint,
	       unsigned *attempt, struct psp_idem_answer *answer)
{
	struct psp_idem_entry *e;
	enum psp_idem_rc rc = PSP_IDEM_ERROR;

	pthread_mutex_lock(&idem->mutex);
	e = souk_map_get(idem->keys, key);
	if (!e && !(e = psp_idem_add(idem, key)))
		goto out;
	if (e->state == PSP_IDEM_FREE) {
		snprintf(e->fingerprint, sizeof(e->fingerprint), "%s", fingerprint);
		e->state = PSP_IDEM_EXECUTING;
		*attempt = e->attempts;
		rc = PSP_IDEM_NEW;
	} else if (strcmp(e->fingerprint, fingerprint)) {
		rc = PSP_IDEM_REUSED;
	} else if (e->state == PSP_IDEM_EXECUTING) {
		rc = PSP_IDEM_IN_PROGRESS;
	} else if (psp_idem_copy(answer, &e->answer) == 0) {
		rc = PSP_IDEM_REPLAY;
	}
out:
	pthread_mutex_unlock(&idem->mutex);
	return rc;
}

void
psp_idem_finish(struct psp_idem *idem, const char *key, struct psp_idem_answer *answer)
{
	struct psp_idem_entry *e;

	pthread_mutex_lock(&idem->mutex);
	e = souk_map_get(idem->keys, key);
	e->answer = *answer;
	e->state = PSP_IDEM_DONE;
	pthread_mutex_unlock(&idem->mutex);
	answer->body = NULL;
}

void
psp_idem_abandon(struct psp_idem *idem, const char *key)
{
	struct psp_idem_entry *e;

	pthread_mutex_lock(&idem->mutex);
	e = souk_map_get(idem->keys, key);
	e->state = PSP_IDEM_FREE;
	e->attempts++;
	pthread_mutex_unlock(&idem->mutex);
}

int
psp_idem_restore(struct psp_idem *idem, const char *key, const char *fingerprint,
		 const struct psp_idem_answer *answer, char *errstr, size_t errstr_size)
{
	struct psp_idem_entry *e;
	int rc = -1;

	pthread_mutex_lock(&idem->mutex);
	if (souk_map_get(idem->keys, key)) {
		snprintf(errstr, errstr_size, "idempotency key \"%.64s\" is stored twice",
			 key);
		goto out;
	}
	e = psp_idem_add(idem, key);
	if (!e || psp_idem_copy(&e->answer, answer)) {
		/* an entry without its answer stays free: as if never used */
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	snprintf(e->fingerprint, sizeof(e->fingerprint), "%s", fingerprint);
	e->state = PSP_IDEM_DONE;
	rc = 0;
out:
	pthread_mutex_unlock(&idem->mutex);
	return rc;
}

enum psp_idem_rc
psp_idem_lookup(struct psp_idem *idem, const char *key, struct psp_idem_answer *answer)
{
	struct psp_idem_entry *e;
	enum psp_idem_rc rc = PSP_IDEM_UNKNOWN;

	pthread_mutex_lock(&idem->mutex);
	e = souk_map_get(idem->keys, key);
	if (e && e->state == PSP_IDEM_EXECUTING)
		rc = PSP_IDEM_IN_PROGRESS;
	else if (e && e->state == PSP_IDEM_DONE)
		rc = psp_idem_copy(answer, &e->answer) ? PSP_IDEM_ERROR : PSP_IDEM_REPLAY;
	pthread_mutex_unlock(&idem->mutex);
	return rc;
}
