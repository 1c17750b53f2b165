-- The stock_set events the inventory pool applied, by event_id. A stock_set sets the
-- stock to a value; applied again (a replay, an offset reset, a redelivery after a
-- crash that lost nothing else) it would put sold units back. The pool applies one only
-- if its event_id is new here, in the same statement that writes the stock row. Restocks
-- are rare: rows are kept (no purge), so a replay of any age is safe.
CREATE TABLE stock_sets (
	event_id       uuid   PRIMARY KEY,
	sku            text   NOT NULL,
	stock          bigint NOT NULL,
	limit_per_user bigint,
	applied_at     timestamptz NOT NULL DEFAULT now()
);
