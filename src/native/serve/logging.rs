//! Logs to stderr through `tracing`: human-readable lines by default, or
//! one JSON object per line for log collectors.
//!
//! Lines are formatted where they happen but written by a logging thread
//! through a buffer, so the one line per activation costs the KMS path no
//! system call; lines are never dropped (a full queue makes the logger
//! wait). The returned guard flushes what is queued when it is dropped.
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

/// Lines queued for the logging thread before a logger waits.
const QUEUED_LINES: usize = 64 * 1024;

pub fn init(filter: &str, json: bool) -> anyhow::Result<WorkerGuard> {
    let filter = EnvFilter::try_new(filter).map_err(|e| anyhow::anyhow!("log filter {filter:?}: {e}"))?;
    // Colours only for a person at a terminal; never into files or journals.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr());
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("kmsedge-log")
        .finish(out);
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(ansi);
    let result = if json { builder.json().try_init() } else { builder.try_init() };
    // Already initialised (e.g. by an embedding program): keep theirs.
    let _ = result;
    Ok(guard)
}
