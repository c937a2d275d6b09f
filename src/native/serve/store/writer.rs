//! The registry's writer: what stands between an answer and the disk.
//!
//! A connection appends its [`Record`] to the write-ahead [`Journal`]
//! itself — one small `write` under a lock, a few microseconds — and may
//! answer as soon as it returns: the record is then in the kernel's page
//! cache, which survives `kill -9`. With `sync = full` the answer also
//! waits for an fdatasync, shared by everyone who wrote meanwhile (the
//! first to wait syncs for all; the others find their record covered).
//! No thread hop stands between a request and its answer.
//!
//! One *registry* thread applies journaled records to SQLite. At low load
//! it does so at once; under load it commits at most every
//! [`APPLY_INTERVAL`], so that each hot page of the client table and its
//! indexes is rewritten once for hundreds of requests rather than once per
//! handful. Each transaction stores the last sequence number it applied,
//! so a restart replays exactly what SQLite is missing
//! ([`super::journal::recover`]). Readers that must see every answered
//! request (the HTTP API) wait for [`Writer::settled`].
//!
//! The same transactions append each request's event, the DNS publishing
//! attempts handed over by [`Writer::note_dns`] (not journaled: an attempt
//! is not an answer, and the next one follows), and delete expired events
//! at most once a minute ([`Retention`]).
use std::prelude::rust_2024::{Box, ToString, Vec};
use super::super::settings::SyncMode;
use super::journal::Journal;
// Re-exported: the registry's callers and tests name them through the writer.
pub use super::record::{Extra, Record, write_batch, write_group};
use crate::model::events::{self, DnsEvent, Retention};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Under load, SQLite commits at most this often.
const APPLY_INTERVAL: Duration = Duration::from_millis(50);
/// A commit of at least this many records means "under load".
const PACE_FROM: usize = 64;
/// After a failed SQLite commit, the next try waits this long.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Records journaled but not yet taken by the registry thread. Beyond
/// this (SQLite stuck or failing) new requests wait: backpressure reaches
/// the clients instead of memory growing without bound.
const MAX_PENDING: usize = 1 << 18;

/// Why a record was not committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitError {
    /// The registry is closing (shutdown) or its thread is gone.
    Closed,
    /// The journal write failed (disk full, I/O error…): the message.
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

/// What the writers report, for metrics.
pub trait CommitObserver: Send + Sync + 'static {
    /// A group made durable in the journal (what answers wait for).
    fn committed(&self, batch: usize, took: Duration, ok: bool);
    /// A transaction applying journaled records to SQLite.
    fn applied(&self, _batch: usize, _took: Duration, _ok: bool) {}
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the registry thread when it waits for work.
    wake: Condvar,
    sync: SyncMode,
    /// Sequence number of the last record written to the journal.
    journaled: AtomicU64,
    /// With `sync = full`: the last one known to be on stable storage.
    synced: AtomicU64,
    /// One fdatasync at a time; whoever holds this syncs for everyone.
    sync_leader: tokio::sync::Mutex<()>,
    /// Sequence number of the last record in SQLite.
    applied: watch::Sender<u64>,
    alive: AtomicBool,
    errors: Mutex<[Episode; 3]>,
    /// Bit per [`Fault`] now failing: the success path checks it without
    /// a lock.
    failing: AtomicU8,
    observer: Box<dyn CommitObserver>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A failure of `fault` on `path`: logged once when the fault starts,
    /// with the path; `unanswered` requests are added to the tally that is
    /// logged when it works again ([`Shared::works`]).
    fn report(&self, fault: Fault, path: &Path, e: &dyn std::fmt::Display, unanswered: usize) {
        let mut all = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        let ep = &mut all[fault as usize];
        ep.unanswered += unanswered;
        if ep.since.is_none() {
            ep.since = Some(Instant::now());
            self.failing.fetch_or(1 << fault as u8, Ordering::AcqRel);
            tracing::error!(path = %path.display(), error = %e, "{}", fault.failing());
        }
    }

    /// `fault`'s operation worked: ends its episode, if one was running,
    /// with one line. `path` is called only then, and before the error
    /// lock is taken, so it may take the state lock (callers that hold it
    /// already pass a closure that does not).
    fn works(&self, fault: Fault, path: impl FnOnce() -> PathBuf) {
        if self.failing.load(Ordering::Acquire) & (1 << fault as u8) == 0 {
            return;
        }
        let path = path();
        let mut all = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        let ep = std::mem::take(&mut all[fault as usize]);
        self.failing.fetch_and(!(1 << fault as u8), Ordering::AcqRel);
        if let Some(since) = ep.since {
            let secs = since.elapsed().as_secs();
            tracing::info!(path = %path.display(), failed_for_secs = secs, not_answered = ep.unanswered, "{}", fault.works());
        }
    }
}

