#include "lg_flash.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lg_zipf.h"

#define LG_FLASH_ORDERS_PER_S 2000.0
#define LG_FLASH_USER_DRAWS 16 /* draws of a user who may still buy, then give up */

/* Random streams (see lg_rand_seed); greedy user u's favourite SKU comes from stream
 * LG_FLASH_STREAM_FAVOURITE + u, so it needs no table. */
enum {
	LG_FLASH_STREAM_IDS = 1,
	LG_FLASH_STREAM_ORDERS,
	LG_FLASH_STREAM_TIME,
	LG_FLASH_STREAM_RETRIES,
	LG_FLASH_STREAM_FAVOURITE = 1000,
};

/* What one user bought of one SKU: ordered counts every order, accepted only the
 * ones the forecast accepts. */
struct lg_flash_tally {
	uint64_t key; /* (user << 32 | sku) + 1; 0 marks an empty slot */
	int64_t ordered;
	int64_t accepted;
};

/* One accepted order, enough to send it again. */
struct lg_flash_sent {
	long long number; /* o-<tag>-<number> */
	uint32_t user, sku;
	int32_t qty;
};

struct lg_flash {
	const struct lg_run *run;
	const struct lg_flash_opts *opts;
	struct lg_out *out;
	struct lg_flash_stats *stats;
	struct lg_rand ids, draws, time;
	struct lg_zipf *zipf;
	double t_ms;	      /* simulated time of the last event, from the epoch */
	long long greedy;     /* users 0 .. greedy-1 are greedy */
	double greedy_chance; /* of an order coming from a greedy user */
	/* Open addressing with linear probing, at most half full: O(1) expected per
	 * lookup; 24 bytes a slot, one slot per (user, SKU) pair that ordered. */
	struct lg_flash_tally *tally;
	size_t tally_size, tally_used; /* size is a power of two */
	long long *stock_left;	       /* per SKU, the forecast */
	struct lg_flash_sent *sent;    /* accepted orders in stream order */
	size_t nsent, sent_cap;
	char line[SOUK_EVENT_MAX_BYTES + 1]; /* an invalid order being patched */
};

void
lg_flash_defaults(struct lg_flash_opts *opts)
{
	opts->users = 100000;
	opts->skus = 10;
	opts->stock = 100;
	opts->limit = 2;
	opts->orders = opts->users;
	opts->zipf_s = 1.1;
	opts->retry_share = 0.05;
	opts->greedy_share = 0.01;
	opts->invalid_share = 0;
}

static uint64_t
lg_flash_hash(uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	return key ^ (key >> 33);
}

/* Doubles the table and rehashes every pair: O(pairs). */
static int
lg_flash_tally_grow(struct lg_flash *f)
{
	size_t size = f->tally_size ? f->tally_size * 2 : 1024;
	struct lg_flash_tally *t = calloc(size, sizeof(*t));

	if (t == NULL)
		return -1;
	for (size_t i = 0; i < f->tally_size; i++) {
		size_t j;

		if (f->tally[i].key == 0)
			continue;
		j = lg_flash_hash(f->tally[i].key) & (size - 1);
		while (t[j].key != 0)
			j = (j + 1) & (size - 1);
		t[j] = f->tally[i];
	}
	free(f->tally);
	f->tally = t;
	f->tally_size = size;
	return 0;
}

/* The tally of (user, sku), inserted at zero if new; NULL with errstr filled when
 * out of memory. */
static struct lg_flash_tally *
lg_flash_tally_get(struct lg_flash *f, uint32_t user, uint32_t sku, char *errstr,
		   size_t errstr_size)
{
	uint64_t key = ((uint64_t)user << 32 | sku) + 1;
	size_t i;

	if (2 * (f->tally_used + 1) > f->tally_size && lg_flash_tally_grow(f) != 0) {
		snprintf(errstr, errstr_size, "could not allocate the order tally");
		return NULL;
	}
	i = lg_flash_hash(key) & (f->tally_size - 1);
	while (f->tally[i].key != 0 && f->tally[i].key != key)
		i = (i + 1) & (f->tally_size - 1);
	if (f->tally[i].key == 0) {
		f->tally[i].key = key;
		f->tally_used++;
	}
	return &f->tally[i];
}

