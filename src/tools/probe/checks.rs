//! Judging the [`Observations`]: one row per check, `ok` or a finding with
//! what gave the host away. Each rule is what a genuine Windows KMS host
//! shows (kms-protocol.md §3–§8; ARCHITECTURE.md "One activation").
use super::epid;
use super::observe::{Answered, Bound, Observations, UNBOUND_CALL_ID};
use crate::HResult;
use crate::wire::bind::result;
use crate::wire::call::{FaultRepr, status};
use crate::wire::syntax::{self, SyntaxId};
use crate::wire::{Packet, PacketType};
use std::collections::{BTreeMap, BTreeSet};
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

/// One row of the findings table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    pub check: String,
    /// `true`: as a genuine host; `false`: a finding.
    pub ok: bool,
    pub detail: String,
}

fn row(check: &str, problem: Result<String, String>) -> Check {
    match problem {
        Ok(detail) => Check { check: check.to_string(), ok: true, detail },
        Err(detail) => Check { check: check.to_string(), ok: false, detail },
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Every check, in table order.
pub fn judge(o: &Observations) -> Vec<Check> {
    let mut out = std::vec![
        row("activation", activation(&o.answers)),
        row("ePID stable", epid_stable(&o.answers)),
        row("HwId stable", hwid_stable(&o.answers)),
        row("association group per connection", assoc_groups(&o.binds)),
        row("secondary address = port", secondary(&o.binds, o.port)),
        row("NDR64 over NDR32 when both offered", ndr64_preferred(o.binds.first())),
        row("NDR32 accepted alone", ndr32_alone(o.ndr32_alone.as_ref())),
        row("BTFN acknowledged", btfn(o.binds.first())),
        row("fault on unbound context", unbound(o.unbound.as_ref())),
    ];
    for v in &o.versions {
        let name = format!("version {} refused", v.sent);
        let verdict = match &v.reply {
            Err(e) => Err(format!("no reply: {e}")),
            Ok(r) if r.host_hresult == HResult::INVALID_DATA => Ok(format!("{}", r.host_hresult)),
            Ok(r) if r.host_hresult != HResult::S_OK => Err(format!("{}, a genuine host answers 0x8007000D", r.host_hresult)),
            Ok(_) => Err("answered as a supported version".to_string()),
        };
        out.push(row(&name, verdict));
    }
    out.push(row("count <= 2N", count_cap(&o.answers)));
    out.push(row("absurd N not echoed", absurd(o)));
    out.push(row("fresh V6 response IVs", fresh_ivs(&o.answers)));
    out.extend(epid_fields(o));
    out
}

fn answered(a: &[Answered]) -> impl Iterator<Item = (&Answered, &crate::kms::OpenedResponse)> {
    a.iter().filter_map(|a| a.reply.as_ref().ok().and_then(|r| r.response.as_ref()).map(|r| (a, r)))
}

fn activation(answers: &[Answered]) -> Result<String, String> {
    let bad: Vec<String> = answers
        .iter()
        .filter_map(|a| match &a.reply {
            Err(e) => Some(format!("{}: {e}", a.product)),
            Ok(r) => r.verdict.err().map(|e| format!("{}: {e}", a.product)),
        })
        .collect();
    if bad.is_empty() {
        Ok(format!("{} requests activated, every client check passed", answers.len()))
    } else {
        Err(bad.join("; "))
    }
}

fn epid_stable(answers: &[Answered]) -> Result<String, String> {
    let mut by_product: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (a, r) in answered(answers) {
        by_product.entry(a.product).or_default().insert(r.repr.epid.as_str());
    }
    let changed: Vec<String> = by_product
        .iter()
        .filter(|(_, e)| e.len() > 1)
        .map(|(p, e)| format!("{p}: {}", e.iter().copied().collect::<Vec<_>>().join(" / ")))
        .collect();
    let conns: BTreeSet<usize> = answered(answers).map(|(a, _)| a.conn).collect();
    match (changed.is_empty(), answered(answers).count()) {
        (_, 0) => Err("no response to compare".to_string()),
        (true, n) => Ok(format!("{n} responses over {} connections", conns.len())),
        (false, _) => Err(changed.join("; ")),
    }
}

fn hwid_stable(answers: &[Answered]) -> Result<String, String> {
    let ids: BTreeSet<[u8; 8]> = answered(answers).filter_map(|(_, r)| r.hwid).collect();
    match ids.len() {
        0 => Err("no V6 response".to_string()),
        1 => Ok(hex(ids.iter().next().unwrap())),
        _ => Err(ids.iter().map(|h| hex(h)).collect::<Vec<_>>().join(" / ")),
    }
}

fn assoc_groups(binds: &[Bound]) -> Result<String, String> {
    let groups: BTreeSet<u32> = binds.iter().map(|b| b.assoc_group).collect();
    if binds.len() < 2 {
        return Err(format!("only {} bind_ack to compare", binds.len()));
    }
    if groups.len() == binds.len() && !groups.contains(&0) {
        Ok(format!("{} connections, {} different groups", binds.len(), groups.len()))
    } else {
        let list: Vec<String> = binds.iter().map(|b| format!("0x{:08X}", b.assoc_group)).collect();
        Err(format!("repeated over {} connections: {}", binds.len(), list.join(", ")))
    }
}

fn secondary(binds: &[Bound], port: u16) -> Result<String, String> {
    let want = format!("{port}\0");
    let bad: BTreeSet<String> = binds
        .iter()
        .filter(|b| b.secondary != want.as_bytes())
        .map(|b| format!("{:?}", String::from_utf8_lossy(&b.secondary)))
        .collect();
    match (binds.is_empty(), bad.is_empty()) {
        (true, _) => Err("no bind_ack".to_string()),
        (false, true) => Ok(format!("\"{port}\"")),
        (false, false) => Err(format!("{} for port {port}", bad.into_iter().collect::<Vec<_>>().join(", "))),
    }
}

fn describe(r: &super::observe::Bound) -> String {
    let one = |c: &crate::wire::ContextResult| match c.result {
        result::ACCEPTANCE if c.syntax == syntax::NDR32 => "NDR32 accepted".to_string(),
        result::ACCEPTANCE if c.syntax == syntax::NDR64 => "NDR64 accepted".to_string(),
        result::ACCEPTANCE => "accepted".to_string(),
        result::NEGOTIATE_ACK => format!("negotiate_ack 0x{:X}", c.reason),
        r => format!("rejected ({r}, reason {})", c.reason),
    };
    r.results.iter().map(one).collect::<Vec<_>>().join(", ")
}

fn accepted(c: Option<&crate::wire::ContextResult>, s: SyntaxId) -> bool {
    c.is_some_and(|c| c.result == result::ACCEPTANCE && c.syntax == s)
}

/// Offer order NDR32, NDR64, BTFN: Windows 8+ hosts take NDR64 and reject
/// NDR32 (kms-protocol.md §3.4).
fn ndr64_preferred(b: Option<&Bound>) -> Result<String, String> {
    let b = b.ok_or("no bind_ack")?;
    let d = describe(b);
    let ndr32 = b.results.first();
    if accepted(b.results.get(1), syntax::NDR64) && ndr32.is_some_and(|c| c.result != result::ACCEPTANCE) {
        Ok(d)
    } else {
        Err(d)
    }
}

fn ndr32_alone(b: Option<&Result<Bound, String>>) -> Result<String, String> {
    let b = b.ok_or("not tried")?.as_ref().map_err(|e| e.clone())?;
    if accepted(b.results.first(), syntax::NDR32) { Ok(describe(b)) } else { Err(describe(b)) }
}

fn btfn(b: Option<&Bound>) -> Result<String, String> {
    let b = b.ok_or("no bind_ack")?;
    match b.results.get(2) {
        Some(c) if c.result == result::NEGOTIATE_ACK => Ok(format!("negotiate_ack, features 0x{:X}", c.reason)),
        _ => Err(describe(b)),
    }
}

fn unbound(reply: Option<&Result<std::vec::Vec<u8>, String>>) -> Result<String, String> {
    let pdu = reply.ok_or("not tried")?.as_ref().map_err(|e| format!("no fault: {e}"))?;
    let p = Packet::new_checked(&pdu[..]).map_err(|e| format!("unparsable reply: {e}"))?;
    if p.ptype() != PacketType::Fault {
        return Err(format!("answered with PDU type {}, not a fault", u8::from(p.ptype())));
    }
    let f = FaultRepr::parse(p.body()).map_err(|e| format!("malformed fault: {e}"))?;
    let name = match f.status {
        status::UNKNOWN_INTERFACE => "nca_s_unk_if",
        status::OP_RANGE_ERROR => "nca_s_op_rng_error",
        status::PROTOCOL_ERROR => "nca_s_proto_error",
        status::BAD_STUB_DATA => "RPC_X_BAD_STUB_DATA",
        _ => "unknown status",
    };
    let d = format!("fault 0x{:08X} ({name}), call id {}", f.status, p.call_id());
    if p.call_id() != UNBOUND_CALL_ID {
        Err(format!("{d}: does not echo call id {UNBOUND_CALL_ID}"))
    } else {
        Ok(d)
    }
}

/// A genuine host caches at most 2N clients (N = the product's N policy
/// in the catalogue: 25 for Windows clients, 5 for servers and Office) and
/// never reports more (issue 13; kms-protocol.md §8.4).
fn count_cap(answers: &[Answered]) -> Result<String, String> {
    let mut bad = Vec::new();
    let mut seen = Vec::new();
    for (a, r) in answered(answers) {
        let c = r.repr.current_count;
        seen.push(c.to_string());
        if c > 2 * a.n_policy {
            bad.push(format!("{}: {c} > 2×{}", a.product, a.n_policy));
        }
    }
    match (seen.is_empty(), bad.is_empty()) {
        (true, _) => Err("no response".to_string()),
        (false, true) => Ok(format!("counts {}", seen.join(", "))),
        (false, false) => Err(bad.join("; ")),
    }
}

/// An absurd N is either refused (vlmcsd and kmsedge refuse N > 1000) or
/// answered with the host's real count, never with N or 2N.
fn absurd(o: &Observations) -> Result<String, String> {
    let n_real = o.answers.first().map_or(25, |a| a.n_policy);
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for a in &o.absurd {
        let n = a.sent;
        match &a.reply {
            Err(e) => bad.push(format!("N={n}: no reply: {e}")),
            Ok(r) => match &r.response {
                None if r.host_hresult != HResult::S_OK => ok.push(format!("N={n}: refused {}", r.host_hresult)),
                None => bad.push(format!("N={n}: unreadable reply")),
                Some(resp) => {
                    let c = resp.repr.current_count;
                    if c == n || c > 2 * n_real {
                        bad.push(format!("N={n}: count {c}"));
                    } else {
                        ok.push(format!("N={n}: count {c}"));
                    }
                }
            },
        }
    }
    if bad.is_empty() { Ok(ok.join("; ")) } else { Err(bad.join("; ")) }
}

fn fresh_ivs(answers: &[Answered]) -> Result<String, String> {
    let ivs: Vec<[u8; 16]> = answered(answers)
        .filter(|(_, r)| r.repr.version.major == 6)
        .filter_map(|(_, r)| r.response_iv)
        .collect();
    let distinct: BTreeSet<&[u8; 16]> = ivs.iter().collect();
    match ivs.len() {
        0 | 1 => Err(format!("{} V6 response(s), need two", ivs.len())),
        n if distinct.len() == n => Ok(format!("{n} responses, {n} different IVs")),
        n => Err(format!("{n} responses, only {} different IVs", distinct.len())),
    }
}

/// The field checks of [`epid::check`] over each product's ePID.
fn epid_fields(o: &Observations) -> Vec<Check> {
    let ndr64 = o.binds.first().is_some_and(|b| b.results.iter().any(|c| c.result == result::ACCEPTANCE && c.syntax == syntax::NDR64));
    let mut seen: BTreeMap<(&str, &str), crate::Guid> = BTreeMap::new();
    for (a, r) in answered(&o.answers) {
        seen.insert((a.product, r.repr.epid.as_str()), a.kms);
    }
    let mut problems: [Vec<String>; 7] = Default::default();
    for ((product, e), kms) in &seen {
        let Ok(epid) = crate::epid::Epid::parse(e) else { continue };
        for (i, p) in epid::check(&epid, kms, ndr64).into_iter().enumerate() {
            if let Some(p) = p {
                problems[i].push(format!("{product}: {p}"));
            }
        }
    }
    let epids: BTreeSet<&str> = seen.keys().map(|(_, e)| *e).collect();
    epid::CHECKS
        .iter()
        .zip(problems)
        .map(|(name, p)| {
            if seen.is_empty() {
                row(name, Err("no ePID received".to_string()))
            } else if p.is_empty() && *name == epid::CHECKS[0] {
                row(name, Ok(epids.iter().copied().collect::<Vec<_>>().join(", ")))
            } else if p.is_empty() {
                row(name, Ok(format!("{} ePID(s)", epids.len())))
            } else {
                row(name, Err(p.join("; ")))
            }
        })
        .collect()
}
