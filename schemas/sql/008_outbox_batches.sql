-- The outbox holds one row per transaction and source partition, not one per result:
-- the results of a batch are framed one after another in body. Writing, relaying and
-- purging then cost one row per batch (about a thousand results) instead of one per
-- result, which was most of PostgreSQL's work in a flash sale.
--
-- body is a sequence of frames, integers big-endian (lib/souk_outbox.c reads and writes
-- them): int4 length of the rest of the frame, then result_id (16 bytes), source_offset
-- (int8), source_event_id (16 bytes, all zero when the source had none), int2 length +
-- topic, int4 length + key (-1: no key), int4 length + value, int4 length + headers (a
-- JSON object as text).
CREATE TABLE outbox_batch (
	id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	source_topic     text    NOT NULL,
	source_partition integer NOT NULL,
	messages         integer NOT NULL CHECK (messages > 0),
	-- lz4, not the default pglz: a batch's body (~400 KB for 1,000 results) compresses
	-- to about a third either way, and pglz took ~7 ms of each batch's transaction.
	body             bytea   COMPRESSION lz4 NOT NULL,
	created_at       timestamptz NOT NULL DEFAULT now()
);

-- What the old table held and the relay had not published yet is carried over, one
-- row per source partition in id order, so an upgrade loses no result.
INSERT INTO outbox_batch (source_topic, source_partition, messages, body)
SELECT source_topic, source_partition, count(*), string_agg(int4send(length(f)) || f, ''::bytea ORDER BY id)
FROM (
	SELECT o.id, o.source_topic, o.source_partition,
	       uuid_send(o.result_id) || int8send(o.source_offset)
	       || coalesce(uuid_send(o.source_event_id), '\x00000000000000000000000000000000'::bytea)
	       || int2send(octet_length(convert_to(o.topic, 'UTF8'))::int2) || convert_to(o.topic, 'UTF8')
	       || int4send(coalesce(length(o.key), -1)) || coalesce(o.key, ''::bytea)
	       || int4send(length(o.value)) || o.value
	       || int4send(octet_length(convert_to(o.headers::text, 'UTF8')))
	       || convert_to(o.headers::text, 'UTF8') AS f
	FROM outbox o
	LEFT JOIN outbox_relay r USING (source_topic, source_partition)
	WHERE o.id > coalesce(r.published_id, 0)
) pending
GROUP BY source_topic, source_partition;

-- Cursors of the old ids mean nothing to the new ones.
DELETE FROM outbox_relay;
DROP VIEW outbox_pending;
DROP TABLE outbox;
ALTER TABLE outbox_batch RENAME TO outbox;
ALTER INDEX outbox_batch_pkey RENAME TO outbox_pkey;
ALTER SEQUENCE outbox_batch_id_seq RENAME TO outbox_id_seq;
-- The relay's scan: one source partition's rows after its cursor, oldest first.
CREATE INDEX outbox_source ON outbox (source_topic, source_partition, id);

-- What is committed and not yet published (rows, each a batch of results).
CREATE VIEW outbox_pending AS
SELECT o.* FROM outbox o
LEFT JOIN outbox_relay r USING (source_topic, source_partition)
WHERE o.id > coalesce(r.published_id, 0);
