//! `kmsedge dns`: the client side of DNS discovery of the KMS host
//! (kms-protocol.md §8.9), the SRV record `_vlmcs._tcp.<domain>` that
//! Windows clients look up when no host is set.
//!
//! * `kmsedge dns record`: the record as a zone-file line, a PowerShell
//!   `Add-DnsServerResourceRecord` and a `dnscmd /recordadd` command, for
//!   administrators who create it by hand ([`record`]).
//! * `kmsedge dns check`: resolves the record as a Windows client does
//!   (lowest priority first, weighted random among equals — [`srv`]),
//!   then activates once against the chosen host ([`check`]).
//!
//! The host publishing its own record is [`crate::native::dns`].
use std::format;

pub mod check;
pub mod record;
pub mod srv;

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
