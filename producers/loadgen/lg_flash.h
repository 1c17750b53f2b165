/*
 * lg_flash: a flash sale. First one stock_set per SKU (stock and limit_per_user), then
 * the orders as they arrive (2,000 a second on average, a Poisson stream starting one
 * simulated second after the stock), then client retries of accepted orders, after
 * everything else, so they arrive once the sale is sold out.
 *
 * Ids carry the run tag: SKU-<tag>-<n>, u-<tag>-<n>, o-<tag>-<n>; an order's
 * idempotency key is its order_id, so its event_id is derived from the client and the
 * order_id and a retry repeats it exactly (only ts differs).
 *
 * Who orders what:
 *   - SKUs by popularity, Zipf with exponent zipf_s: SKU-<tag>-1 is the best seller.
 *   - qty 1, or 2 for one order in ten when the limit allows it.
 *   - Users u-<tag>-1 .. u-<tag>-G are greedy, G = round(users * greedy_share): each
 *     hammers one favourite SKU with about limit + 2 orders, ignoring the limit.
 *     Everybody else stays within the limit per SKU (unless the orders outnumber
 *     what the users may buy: after 16 draws of a user who may still buy, the 17th
 *     orders anyway).
 *   - floor(orders * invalid_share) orders, evenly spread, have qty 0: they decode
 *     (envelope and key intact) but break the qty rule, so the pool must answer
 *     "rejected: invalid". They are the only lines not built by souk_event_encode.
 *   - round(accepted * retry_share) of the accepted orders are sent again.
 *
 * "Accepted" is the generator's own forecast of the inventory pool: each SKU's orders
 * in stream order, accepted while stock lasts and the user's accepted quantity stays
 * within the limit. With fresh state (the tag guarantees one) it is exactly what the
 * pool must decide, so tests can check the pool against stats.
 */
#ifndef LG_FLASH_H
#define LG_FLASH_H

#include <stddef.h>

#include "lg_out.h"
#include "lg_run.h"

struct lg_flash_opts {
	long long users;  /* >= 1 */
	long long skus;	  /* >= 1 */
	long long stock;  /* per SKU, 0..100000000 */
	long long limit;  /* per user and SKU, 1..1000000 */
	long long orders; /* logical orders, invalid ones included, >= 0 */
	double zipf_s;	  /* >= 0 */
	double retry_share, greedy_share, invalid_share; /* each in [0, 1] */
};

/* What the run wrote and what the forecast expects of it. When the output fills up
 * the run stops there, and so do the counts. */
struct lg_flash_stats {
	long long orders;     /* order lines before the retries, invalid ones included */
	long long invalid;    /* of which qty 0 */
	long long accepted;   /* forecast: orders accepted */
	long long units_sold; /* forecast: their quantities summed */
	long long retries;    /* retry lines after the orders */
};

/* Fills opts with the defaults of the command line: 100000 users, 10 SKUs, stock
 * 100, limit 2, orders = users, Zipf 1.1, retries 5 %, greedy 1 %, invalid 0. */
void lg_flash_defaults(struct lg_flash_opts *opts);

/*
 * Writes the sale to out until done or out is full. O(orders) time and memory (a
 * table of who bought what). Returns 0 (stats filled), or -1 with errstr filled
 * (bad options, out of memory, an output error).
 */
int lg_flash_run(const struct lg_run *run, const struct lg_flash_opts *opts,
		 struct lg_out *out, struct lg_flash_stats *stats, char *errstr,
		 size_t errstr_size);

#endif
