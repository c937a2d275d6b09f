//! The registry's single writer: a thread that owns the write connection
//! and commits requests in groups.
//!
//! A connection task hands over a [`Record`] and waits; the thread takes
//! everything queued (up to [`MAX_BATCH`]), writes it in one transaction,
//! commits, and only then releases the waiters, which send their replies.
//! So no client ever holds an answer the registry does not (that is what
//! survives `kill -9`), while one commit — with `synchronous = FULL`, one
//! fsync — serves every request that arrived during the previous one.
use std::prelude::rust_2024::{String, ToString, Vec};
use std::format;
use crate::kms::Version;
use crate::registry;
use crate::Guid;
use rusqlite::{Connection, params};
use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Most requests committed in one transaction.
pub const MAX_BATCH: usize = 4096;
/// Requests queued before new ones wait for room (backpressure).
const QUEUE: usize = 16 * 1024;

/// One request as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub cmid: Guid,
    pub kms_id: Guid,
    pub application: Guid,
    pub sku: Guid,
    pub workstation: String,
    /// Client IP address.
    pub remote: String,
    pub license_status: u32,
    pub protocol: Version,
    /// Unix seconds.
    pub now: i64,
    /// 0 when granted.
    pub hresult: u32,
}

/// Why a record was not committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitError {
    /// The registry is closing (shutdown) or its thread is gone.
    Closed,
    /// SQLite failed (disk full, I/O error…): the message.
    Failed(Arc<str>),
}

impl std::fmt::Display for CommitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommitError::Closed => f.write_str("registry is closed"),
            CommitError::Failed(m) => write!(f, "registry write failed: {m}"),
        }
    }
}

impl std::error::Error for CommitError {}

/// What the writer reports about each commit, for metrics.
pub trait CommitObserver: Send + 'static {
    fn committed(&self, batch: usize, took: Duration, ok: bool);
}

enum Job {
    Record(Record, oneshot::Sender<Result<(), CommitError>>),
    Stop,
}

/// Cheap to clone; every clone feeds the same thread.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

/// Joins the writer thread after [`Writer::stop`].
pub struct WriterThread(JoinHandle<anyhow::Result<()>>);

impl Writer {
    /// Starts the thread on `conn` (from [`super::open_writer`]).
    pub fn spawn(conn: Connection, observer: impl CommitObserver) -> std::io::Result<(Writer, WriterThread)> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let handle = std::thread::Builder::new()
            .name("kmsedge-registry".into())
            .spawn(move || run(conn, rx, observer))?;
        Ok((Writer { tx }, WriterThread(handle)))
    }

    /// Resolves once `record` is committed.
    pub async fn commit(&self, record: Record) -> Result<(), CommitError> {
        let (done, wait) = oneshot::channel();
        self.tx.send(Job::Record(record, done)).await.map_err(|_| CommitError::Closed)?;
        wait.await.unwrap_or(Err(CommitError::Closed))
    }

    /// Commits what is queued, then closes: later commits fail with
    /// [`CommitError::Closed`].
    pub async fn stop(&self) {
        let _ = self.tx.send(Job::Stop).await;
    }

    /// Whether the thread still takes records (for `/healthz`).
    pub fn is_alive(&self) -> bool {
        !self.tx.is_closed()
    }
}

impl WriterThread {
    /// Waits for the thread to finish its last commit and close the file.
    pub fn join(self) -> anyhow::Result<()> {
        self.0.join().map_err(|_| anyhow::anyhow!("registry writer thread panicked"))?
    }
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Job>, observer: impl CommitObserver) -> anyhow::Result<()> {
    let mut batch: Vec<(Record, oneshot::Sender<Result<(), CommitError>>)> = Vec::with_capacity(256);
    let mut errors = ErrorLog::default();
    let mut stopping = false;
    while !stopping {
        match rx.blocking_recv() {
            Some(Job::Record(r, done)) => batch.push((r, done)),
            Some(Job::Stop) | None => stopping = true,
        }
        // Everything already queued goes into the same commit — up to a
        // Stop: what was sent after it is refused below.
        while !stopping && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Job::Record(r, done)) => batch.push((r, done)),
                Ok(Job::Stop) => stopping = true,
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        let started = Instant::now();
        let result = write_batch(&mut conn, batch.iter().map(|(r, _)| r));
        observer.committed(batch.len(), started.elapsed(), result.is_ok());
        let result = result.map_err(|e| {
            errors.report(&e, batch.len());
            CommitError::Failed(e.to_string().into())
        });
        for (_, done) in batch.drain(..) {
            let _ = done.send(result.clone());
        }
    }
    rx.close();
    while let Ok(job) = rx.try_recv() {
        if let Job::Record(_, done) = job {
            let _ = done.send(Err(CommitError::Closed));
        }
    }
    // Fold the WAL back into the database so the file is complete on its own.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    conn.close().map_err(|(_, e)| e)?;
    Ok(())
}

