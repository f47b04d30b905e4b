-- Transactions received over federation (server-server API "Transactions"): the answer to each
-- (origin, txn_id), so that a retried PUT /send is answered the same without reprocessing.
CREATE TABLE federation_inbound_txns (
    origin TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    response TEXT NOT NULL,
    received_ts BIGINT NOT NULL,
    PRIMARY KEY (origin, txn_id)
);
CREATE INDEX federation_inbound_txns_ts ON federation_inbound_txns (received_ts);
