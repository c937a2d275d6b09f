//! The Windows Event Log: the event source's registration (on install) and
//! a `tracing` layer that writes [`entry`](super::entry) entries through
//! `ReportEvent` (winsafe).
//!
//! `ReportEvent` is a call into the Event Log service; the KMS path must
//! not wait for it, so entries go through a bounded channel to a thread of
//! their own, and when the Event Log falls behind by [`QUEUE`] entries the
//! newest are dropped (stderr, when captured, still has every line).
//!
//! The source has no message file: Event Viewer shows each entry's text
//! after its note that the description for the id cannot be found, and
//! `Get-WinEvent`/`wevtutil qe` return it as the entry's data.
use super::entry::{Entry, Kind};
use super::{LOG, NAME};
use std::format;
use std::string::String;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::time::Duration;
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use winsafe::{co, HEVENTLOG, HKEY, RegistryValue};

/// Entries waiting for the Event Log beyond which new ones are dropped.
pub const QUEUE: usize = 4096;

fn source_key() -> String {
    format!("SYSTEM\\CurrentControlSet\\Services\\EventLog\\{LOG}\\{NAME}")
}

/// Registers the source in the Key Management Service log (creating the
/// log where no KMS host ever ran). Needs an administrator.
pub fn register() -> anyhow::Result<()> {
    let key = source_key();
    let (k, _) = HKEY::LOCAL_MACHINE
        .RegCreateKeyEx(&key, None, co::REG_OPTION::NON_VOLATILE, co::KEY::WRITE, None)
        .map_err(|e| anyhow::anyhow!("cannot register the event source (HKLM\\{key}): {e}"))?;
    let types = (co::EVENTLOG::ERROR_TYPE.raw() | co::EVENTLOG::WARNING_TYPE.raw() | co::EVENTLOG::INFORMATION_TYPE.raw()).into();
    k.RegSetKeyValue(None, Some("TypesSupported"), RegistryValue::Dword(types))
        .map_err(|e| anyhow::anyhow!("cannot register the event source (HKLM\\{key}): {e}"))
}

/// Removes the source's registration (the log stays: a genuine KMS host's
/// events may be in it).
pub fn deregister() -> anyhow::Result<()> {
    let key = source_key();
    match HKEY::LOCAL_MACHINE.RegDeleteTree(Some(&key)) {
        Ok(()) => Ok(()),
        Err(e) if e == co::ERROR::FILE_NOT_FOUND => Ok(()),
        Err(e) => Err(anyhow::anyhow!("cannot remove the event source (HKLM\\{key}): {e}")),
    }
}

/// Writes one entry now, without the layer: for what happens before the
/// host's logging starts (a configuration refused at service start).
pub fn report_now(entry: &Entry) -> anyhow::Result<()> {
    let h = HEVENTLOG::RegisterEventSource(None, NAME).map_err(|e| anyhow::anyhow!("cannot open the event source: {e}"))?;
    h.ReportEvent(kind(entry.kind), 0, entry.id, None, &[entry.text.as_str()], &[])
        .map_err(|e| anyhow::anyhow!("cannot write to the Event Log: {e}"))
}

fn kind(k: Kind) -> co::EVENTLOG {
    match k {
        Kind::Error => co::EVENTLOG::ERROR_TYPE,
        Kind::Warning => co::EVENTLOG::WARNING_TYPE,
        Kind::Information => co::EVENTLOG::INFORMATION_TYPE,
    }
}

enum Msg {
    Entry(Entry),
    /// Answered once every entry before it is written.
    Flush(SyncSender<()>),
}

/// The layer: hands entries to the Event Log's thread.
pub struct EventLog {
    queue: SyncSender<Msg>,
}

/// Waits for the entries written so far (the process is about to end).
pub struct Flush {
    queue: SyncSender<Msg>,
}

impl Flush {
    pub fn flush(&self, limit: Duration) {
        let (done, wait) = sync_channel(1);
        if self.queue.send(Msg::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(limit);
        }
    }
}

impl EventLog {
    /// Opens the source and starts the thread that writes to it.
    pub fn open() -> anyhow::Result<(Self, Flush)> {
        let h = HEVENTLOG::RegisterEventSource(None, NAME).map_err(|e| anyhow::anyhow!("cannot open the event source {NAME}: {e}"))?;
        let (queue, messages) = sync_channel::<Msg>(QUEUE);
        std::thread::Builder::new()
            .name("kmsedge-eventlog".into())
            .spawn(move || {
                for m in messages {
                    match m {
                        // Nowhere to report that the Event Log refused an entry.
                        Msg::Entry(e) => {
                            let _ = h.ReportEvent(kind(e.kind), 0, e.id, None, &[e.text.as_str()], &[]);
                        }
                        Msg::Flush(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            })
            .map_err(|e| anyhow::anyhow!("cannot start the Event Log thread: {e}"))?;
        Ok((EventLog { queue: queue.clone() }, Flush { queue }))
    }
}

impl<S: Subscriber> Layer<S> for EventLog {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if let Some(e) = super::entry::entry(event) {
            // Full: dropped rather than the KMS path kept waiting.
            let _ = self.queue.try_send(Msg::Entry(e));
        }
    }
}
