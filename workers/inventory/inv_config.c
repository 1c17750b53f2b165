/*
 * inv_config: see inv_config.h.
 */
#include "inv_config.h"

const struct souk_config_def inv_config[] = {
    {.name = "inventory.redis_timeout",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "2s",
     .min = 100,
     .max = 60000,
     .help = "bound on connecting to Redis and on each Redis command; a batch that hits "
	     "it is rolled back and run again"},
    {.name = "inventory.reservation_ttl",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "5m",
     .min = 10000,
     .max = 86400000,
     .help = "a Redis reservation whose order PostgreSQL has not recorded after this "
	     "long is no longer counted as in flight by reconciliation"},
    {.name = "inventory.reconcile_interval",
     .type = SOUK_CONFIG_DURATION_MS,
     .def = "1m",
     .min = 0,
     .max = 86400000,
     .help = "how often each worker thread reconciles the Redis keys of the SKUs it "
	     "decided since the last time with PostgreSQL (0: never)"},
    {.name = NULL},
};
