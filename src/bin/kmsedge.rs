//! The `kmsedge` command: one binary for the host and the tools around it.
use clap::{Parser, Subcommand};
use kmsedge::native::serve;
use kmsedge::tools::{activate, bench, bridge, decode, dns, host, key, probe, products};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "kmsedge", version, about = "KMS host (volume activation, TCP 1688) and tools", propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the KMS host with its registry and dashboard API.
    Serve(serve::Args),
    /// Perform a real activation against a KMS host and verify every field.
    Activate(activate::Args),
    /// Load-test a KMS host over real sockets (bounded in count and time).
    Bench(bench::Args),
    /// Decode a KMS conversation from hex or a pcap/pcapng capture.
    Decode(decode::Args),
    /// Search the product catalogue: GVLKs and the commands to use them.
    Products(products::Args),
    /// What product keys are: valid or not, group id, serial, and GVLK / KMS host key / neither.
    Key(key::Args),
    /// Carry local KMS clients to the edge Worker over WebSocket tunnels (run it on a branch LAN device).
    Bridge(bridge::Args),
    /// DNS SRV discovery (_vlmcs._tcp): print the record, or find the host like a client and activate.
    Dns(dns::Args),
    /// Check a KMS host for what tells it from a genuine Windows host (exit 1 on any finding).
    Probe(probe::Args),
    /// Administer a running host with slmgr's verbs (dlv, sprt, cdns/sdns, cpri/spri, sai/sri, ipk/upk).
    Host(host::Args),
    /// Windows service: install, start, stop, uninstall (events in the Key Management Service log).
    #[cfg(windows)]
    Service(kmsedge::native::service::scm::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(a) => serve::run(a, |vars| {
            for (k, v) in vars {
                // SAFETY: called before serve starts any thread (serve::run).
                unsafe { std::env::set_var(k, v) }
            }
        }),
        Command::Activate(a) => activate::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Decode(a) => decode::run(a),
        Command::Products(a) => products::run(a),
        Command::Key(a) => key::run(a),
        Command::Bridge(a) => bridge::run(a),
        Command::Dns(a) => dns::run(a),
        Command::Host(a) => host::run(a),
        // Its own exit statuses: 1 for a finding, 2 for an error.
        Command::Probe(a) => return probe::run(a),
        #[cfg(windows)]
        Command::Service(a) => kmsedge::native::service::scm::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line naming the problem, with its causes.
            eprintln!("kmsedge: {e:#}");
            ExitCode::FAILURE
        }
    }
}
