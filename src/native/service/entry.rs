//! Which Event Log entry a log line becomes: lines carrying `event_id` (the
//! activation line, 12290; DNS publishing, 12293/12294) keep that id, as a
//! genuine host's events; other warnings and errors become events 2 and 1,
//! and the host's information lines event 3. Debug and trace lines are not
//! logged: the Event Log is for administrators, stderr for debugging.
use std::fmt::{Debug, Write};
use std::string::String;
use tracing::field::{Field, Visit};
use tracing::{Event, Level};

/// An entry's type, as `ReportEvent` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Error,
    Warning,
    Information,
}

/// One entry: its id, type, and the one insertion string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: u32,
    pub kind: Kind,
    pub text: String,
}

pub const ERROR: u32 = 1;
pub const WARNING: u32 = 2;
pub const INFORMATION: u32 = 3;

/// The entry for `event`, or `None` for a line the Event Log does not keep.
pub fn entry(event: &Event<'_>) -> Option<Entry> {
    let meta = event.metadata();
    let mut v = Text::default();
    event.record(&mut v);
    classify(*meta.level(), meta.target(), v.event_id, v.text)
}

fn classify(level: Level, target: &str, event_id: Option<u32>, text: String) -> Option<Entry> {
    let kind = match level {
        Level::ERROR => Kind::Error,
        Level::WARN => Kind::Warning,
        // Information from the host only, not from its libraries.
        Level::INFO if target.starts_with("kmsedge") => Kind::Information,
        _ => return None,
    };
    let id = event_id.unwrap_or(match kind {
        Kind::Error => ERROR,
        Kind::Warning => WARNING,
        Kind::Information => INFORMATION,
    });
    Some(Entry { id, kind, text })
}

/// "message: field=value, field=value", without the `event_id` field.
#[derive(Default)]
struct Text {
    event_id: Option<u32>,
    text: String,
    fields: usize,
}

impl Text {
    fn field(&mut self, name: &str, value: &dyn Debug) {
        if name == "message" {
            let fields = core::mem::take(&mut self.text);
            let _ = write!(self.text, "{value:?}");
            if !fields.is_empty() {
                self.text.push_str(": ");
                self.text.push_str(&fields);
            }
            return;
        }
        let sep = if self.fields == 0 { if self.text.is_empty() { "" } else { ": " } } else { ", " };
        self.fields += 1;
        let _ = write!(self.text, "{sep}{name}={value:?}");
    }
}

impl Visit for Text {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "event_id" {
            self.event_id = u32::try_from(value).ok();
        } else {
            self.field(field.name(), &value);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "event_id" {
            self.event_id = u32::try_from(value).ok();
        } else {
            self.field(field.name(), &value);
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field.name(), &Unquoted(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.field(field.name(), value);
    }
}

/// A string field shown as typed (a Debug that does not quote).
struct Unquoted<'a>(&'a str);

impl Debug for Unquoted<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::vec::Vec;
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::Layer;

    struct Capture(Arc<Mutex<Vec<Option<Entry>>>>);
    impl<S: tracing::Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
            self.0.lock().unwrap().push(entry(event));
        }
    }

    fn capture(f: impl FnOnce()) -> Vec<Option<Entry>> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Capture(seen.clone()));
        tracing::subscriber::with_default(subscriber, f);
        let v = seen.lock().unwrap().clone();
        v
    }

    /// The activation line keeps the genuine event id (12290) and every
    /// field but the id, the message first.
    #[test]
    fn activation_line_is_event_12290() {
        let seen = capture(|| {
            tracing::info!(
                event_id = crate::model::events::REQUEST, client = %"127.0.0.1", workstation = "PC-1.example",
                count = 50u32, "activated"
            )
        });
        let e = seen[0].clone().expect("kept");
        assert_eq!(e.id, 12290);
        assert_eq!(e.kind, Kind::Information);
        assert_eq!(e.text, "activated: client=127.0.0.1, workstation=PC-1.example, count=50");
    }

    /// Warnings and errors get ids 2 and 1 (or their own), information
    /// only from the host's own targets, debug never.
    #[test]
    fn levels_and_targets() {
        let seen = capture(|| {
            tracing::error!(cause = "disk full", "registry write failed");
            tracing::warn!(event_id = crate::model::events::DNS_FAILED, "DNS SRV update failed");
            tracing::info!(target: "hyper", "a library's line");
            tracing::debug!("debugging");
            tracing::info!("KMS host listening");
        });
        assert_eq!(seen.len(), 5);
        let e = seen[0].clone().unwrap();
        assert_eq!((e.id, e.kind, e.text.as_str()), (ERROR, Kind::Error, "registry write failed: cause=disk full"));
        let e = seen[1].clone().unwrap();
        assert_eq!((e.id, e.kind, e.text.as_str()), (12293, Kind::Warning, "DNS SRV update failed"));
        assert_eq!(seen[2], None);
        assert_eq!(seen[3], None);
        let e = seen[4].clone().unwrap();
        assert_eq!((e.id, e.kind, e.text.as_str()), (INFORMATION, Kind::Information, "KMS host listening"));
    }
}
