-- souk's first migration: the runtime's offset store and outbox (DESIGN.md,
-- "Guarantees"). ops/stack applies each file once, in one transaction, and records it
-- in schema_migrations.

-- Consumed offsets, written in the same transaction as the effects they paid for.
-- A consumer that is assigned a partition bumps its epoch; a batch commits only
-- through UPDATE ... WHERE epoch = mine AND next_offset = start, so a zombie whose
-- partition moved on commits nothing.
CREATE TABLE consumer_offsets (
	group_id    text    NOT NULL,
	topic       text    NOT NULL,
	partition   integer NOT NULL CHECK (partition >= 0),
	next_offset bigint  NOT NULL CHECK (next_offset >= 0),
	epoch       bigint  NOT NULL DEFAULT 0,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (group_id, topic, partition)
);

-- Results waiting to be published. The relay publishes one source partition's rows in
-- id order, so one key's results stay in order; result_id is the stable id carried in
-- the souk-result-id header: the same decision sent again (a repeated order_id gets
-- its first answer) is a new row with the same result_id, so it is not unique here.
-- One source partition has one writer at a time (its fenced owner), so its rows commit
-- in id order and a cursor per partition (outbox_relay) says what is published.
CREATE TABLE outbox (
	id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	result_id        uuid    NOT NULL,
	source_topic     text    NOT NULL,
	source_partition integer NOT NULL,
	source_offset    bigint  NOT NULL,
	source_event_id  uuid,
	topic            text    NOT NULL,
	key              bytea,
	value            bytea   NOT NULL,
	headers          jsonb   NOT NULL DEFAULT '{}',
	created_at       timestamptz NOT NULL DEFAULT now()
);
-- The relay's scan: one source partition's rows after its cursor, oldest first.
CREATE INDEX outbox_source ON outbox (source_topic, source_partition, id);

-- The last outbox id of each source partition that the broker acknowledged. One row
-- update per relay round, not one per result. Rows up to it are purged once older
-- than the retention.
CREATE TABLE outbox_relay (
	source_topic     text    NOT NULL,
	source_partition integer NOT NULL,
	published_id     bigint  NOT NULL,
	updated_at       timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (source_topic, source_partition)
);

-- What is committed and not yet published, for operators and tests.
CREATE VIEW outbox_pending AS
SELECT o.* FROM outbox o
LEFT JOIN outbox_relay r USING (source_topic, source_partition)
WHERE o.id > coalesce(r.published_id, 0);
