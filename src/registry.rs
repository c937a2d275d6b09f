//! The client registry's SQL, shared verbatim by the native host (rusqlite)
//! and the edge host (Durable Object SQLite storage), so both count clients
//! the same way. Only text lives here; each runtime binds parameters and
//! runs it with its own driver.
//!
//! Counting rule (kms-protocol.md §8.3): the genuine count of a group is the
//! number of distinct CMIDs of that application seen in the last 30 days
//! whose last request the host granted. A host refusal (scope, clock) does
//! not count; a grant whose count was below the client's N policy does,
//! because that is how a genuine host's count grows.
//!
//! `last_seen` never moves back: after the host's wall clock steps back, a
//! client's expiry still runs from the latest time it was seen (and
//! `first_seen <= last_seen` holds), the rule `model::counts`
//! keeps in memory too.

/// The schema; idempotent, run at every start.
pub const SCHEMA: &str = concat!(
    include_str!("../migrations/0001_registry.sql"),
    include_str!("../migrations/0002_events.sql"),
    include_str!("../migrations/0003_settings.sql"),
);

/// How long a CMID counts: 30 days (43 200 minutes), as a genuine host.
pub const CMID_EXPIRY_SECS: i64 = 30 * 24 * 3600;

/// ?1 cmid, ?2 kms_id, ?3 application, ?4 sku, ?5 workstation, ?6 remote,
/// ?7 license_status, ?8 protocol, ?9 now, ?10 hresult.
pub const UPSERT_CLIENT: &str = "\
INSERT INTO clients (cmid, kms_id, application, sku, workstation, remote, license_status, protocol, first_seen, last_seen, requests, last_hresult)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, 1, ?10)
ON CONFLICT (cmid, kms_id) DO UPDATE SET
  application = excluded.application, sku = excluded.sku, workstation = excluded.workstation,
  remote = excluded.remote, license_status = excluded.license_status, protocol = excluded.protocol,
  last_seen = MAX(last_seen, excluded.last_seen), requests = requests + 1, last_hresult = excluded.last_hresult";

/// [`UPSERT_CLIENT`] for several requests of one client at once (the native
/// host applies its journal in groups): ?1–?8 and ?10 from the last of
/// them, ?9 the first one's time (first_seen of a new row), ?11 the last
/// one's (last_seen), ?12 how many they were.
pub const UPSERT_CLIENT_REQUESTS: &str = "\
INSERT INTO clients (cmid, kms_id, application, sku, workstation, remote, license_status, protocol, first_seen, last_seen, requests, last_hresult)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11, ?12, ?10)
ON CONFLICT (cmid, kms_id) DO UPDATE SET
  application = excluded.application, sku = excluded.sku, workstation = excluded.workstation,
  remote = excluded.remote, license_status = excluded.license_status, protocol = excluded.protocol,
  last_seen = MAX(last_seen, excluded.last_seen), requests = requests + excluded.requests, last_hresult = excluded.last_hresult";

/// ?1 application, ?2 now − CMID_EXPIRY_SECS → one integer.
pub const GENUINE_COUNT: &str = "\
SELECT COUNT(DISTINCT cmid) FROM clients WHERE application = ?1 AND last_seen >= ?2 AND last_hresult = 0";

/// ?1 since → rows (kms_id, application, genuine count, clients incl. refused).
pub const COUNTS_BY_KMS_ID: &str = "\
SELECT kms_id, application,
       COUNT(DISTINCT CASE WHEN last_hresult = 0 THEN cmid END),
       COUNT(DISTINCT cmid)
FROM clients WHERE last_seen >= ?1 GROUP BY kms_id, application ORDER BY kms_id";

/// ?1 since → rows (application, genuine count).
pub const COUNTS_BY_APPLICATION: &str = "\
SELECT application, COUNT(DISTINCT cmid) FROM clients
WHERE last_seen >= ?1 AND last_hresult = 0 GROUP BY application";

/// One request's counters in one statement: ?1 `total` (+1), ?2 `failed`
/// (+?3, 0 or 1), ?4 `license_status:<n>` (+1). One statement rather than
/// one per counter because the edge pays a JavaScript round trip per
/// statement (measured: 3 statements instead of 5 per request, ~20 % more
/// activations a second under `wrangler dev`). A `failed` row of 0 reads
/// as no failure.
pub const BUMP_REQUEST_COUNTERS: &str = "\
INSERT INTO counters (name, value) VALUES (?1, 1), (?2, ?3), (?4, 1)
ON CONFLICT (name) DO UPDATE SET value = value + excluded.value";

