//! `kmsedge service` (Windows): the host as a Windows service, and its
//! events in the Windows Event Log.
//!
//! `scm` installs, starts, stops and uninstalls the service through the
//! service control manager (the `windows-service` crate) and is the
//! service's entry point, which runs [`super::serve::run_until`] until the
//! manager asks it to stop. `eventlog` registers the event source and writes
//! the host's log lines to the Event Log (winsafe's `ReportEvent`); which
//! line becomes which event is decided by [`entry`], platform-neutral so it
//! is tested on every host.
//!
//! A genuine KMS host writes one event 12290 per request to the log
//! "Applications and Services Logs\Key Management Service", and 12293/12294
//! for DNS publishing to the Application log (Microsoft, "Volume Activation
//! Technical Reference", table "KMS Events Logged in the Windows Event Log",
//! <https://learn.microsoft.com/en-us/previous-versions//ff793440(v=technet.10)>).
//! kmsedge's source writes all of its events to the Key Management Service
//! log, so an administrator finds them where a Windows host's are.
pub mod entry;
#[cfg(windows)]
pub mod eventlog;
#[cfg(windows)]
pub mod scm;

/// The service's name, and the event source's.
pub const NAME: &str = "kmsedge";
/// The event log the source is registered in.
pub const LOG: &str = "Key Management Service";
