-- The client registry of a KMS host. Run as-is by the native host (rusqlite)
-- and by the edge host's Durable Object (SQLite storage): one schema, two
-- runtimes. Times are Unix seconds (UTC). Statements are idempotent.

-- One row per client machine (CMID) and KMS counted id.
CREATE TABLE IF NOT EXISTS clients (
    cmid            TEXT    NOT NULL,
    kms_id          TEXT    NOT NULL,
    application     TEXT    NOT NULL,   -- application id: the counting group
    sku             TEXT    NOT NULL,
    workstation     TEXT    NOT NULL,
    remote          TEXT    NOT NULL,   -- client address (native) or branch (edge)
    license_status  INTEGER NOT NULL,
    protocol        TEXT    NOT NULL,   -- "6.0"
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    requests        INTEGER NOT NULL DEFAULT 1,
    last_hresult    INTEGER NOT NULL,   -- 0 = activated
    PRIMARY KEY (cmid, kms_id)
);
CREATE INDEX IF NOT EXISTS clients_by_group ON clients (application, last_seen);
CREATE INDEX IF NOT EXISTS clients_by_kms ON clients (kms_id, last_seen);
CREATE INDEX IF NOT EXISTS clients_by_seen ON clients (last_seen);

-- The host's identity: ePID per slot, HwId, host build and LCID, generated
-- once and kept (a genuine host always answers with the same ePID).
CREATE TABLE IF NOT EXISTS host (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Request counters as `slmgr /dlv` shows them on a host:
-- total, failed, and by licence status of the requesting client.
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

-- Activity per hour for the dashboard chart (hour = unix_seconds / 3600).
CREATE TABLE IF NOT EXISTS activity (
    hour    INTEGER PRIMARY KEY,
    ok      INTEGER NOT NULL DEFAULT 0,
    failed  INTEGER NOT NULL DEFAULT 0
);
