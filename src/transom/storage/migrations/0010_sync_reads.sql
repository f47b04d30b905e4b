-- /sync reads (client-server API "Syncing").
-- The transaction ID of an event, looked up by event ID (unsigned.transaction_id of the sending
-- device's own events); the primary key starts with user_id and device_id.
CREATE INDEX event_txn_ids_event ON event_txn_ids (event_id);