/* Advances simulated time by one exponential gap of the order stream. */
static int64_t
lg_flash_tick(struct lg_flash *f)
{
	f->t_ms += -log(1.0 - lg_rand_double(&f->time)) * 1000.0 / LG_FLASH_ORDERS_PER_S;
	return (int64_t)f->t_ms;
}

static void
lg_flash_order_event(struct lg_flash *f, souk_event_t *ev, int64_t ts_ms,
		     long long number, uint32_t user, uint32_t sku, int qty)
{
	char order_id[SOUK_EVENT_IDENT_SIZE];

	snprintf(order_id, sizeof(order_id), "o-%s-%lld", f->run->tag, number);
	lg_run_event(f->run, ev, SOUK_EVENT_TYPE_ORDER, ts_ms, order_id, &f->ids);
	memcpy(ev->order.order_id, order_id, sizeof(order_id));
	snprintf(ev->order.user_id, sizeof(ev->order.user_id), "u-%s-%u", f->run->tag,
		 user + 1);
	snprintf(ev->order.sku, sizeof(ev->order.sku), "SKU-%s-%u", f->run->tag, sku + 1);
	ev->order.qty = qty;
}

/* Picks who orders what (see the header): fills *user, *sku, *qty. Returns
 * LG_OUT_OK, or LG_OUT_ERROR with errstr filled. */
static int
lg_flash_draw(struct lg_flash *f, uint32_t *user, uint32_t *sku, int *qty, char *errstr,
	      size_t errstr_size)
{
	const struct lg_flash_opts *o = f->opts;
	struct lg_flash_tally *t;

	if (lg_rand_chance(&f->draws, f->greedy_chance)) {
		struct lg_rand fav;

		*user = (uint32_t)lg_rand_below(&f->draws, (uint64_t)f->greedy);
		lg_rand_seed(&fav, f->run->seed, LG_FLASH_STREAM_FAVOURITE + *user);
		*sku = (uint32_t)lg_zipf_sample(f->zipf, &fav);
		*qty = 1;
		t = lg_flash_tally_get(f, *user, *sku, errstr, errstr_size);
		if (t == NULL)
			return LG_OUT_ERROR;
		t->ordered += *qty;
		return LG_OUT_OK;
	}
	for (int draw = 0;; draw++) {
		*user = (uint32_t)(f->greedy +
				   (long long)lg_rand_below(
				       &f->draws, (uint64_t)(o->users - f->greedy)));
		*sku = (uint32_t)lg_zipf_sample(f->zipf, &f->draws);
		*qty = o->limit >= 2 && lg_rand_chance(&f->draws, 0.1) ? 2 : 1;
		t = lg_flash_tally_get(f, *user, *sku, errstr, errstr_size);
		if (t == NULL)
			return LG_OUT_ERROR;
		if (t->ordered + *qty > o->limit)
			*qty = 1;
		if (t->ordered + *qty <= o->limit || draw == LG_FLASH_USER_DRAWS)
			break;
	}
	t->ordered += *qty;
	return LG_OUT_OK;
}

/* The forecast: accepts the order while stock and the user's limit allow. Returns
 * LG_OUT_OK, or LG_OUT_ERROR with errstr filled. */
