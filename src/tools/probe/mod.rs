//! `kmsedge probe HOST[:PORT]`: what a careful observer checks to tell a
//! KMS host from a genuine Windows one, over a few connections (issue 13,
//! item 8). [`observe`] holds the conversations, [`checks`] judges what
//! they showed, [`epid`] reads the ePID field by field; this file parses
//! the arguments and prints the findings table (or `--json`).
//!
//! Exit status: 0 when every check passed, 1 on any finding, 2 when the
//! probe could not run (bad arguments, no connection to the host).
pub mod checks;
pub mod epid;
pub mod observe;

use crate::tools::common;
use crate::tools::kms_client::Target;
use checks::Check;
use std::process::ExitCode;
use std::string::{String, ToString};
use std::vec::Vec;

/// Exit status when a check found something.
pub const EXIT_FINDING: u8 = 1;
/// Exit status for usage and connection errors.
pub const EXIT_ERROR: u8 = 2;

#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status: 0 no finding, 1 at least one finding, 2 usage or connection error.\n\
At most 8 connections are opened, to the given host only.")]
pub struct Args {
    /// The KMS host: HOST, HOST:PORT or [IPv6]:PORT (port 1688 by default).
    pub target: String,
    /// Seconds allowed for each operation (connect, send, reply), 0 < SECONDS <= 60.
    #[arg(long, default_value_t = 5.0)]
    pub timeout: f64,
    /// Print the findings as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The whole report, as `--json` prints it.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub target: String,
    pub connections: usize,
    pub findings: usize,
    pub checks: Vec<Check>,
}

pub fn run(args: Args) -> ExitCode {
    match probe(&args) {
        Err(e) => {
            std::eprintln!("kmsedge: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
        Ok(report) => {
            if args.json {
                std::println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            } else {
                std::print!("{}", render(&report));
            }
            if report.findings == 0 { ExitCode::SUCCESS } else { ExitCode::from(EXIT_FINDING) }
        }
    }
}

fn probe(args: &Args) -> anyhow::Result<Report> {
    let target = Target::parse(&args.target)?;
    let timeout = common::timeout(args.timeout, 60.0)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let obs = rt.block_on(observe::observe(&target, timeout))?;
    let checks = checks::judge(&obs);
    Ok(Report {
        target: target.to_string(),
        connections: obs.connections,
        findings: checks.iter().filter(|c| !c.ok).count(),
        checks,
    })
}

/// The findings table: check, result, detail.
pub fn render(r: &Report) -> String {
    let w = r.checks.iter().map(|c| c.check.len()).max().unwrap_or(5).max(5);
    let mut s = std::format!("kmsedge probe {} ({} connections)\n\n", r.target, r.connections);
    s += &std::format!("{:<w$}  {:<7}  detail\n", "check", "result");
    for c in &r.checks {
        let result = if c.ok { "ok" } else { "FINDING" };
        s += &std::format!("{:<w$}  {:<7}  {}\n", c.check, result, c.detail);
    }
    s += &std::format!("\n{} finding(s)\n", r.findings);
    s
}
