-- The inventory pool's truth (DESIGN.md, "Flash sale"): stock per SKU, what each user
-- bought of it, and every order's one decision. Redis is only the fast gate in front
-- of these tables; they refuse an oversell or an over-limit purchase whatever Redis
-- says.

-- What is left to sell. The pool takes stock with an optimistic lock:
--   UPDATE stock SET available = available - n, version = version + 1
--   WHERE sku = $1 AND version = $read AND available >= n
-- and the CHECK refuses any other writer that would go below zero. A stock_set event
-- (restock or new limit) sets available and bumps version too.
CREATE TABLE stock (
	sku            text   PRIMARY KEY,
	available      bigint NOT NULL CHECK (available >= 0),
	limit_per_user bigint CHECK (limit_per_user >= 1), -- NULL: no limit
	version        bigint NOT NULL DEFAULT 0,
	updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Quantity each user bought of each SKU, written in the same statement as the stock
-- it took; the trigger below keeps it within stock.limit_per_user.
CREATE TABLE purchases (
	sku        text   NOT NULL REFERENCES stock (sku),
	user_id    text   NOT NULL,
	qty        bigint NOT NULL CHECK (qty > 0),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (sku, user_id)
);

-- Refuses a purchase that takes a user over the SKU's limit, whoever writes it. A
-- row that does not grow is let through, so lowering a limit below what someone
-- already bought refuses their next purchase, not the past one.
CREATE FUNCTION purchases_within_limit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	lim bigint;
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.qty <= OLD.qty THEN
		RETURN NEW;
	END IF;
	SELECT limit_per_user INTO lim FROM stock WHERE sku = NEW.sku;
	IF lim IS NOT NULL AND NEW.qty > lim THEN
		RAISE EXCEPTION 'could not record purchase of sku "%" by user "%": % over the limit of %',
			NEW.sku, NEW.user_id, NEW.qty, lim
			USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER purchases_within_limit BEFORE INSERT OR UPDATE ON purchases
	FOR EACH ROW EXECUTE FUNCTION purchases_within_limit();

-- One row per order_id: its first and only decision. A repeated order_id gets this
-- row's answer again, with the same result_id (the souk-result-id header). An order
-- answered "invalid" is recorded as it came, so its qty may break the 1..1000 rule;
-- no sku foreign key either, since an order for an unknown SKU is one of those.
CREATE TABLE orders (
	order_id         text    PRIMARY KEY,
	sku              text    NOT NULL,
	user_id          text    NOT NULL,
	qty              bigint  NOT NULL CHECK (qty BETWEEN 1 AND 1000
	                                  OR reason IS NOT DISTINCT FROM 'invalid'),
	status           text    NOT NULL CHECK (status IN ('accepted', 'rejected')),
	reason           text    CHECK (reason IN ('sold_out', 'limit_exceeded', 'invalid')),
	result_id        uuid    NOT NULL,
	source_event_id  uuid    NOT NULL,
	source_topic     text    NOT NULL,
	source_partition integer NOT NULL,
	source_offset    bigint  NOT NULL,
	decided_at       timestamptz NOT NULL DEFAULT now(),
	CHECK ((status = 'accepted') = (reason IS NULL))
);