static int
lg_flash_forecast(struct lg_flash *f, long long number, uint32_t user, uint32_t sku,
		  int qty, char *errstr, size_t errstr_size)
{
	struct lg_flash_tally *t = lg_flash_tally_get(f, user, sku, errstr, errstr_size);

	if (t == NULL)
		return LG_OUT_ERROR;
	if (f->stock_left[sku] < qty || t->accepted + qty > f->opts->limit)
		return LG_OUT_OK;
	if (f->nsent == f->sent_cap) {
		size_t cap = f->sent_cap ? 2 * f->sent_cap : 1024;
		struct lg_flash_sent *s = realloc(f->sent, cap * sizeof(*s));

		if (s == NULL) {
			snprintf(errstr, errstr_size,
				 "could not allocate the order list");
			return LG_OUT_ERROR;
		}
		f->sent = s;
		f->sent_cap = cap;
	}
	f->sent[f->nsent++] = (struct lg_flash_sent){number, user, sku, qty};
	f->stock_left[sku] -= qty;
	t->accepted += qty;
	f->stats->accepted++;
	f->stats->units_sold += qty;
	return LG_OUT_OK;
}

/* Writes ev with qty 0: encoded valid with qty 1, then the one digit patched. The
 * encoder writes "qty":1 exactly once, and no other member can hold that text
 * (identifiers and our keys hold no quote). */
static int
lg_flash_write_invalid(struct lg_flash *f, const souk_event_t *ev, char *errstr,
		       size_t errstr_size)
{
	char why[256];
	size_t len;
	char *qty;

	if (souk_event_encode(ev, f->line, sizeof(f->line), &len, why, sizeof(why)) !=
	    0) {
		snprintf(errstr, errstr_size, "could not encode order %s: %s",
			 ev->order.order_id, why);
		return LG_OUT_ERROR;
	}
	qty = strstr(f->line, "\"qty\":1");
	if (qty == NULL || (qty[7] != ',' && qty[7] != '}')) {
		snprintf(errstr, errstr_size,
			 "could not make order %s invalid: no \"qty\":1 in \"%s\"",
			 ev->order.order_id, f->line);
		return LG_OUT_ERROR;
	}
	qty[6] = '0';
	return lg_out_line(f->out, SOUK_EVENT_TYPE_ORDER, ev->order.sku, f->line, len,
			   errstr, errstr_size);
}

static int
lg_flash_stock(struct lg_flash *f, char *errstr, size_t errstr_size)
{
	souk_event_t ev;
	int rc = LG_OUT_OK;

	for (long long s = 0; s < f->opts->skus && rc == LG_OUT_OK; s++) {
		lg_run_event(f->run, &ev, SOUK_EVENT_TYPE_STOCK_SET, f->run->start_ms,
			     NULL, &f->ids);
		snprintf(ev.stock_set.sku, sizeof(ev.stock_set.sku), "SKU-%s-%lld",
			 f->run->tag, s + 1);
		ev.stock_set.stock = f->opts->stock;
		ev.stock_set.has_limit_per_user = true;
		ev.stock_set.limit_per_user = f->opts->limit;
		rc = lg_out_event(f->out, &ev, errstr, errstr_size);
	}
	return rc;
}

static int
lg_flash_orders(struct lg_flash *f, char *errstr, size_t errstr_size)
{
	const struct lg_flash_opts *o = f->opts;
	souk_event_t ev;
	int rc = LG_OUT_OK;

	f->t_ms = (double)(f->run->start_ms + 1000);
	for (long long n = 0; n < o->orders && rc == LG_OUT_OK; n++) {
		/* floor((n + 1) * share) - floor(n * share) is 1 exactly floor(orders *
		 * share) times, evenly spread. */
		int invalid = floor((double)(n + 1) * o->invalid_share) >
			      floor((double)n * o->invalid_share);
		uint32_t user, sku;
		int qty;

		rc = lg_flash_draw(f, &user, &sku, &qty, errstr, errstr_size);
		if (rc != LG_OUT_OK)
			break;
		lg_flash_order_event(f, &ev, lg_flash_tick(f), n + 1, user, sku,
				     invalid ? 1 : qty);
		if (invalid) {
			rc = lg_flash_write_invalid(f, &ev, errstr, errstr_size);
		} else {
			rc = lg_out_event(f->out, &ev, errstr, errstr_size);
			if (rc == LG_OUT_OK)
				rc = lg_flash_forecast(f, n + 1, user, sku, qty, errstr,
						       errstr_size);
		}
		if (rc == LG_OUT_OK) {
			f->stats->orders++;
			f->stats->invalid += invalid;
		}
	}
	return rc;
}