struct State {
    /// Taken by the registry thread at the end, to delete what is applied.
    journal: Option<Journal>,
    /// Journaled records the registry thread has not taken yet, in order.
    pending: Vec<Record>,
    /// DNS publishing attempts not yet written.
    dns: Vec<DnsEvent>,
    /// Sequence number of the last of `pending`.
    pending_top: u64,
    closed: bool,
    waiting: bool,
}

/// Cheap to clone; every clone feeds the same journal and registry thread.
#[derive(Clone)]
pub struct Writer(Arc<Shared>);

/// Joins the registry thread after [`Writer::stop`].
pub struct WriterThread(JoinHandle<anyhow::Result<()>>);

impl Writer {
    /// Starts the registry thread on `conn` (from [`super::open_writer`]),
    /// whose registry holds every record up to `applied` (from
    /// [`super::journal::recover`]); new records go to `journal`.
    pub fn spawn(
        conn: Connection,
        journal: Journal,
        applied: u64,
        observer: impl CommitObserver,
    ) -> std::io::Result<(Writer, WriterThread)> {
        Writer::spawn_keeping(conn, journal, applied, observer, events::DEFAULT_DAYS)
    }

    /// [`Writer::spawn`], keeping `event_days` days of event history.
    pub fn spawn_keeping(
        conn: Connection,
        journal: Journal,
        applied: u64,
        observer: impl CommitObserver,
        event_days: u32,
    ) -> std::io::Result<(Writer, WriterThread)> {
        let shared = Arc::new(Shared {
            sync: journal.sync_mode(),
            state: Mutex::new(State {
                journal: Some(journal),
                pending: Vec::new(),
                dns: Vec::new(),
                pending_top: applied,
                closed: false,
                waiting: false,
            }),
            wake: Condvar::new(),
            journaled: AtomicU64::new(applied),
            synced: AtomicU64::new(applied),
            sync_leader: tokio::sync::Mutex::new(()),
            applied: watch::channel(applied).0,
            alive: AtomicBool::new(true),
            errors: Mutex::new(Default::default()),
            failing: AtomicU8::new(0),
            observer: Box::new(observer),
        });
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new().name("kmsedge-registry".into()).spawn(move || {
                super::background_priority();
                let r = apply_loop(conn, &shared, Retention::days(event_days));
                shared.alive.store(false, Ordering::Release);
                r
            })?
        };
        Ok((Writer(shared), WriterThread(thread)))
    }

    /// Resolves once `record` is durable: journaled, and with
    /// `sync = full` also synced.
    pub async fn commit(&self, record: Record) -> Result<(), CommitError> {
        self.admit().await;
        let started = Instant::now();
        let seq = self.append(record)?;
        self.durable(seq, started).await
    }

    /// Backpressure before [`Writer::append`], only when SQLite has fallen
    /// far behind.
    pub async fn admit(&self) {
        while self.0.lock().pending.len() >= MAX_PENDING {
            let mut applied = self.0.applied.subscribe();
            let _ = tokio::time::timeout(Duration::from_millis(100), applied.changed()).await;
        }
    }

    /// Journals `record` (one small write, no waiting: callable under a
    /// lock) → its sequence number, for [`Writer::durable`].
    pub fn append(&self, record: Record) -> Result<u64, CommitError> {
        let s = &*self.0;
        let started = Instant::now();
        let mut st = self.0.lock();
        if st.closed {
            return Err(CommitError::Closed);
        }
        let journal = st.journal.as_mut().ok_or(CommitError::Closed)?;
        match journal.append(core::iter::once(&record)) {
            Ok(seq) => {
                s.works(Fault::Journal, || journal.path());
                st.pending.push(record);
                st.pending_top = seq;
                s.journaled.store(seq, Ordering::Release);
                if st.waiting {
                    st.waiting = false;
                    s.wake.notify_one();
                }
                Ok(seq)
            }
            Err(e) => {
                let path = journal.path();
                drop(st);
                s.observer.committed(1, started.elapsed(), false);
                Err(self.failed(&path, &e))
            }
        }
    }

    /// Resolves once the record journaled as `seq` (appended at `started`)
    /// may be answered: at once, or with `sync = full` after a sync.
    pub async fn durable(&self, seq: u64, started: Instant) -> Result<(), CommitError> {
        match self.0.sync {
            SyncMode::Normal => {
                self.0.observer.committed(1, started.elapsed(), true);
                Ok(())
            }
            SyncMode::Full => self.sync_through(seq).await,
        }
    }

    /// Hands over a DNS publishing attempt for the next group.
    pub fn note_dns(&self, event: DnsEvent) {
        let mut st = self.0.lock();
        if st.closed {
            return;
        }
        st.dns.push(event);
        if st.waiting {
            st.waiting = false;
            self.0.wake.notify_one();
        }
    }

    /// Group commit for `sync = full`: waits until a sync covers `seq`,
    /// running it if nobody else is.
    async fn sync_through(&self, seq: u64) -> Result<(), CommitError> {
        let s = &*self.0;
        if s.synced.load(Ordering::Acquire) >= seq {
            return Ok(());
        }
        let _leader = s.sync_leader.lock().await;
        let before = s.synced.load(Ordering::Acquire);
        if before >= seq {
            return Ok(());
        }
        let (file, target) = {
            let st = self.0.lock();
            (st.journal.as_ref().ok_or(CommitError::Closed)?.file_for_sync(), s.journaled.load(Ordering::Acquire))
        };
        let started = Instant::now();
        let result = match file {
            Ok(f) => tokio::task::spawn_blocking(move || f.sync_data())
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string()))),
            Err(e) => Err(e),
        };
        s.observer.committed((target - before) as usize, started.elapsed(), result.is_ok());
        match result {
            Ok(()) => {
                s.synced.store(target, Ordering::Release);
                s.works(Fault::Journal, || self.journal_path());
                Ok(())
            }
            Err(e) => Err(self.failed(&self.journal_path(), &e)),
        }
    }

    /// The journal's current segment, for a log line: looked up only when
    /// one is written, not on each group commit.
    fn journal_path(&self) -> PathBuf {
        self.0.lock().journal.as_ref().map_or_else(|| PathBuf::from("journal"), Journal::path)
    }

    fn failed(&self, path: &Path, e: &std::io::Error) -> CommitError {
        self.0.report(Fault::Journal, path, e, 1);
        CommitError::Failed(e.to_string().into())
    }

    /// Waits (at most `limit`) until SQLite holds every record answered
    /// before the call; false if it did not get there in time.
    pub async fn settled(&self, limit: Duration) -> bool {
        let target = self.0.journaled.load(Ordering::Acquire);
        let mut applied = self.0.applied.subscribe();
        matches!(tokio::time::timeout(limit, applied.wait_for(|a| *a >= target)).await, Ok(Ok(_)))
    }

    /// Applies what is journaled, then closes: later commits fail with
    /// [`CommitError::Closed`].
    pub async fn stop(&self) {
        let mut st = self.0.lock();
        st.closed = true;
        self.0.wake.notify_one();
    }

    /// Whether the registry still takes records (for `/healthz`).
    pub fn is_alive(&self) -> bool {
        self.0.alive.load(Ordering::Acquire) && !self.0.lock().closed
    }
}

