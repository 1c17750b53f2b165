/*
 * inv_pool: the inventory pool (souk-worker inventory): flash-sale orders decided by
 * the Redis gate and recorded in PostgreSQL, which has the last word (inv_batch.h).
 * It consumes `orders` in group souk-inventory and answers every order on
 * `order-results`; its keys are inv_config's.
 */
#ifndef INV_POOL_H
#define INV_POOL_H

#include "souk_pool.h"

extern const struct souk_pool inv_pool;

#endif