/// Writes a batch in one transaction: each client row, and the counters
/// and activity buckets summed over the batch (one statement per counter,
/// not per request).
pub fn write_batch<'a>(conn: &mut Connection, records: impl Iterator<Item = &'a Record>) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let (mut total, mut failed) = (0i64, 0i64);
    let mut by_status: HashMap<u32, i64> = HashMap::new();
    let mut activity: HashMap<i64, (i64, i64)> = HashMap::new();
    {
        let mut upsert = tx.prepare_cached(registry::UPSERT_CLIENT)?;
        for r in records {
            let refused = r.hresult != 0;
            upsert.execute(params![
                r.cmid.to_string(),
                r.kms_id.to_string(),
                r.application.to_string(),
                r.sku.to_string(),
                r.workstation,
                r.remote,
                r.license_status,
                r.protocol.to_string(),
                r.now,
                r.hresult,
            ])?;
            total += 1;
            failed += i64::from(refused);
            *by_status.entry(r.license_status).or_default() += 1;
            let bucket = activity.entry(r.now.div_euclid(3600)).or_default();
            if refused {
                bucket.1 += 1;
            } else {
                bucket.0 += 1;
            }
        }
        let mut add = tx.prepare_cached(registry::ADD_COUNTER)?;
        add.execute(params![registry::counters::TOTAL, total])?;
        if failed > 0 {
            add.execute(params![registry::counters::FAILED, failed])?;
        }
        for (status, n) in &by_status {
            add.execute(params![format!("{}{status}", registry::counters::LICENSE_STATUS_PREFIX), n])?;
        }
        let mut bump = tx.prepare_cached(registry::BUMP_ACTIVITY)?;
        for (hour, (ok, failed)) in &activity {
            bump.execute(params![hour, ok, failed])?;
        }
    }
    tx.commit()
}

/// Logs registry failures without flooding: the first at once, then a
/// summary at most every 10 seconds.
#[derive(Default)]
struct ErrorLog {
    last: Option<Instant>,
    suppressed: usize,
}

impl ErrorLog {
    fn report(&mut self, e: &rusqlite::Error, requests: usize) {
        let now = Instant::now();
        if self.last.is_some_and(|t| now - t < Duration::from_secs(10)) {
            self.suppressed += requests;
            return;
        }
        tracing::error!(error = %e, requests, suppressed = self.suppressed, "registry commit failed; these requests were not answered");
        self.last = Some(now);
        self.suppressed = 0;
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;
    use crate::native::serve::settings::SyncMode;
    use crate::native::serve::store::{open_reader, open_writer};

    struct Quiet;
    impl CommitObserver for Quiet {
        fn committed(&self, _: usize, _: Duration, _: bool) {}
    }

    fn record(cmid: u128, hresult: u32, status: u32, now: i64) -> Record {
        Record {
            cmid: Guid::from_u128(cmid),
            kms_id: Guid::from_u128(7),
            application: Guid::from_u128(9),
            sku: Guid::from_u128(8),
            workstation: "PC-1".into(),
            remote: "192.0.2.1".into(),
            license_status: status,
            protocol: Version::V6,
            now,
            hresult,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_groups_and_sums_counters_and_activity() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("r.sqlite3");
        let (w, thread) = Writer::spawn(open_writer(&db, SyncMode::Normal).unwrap(), Quiet).unwrap();
        let t = 1_700_000_000;
        let mut waits = Vec::new();
        for i in 0..100u128 {
            let w = w.clone();
            let (hr, st) = if i % 10 == 0 { (0xC004_F042, 1) } else { (0, 2) };
            waits.push(tokio::spawn(async move { w.commit(record(i % 50, hr, st, t + i as i64)).await }));
        }
        for h in waits {
            h.await.unwrap().unwrap();
        }
        w.stop().await;
        assert_eq!(w.commit(record(1, 0, 2, t)).await, Err(CommitError::Closed));
        thread.join().unwrap();
        assert!(!db.with_extension("sqlite3-wal").exists() || std::fs::metadata(db.with_extension("sqlite3-wal")).unwrap().len() == 0);

        let r = open_reader(&db).unwrap();
        let n: i64 = r.query_row("SELECT COUNT(*) FROM clients", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 50);
        let reqs: i64 = r.query_row("SELECT SUM(requests) FROM clients", [], |r| r.get(0)).unwrap();
        assert_eq!(reqs, 100);
        let counter = |name: &str| -> i64 {
            r.query_row("SELECT value FROM counters WHERE name = ?1", [name], |r| r.get(0)).unwrap()
        };
        assert_eq!(counter("total"), 100);
        assert_eq!(counter("failed"), 10);
        assert_eq!(counter("license_status:1"), 10);
        assert_eq!(counter("license_status:2"), 90);
        let (ok, failed): (i64, i64) =
            r.query_row("SELECT SUM(ok), SUM(failed) FROM activity", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!((ok, failed), (90, 10));
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let mut conn = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        conn.execute_batch("DROP TABLE activity").unwrap();
        let recs = [record(1, 0, 2, 10), record(2, 0, 2, 10)];
        assert!(write_batch(&mut conn, recs.iter()).is_err());
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM clients", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0, "the transaction rolled back");
    }
}
