/*
 * pay_sql: the payments pool's statements on the tables of schemas/sql/003_payments.sql
 * and 004_payments_waiting.sql.
 *
 * Every call is one statement (one round trip) over a whole batch, with array
 * parameters (souk_pgarray): the loads take the batch's ids, the writes take one
 * array per column (a struct pay_sql_rows), built while the batch is decided. They run
 * in the caller's transaction, except pay_sql_write_intents, which the pool runs on a
 * session of its own so that the intents are committed before the provider is called.
 * Every call returns a souk_pg status with errstr filled on failure.
 */
#ifndef PAY_SQL_H
#define PAY_SQL_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "souk_pg.h"
#include "souk_pgarray.h"

/* Prepares every statement below on pg (souk_pg re-prepares them after a reconnect). */
int pay_sql_prepare(struct souk_pg *pg, char *errstr, size_t errstr_size);

/* The rows every load returns, by column. */
enum {
	PAY_SQL_PAYMENT_ID,
	PAY_SQL_PAYMENT_CLIENT,
	PAY_SQL_PAYMENT_STATE,
	PAY_SQL_PAYMENT_CURRENCY,
	PAY_SQL_PAYMENT_AMOUNT,
	PAY_SQL_PAYMENT_AUTHORIZED,
	PAY_SQL_PAYMENT_CAPTURED,
	PAY_SQL_PAYMENT_REFUNDED,
	PAY_SQL_PAYMENT_REF, /* "" when none */
	PAY_SQL_PAYMENT_VERSION,
	PAY_SQL_PAYMENT_PARKED, /* "t" when it has payment_waiting rows */
};
/* The payments rows of ids (a text[] literal). *out: PQclear it. */
int pay_sql_load_payments(struct souk_pg *pg, const char *ids, PGresult **out,
			  char *errstr, size_t errstr_size);

/* (payment_id, refund_id) of every refund of the payments ids. */
int pay_sql_load_refunds(struct souk_pg *pg, const char *ids, PGresult **out,
			 char *errstr, size_t errstr_size);

enum {
	PAY_SQL_KEY_CLIENT,
	PAY_SQL_KEY_KEY,
	PAY_SQL_KEY_HASH,
	PAY_SQL_KEY_STATE,
	PAY_SQL_KEY_PAYMENT_ID,
	PAY_SQL_KEY_RESULT_ID,
	PAY_SQL_KEY_RESPONSE,	  /* "" while in_progress */
	PAY_SQL_KEY_PROVIDER_KEY, /* "" when none */
};
/* The idempotency_keys rows of the pairs (clients[i], keys[i]) (two text[]). */
int pay_sql_load_keys(struct souk_pg *pg, const char *clients, const char *keys,
		      PGresult **out, char *errstr, size_t errstr_size);

enum {
	PAY_SQL_WAIT_PAYMENT_ID,
	PAY_SQL_WAIT_TOPIC,
	PAY_SQL_WAIT_PARTITION,
	PAY_SQL_WAIT_OFFSET,
	PAY_SQL_WAIT_EVENT,
	PAY_SQL_WAIT_PROVIDER_KEY, /* "" when none */
};
/* The waiting commands of up to limit parked payments of topic's partitions (an
 * int[]), by payment and arrival. */
int pay_sql_load_waiting(struct souk_pg *pg, const char *topic, const char *partitions,
			 int limit, PGresult **out, char *errstr, size_t errstr_size);

