//! Logs to stderr through `tracing`: human-readable lines by default, or
//! one JSON object per line for log collectors.
//!
//! The one line per activation must not cost the KMS path a system call,
//! nor a thread wake-up: lines are formatted where they happen and
//! appended to a shared buffer, and a logging thread writes the buffer out
//! every [`FLUSH_EVERY`]. (tracing-appender's non-blocking writer did the
//! same through a channel whose receiver spins and yields between lines —
//! a tenth of the host's CPU under load.) No line is ever dropped: if
//! stderr stops taking them and the buffer reaches [`MAX_BUFFER`], loggers
//! wait for it.
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;
use std::vec::Vec;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// Another destination for the same lines, behind the same filter (the
/// Windows Event Log when running as a service).
pub type ExtraLog = std::boxed::Box<dyn Layer<Registry> + Send + Sync>;

/// How long a line may wait in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Buffered bytes beyond which loggers wait for the logging thread.
const MAX_BUFFER: usize = 16 << 20;

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    closed: bool,
    /// The logging thread sleeps until a line comes: the first line wakes it.
    idle: bool,
}

#[derive(Default)]
struct Shared {
    buffer: Mutex<Buffer>,
    /// Signalled when the buffer has been written out, or must be now.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Buffer> {
        self.buffer.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The writer handed to `tracing_subscriber::fmt`.
#[derive(Clone)]
pub struct BufferedStderr(Arc<Shared>);

/// One event's writer: each `write` appends to the shared buffer.
pub struct EventWriter<'a>(&'a Shared);

impl Write for EventWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut b = self.0.lock();
        while b.bytes.len() >= MAX_BUFFER && !b.closed {
            self.0.changed.notify_all();
            b = self.0.changed.wait(b).unwrap_or_else(|p| p.into_inner());
        }
        b.bytes.extend_from_slice(bytes);
        if b.idle {
            b.idle = false;
            self.0.changed.notify_all();
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BufferedStderr {
    type Writer = EventWriter<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        EventWriter(&self.0)
    }
}

/// Writes what is left when dropped (at the end of `run`).
pub struct Guard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.changed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn flush_loop(shared: &Shared, out: &mut impl Write) {
    let mut spare = Vec::new();
    loop {
        let closing = {
            let mut b = shared.lock();
            while b.bytes.is_empty() && !b.closed {
                b.idle = true;
                b = shared.changed.wait(b).unwrap_or_else(|p| p.into_inner());
            }
            b.idle = false;
            b.closed
        };
        // Let the lines of the next moment join this write.
        if !closing {
            std::thread::sleep(FLUSH_EVERY);
        }
        let closed = {
            let mut b = shared.lock();
            std::mem::swap(&mut b.bytes, &mut spare);
            b.closed
        };
        shared.changed.notify_all();
        // Nowhere to report a failing stderr; its lines are lost rather
        // than the host blocked.
        let _ = out.write_all(&spare);
        let _ = out.flush();
        spare.clear();
        if closed && shared.lock().bytes.is_empty() {
            return;
        }
    }
}

pub fn init(filter: &str, json: bool, extra: Option<ExtraLog>) -> anyhow::Result<Guard> {
    let filter = EnvFilter::try_new(filter).map_err(|e| anyhow::anyhow!("log filter {filter:?}: {e}"))?;
    // Colours only for a person at a terminal; never into files or journals.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let shared = Arc::new(Shared::default());
    let thread = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("kmsedge-log".into())
            .spawn(move || flush_loop(&shared, &mut std::io::stderr()))
            .map_err(|e| anyhow::anyhow!("cannot start the logging thread: {e}"))?
    };
    let writer = BufferedStderr(shared.clone());
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(ansi);
    let fmt: ExtraLog = if json { fmt.json().boxed() } else { fmt.boxed() };
    let layers: Vec<ExtraLog> = std::iter::once(fmt).chain(extra).collect();
    let result = tracing_subscriber::registry().with(layers).with(filter).try_init();
    // Already initialised (e.g. by an embedding program): keep theirs.
    let _ = result;
    Ok(Guard { shared, thread: Some(thread) })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines from many threads all arrive, whole, and the guard writes the
    /// last of them.
    #[test]
    fn every_line_arrives_whole() {
        let shared = Arc::new(Shared::default());
        let out = Arc::new(Mutex::new(Vec::new()));
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let thread = {
            let (shared, out) = (shared.clone(), out.clone());
            std::thread::spawn(move || flush_loop(&shared, &mut Sink(out)))
        };
        let guard = Guard { shared: shared.clone(), thread: Some(thread) };
        let writer = BufferedStderr(shared);
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let w = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..2000 {
                        let line = std::format!("thread {t} line {i} {}\n", "x".repeat(i % 50));
                        w.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        drop(guard);
        let text = std::string::String::from_utf8(out.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8000);
        for t in 0..4 {
            let mine: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with(&std::format!("thread {t} "))).collect();
            assert_eq!(mine.len(), 2000);
            for (i, l) in mine.iter().enumerate() {
                assert_eq!(*l, std::format!("thread {t} line {i} {}", "x".repeat(i % 50)), "in order and whole");
            }
        }
    }
}
