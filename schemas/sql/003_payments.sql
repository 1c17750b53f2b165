-- The payments pool's ledger (DESIGN.md, "Payments"): each payment's state and
-- amounts, its refunds as child rows, every transition in a history, the clients'
-- idempotency keys with their stored outcomes, and the provider-side key of every
-- provider call. The legal transitions are one table in code
-- (workers/payments/pay_fsm.c); the CHECKs here refuse, from any writer, a row that no
-- legal path reaches. Amounts are minor units of the payment's currency (its exponent:
-- souk_event_currency_exponent), at most 1000000000000 as in the events.

-- One row per payment, always 0 <= amount_refunded <= amount_captured <=
-- amount_authorized <= amount. A transition is one statement, conditional on the
-- state and version the pool read:
--   UPDATE payments SET state = $next, amount_... = ..., version = version + 1,
--          updated_at = now()
--   WHERE payment_id = $1 AND state = $read AND version = $version
-- 0 rows: the payment moved on under us, nothing is applied. Its payment_transitions
-- row (and a refund's payment_refunds row) go in the same transaction.
CREATE TABLE payments (
	payment_id        text   PRIMARY KEY,
	client_id         text   NOT NULL, -- who created it
	state             text   NOT NULL CHECK (state IN ('created', 'authorized',
	                                'captured', 'settled', 'declined', 'voided',
	                                'refunded')),
	currency          text   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
	amount            bigint NOT NULL CHECK (amount BETWEEN 1 AND 1000000000000),
	amount_authorized bigint NOT NULL DEFAULT 0 CHECK (amount_authorized >= 0),
	amount_captured   bigint NOT NULL DEFAULT 0 CHECK (amount_captured >= 0),
	amount_refunded   bigint NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0),
	provider_ref      text,   -- the provider's id for the payment, once it gave one
	version           bigint NOT NULL DEFAULT 0, -- + 1 at every transition
	created_at        timestamptz NOT NULL DEFAULT now(),
	updated_at        timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT payments_authorized_le_amount CHECK (amount_authorized <= amount),
	CONSTRAINT payments_captured_le_authorized CHECK (amount_captured <= amount_authorized),
	CONSTRAINT payments_refunded_le_captured CHECK (amount_refunded <= amount_captured),
	-- What the state says of the amounts: nothing authorized before the
	-- authorization or after a decline; a capture exactly in the states after it
	-- (a capture is at least 1); refunded exactly when the refunds reached it.
	CONSTRAINT payments_authorized_by_state CHECK (
		(state IN ('created', 'declined')) = (amount_authorized = 0)),
	CONSTRAINT payments_captured_by_state CHECK (
		(state IN ('captured', 'settled', 'refunded')) = (amount_captured > 0)),
	CONSTRAINT payments_refunded_by_state CHECK (
		(state = 'refunded') = (amount_captured > 0
		                        AND amount_refunded = amount_captured))
);

-- Refunds of a captured or settled payment, one row per refund_id of the payment:
-- 'pending' while the provider has not answered, then 'succeeded' or 'failed'. A
-- refund that succeeds adds its amount to payments.amount_refunded in the same
-- transaction, so amount_refunded is the sum of the succeeded rows; the trigger below
-- checks that at commit, and payments_refunded_le_captured keeps the sum within the
-- capture.
CREATE TABLE payment_refunds (
	payment_id text   NOT NULL REFERENCES payments (payment_id),
	refund_id  text   NOT NULL,
	amount     bigint NOT NULL CHECK (amount BETWEEN 1 AND 1000000000000),
	state      text   NOT NULL DEFAULT 'pending'
	                  CHECK (state IN ('pending', 'succeeded', 'failed')),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (payment_id, refund_id)
);

-- Refuses a commit after which a payment's amount_refunded is not the sum of its
-- succeeded refunds, whoever wrote either. Deferred to the commit, so the two writes
-- may come in any order. Cost: one indexed scan of the payment's refunds per row
-- written.
CREATE FUNCTION payment_refunds_add_up() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	pid  text := coalesce(NEW.payment_id, OLD.payment_id);
	want bigint;
	have bigint;
BEGIN
	SELECT amount_refunded INTO want FROM payments WHERE payment_id = pid;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT coalesce(sum(amount), 0) INTO have FROM payment_refunds
	WHERE payment_id = pid AND state = 'succeeded';
	IF have <> want THEN
		RAISE EXCEPTION 'could not commit the refunds of payment "%": amount_refunded is % but its succeeded refunds add up to %',
			pid, want, have
			USING ERRCODE = 'check_violation';
	END IF;
	RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER payment_refunds_add_up
	AFTER INSERT OR UPDATE OR DELETE ON payment_refunds
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION payment_refunds_add_up();
CREATE CONSTRAINT TRIGGER payments_refunded_adds_up
	AFTER INSERT OR UPDATE OF amount_refunded ON payments
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION payment_refunds_add_up();

