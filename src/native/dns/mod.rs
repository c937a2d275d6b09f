//! DNS discovery of the KMS host (kms-protocol.md §8.9): the SRV record
//! `_vlmcs._tcp.<domain>` that Windows clients look up when no host is set.
//!
//! * `kmsedge dns record`: the record as a zone-file line, a PowerShell
//!   `Add-DnsServerResourceRecord` and a `dnscmd /recordadd` command, for
//!   administrators who create it by hand ([`record`]).
//! * [`Publisher`]: the host publishes its own record by RFC 2136 dynamic
//!   update, TSIG-signed, refreshes it, and removes it on a clean stop
//!   ([`publish`], configured by [`config`]). Off unless configured.
//! * `kmsedge dns check`: resolves the record as a Windows client does
//!   (lowest priority first, weighted random among equals — [`srv`]),
//!   then activates once against the chosen host ([`check`]).
//!
//! Everything on the wire is hickory-dns's: messages, TSIG, transport.
use std::format;

pub mod check;
pub mod config;
pub mod names;
pub mod publish;
pub mod record;
pub mod srv;
pub mod tsig;

pub use config::{DnsPublishConfig, PublishArgs, PublishSettings};
pub use publish::{DnsStatus, Publisher};

/// The owner name of the KMS SRV record, relative to the domain.
pub const SRV_LABEL: &str = "_vlmcs._tcp";

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the SRV record for a KMS host: zone-file line, PowerShell and dnscmd.
    Record(record::Args),
    /// Find the KMS host through DNS like a Windows client and activate once against it.
    Check(check::Args),
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Record(a) => record::run(a),
        Command::Check(a) => check::run(a),
    }
}