/* One array per column of each table the pool writes (pay_sql_rows_*). */
enum {
	PAY_SQL_P_ID,
	PAY_SQL_P_CLIENT,
	PAY_SQL_P_STATE,
	PAY_SQL_P_CURRENCY,
	PAY_SQL_P_AMOUNT,
	PAY_SQL_P_AUTHORIZED,
	PAY_SQL_P_CAPTURED,
	PAY_SQL_P_REFUNDED,
	PAY_SQL_P_REF,
	PAY_SQL_P_VERSION,
	PAY_SQL_P_COLS
};
enum {
	PAY_SQL_U_ID,
	PAY_SQL_U_STATE,
	PAY_SQL_U_AUTHORIZED,
	PAY_SQL_U_CAPTURED,
	PAY_SQL_U_REFUNDED,
	PAY_SQL_U_REF,
	PAY_SQL_U_VERSION,
	PAY_SQL_U_OLD_VERSION,
	PAY_SQL_U_COLS
};
enum {
	PAY_SQL_T_ID,
	PAY_SQL_T_VERSION,
	PAY_SQL_T_FROM,
	PAY_SQL_T_TO,
	PAY_SQL_T_COMMAND,
	PAY_SQL_T_AMOUNT,
	PAY_SQL_T_REFUND_ID,
	PAY_SQL_T_CLIENT,
	PAY_SQL_T_KEY,
	PAY_SQL_T_COLS
};
enum {
	PAY_SQL_R_ID,
	PAY_SQL_R_REFUND_ID,
	PAY_SQL_R_AMOUNT,
	PAY_SQL_R_STATE,
	PAY_SQL_R_COLS
};
enum {
	PAY_SQL_K_CLIENT,
	PAY_SQL_K_KEY,
	PAY_SQL_K_HASH,
	PAY_SQL_K_STATE,
	PAY_SQL_K_ID,
	PAY_SQL_K_COMMAND,
	PAY_SQL_K_RESULT_ID,
	PAY_SQL_K_RESPONSE,
	PAY_SQL_K_PROVIDER_KEY,
	PAY_SQL_K_COLS
};
enum {
	PAY_SQL_I_KEY,
	PAY_SQL_I_ID,
	PAY_SQL_I_COMMAND,
	PAY_SQL_I_AMOUNT,
	PAY_SQL_I_CURRENCY,
	PAY_SQL_I_REFUND_ID,
	PAY_SQL_I_COLS
};
enum {
	PAY_SQL_W_ID,
	PAY_SQL_W_TOPIC,
	PAY_SQL_W_PARTITION,
	PAY_SQL_W_OFFSET,
	PAY_SQL_W_EVENT,
	PAY_SQL_W_PROVIDER_KEY,
	PAY_SQL_W_COLS
};

/* What a batch writes, one array per column. Zeroed is empty. */
struct pay_sql_rows {
	struct souk_pgarray created[PAY_SQL_P_COLS]; /* new payments */
	struct souk_pgarray updated[PAY_SQL_U_COLS]; /* payments that moved */
	struct souk_pgarray transitions[PAY_SQL_T_COLS];
	struct souk_pgarray refunds[PAY_SQL_R_COLS]; /* inserted or moved on */
	struct souk_pgarray keys[PAY_SQL_K_COLS];    /* inserted or made final */
	struct souk_pgarray answered[2];	     /* provider_key, new intent state */
	struct souk_pgarray waiting[PAY_SQL_W_COLS]; /* commands that wait */
	struct souk_pgarray unparked;		     /* payment ids whose rows go */
};

void pay_sql_rows_reset(struct pay_sql_rows *r);
void pay_sql_rows_free(struct pay_sql_rows *r);

/*
 * Writes r in the caller's transaction: payments (updates conditional on the version
 * read: a row that moved under us makes this fail with SOUK_PG_ERROR and errstr
 * saying so), transitions, refunds, keys (final keys expire keep_s seconds from now),
 * intents' states, and the waiting commands (the unparked payments' rows deleted
 * first). One statement per table that has rows.
 */
int pay_sql_write(struct souk_pg *pg, struct pay_sql_rows *r, int64_t keep_s,
		  char *errstr, size_t errstr_size);

/* Inserts the intents cols (state 'pending'; one already there stays as it is) on pg,
 * outside any transaction: committed when this returns. *sent (the caller's, PQclear;
 * NULL when cols is empty) gets the provider_key (column 0) of each intent whose call
 * an earlier attempt may have sent: one that was there already and not answered
 * (pending or unknown), or that another session wrote meanwhile. An intent answered
 * 'done' had a definite answer (a failure sent nothing; a success or a refusal is
 * stored under the client's key and never called again). */
int pay_sql_write_intents(struct souk_pg *pg, struct souk_pgarray cols[PAY_SQL_I_COLS],
			  PGresult **sent, char *errstr, size_t errstr_size);

/* Deletes up to limit idempotency keys that expired; *n says how many. */
int pay_sql_reap(struct souk_pg *pg, int limit, long *n, char *errstr,
		 size_t errstr_size);

#endif