/* round(accepted * retry_share) accepted orders, a uniform sample in random order (a
 * partial Fisher-Yates shuffle of the accepted list), one simulated second after the
 * last order. */
static int
lg_flash_retries(struct lg_flash *f, char *errstr, size_t errstr_size)
{
	long long n = llround((double)f->nsent * f->opts->retry_share);
	struct lg_rand pick;
	souk_event_t ev;
	int rc = LG_OUT_OK;

	lg_rand_seed(&pick, f->run->seed, LG_FLASH_STREAM_RETRIES);
	f->t_ms += 1000;
	for (long long i = 0; i < n && rc == LG_OUT_OK; i++) {
		size_t j = (size_t)i + lg_rand_below(&pick, f->nsent - (size_t)i);
		struct lg_flash_sent s = f->sent[j];

		f->sent[j] = f->sent[i];
		f->sent[i] = s;
		lg_flash_order_event(f, &ev, lg_flash_tick(f), s.number, s.user, s.sku,
				     s.qty);
		rc = lg_out_event(f->out, &ev, errstr, errstr_size);
		if (rc == LG_OUT_OK)
			f->stats->retries++;
	}
	return rc;
}

int
lg_flash_run(const struct lg_run *run, const struct lg_flash_opts *opts,
	     struct lg_out *out, struct lg_flash_stats *stats, char *errstr,
	     size_t errstr_size)
{
	struct lg_flash *f = calloc(1, sizeof(*f));
	int ret = -1, rc;

	memset(stats, 0, sizeof(*stats));
	if (f == NULL) {
		snprintf(errstr, errstr_size, "could not allocate the flash sale");
		goto out;
	}
	if (opts->users < 1 || opts->users > UINT32_MAX || opts->skus < 1 ||
	    opts->skus > UINT32_MAX) {
		snprintf(errstr, errstr_size, "users and skus must lie in 1..%u",
			 UINT32_MAX);
		goto out;
	}
	f->run = run;
	f->opts = opts;
	f->out = out;
	f->stats = stats;
	lg_rand_seed(&f->ids, run->seed, LG_FLASH_STREAM_IDS);
	lg_rand_seed(&f->draws, run->seed, LG_FLASH_STREAM_ORDERS);
	lg_rand_seed(&f->time, run->seed, LG_FLASH_STREAM_TIME);
	f->greedy = llround((double)opts->users * opts->greedy_share);
	/* Each greedy user places about limit + 2 orders; at most half the stream is
	 * greedy, unless everybody is. */
	f->greedy_chance = f->greedy == opts->users ? 1.0
			   : opts->orders == 0
			       ? 0.0
			       : fmin(0.5, (double)f->greedy * (double)(opts->limit + 2) /
					       (double)opts->orders);
	f->zipf = lg_zipf_new((size_t)opts->skus, opts->zipf_s, errstr, errstr_size);
	if (f->zipf == NULL)
		goto out;
	f->stock_left = malloc((size_t)opts->skus * sizeof(*f->stock_left));
	if (f->stock_left == NULL) {
		snprintf(errstr, errstr_size, "could not allocate %lld skus", opts->skus);
		goto out;
	}
	for (long long s = 0; s < opts->skus; s++)
		f->stock_left[s] = opts->stock;

	rc = lg_flash_stock(f, errstr, errstr_size);
	if (rc == LG_OUT_OK)
		rc = lg_flash_orders(f, errstr, errstr_size);
	if (rc == LG_OUT_OK)
		rc = lg_flash_retries(f, errstr, errstr_size);
	if (rc == LG_OUT_ERROR)
		goto out;
	ret = 0;
out:
	if (f != NULL) {
		lg_zipf_destroy(f->zipf);
		free(f->tally);
		free(f->stock_left);
		free(f->sent);
		free(f);
	}
	return ret;
}
