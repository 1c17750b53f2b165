/*
 * inv_config: the inventory pool's configuration keys (inventory.*), shared by the
 * pool (souk-worker inventory) and souk-inventory. Redis is the common redis.url.
 */
#ifndef INV_CONFIG_H
#define INV_CONFIG_H

#include "souk_config.h"

extern const struct souk_config_def inv_config[];

#endif
