-- The payments still waiting for a client's next command ('created', 'authorized'),
-- by when they last moved: souk-lag's business backlog counts those left longer than
-- lag.stuck_after every few seconds (ops/lag/lag_backlog.c), and this keeps that count
-- proportional to the open payments, not to the whole ledger. Maintained only for rows
-- in those states; a payment leaves the index when it moves on.
CREATE INDEX payments_open ON payments (updated_at) WHERE state IN ('created', 'authorized');
