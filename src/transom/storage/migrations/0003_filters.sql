-- Client filters (client-server API "Filtering": POST/GET /user/{userId}/filter).
-- filter_id is a per-user counter; filter_json is the canonical JSON of the definition, so an
-- identical definition uploaded twice gets the same ID back.

CREATE TABLE user_filters (
    user_id TEXT NOT NULL,
    filter_id BIGINT NOT NULL,
    filter_json TEXT NOT NULL,
    PRIMARY KEY (user_id, filter_id)
);
CREATE INDEX user_filters_json ON user_filters (user_id, filter_json);
