//! The client registry on disk: one SQLite file in the data directory, in
//! WAL mode, with the schema and statements of [`crate::registry`] (the
//! same SQL the edge host runs).
//!
//! One connection writes, on its own thread ([`writer`]), committing
//! requests in groups so that an activation is answered only after it is on
//! disk without paying a commit per request. Another, read-only connection
//! serves the HTTP API (through [`sql`], with the host model's views); WAL
//! lets it read while the writer writes.
//! A third copies the WAL into the database file in the background
//! ([`checkpoint`]).
use std::prelude::rust_2024::{String, ToOwned, Vec};
use std::format;
pub mod checkpoint;
pub mod journal;
pub mod record;
pub mod sql;
pub mod writer;

use super::settings::SyncMode;
use crate::registry;
use anyhow::{Context, anyhow, bail};
use rusqlite::{Connection, OpenFlags};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DB_FILE: &str = "registry.sqlite3";
const LOCK_FILE: &str = "kmsedge.lock";

/// The data directory, held exclusively while the host runs: two hosts on
/// one registry would each count only their own clients.
#[derive(Debug)]
pub struct DataDir {
    pub path: PathBuf,
    pub db: PathBuf,
    // Released by the OS when the process ends, however it ends.
    _lock: File,
}

impl DataDir {
    /// Creates the directory if needed and takes its lock.
    pub fn open(path: &Path) -> anyhow::Result<DataDir> {
        let shown = path.display();
        std::fs::create_dir_all(path).map_err(|e| anyhow!("data directory {shown}: {e}"))?;
        let meta = std::fs::metadata(path).map_err(|e| anyhow!("data directory {shown}: {e}"))?;
        if !meta.is_dir() {
            bail!("data directory {shown}: not a directory");
        }
        let lock_path = path.join(LOCK_FILE);
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| anyhow!("data directory {shown}: cannot create {}: {e}", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                bail!("data directory {shown} is in use by another kmsedge serve")
            }
            Err(std::fs::TryLockError::Error(e)) => bail!("data directory {shown}: cannot lock {}: {e}", lock_path.display()),
        }
        Ok(DataDir { path: path.to_owned(), db: path.join(DB_FILE), _lock: lock })
    }
}

/// What the administrator can do about a damaged file; the host never
/// starts over on its own, as an empty registry would silently forget
/// every client and restart the counts from zero.
pub const DAMAGED_ADVICE: &str = "move it aside to start a new registry, or restore a backup";

/// The one-line refusal to start on a damaged registry file.
pub fn damaged(file: &Path, what: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("registry {} is damaged ({what}): {DAMAGED_ADVICE}", file.display())
}

/// Whether SQLite says the file is not (or no longer) a sound database.
fn is_damage(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    matches!(e.sqlite_error_code(), Some(DatabaseCorrupt | NotADatabase))
}

/// A registry file that exists but is empty while no WAL holds its pages
/// was cut short: the host writes the schema the moment it creates the
/// file. SQLite would take it for a new database.
fn check_not_emptied(db: &Path) -> anyhow::Result<()> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    let empty = |p: &Path| std::fs::metadata(p).map(|m| m.len() == 0);
    if empty(db).unwrap_or(false) && empty(&wal).unwrap_or(true) {
        return Err(damaged(db, "the file is empty"));
    }
    Ok(())
}

/// Reads every page once (`PRAGMA quick_check`: structure, not index
/// contents), so a truncated or corrupted file is refused at start-up
/// rather than failing requests later — or, worse, counting only the
/// clients on the pages that still read.
fn check_sound(conn: &Connection, db: &Path) -> anyhow::Result<()> {
    let verdict: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(|e| if is_damage(&e) { damaged(db, e) } else { anyhow!("registry {}: {e}", db.display()) })?;
    if verdict != "ok" {
        // SQLite's report spans lines ("*** in database main ***", then the
        // problem): one line, as every start-up error.
        let problem: Vec<&str> = verdict.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("***")).collect();
        return Err(damaged(db, problem.join("; ")));
    }
    Ok(())
}

/// Opens (creating if needed) the registry for writing: WAL, the chosen
/// durability, and the schema. A damaged file is refused with
/// [`damaged`].
pub fn open_writer(db: &Path, sync: SyncMode) -> anyhow::Result<Connection> {
    let shown = db.display();
    check_not_emptied(db)?;
    let conn = Connection::open(db).map_err(|e| anyhow!("registry {shown}: {e}"))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| if is_damage(&e) { damaged(db, e) } else { anyhow!("registry {shown}: {e}") })?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!("registry {shown}: cannot switch to WAL mode (journal mode is {mode})");
    }
    let sync = match sync {
        SyncMode::Full => "FULL",
        SyncMode::Normal => "NORMAL",
    };
    // Checkpoints run on their own thread (checkpoint.rs), never inside a
    // commit; the page cache holds the indexes every upsert walks.
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {sync}; PRAGMA journal_size_limit = 67108864; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -16384;"
    ))
        .with_context(|| format!("registry {shown}"))?;
    check_sound(&conn, db)?;
    conn.execute_batch(registry::SCHEMA).map_err(|e| anyhow!("registry {shown}: schema: {e}"))?;
    Ok(conn)
}

/// Lowers the calling thread's priority (nice +10) so that under load the
/// KMS connections get the CPU first: the registry and checkpoint threads
/// only have to keep up on average, and their bursts (a commit of a
/// thousand requests, a checkpoint) otherwise show as answer latency.
/// Linux only (elsewhere a nice value is per process); best effort.
pub fn background_priority() {
    #[cfg(target_os = "linux")]
    {
        let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10);
    }
}

/// A read-only connection for the HTTP API.
pub fn open_reader(db: &Path) -> anyhow::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(db, flags).map_err(|e| anyhow!("registry {}: {e}", db.display()))?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;

    #[test]
    fn data_dir_is_exclusive_and_names_the_problem() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nested/data");
        let held = DataDir::open(&dir).unwrap();
        assert!(dir.is_dir());
        let e = DataDir::open(&dir).unwrap_err().to_string();
        assert!(e.contains("in use by another kmsedge serve"), "{e}");
        drop(held);
        DataDir::open(&dir).unwrap();

        let file = tmp.path().join("plain-file");
        std::fs::write(&file, b"x").unwrap();
        let e = format!("{:#}", DataDir::open(&file).unwrap_err());
        assert!(e.starts_with(&format!("data directory {}", file.display())), "{e}");
    }

    #[test]
    fn writer_uses_wal_and_the_shared_schema() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join(DB_FILE);
        let w = open_writer(&db, SyncMode::Normal).unwrap();
        let mode: String = w.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = w.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 1, "NORMAL");
        // Idempotent schema: opening again works.
        drop(w);
        let w = open_writer(&db, SyncMode::Full).unwrap();
        let sync: i64 = w.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(sync, 2, "FULL");
        w.execute(registry::INIT_HOST, ["k", "v"]).unwrap();
        let r = open_reader(&db).unwrap();
        let host_key = |k: &str| crate::model::sql::Sql::scalar(&r, registry::GET_HOST, &[k.into()]).unwrap().map(|v| v.text());
        assert_eq!(host_key("k").as_deref(), Some("v"));
        assert_eq!(host_key("missing"), None);
        assert!(r.execute(registry::INIT_HOST, ["x", "y"]).is_err(), "reader is read-only");
    }
}