impl WriterThread {
    /// Waits for the last commit, the journal's cleanup and the file's close.
    pub fn join(self) -> anyhow::Result<()> {
        self.0.join().map_err(|_| anyhow::anyhow!("registry thread panicked"))?
    }
}

fn apply_loop(mut conn: Connection, shared: &Shared, mut retention: Retention) -> anyhow::Result<()> {
    let db = PathBuf::from(conn.path().unwrap_or("registry"));
    let mut applied = *shared.applied.borrow();
    // Taken from `pending` but not yet in SQLite (kept across a failure).
    let mut batch: Vec<Record> = Vec::new();
    let mut dns: Vec<DnsEvent> = Vec::new();
    let mut top = applied;
    let (mut last_start, mut last_len, mut failing) = (None::<Instant>, 0, false);
    loop {
        let mut stopping = {
            let mut st = shared.lock();
            while st.pending.is_empty() && st.dns.is_empty() && batch.is_empty() && dns.is_empty() && !st.closed {
                st.waiting = true;
                st = shared.wake.wait(st).unwrap_or_else(|p| p.into_inner());
            }
            st.closed
        };
        // Under load (or after a failure), let a group gather first.
        let pause = if failing { RETRY_AFTER } else { APPLY_INTERVAL };
        if !stopping
            && (failing || last_len >= PACE_FROM)
            && let Some(t) = last_start
        {
            std::thread::sleep((t + pause).saturating_duration_since(Instant::now()));
        }
        {
            let mut st = shared.lock();
            if !st.pending.is_empty() {
                batch.append(&mut st.pending);
                top = st.pending_top;
            }
            dns.append(&mut st.dns);
            stopping = st.closed;
        }
        if !batch.is_empty() || !dns.is_empty() {
            let started = Instant::now();
            last_start = Some(started);
            let extra = Extra { dns: &dns, prune_events_before: retention.due(unix_now()) };
            let result = write_group(&mut conn, batch.iter(), &extra, Some(top));
            shared.observer.applied(batch.len(), started.elapsed(), result.is_ok());
            match result {
                Ok(()) => {
                    last_len = batch.len();
                    batch.clear();
                    dns.clear();
                    applied = top;
                    shared.applied.send_replace(applied);
                    failing = false;
                    shared.works(Fault::Registry, || db.clone());
                    if let Some(j) = shared.lock().journal.as_mut() {
                        match j.release(applied) {
                            Ok(()) => shared.works(Fault::Cleanup, || j.path()),
                            Err(e) => shared.report(Fault::Cleanup, &j.path(), &e, 0),
                        }
                    }
                }
                // Nothing is lost: the records are in the journal, and held
                // here for the next try (or replayed at the next start).
                Err(e) => {
                    shared.report(Fault::Registry, &db, &e, 0);
                    failing = true;
                }
            }
        }
        if stopping && ((batch.is_empty() && dns.is_empty()) || failing) {
            break;
        }
    }
    if let Some(j) = shared.lock().journal.take() {
        j.finish(applied)?;
    }
    // Fold the WAL back into the database so the file is complete on its own.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    conn.close().map_err(|(_, e)| e)?;
    Ok(())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// What can fail, each logged on its own: one line when it starts failing
/// (with the file), one when it works again — never a line per request,
/// which during a full disk would fill what little space is left.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Appending to or syncing the journal: requests are not answered.
    Journal = 0,
    /// Applying the journal to SQLite: answers go on, SQLite catches up.
    Registry = 1,
    /// Deleting applied journal segments.
    Cleanup = 2,
}

