-- The outbound federation queue (server-server API "Transactions"): PDUs and EDUs waiting to be
-- sent to one destination, in order, and the per-destination retry state. Rows are deleted once
-- the destination has accepted the transaction carrying them, so a restart resumes the queue.
-- id is allocated by the process (transom.storage.federation_outbox.FederationOutbox) under one
-- lock, so it is a plain BIGINT on both engines.

CREATE TABLE federation_outbox (
    id BIGINT PRIMARY KEY,
    destination TEXT NOT NULL,
    kind TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX federation_outbox_destination ON federation_outbox (destination, kind, id);

CREATE TABLE federation_destinations (
    destination TEXT PRIMARY KEY,
    failure_count INTEGER NOT NULL,
    retry_interval_ms BIGINT NOT NULL,
    retry_after_ts BIGINT NOT NULL
);
