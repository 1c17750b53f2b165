/*
 * pay_pool: the payments pool (souk-worker payments): payment commands decided by the
 * state machine, idempotency keys and the provider (pay_batch.h). It consumes
 * `payments` in group souk-payments and answers every command on `payment-results`;
 * its keys are pay_pool_config's. A timer every second runs the janitor (parked
 * payments of the partitions this thread owns) and the reaper of expired keys.
 */
#ifndef PAY_POOL_H
#define PAY_POOL_H

#include "souk_pool.h"

extern const struct souk_config_def pay_pool_config[];
extern const struct souk_pool pay_pool;

#endif
