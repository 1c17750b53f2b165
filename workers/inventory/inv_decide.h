/*
 * inv_decide: the inventory pool's decisions as pure functions (no server, no clock),
 * so that the unit tests cover them.
 *
 * An order's answer comes from the first of these that applies (inv_decide_route):
 *   1. the same order_id earlier in the batch: that order's answer (DUPLICATE);
 *   2. PostgreSQL already decided the order_id: its stored answer and result_id,
 *      never a second decision (REPEAT);
 *   3. the event decoded but broke a rule, or its SKU is not in the stock table:
 *      rejected, invalid (INVALID);
 *   4. the SKU is flagged sold out (a commit left its stock at 0): rejected, sold_out
 *      (FLAG);
 *   5. the Redis gate: one Lua script per SKU checks the per-user limit and the stock
 *      and takes it; PostgreSQL checks the result and wins when they disagree (GATE,
 *      see inv_batch.h).
 * The gate's rule, which inv_decide_sku applies when PostgreSQL decides: orders in
 * event order; over the user's limit (bought + qty > limit, limit 0 meaning none) is
 * limit_exceeded; else more than the stock left is sold_out; else accepted, and the
 * stock and the user's count grow by qty. All or nothing: no partial quantity.
 */
#ifndef INV_DECIDE_H
#define INV_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inv_skuset.h"
#include "souk_event.h"
#include "souk_pool.h"

enum inv_answer {
	INV_ACCEPTED,
	INV_SOLD_OUT,
	INV_LIMIT_EXCEEDED,
	INV_INVALID,
};
#define INV_ANSWER_COUNT 4

/* "accepted", "sold_out", "limit_exceeded", "invalid". */
const char *inv_answer_name(enum inv_answer a);
/* The answer named by s[0..len). Returns 0, or -1 for any other text. */
int inv_answer_parse(const char *s, size_t len, enum inv_answer *out);
/* An orders row's status and reason ("" for NULL) as an answer. Returns 0, or -1 when
 * they do not name one ("accepted" with a reason, "rejected" without). */
int inv_answer_from_row(const char *status, const char *reason, enum inv_answer *out);
/* The row's status: "accepted" or "rejected". */
const char *inv_answer_status(enum inv_answer a);

enum inv_route {
	INV_ROUTE_GATE,
	INV_ROUTE_DUPLICATE,
	INV_ROUTE_REPEAT,
	INV_ROUTE_INVALID,
	INV_ROUTE_FLAG,
};

/* One order of a batch on its way to an answer. */
struct inv_order {
	const struct souk_pool_event *src; /* borrowed for the batch */
	/* What the answer is about: the event's order (partly decoded when it broke a
	 * rule) or, for a REPEAT, the stored one. */
	souk_event_order_t o;
	enum inv_route route;
	enum inv_answer answer; /* set once routed, or once the gate decided */
	size_t first;		/* DUPLICATE: the index of the order it repeats */
	/* The decision's stable id: derived from the order_id, or the stored one. */
	char result_id[SOUK_EVENT_UUID_SIZE];
};

/* Starts orders[i] from src, an order event (OK or EFIELD): route GATE and a
 * result_id derived from the order_id, so that the same decision sent again keeps it. */
void inv_decide_init(struct inv_order *ord, const struct souk_pool_event *src);

/* A decision PostgreSQL already holds (the orders table). */
struct inv_stored {
	souk_event_order_t o;
	enum inv_answer answer;
	char result_id[SOUK_EVENT_UUID_SIZE];
};

/* A SKU's row in the stock table. limit 0: no limit. */
struct inv_stock {
	char sku[SOUK_EVENT_IDENT_SIZE];
	int64_t available;
	int64_t version;
	int64_t limit;
};

/*
 * Routes orders[0..n) (all GATE) by the rules 1-4 at the top: stored holds
 * PostgreSQL's answers for these order ids, sold_out the flagged SKUs, stock the rows
 * of these SKUs (a SKU without one is unknown). Orders left GATE go to the gate. Sorts
 * stored and stock in place. Returns 0, or -1 when out of memory. O(n log n).
 */
int inv_decide_route(struct inv_order *orders, size_t n, struct inv_stored *stored,
		     size_t nstored, const struct inv_skuset *sold_out,
		     struct inv_stock *stock, size_t nstock);

/* The stock row of sku in stock[0..n) as sorted by inv_decide_route, or NULL. */
const struct inv_stock *inv_decide_stock(const struct inv_stock *stock, size_t n,
					 const char *sku);

/* Gives each DUPLICATE the answer, order and result_id of the one it repeats, once
 * those are final. O(n). */
void inv_decide_copy_duplicates(struct inv_order *orders, size_t n);

/*
 * The GATE orders of orders[0..n) grouped by SKU, each group in event order, into a
 * malloc'd array (the caller frees it) of *ngate pointers. Returns it, or NULL when
 * there is none or out of memory (*ngate then tells which: 0 for none).
 * O(n log n).
 */
struct inv_order **inv_decide_group(struct inv_order *orders, size_t n, size_t *ngate);

/* The length of the run of orders with group[0]'s SKU at the start of group[0..n). */
size_t inv_decide_run(struct inv_order *const *group, size_t n);

/* A quantity per user. user_id points into an order or a result. */
struct inv_tally {
	const char *user_id;
	int64_t qty;
};

/* The distinct users of group[0..n) into users (room for n), each with qty 0; returns
 * how many. O(n x users). */
size_t inv_decide_users(struct inv_order *const *group, size_t n,
			struct inv_tally *users);

/* The accepted quantity of group[0..n) per distinct user into users (room for n) and
 * in all into *total; returns how many users. O(n x users). */
size_t inv_decide_tally(struct inv_order *const *group, size_t n, struct inv_tally *users,
			int64_t *total);

/*
 * Decides group[0..n) (one SKU, event order) by the gate's rule against PostgreSQL's
 * numbers: *available and limit, and bought[0..nbought) holding every user of the
 * group with what they bought so far. Updates *available and bought as it accepts.
 * O(n x nbought).
 */
void inv_decide_sku(struct inv_order *const *group, size_t n, int64_t *available,
		    int64_t limit, struct inv_tally *bought, size_t nbought);

/*
 * Writes the order_result answering ord as JSON into buf[size] (*len bytes and a NUL;
 * SOUK_EVENT_MAX_BYTES + 1 is always enough): event_id and ts for its envelope,
 * client_id "inventory", source_event_id the order's event_id. Returns 0, or -1 with
 * errstr when the codec refuses it (an invalid order whose fields cannot be echoed).
 */
int inv_decide_result(const struct inv_order *ord, const char *event_id, const char *ts,
		      char *buf, size_t size, size_t *len, char *errstr,
		      size_t errstr_size);

#endif
