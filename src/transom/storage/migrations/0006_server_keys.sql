-- Remote servers' signing keys (server-server API "Retrieving server keys").
-- One row per (server, key). `valid_until_ts` is how long the key may be used: the response's
-- valid_until_ts (capped) for current keys, `expired_ts` for keys listed in old_verify_keys.
CREATE TABLE server_keys (
    server_name TEXT NOT NULL,
    key_id TEXT NOT NULL,
    verify_key TEXT NOT NULL,
    valid_until_ts BIGINT NOT NULL,
    expired_ts BIGINT,
    fetched_ts BIGINT NOT NULL,
    PRIMARY KEY (server_name, key_id)
);

-- The latest self-signed `/_matrix/key/v2/server` response of each server, kept verbatim so
-- that the notary endpoints can pass it on with the origin's own signatures.
CREATE TABLE server_key_responses (
    server_name TEXT PRIMARY KEY,
    valid_until_ts BIGINT NOT NULL,
    fetched_ts BIGINT NOT NULL,
    json TEXT NOT NULL
);
