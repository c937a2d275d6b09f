-- The event history: one row per request and one per DNS publishing
-- attempt, as a genuine KMS host writes to its event log (12290 for a
-- request; 12293 / 12294 for a failed / successful SRV publishing).
-- Append-only; rows older than the retention setting are deleted by time.
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY,   -- insertion order (rowid)
    time        INTEGER NOT NULL,      -- Unix seconds (UTC)
    event_id    INTEGER NOT NULL,      -- 12290, 12293 or 12294
    hresult     INTEGER NOT NULL,      -- 0 = success
    -- a request (12290)
    remote      TEXT,                  -- client address (native) or branch (edge)
    workstation TEXT,
    cmid        TEXT,
    kms_id      TEXT,
    sku         TEXT,
    protocol    TEXT,                  -- "6.0"
    reported    INTEGER,               -- count in the answer; NULL when refused
    -- a DNS publishing attempt (12293, 12294)
    name        TEXT,                  -- the SRV record
    server      TEXT,
    message     TEXT
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (time);
