//! The text output, in the layout of `vlmcs -v` so that the two can be
//! compared side by side; only people read it, so it may change freely.
use super::report::{RequestReport, RpcReport};
use crate::catalog::{self, Sku};
use crate::kms::request::license_status_name;
use std::fmt::Write as _;
use std::format;
use std::string::{String, ToString};

pub(super) fn render_rpc(r: &RpcReport) -> String {
    let mut offered = String::from("NDR32");
    if r.offered_ndr64 {
        offered.push_str(", NDR64");
    }
    if r.btfn {
        offered.push_str(", BTFN");
    }
    format!(
        "RPC bind: offered {offered}{}; requests use {}{}",
        if r.multiplex { " (multiplex)" } else { "" },
        r.syntax,
        if r.alter_context { " after alter_context" } else { "" }
    )
}

fn ok(b: bool) -> &'static str {
    if b { "ok" } else { "FAILED" }
}

/// The request and its response in the layout of `vlmcs -v`, plus the
/// ePID's parts and the result of every check.
pub(super) fn render_request(r: &RequestReport, n: u32, sku: &Sku) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: &dyn core::fmt::Display| {
        let _ = writeln!(s, "{k:<32}: {v}");
    };
    let app = catalog::application_by_key(sku.app).name;
    let kms = sku.kms_id().map_or("Unknown", |k| k.name);
    let head = format!("Request {} of {n}", r.index);
    let mut out = format!("\n{head}\n{}\n\n", "=".repeat(head.len()));
    line("Protocol version", &r.protocol);
    line("Client is a virtual machine", &if r.vm { "Yes" } else { "No" });
    line("Licensing status", &format!("{} ({})", r.license_status, license_status_name(r.license_status)));
    line("Remaining time (0 = forever)", &format!("{} minutes", r.binding_expiration));
    line("Application ID", &format!("{} ({app})", catalog::application_by_key(sku.app).id));
    line("SKU ID (aka Activation ID)", &format!("{} ({})", sku.id, sku.name));
    line("KMS ID (aka KMS counted ID)", &format!("{} ({kms})", sku.kms));
    line("Client machine ID", &r.cmid);
    line("Previous client machine ID", &r.previous_cmid);
    line("Client request timestamp (UTC)", &r.request_time);
    line("Workstation name", &r.workstation);
    line("N count policy (minimum clients)", &r.n_policy);
    out.push_str(&s);
    s.clear();

    let head = match r.call_id {
        Some(c) => format!("Response {} of {n} (call id {c}, {})", r.index, r.syntax),
        None => format!("Response {} of {n}", r.index),
    };
    let _ = write!(out, "\n{head}\n{}\n\n", "=".repeat(head.len()));
    let mut line = |k: &str, v: &dyn core::fmt::Display| {
        let _ = writeln!(s, "{k:<32}: {v}");
    };
    if let Some(size) = r.response_size {
        line("Size of KMS response", &format!("{size} (0x{size:X})"));
    }
    if let Some(v) = &r.response_protocol {
        line("Protocol version", v);
    }
    if let Some(e) = &r.epid {
        line("KMS host extended PID", e);
        if let Some(p) = &r.epid_parts {
            line("  platform id", &format!("{:05}", p.platform_id));
            let csvlk = p.csvlk.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
            line("  group id", &format!("{:05}{csvlk}", p.group_id));
            line("  key id", &format!("{:03}-{:06}", p.key_id / 1_000_000, p.key_id % 1_000_000));
            line("  channel", &format!("{:02}", p.channel));
            line("  LCID", &p.lcid);
            let name = p.host_build_name.as_deref().map(|b| format!(" ({b})")).unwrap_or_default();
            line("  host build", &format!("{}{name}", p.host_build));
            if let Some(d) = &p.activation_date {
                line("  CSVLK activation date", d);
            }
        } else {
            line("  parts", &"not in the canonical form");
        }
    }
    if let Some(h) = &r.hwid {
        line("KMS host Hardware ID", h);
    }
    if let Some(c) = r.count {
        line("KMS host current active clients", &c);
    }
    if let Some(m) = r.renewal_interval {
        line("Renewal interval policy", &format!("{m} min ({})", human_minutes(m)));
    }
    if let Some(m) = r.activation_interval {
        line("Activation interval policy", &format!("{m} min ({})", human_minutes(m)));
    }
    if let Some(c) = &r.checks {
        let mut checks = format!(
            "version echoed {}, CMID echoed {}, time echoed {}",
            ok(c.version_echoed),
            ok(c.cmid_echoed),
            ok(c.time_echoed)
        );
        let mut opt = |name: &str, v: Option<bool>| {
            if let Some(v) = v {
                let _ = write!(checks, ", {name} {}", ok(v));
            }
        };
        opt("MAC", c.mac);
        opt(if r.protocol.starts_with('5') { "IV echoed" } else { "IV random" }, c.iv);
        opt("salt hash", c.salt_hash);
        opt("XoredIVs", c.xored_ivs);
        opt("HMAC", c.hmac);
        if let Some(slot) = c.hmac_time_slot {
            let _ = write!(checks, " (time slot {})", if slot == 0 { "0".to_string() } else { format!("{slot:+}") });
        }
        let _ = write!(checks, ", count >= {} {}", r.n_policy, ok(c.count));
        line("Client checks", &checks);
    }
    match (&r.error, r.ok) {
        (None, true) => line("Result", &format!("activated ({})", r.hresult)),
        (Some(e), _) => line("Result", &format!("FAILED: {e}")),
        (None, false) => line("Result", &"FAILED"),
    }
    if let Some(ms) = r.latency_ms {
        line("Round trip", &format!("{ms:.3} ms"));
    }
    out.push_str(&s);
    out
}

fn human_minutes(m: u32) -> String {
    match m {
        m if m % 1440 == 0 => format!("{} d", m / 1440),
        m if m % 60 == 0 => format!("{} h", m / 60),
        m => format!("{m} min"),
    }
}