impl Fault {
    fn failing(self) -> &'static str {
        match self {
            Fault::Journal => "registry journal write failed; activations are not answered (clients retry) until it works again",
            Fault::Registry => "registry commit failed; retrying every second (the answered requests are safe in the journal)",
            Fault::Cleanup => "cannot delete an applied journal segment; retrying",
        }
    }

    fn works(self) -> &'static str {
        match self {
            Fault::Journal => "registry journal writes work again; answering",
            Fault::Registry => "registry commits work again",
            Fault::Cleanup => "applied journal segments are deleted again",
        }
    }
}

/// A fault from its first failure until the operation works again.
#[derive(Debug, Default)]
struct Episode {
    since: Option<Instant>,
    unanswered: usize,
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;
    use crate::Guid;
    use crate::kms::Version;
    use crate::native::serve::settings::SyncMode;
    use crate::native::serve::store::{journal, open_reader, open_writer};
    use std::path::Path;

    #[derive(Clone)]
    struct Quiet;
    impl CommitObserver for Quiet {
        fn committed(&self, _: usize, _: Duration, _: bool) {}
    }

    pub fn record(cmid: u128, hresult: u32, status: u32, now: i64) -> Record {
        Record {
            cmid: Guid::from_u128(cmid),
            kms_id: Guid::from_u128(7),
            application: Guid::from_u128(9),
            sku: Guid::from_u128(8),
            workstation: "PC-1".into(),
            remote: "192.0.2.1".parse().unwrap(),
            license_status: status,
            protocol: Version::V6,
            now,
            hresult,
            reported: (hresult == 0).then_some(25),
        }
    }

