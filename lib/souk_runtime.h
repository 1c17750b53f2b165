/*
 * souk_runtime: the worker runtime every pool runs on (souk-worker <pool>).
 *
 * One consumer per thread in one consumer group; each batch's effects, consumed offsets
 * (fenced by an assignment epoch, souk_offsets) and results (souk_outbox) commit in one
 * PostgreSQL transaction; an outbox relay publishes the results; offsets also go to
 * Kafka after the commit so Kafka's own tools show the group's lag. See souk_pool.h for
 * what a pool provides and the batch's life.
 *
 * The runtime's configuration keys are in souk_runtime_config (worker.*); souk-worker
 * adds the common keys and the pool's own.
 */
#ifndef SOUK_RUNTIME_H
#define SOUK_RUNTIME_H

#include <stddef.h>

#include "souk_config.h"
#include "souk_pool.h"

extern const struct souk_config_def souk_runtime_config[];

struct souk_runtime;

/*
 * Connects what the threads share (the outbox relay, the status server on http.listen)
 * and starts `worker.threads` consumer threads in group (NULL: the pool's default).
 * pool and config are borrowed and must outlive the runtime. Returns NULL with errstr.
 */
struct souk_runtime *souk_runtime_new(const struct souk_pool *pool,
				      const struct souk_config *config, const char *group,
				      char *errstr, size_t errstr_size);

/* The status server's port (/metrics, /healthz, /readyz). */
unsigned souk_runtime_http_port(const struct souk_runtime *rt);

/*
 * Asks every thread to finish its batch, commit, and leave the group; waits for them,
 * drains the relay and frees everything. Returns the number of threads that ended on an
 * error (0: clean).
 */
int souk_runtime_stop(struct souk_runtime *rt);

#endif
