-- The commands of parked payments (workers/payments/pay_batch.h). A payment is parked
-- when a provider call of one of its commands got no answer (a timeout): the outcome
-- is unknown, that command's idempotency key stays 'in_progress', and every later
-- command of the payment waits here behind it, in arrival order (seq), instead of
-- being applied. The first row of a payment is the command whose call is unknown
-- (provider_key set); the janitor asks the provider about it by that key, completes
-- it exactly once, then applies the rest in order and deletes the rows, in one
-- transaction. A payment is parked exactly while it has rows here.
--
-- The rows keep the command as consumed and its source coordinates, so the results
-- sent later carry them like any other (the outbox relays per source partition), and
-- the janitor of the consumer that owns the partition is the one that resolves them.
CREATE TABLE payment_waiting (
	seq              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	payment_id       text   NOT NULL,
	source_topic     text   NOT NULL,
	source_partition int    NOT NULL,
	source_offset    bigint NOT NULL,
	event            text   NOT NULL, -- the payment command's JSON as consumed
	provider_key     uuid,  -- on a payment's first row: the call to ask about
	created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_waiting_payment ON payment_waiting (payment_id, seq);
CREATE INDEX payment_waiting_partition ON payment_waiting (source_topic, source_partition);