    fn spawn(dir: &Path) -> (Writer, WriterThread) {
        let mut conn = open_writer(&dir.join("r.sqlite3"), SyncMode::Normal).unwrap();
        let rec = journal::recover(dir, &mut conn).unwrap();
        let j = journal::Journal::open(dir, rec.next_seq, SyncMode::Normal).unwrap();
        Writer::spawn(conn, j, rec.next_seq - 1, Quiet).unwrap()
    }

    fn journal_files(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("journal-")).count()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_groups_and_sums_counters_and_activity() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("r.sqlite3");
        let (w, thread) = spawn(tmp.path());
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
        // Read-your-writes: once settled, SQLite has every answered request.
        assert!(w.settled(Duration::from_secs(5)).await);
        let r = open_reader(&db).unwrap();
        let reqs: i64 = r.query_row("SELECT SUM(requests) FROM clients", [], |r| r.get(0)).unwrap();
        assert_eq!(reqs, 100, "visible before shutdown");
        drop(r);

        w.stop().await;
        assert_eq!(w.commit(record(1, 0, 2, t)).await, Err(CommitError::Closed));
        thread.join().unwrap();
        assert!(!db.with_extension("sqlite3-wal").exists() || std::fs::metadata(db.with_extension("sqlite3-wal")).unwrap().len() == 0);
        assert_eq!(journal_files(tmp.path()), 0, "an applied journal is deleted at shutdown");

        let r = open_reader(&db).unwrap();
        let n: i64 = r.query_row("SELECT COUNT(*) FROM clients", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 50);
        let reqs: i64 = r.query_row("SELECT SUM(requests) FROM clients", [], |r| r.get(0)).unwrap();
        assert_eq!(reqs, 100);
        assert_eq!(journal::applied(&r).unwrap(), 100);
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