pub const ALL_COUNTERS: &str = "SELECT name, value FROM counters";

/// ?1 counter name, ?2 amount: [`BUMP_REQUEST_COUNTERS`] for a whole batch of
/// requests committed together.
pub const ADD_COUNTER: &str = "\
INSERT INTO counters (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value";

/// ?1 since → rows (application, cmid, kms_id, last_seen) of the clients
/// that [`GENUINE_COUNT`] counts: what a host keeps in memory to answer
/// each request with its group's count without a query.
pub const LIVE_GRANTS: &str = "\
SELECT application, cmid, kms_id, last_seen FROM clients WHERE last_seen >= ?1 AND last_hresult = 0";

/// ?1 hour (unix seconds / 3600), ?2 ok (0/1), ?3 failed (0/1).
pub const BUMP_ACTIVITY: &str = "\
INSERT INTO activity (hour, ok, failed) VALUES (?1, ?2, ?3)
ON CONFLICT (hour) DO UPDATE SET ok = ok + excluded.ok, failed = failed + excluded.failed";

/// ?1 first hour → rows (hour, ok, failed).
pub const ACTIVITY_SINCE: &str = "SELECT hour, ok, failed FROM activity WHERE hour >= ?1 ORDER BY hour";

pub const GET_HOST: &str = "SELECT value FROM host WHERE key = ?1";
/// Insert-only, so two starters racing keep the first identity.
pub const INIT_HOST: &str = "INSERT INTO host (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING";
pub const SET_HOST: &str = "\
INSERT INTO host (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value";
/// ?1 key, ?2 the value read, ?3 its replacement: compare-and-swap, so two
/// starters correcting the same stale value keep one correction.
pub const REPLACE_HOST: &str = "UPDATE host SET value = ?3 WHERE key = ?1 AND value = ?2";

/// ?1 time, ?2 event id, ?3 hresult, ?4 remote, ?5 workstation, ?6 cmid,
/// ?7 kms_id, ?8 sku, ?9 protocol, ?10 reported, ?11 name, ?12 server,
/// ?13 message (NULL where the kind of event has no such field).
pub const INSERT_EVENT: &str = "\
INSERT INTO events (time, event_id, hresult, remote, workstation, cmid, kms_id, sku, protocol, reported, name, server, message)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

/// ?1 cutoff: deletes the events before it (by the time index).
pub const PRUNE_EVENTS: &str = "DELETE FROM events WHERE time < ?1";

/// Settings changed at runtime (`model::admin`): every row.
pub const ALL_SETTINGS: &str = "SELECT name, value FROM settings";
/// ?1 name, ?2 value, ?3 now.
pub const SET_SETTING: &str = "\
INSERT INTO settings (name, value, changed) VALUES (?1, ?2, ?3)
ON CONFLICT (name) DO UPDATE SET value = excluded.value, changed = excluded.changed";

/// Columns of an event row, in the order the listing queries return them.
pub const EVENT_COLUMNS: &str = "time, event_id, hresult, remote, workstation, cmid, kms_id, sku, protocol, reported, name, server, message";

/// Columns of a client row, in the order the listing queries return them.
pub const CLIENT_COLUMNS: &str = "cmid, kms_id, application, sku, workstation, remote, license_status, protocol, first_seen, last_seen, requests, last_hresult";

/// Host keys.
pub mod keys {
    /// `epid:<slot name>` → ePID string.
    pub const EPID_PREFIX: &str = "epid:";
    /// `installed_key:<slot name>` → an installed host key, whole (as a
    /// Windows host keeps the key `slmgr /ipk` installed); never shown.
    pub const INSTALLED_KEY_PREFIX: &str = "installed_key:";
    /// `installed_epid:<slot name>` → the ePID made for that key, kept
    /// apart from `epid:` so that removing the key brings the generated
    /// ePID back.
    pub const INSTALLED_EPID_PREFIX: &str = "installed_epid:";
    pub const HWID: &str = "hwid";
    pub const HOST_BUILD: &str = "host_build";
    pub const LCID: &str = "lcid";
}

/// Counter names.
pub mod counters {
    pub const TOTAL: &str = "total";
    pub const FAILED: &str = "failed";
    /// Followed by the licence status number.
    pub const LICENSE_STATUS_PREFIX: &str = "license_status:";
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn schema_declares_every_table_the_queries_use() {
        for table in ["clients", "host", "counters", "activity", "events", "settings"] {
            assert!(super::SCHEMA.contains(&["CREATE TABLE IF NOT EXISTS ", table].concat()), "{table}");
        }
    }
}
