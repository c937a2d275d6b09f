//! Moving the WAL into the database file, off the commit path.
//!
//! SQLite normally checkpoints inside whichever commit crosses the WAL size
//! limit, so one unlucky group of requests waits for the copy and its
//! fsyncs. The writer turns that off (`wal_autocheckpoint = 0`) and this
//! thread, with its own connection, runs a PASSIVE checkpoint every
//! [`INTERVAL`]: it copies what it can without blocking the writer, and the
//! writer starts the WAL over once everything in it has been copied.
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

pub const INTERVAL: Duration = Duration::from_secs(1);

pub struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    pub fn spawn(db: &Path) -> anyhow::Result<Checkpointer> {
        let conn = rusqlite::Connection::open(db).map_err(|e| anyhow::anyhow!("registry {}: {e}", db.display()))?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new().name("kmsedge-checkpoint".into()).spawn(move || {
            super::background_priority();
            let mut failing = false;
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                // (busy, frames in the WAL, frames copied)
                let r = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                });
                match r {
                    Ok(_) if failing => {
                        tracing::info!("registry checkpoints work again");
                        failing = false;
                    }
                    Ok(_) => {}
                    Err(e) if !failing => {
                        tracing::warn!(error = %e, "registry checkpoint failed; the WAL file grows until one succeeds");
                        failing = true;
                    }
                    Err(_) => {}
                }
            }
        })?;
        Ok(Checkpointer { stop, thread })
    }

    /// Stops the thread (the writer's final TRUNCATE checkpoint follows).
    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use crate::native::serve::settings::SyncMode;
    use crate::native::serve::store::open_writer;

    #[test]
    fn copies_the_wal_while_the_writer_keeps_writing() {
        let tmp = tempfile::tempdir().unwrap();
        let db = tmp.path().join("r.sqlite3");
        let w = open_writer(&db, SyncMode::Normal).unwrap();
        let auto: i64 = w.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0)).unwrap();
        assert_eq!(auto, 0, "the writer never checkpoints by itself");
        for i in 0..200 {
            w.execute(crate::registry::SET_HOST, [format!("k{i}"), "x".repeat(2000)]).unwrap();
        }
        let size = || std::fs::metadata(&db).unwrap().len();
        let before = size();
        let cp = Checkpointer::spawn(&db).unwrap();
        std::thread::sleep(INTERVAL + Duration::from_millis(500));
        assert!(size() > before + 200 * 2000, "the pages reached the database file: {before} → {}", size());
        cp.stop();
    }
}
