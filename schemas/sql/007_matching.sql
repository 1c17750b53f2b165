-- The matching pool (workers/matching/): ride requests, the drivers they claim, the
-- trips that end them, demand and surge per cell, and the ETA models.

-- One row per ride request, written by the batch that consumed it (dedup: a request
-- seen again finds its row). A ride changes only through
--   UPDATE rides SET ..., version = version + 1 WHERE request_id = $1 AND version = $read
-- so two consumers (a zombie and the new owner) can never both move it.
--
--   offered   -> accepted (the offered driver accepts) -> started -> completed
--   offered   -> offered  (declined or expired: the next driver), or no_driver
--   offered, accepted -> cancelled (the rider cancels before the trip starts)
-- no_driver, completed and cancelled are final; exactly one of them ends every ride
-- except one still under way.
CREATE TABLE rides (
	request_id       text   PRIMARY KEY,
	-- Insertion order: with one consumer thread, the order requests were decided in
	-- (a checker replays them in this order).
	seq              bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
	rider_id         text   NOT NULL,
	client_id        text   NOT NULL,
	pickup_lat       double precision NOT NULL CHECK (pickup_lat BETWEEN -90 AND 90),
	pickup_lng       double precision NOT NULL CHECK (pickup_lng BETWEEN -180 AND 180),
	dropoff_lat      double precision NOT NULL CHECK (dropoff_lat BETWEEN -90 AND 90),
	dropoff_lng      double precision NOT NULL CHECK (dropoff_lng BETWEEN -180 AND 180),
	surge_cell       text   NOT NULL CHECK (surge_cell ~ '^[0-9a-f]{15}$'),
	state            text   NOT NULL CHECK (state IN ('offered', 'accepted', 'started',
	                            'completed', 'cancelled', 'no_driver')),
	-- The driver of the current offer or ride; the last one offered once final.
	driver_id        text,
	offers           int    NOT NULL DEFAULT 0 CHECK (offers >= 0),
	-- Drivers who declined or let an offer expire: never offered this ride again.
	passed           text[] NOT NULL DEFAULT '{}',
	offer_expires_at timestamptz,
	started_at       timestamptz, -- the trip's start (the start event's ts)
	-- The current offer's figures, as its ride_match said them.
	eta_s            int,
	distance_m       int,   -- driver -> pickup, great-circle
	fare_amount      bigint,
	fare_currency    text,
	surge            numeric(3, 1) CHECK (surge BETWEEN 1 AND 10),
	-- What decided it, so a checker can recompute the offer: the ETA model and, per
	-- locations partition, the next offset the index had applied.
	model_id         text,
	index_offsets    bigint[],
	-- The request as consumed: the results the pool sends later (an expired offer's
	-- next match) carry these source coordinates, like any other result.
	source_partition int    NOT NULL,
	source_offset    bigint NOT NULL,
	source_event_id  uuid   NOT NULL,
	version          bigint NOT NULL DEFAULT 0,
	created_at       timestamptz NOT NULL DEFAULT now(),
	updated_at       timestamptz NOT NULL DEFAULT now(),
	CHECK ((state = 'offered') = (offer_expires_at IS NOT NULL)),
	CHECK (state IN ('no_driver', 'cancelled') OR driver_id IS NOT NULL)
);
-- The offers the timer expires, per source partition (the owner's).
CREATE INDEX rides_offer_expiry ON rides (source_partition, offer_expires_at)
	WHERE state = 'offered';
-- souk-lag's backlog: rides without a final outcome.
CREATE INDEX rides_open ON rides (created_at)
	WHERE state IN ('offered', 'accepted', 'started');

-- A driver is claimed by at most one ride at a time: an open offer or a ride under way.
-- The claim is taken inside the batch's fenced transaction; INSERT ... ON CONFLICT DO
-- NOTHING returning no row means another ride holds the driver. Released (deleted)
-- by a decline, an expired offer, a cancel or the trip's completion.
CREATE TABLE driver_claims (
	driver_id  text PRIMARY KEY,
	request_id text NOT NULL UNIQUE,
	claimed_at timestamptz NOT NULL DEFAULT now()
);

-- Completed trips: the ETA model's training data (souk-eta train).
CREATE TABLE trips (
	request_id   text   PRIMARY KEY,
	driver_id    text   NOT NULL,
	rider_id     text   NOT NULL,
	pickup_lat   double precision NOT NULL,
	pickup_lng   double precision NOT NULL,
	dropoff_lat  double precision NOT NULL,
	dropoff_lng  double precision NOT NULL,
	area         bigint NOT NULL, -- the ETA model's area: the pickup's H3 parent cell
	straight_m   double precision NOT NULL CHECK (straight_m >= 0),
	road_m       double precision, -- distance driven, when known
	started_at   timestamptz NOT NULL,
	completed_at timestamptz NOT NULL CHECK (completed_at >= started_at)
);
CREATE INDEX trips_completed_at ON trips (completed_at);

-- Ride requests per surge cell and second: the demand every process counts alike.
-- Rows older than the surge window are purged by the surge timer.
CREATE TABLE ride_demand (
	surge_cell text        NOT NULL,
	second     timestamptz NOT NULL,
	requests   int         NOT NULL CHECK (requests > 0),
	PRIMARY KEY (surge_cell, second)
);

-- The latest multiplier per surge cell, written by the process that owns the cell
-- (ride-requests partition hash(cell) mod N) from its fenced timer, and published to
-- the compacted `surge` topic. A cell without a row is at 1.0.
CREATE TABLE surge_cells (
	surge_cell text PRIMARY KEY,
	multiplier double precision NOT NULL CHECK (multiplier BETWEEN 1 AND 10),
	demand     bigint NOT NULL,
	supply     bigint NOT NULL,
	at         timestamptz NOT NULL
);

-- ETA models (mat_eta.h's text form), newest first by created_at: the pool uses the
-- newest; a match records the id of the one that decided it.
CREATE TABLE eta_models (
	id         text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
	model      text   NOT NULL,
	trips      bigint NOT NULL, -- trips fitted
	held_out   bigint NOT NULL, -- trips evaluated
	mae_s      double precision,
	mape       double precision,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX eta_models_created_at ON eta_models (created_at);
