//! `kmsedge activate`: one real activation conversation, like `vlmcs -v`,
//! but strict — every client check of kms-protocol.md §8.8 is run on every
//! reply, and anything short of an activation (refusal, RPC fault, failed
//! check, count below the N policy, connection trouble) makes the command
//! exit non-zero. `--json` gives the same facts to scripts and tests.
//!
//! [`plan`] checks the arguments before the network is touched,
//! [`execute`](mod@execute) runs the conversation and fills the
//! [`report`], which [`render`] shows as `vlmcs -v` does; each can change
//! without the others (the JSON report is a contract with scripts, the
//! text is not).
pub mod execute;
pub mod plan;
pub mod render;
pub mod report;

pub use execute::execute;
pub use plan::{Args, MAX_REQUESTS, Plan, TimeSpec};
pub use report::{CheckReport, EpidReport, ProductRef, Report, RequestReport, RpcReport};
use anyhow::anyhow;

pub fn run(args: Args) -> anyhow::Result<()> {
    let plan = Plan::from_args(&args)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let report = rt.block_on(execute(&plan, !args.json && !args.check));
    if args.check && !args.json {
        return check_line(&report);
    }
    if args.json {
        std::println!("{}", serde_json::to_string_pretty(&report)?);
    }
    match report.error {
        None => Ok(()),
        Some(e) => Err(anyhow!(e)),
    }
}

/// `--check`: one line on success; the failure as the command's error.
fn check_line(report: &Report) -> anyhow::Result<()> {
    if let Some(e) = &report.error {
        return Err(anyhow!("health check failed: {e}"));
    }
    let r = report.requests.first().ok_or_else(|| anyhow!("health check failed: no request was sent"))?;
    std::println!(
        "ok: {} activated {} (ePID {}, count {}, {:.1} ms)",
        report.address.as_deref().unwrap_or(&report.target),
        report.product.name,
        r.epid.as_deref().unwrap_or("?"),
        r.count.unwrap_or(0),
        r.latency_ms.unwrap_or(0.0)
    );
    Ok(())
}