-- Every applied transition, appended with it: the payment's history for audits and
-- the reconciliation. A partial refund is a transition from a state to itself. version
-- is the payment's version after the transition, so there is one row per version. A
-- command refused (by the rules or by the provider, except a declined authorization)
-- applies nothing and has no row here.
CREATE TABLE payment_transitions (
	id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	payment_id      text   NOT NULL REFERENCES payments (payment_id),
	version         bigint NOT NULL,
	from_state      text   CHECK (from_state IN ('created', 'authorized', 'captured',
	                              'settled', 'declined', 'voided', 'refunded')),
	to_state        text   NOT NULL CHECK (to_state IN ('created', 'authorized',
	                              'captured', 'settled', 'declined', 'voided',
	                              'refunded')),
	command         text   NOT NULL CHECK (command IN ('create', 'authorize',
	                              'capture', 'void', 'refund', 'settle')),
	amount          bigint, -- the command's, when it had one
	refund_id       text,
	client_id       text   NOT NULL,
	idempotency_key text   NOT NULL,
	at              timestamptz NOT NULL DEFAULT now(),
	UNIQUE (payment_id, version),
	CHECK ((from_state IS NULL) = (command = 'create')) -- only a create starts one
);

-- Clients' idempotency keys (workers/payments/pay_idem.h for the rules), scoped per
-- client. A key is stored with the first command that uses it: the hash of its
-- parameters (pay_idem_hash) and the result id its answer carries, so the answer sent
-- later, and every replay of it, has the same id. While the outcome is unknown (a
-- provider call that did not answer) the key is 'in_progress' and commands under it
-- wait; once the outcome is final (success or a definite error) response holds the
-- payment_result as published, replayed as is.
-- A final key expires a keep time after its outcome, never less than the payments
-- topic's retention (pay_idem_keep_check), so a command the topic can still
-- redeliver always finds its key. The reaper deletes expired keys in bounded chunks:
--   DELETE FROM idempotency_keys WHERE (client_id, key) IN (SELECT client_id, key
--     FROM idempotency_keys WHERE expires_at < now() LIMIT 1000)
-- An in_progress key has no expires_at and is never reaped.
CREATE TABLE idempotency_keys (
	client_id    text NOT NULL,
	key          text NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 255),
	params_hash  text NOT NULL CHECK (params_hash ~ '^[0-9a-f]{64}$'),
	state        text NOT NULL CHECK (state IN ('in_progress', 'final')),
	payment_id   text NOT NULL,
	command      text NOT NULL CHECK (command IN ('create', 'authorize', 'capture',
	                              'void', 'refund', 'settle')),
	result_id    uuid NOT NULL,
	response     text, -- the payment_result JSON; NULL while in_progress
	provider_key uuid, -- pay_idem_provider_key, for a command that calls the provider
	created_at   timestamptz NOT NULL DEFAULT now(),
	expires_at   timestamptz, -- NULL while in_progress
	PRIMARY KEY (client_id, key),
	CONSTRAINT idempotency_keys_final_has_response CHECK (
		(state = 'final') = (response IS NOT NULL)),
	CONSTRAINT idempotency_keys_final_expires CHECK (
		(state = 'final') = (expires_at IS NOT NULL))
);
-- The reaper's scan: NULLs (in_progress keys) are never below now().
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
-- The commands parked on a payment.
CREATE INDEX idempotency_keys_in_progress ON idempotency_keys (payment_id)
	WHERE state = 'in_progress';

-- One row per provider call, written BEFORE the call with the provider-side key
-- (pay_idem_provider_key): 'pending' until the provider answers ('done', success or
-- refusal), 'unknown' when no answer came (a timeout). The key is derived from the
-- client, the payment and the client's key, so a retry, or a run after a crash, asks
-- the provider again with the same key and the provider applies the call at most
-- once; the reconciliation asks the provider about the pending and unknown rows. No
-- foreign key: the row may be written apart from (and before) the batch that creates
-- the payment.
CREATE TABLE payment_intents (
	provider_key uuid   PRIMARY KEY,
	payment_id   text   NOT NULL,
	command      text   NOT NULL CHECK (command IN ('authorize', 'capture', 'void',
	                                 'refund')),
	amount       bigint CHECK (amount BETWEEN 0 AND 1000000000000),
	currency     text   CHECK (currency ~ '^[A-Z]{3}$'),
	refund_id    text,
	state        text   NOT NULL DEFAULT 'pending'
	                    CHECK (state IN ('pending', 'done', 'unknown')),
	created_at   timestamptz NOT NULL DEFAULT now(),
	updated_at   timestamptz NOT NULL DEFAULT now(),
	CHECK ((command = 'refund') = (refund_id IS NOT NULL))
);
-- The calls whose outcome is still to be found.
CREATE INDEX payment_intents_open ON payment_intents (created_at) WHERE state <> 'done';
