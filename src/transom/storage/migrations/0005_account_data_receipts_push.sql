-- Account data, receipts, push rules and unread notification counts.
-- stream_id is allocated by transom.storage.persist.StreamAllocator from the one global stream.

-- Client-server API "Client Config": account data, global (room_id = '') and per room.
CREATE TABLE account_data (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    type TEXT NOT NULL,
    content TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_user_stream ON account_data (user_id, stream_id);

-- Client-server API "Receipts": the latest receipt per (room, type, user, thread);
-- thread_id = '' for an unthreaded receipt.
CREATE TABLE receipts (
    room_id TEXT NOT NULL,
    receipt_type TEXT NOT NULL,
    user_id TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_stream_ordering BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    stream_id BIGINT NOT NULL,
    PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
);
CREATE INDEX receipts_room_stream ON receipts (room_id, stream_id);

-- Client-server API "Push Rules: API": a user's own rules, in priority order per kind.
CREATE TABLE push_rules (
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    rule TEXT NOT NULL,
    PRIMARY KEY (user_id, kind, rule_id)
);

-- Per-user changes to any rule (default or own): enabled flag and replaced actions.
CREATE TABLE push_rule_overrides (
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    enabled BOOLEAN,
    actions TEXT,
    PRIMARY KEY (user_id, kind, rule_id)
);

-- Client-server API "Receiving notifications": one row per notifying event per recipient, until
-- a read receipt at or after it removes it. thread_id is 'main' or the thread root's event ID.
CREATE TABLE event_push_actions (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    thread_id TEXT NOT NULL,
    highlight BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, room_id, event_id)
);
CREATE INDEX event_push_actions_user_room_stream
    ON event_push_actions (user_id, room_id, stream_ordering);
