//! The conversation itself: resolve, connect and bind, then each request
//! in turn, recording in the [`Report`] how far it got; with text output
//! each step is printed as it happens, so a hang shows where.
use super::plan::Plan;
use super::render::{render_request, render_rpc};
use super::report::{ProductRef, Report, RequestReport, RpcReport, fill_reply, request_report};
use crate::catalog;
use crate::tools::kms_client::{KmsConnection, SealedRequest};
use std::format;
use std::string::ToString;
use std::time::Instant;
use std::vec::Vec;

/// Runs the whole conversation; the report records how far it got.
pub async fn execute(plan: &Plan, text: bool) -> Report {
    let sku = plan.sku;
    let kms = sku.kms_id();
    let mut report = Report {
        target: plan.target.to_string(),
        address: None,
        product: ProductRef {
            name: sku.name.to_string(),
            sku: sku.id.to_string(),
            application: catalog::application_by_key(sku.app).name.to_string(),
            kms_id: sku.kms.to_string(),
            kms_name: kms.map_or("Unknown", |k| k.name).to_string(),
        },
        rpc: None,
        requests: Vec::new(),
        activated: 0,
        ok: false,
        error: None,
    };
    let target = &plan.target;
    let addrs = match target.resolve().await {
        Ok(a) => a,
        Err(e) => {
            report.error = Some(format!("{target}: {e}"));
            return report;
        }
    };
    if text {
        std::print!("Connecting to {target} ... ");
    }
    let mut conn = match KmsConnection::connect(&addrs, &plan.client).await {
        Ok(c) => c,
        Err(e) => {
            if text {
                std::println!("failed");
            }
            report.error = Some(format!("{target}: {e}"));
            return report;
        }
    };
    report.address = conn.peer_addr().ok().map(|a| a.to_string());
    let o = &plan.client.rpc;
    let rpc = RpcReport {
        offered_ndr64: o.offer_ndr64,
        btfn: o.btfn,
        multiplex: o.multiplex,
        alter_context: conn.used_alter_context(),
        syntax: conn.syntax().name().to_string(),
    };
    if text {
        std::println!("connected");
        std::println!("{}", render_rpc(&rpc));
    }
    report.rpc = Some(rpc);
    if o.use_ndr64 && conn.syntax() != crate::wire::Syntax::Ndr64 {
        report.error = Some(format!("{target}: the host did not accept NDR64 (requested with --ndr64)"));
        return report;
    }
    let n = plan.requests;
    for i in 1..=n {
        let req = plan.request();
        let sealed = SealedRequest::with_random_iv(&req);
        let mut r = request_report(i, &req, conn.syntax().name());
        let start = Instant::now();
        let outcome = conn.activate_sealed(&sealed).await;
        match &outcome {
            Ok(reply) => fill_reply(&mut r, reply, start.elapsed()),
            Err(e) => r.error = Some(e.to_string()),
        }
        if r.ok {
            report.activated += 1;
        }
        if text {
            std::print!("{}", render_request(&r, n, plan.sku));
        }
        report.requests.push(r);
        if let Err(e) = outcome {
            report.error = Some(format!("{target}: request {i} of {n}: {e}"));
            return report;
        }
    }
    let failed: Vec<&RequestReport> = report.requests.iter().filter(|r| !r.ok).collect();
    match failed.first() {
        None => {
            report.ok = true;
            if text {
                std::println!("{} of {n} activation{} succeeded.", n, if n == 1 { "" } else { "s" });
            }
        }
        Some(first) => {
            let why = first.error.as_deref().unwrap_or("failed");
            report.error = Some(if n == 1 {
                format!("{target}: {why}")
            } else {
                format!("{target}: {} of {n} activations failed; request {}: {why}", failed.len(), first.index)
            });
        }
    }
    report
}