    /// SQLite failing does not stop answers nor lose them: they wait in the
    /// journal and are applied once SQLite works again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_registry_keeps_answered_requests_until_it_recovers() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("r.sqlite3");
        let (w, thread) = spawn(tmp.path());
        let other = rusqlite::Connection::open(&db).unwrap();
        other.execute_batch("DROP TABLE activity").unwrap();
        for i in 0..20 {
            w.commit(record(i, 0, 2, 1_700_000_000)).await.unwrap();
        }
        assert!(!w.settled(Duration::from_millis(300)).await, "the apply fails while the table is missing");
        other.execute_batch(crate::registry::SCHEMA).unwrap();
        assert!(w.settled(RETRY_AFTER * 5).await, "applied once SQLite works again");
        let n: i64 = other.query_row("SELECT COUNT(*) FROM clients", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 20);
        drop(other);
        w.stop().await;
        thread.join().unwrap();
    }

    /// What was answered but not applied (the host killed) is applied by
    /// the next start, exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unapplied_records_are_replayed_once() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("r.sqlite3");
        {
            let mut conn = open_writer(&db, SyncMode::Normal).unwrap();
            let mut j = journal::Journal::open(tmp.path(), 1, SyncMode::Normal).unwrap();
            let recs: Vec<Record> = (0..30).map(|i| record(i % 20, 0, 2, 1_700_000_000)).collect();
            j.append(recs[..10].iter()).unwrap();
            write_batch(&mut conn, recs[..10].iter(), Some(10)).unwrap();
            j.append(recs[10..].iter()).unwrap();
            // Dropped without applying the second group: as after kill -9.
        }
        let (w, thread) = spawn(tmp.path());
        w.stop().await;
        thread.join().unwrap();
        let (w, thread) = spawn(tmp.path());
        w.stop().await;
        thread.join().unwrap();
        let r = open_reader(&db).unwrap();
        let reqs: i64 = r.query_row("SELECT SUM(requests) FROM clients", [], |r| r.get(0)).unwrap();
        assert_eq!(reqs, 30);
        let total: i64 = r.query_row("SELECT value FROM counters WHERE name = 'total'", [], |r| r.get(0)).unwrap();
        assert_eq!(total, 30);
        assert_eq!(journal::applied(&r).unwrap(), 30);
        assert_eq!(journal_files(tmp.path()), 0);
    }

    /// Several requests of one client in a group make one row write with
    /// the same result as one write each.
    #[test]
    fn a_clients_requests_in_one_group_add_up() {
        let tmp = tempfile::tempdir().unwrap();
        let mut conn = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        write_batch(&mut conn, [record(1, 0, 2, 100)].iter(), None).unwrap();
        let mut later = vec![record(1, 0xC004_F042, 1, 200), record(2, 0, 2, 210), record(1, 0, 2, 220), record(1, 0, 5, 230)];
        later[3].workstation = "RENAMED".into();
        write_batch(&mut conn, later.iter(), None).unwrap();
        write_batch(&mut conn, [record(3, 0, 2, 300), record(3, 0xC004_F042, 2, 310)].iter(), None).unwrap();
        let row = |cmid: u128| -> (i64, i64, i64, i64, String, i64) {
            conn.query_row(
                "SELECT requests, first_seen, last_seen, last_hresult, workstation, license_status FROM clients WHERE cmid = ?1",
                [Guid::from_u128(cmid).to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )
            .unwrap()
        };
        assert_eq!(row(1), (4, 100, 230, 0, "RENAMED".into(), 5));
        assert_eq!(row(2), (1, 210, 210, 0, "PC-1".into(), 2));
        assert_eq!(row(3), (2, 300, 310, 0xC004_F042, "PC-1".into(), 2), "a new client: first_seen from the first request");
        let total: i64 = conn.query_row("SELECT value FROM counters WHERE name = 'total'", [], |r| r.get(0)).unwrap();
        assert_eq!(total, 7);
        let failed: i64 = conn.query_row("SELECT value FROM counters WHERE name = 'failed'", [], |r| r.get(0)).unwrap();
        assert_eq!(failed, 2);
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let mut conn = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        conn.execute_batch("DROP TABLE activity").unwrap();
        let recs = [record(1, 0, 2, 10), record(2, 0, 2, 10)];
        assert!(write_batch(&mut conn, recs.iter(), Some(2)).is_err());
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM clients", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0, "the transaction rolled back");
        assert_eq!(journal::applied(&conn).unwrap(), 0);
    }
}
