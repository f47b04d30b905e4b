-- Accounts: users, their devices and access tokens.
-- Client-Server API: "Account registration and management", "Login", "Device management".

CREATE TABLE users (
    user_id TEXT PRIMARY KEY,
    -- user_id.lower(), computed in Python: a case-insensitive clash counts as a duplicate.
    user_id_lower TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    deactivated BOOLEAN NOT NULL DEFAULT FALSE,
    creation_ts BIGINT NOT NULL
);

CREATE TABLE devices (
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    display_name TEXT,
    created_ts BIGINT NOT NULL,
    last_seen_ts BIGINT,
    last_seen_ip TEXT,
    PRIMARY KEY (user_id, device_id)
);

CREATE TABLE access_tokens (
    token TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    device_id TEXT,
    created_ts BIGINT NOT NULL
);

CREATE INDEX access_tokens_user_device ON access_tokens (user_id, device_id);
