//! `kmsedge activate`'s arguments and what they decide: the target, the
//! product, the request fields and the connection options, all checked
//! before the network is touched so that every bad argument is one line.
use crate::client::RequestBuilder;
use crate::host::health;
use crate::catalog::Sku;
use crate::kms::{RequestRepr, Version};
use crate::time::{Date, FileTime};
use crate::tools::common::{self, RpcFlags, check_workstation, now, random_workstation};
use crate::tools::kms_client::{ClientOptions, Target};
use crate::tools::products;
use crate::Guid;
use anyhow::anyhow;
use std::string::String;
use std::vec::Vec;

/// Requests on one connection; vlmcs has no limit, but a tool that is
/// bounded is easier to trust in scripts.
pub const MAX_REQUESTS: u32 = 10_000;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).multiple(true).args(["product", "sku", "check"])))]
pub struct Args {
    /// The KMS host: HOST, HOST:PORT, [IPv6] or [IPv6]:PORT (port 1688 by default).
    #[arg(value_name = "HOST[:PORT]")]
    pub target: String,
    /// Product to activate: an exact name or words matching exactly one
    /// product (see `kmsedge products`).
    #[arg(long, short = 'l', value_name = "NAME")]
    pub product: Option<String>,
    /// Product to activate, by SKU id (activation id).
    #[arg(long, value_name = "ID")]
    pub sku: Option<String>,
    /// KMS protocol version (default: the one the product's clients use).
    #[arg(long, value_name = "4|5|6", value_parser = clap::value_parser!(u16).range(4..=6))]
    pub protocol: Option<u16>,
    #[command(flatten)]
    pub rpc: RpcFlags,
    /// Activation requests to send on the connection.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=MAX_REQUESTS as i64))]
    pub requests: u32,
    /// Client machine id for every request (default: a random version-4 UUID per request).
    #[arg(long, value_name = "GUID")]
    pub cmid: Option<String>,
    /// Previous client machine id (default: all zero).
    #[arg(long, value_name = "GUID")]
    pub previous_cmid: Option<String>,
    /// Workstation name (default: a random DESKTOP-XXXXXXX name per request).
    #[arg(long, value_name = "NAME")]
    pub workstation: Option<String>,
    /// Request time: now, now+2h, now-90m, @UNIX_SECONDS, YYYY-MM-DD or
    /// YYYY-MM-DDTHH:MM:SS (UTC). Default: now.
    #[arg(long, value_name = "TIME")]
    pub time: Option<String>,
    /// N policy (minimum count) to send and to check the count against
    /// (default: the product's, 25 for Windows clients, else 5).
    #[arg(long, value_name = "N")]
    pub n_policy: Option<u32>,
    /// Set the "client is a virtual machine" flag.
    #[arg(long)]
    pub vm: bool,
    /// Seconds to wait for the connection and for each reply.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub timeout: f64,
    /// Print a JSON report instead of text.
    #[arg(long)]
    pub json: bool,
    /// Deep health check: one activation as the reserved health-check
    /// client (fixed CMID and workstation, N policy 0), which kmsedge
    /// answers through its rules and registry but never counts nor lists;
    /// prints one line, and exits non-zero naming what failed. Product:
    /// Windows 10/11 Enterprise unless --product/--sku.
    #[arg(long, conflicts_with_all = ["requests", "cmid", "workstation", "n_policy", "time"])]
    pub check: bool,
}

/// Everything decided before the network is touched; every bad argument
/// is reported here, as one line.
pub struct Plan {
    pub target: Target,
    pub sku: &'static Sku,
    /// Version, N policy, ids and licence fields; CMID, time and
    /// workstation are filled per request.
    pub base: RequestBuilder,
    pub requests: u32,
    pub cmid: Option<Guid>,
    pub workstation: Option<String>,
    pub time: TimeSpec,
    pub client: ClientOptions,
}

impl Plan {
    pub fn from_args(a: &Args) -> anyhow::Result<Plan> {
        let target = Target::parse(&a.target)?;
        let sku = match (a.check, a.product.as_deref(), a.sku.as_deref()) {
            (true, None, None) => health::sku().ok_or_else(|| anyhow!("the catalogue lacks {}", health::PRODUCT))?,
            (_, p, s) => products::select(p, s)?,
        };
        let mut base = RequestBuilder::for_sku(sku).vm(a.vm);
        if let Some(v) = a.protocol {
            base = base.version(Version { major: v, minor: 0 });
        }
        if let Some(n) = a.n_policy {
            base = base.n_policy(n);
        }
        if a.check {
            // No minimum count: healthy whatever the host's count policy.
            base = base.n_policy(0);
        }
        if let Some(p) = &a.previous_cmid {
            base = base.previous_cmid(parse_guid("--previous-cmid", p)?);
        }
        let cmid = match a.check {
            true => Some(health::CMID),
            false => a.cmid.as_deref().map(|c| parse_guid("--cmid", c)).transpose()?,
        };
        if let Some(w) = &a.workstation {
            check_workstation(w)?;
        }
        let time = TimeSpec::parse(a.time.as_deref().unwrap_or("now"))?;
        let client = common::client_options(&a.rpc, a.timeout)?;
        let workstation = if a.check { Some(health::WORKSTATION.into()) } else { a.workstation.clone() };
        Ok(Plan { target, sku, base, requests: a.requests, cmid, workstation, time, client })
    }

    /// The next request: a fresh CMID and workstation unless fixed, and
    /// the request time taken now.
    pub fn request(&self) -> RequestRepr {
        let b = match self.cmid {
            Some(c) => self.base.cmid(c),
            None => self.base.random_cmid(rand::random()),
        };
        let ws = self.workstation.clone().unwrap_or_else(random_workstation);
        b.time(self.time.resolve(now())).workstation(&ws).build()
    }
}

fn parse_guid(flag: &str, s: &str) -> anyhow::Result<Guid> {
    Guid::parse(s.trim()).map_err(|e| anyhow!("invalid {flag} {s:?}: {e}"))
}

/// `--time`: the clock itself, an offset from it, or a fixed instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    /// Now plus this many seconds (may be negative).
    Now(i64),
    At(FileTime),
}

impl TimeSpec {
    pub fn parse(s: &str) -> anyhow::Result<TimeSpec> {
        let bad = || {
            anyhow!("invalid --time {s:?}: use now, now+2h, now-90m, @UNIX_SECONDS, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS")
        };
        let t = s.trim();
        if let Some(rest) = t.strip_prefix("now") {
            if rest.is_empty() {
                return Ok(TimeSpec::Now(0));
            }
            let (sign, num) = match rest.as_bytes()[0] {
                b'+' => (1, &rest[1..]),
                b'-' => (-1, &rest[1..]),
                _ => return Err(bad()),
            };
            let (digits, unit) = match num.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
                Some((i, _)) => num.split_at(i),
                None => (num, "s"),
            };
            let mult = match unit {
                "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => return Err(bad()),
            };
            let n: i64 = digits.parse().map_err(|_| bad())?;
            let secs = n.checked_mul(mult).filter(|v| *v <= 100 * 365 * 86_400).ok_or_else(bad)?;
            return Ok(TimeSpec::Now(sign * secs));
        }
        if let Some(unix) = t.strip_prefix('@') {
            let secs: i64 = unix.parse().map_err(|_| bad())?;
            return Ok(TimeSpec::At(FileTime::from_unix(secs)));
        }
        let t = t.strip_suffix('Z').unwrap_or(t);
        let (date, time) = match t.split_once(['T', ' ']) {
            Some((d, tm)) => (d, Some(tm)),
            None => (t, None),
        };
        let date = Date::parse_iso(date).ok_or_else(bad)?;
        let mut secs = date.to_unix();
        if let Some(tm) = time {
            let f: Vec<&str> = tm.split(':').collect();
            let num = |i: usize, max: i64| -> anyhow::Result<i64> {
                let v: i64 = f.get(i).filter(|x| x.len() == 2).ok_or_else(bad)?.parse().map_err(|_| bad())?;
                if v > max { Err(bad()) } else { Ok(v) }
            };
            if f.len() < 2 || f.len() > 3 {
                return Err(bad());
            }
            secs += num(0, 23)? * 3600 + num(1, 59)? * 60 + if f.len() == 3 { num(2, 59)? } else { 0 };
        }
        Ok(TimeSpec::At(FileTime::from_unix(secs)))
    }

    pub fn resolve(self, now: FileTime) -> FileTime {
        match self {
            TimeSpec::Now(off) => now.add_secs(off),
            TimeSpec::At(t) => t,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn time_specs() {
        let now = FileTime::from_unix(1_700_000_000);
        let at = |s: &str| TimeSpec::parse(s).unwrap().resolve(now).to_unix();
        assert_eq!(at("now"), 1_700_000_000);
        assert_eq!(at("now+2h"), 1_700_007_200);
        assert_eq!(at("now-90m"), 1_699_994_600);
        assert_eq!(at("now-30"), 1_699_999_970);
        assert_eq!(at("@86400"), 86_400);
        assert_eq!(at("1970-01-02"), 86_400);
        assert_eq!(at("1970-01-02T01:02:03Z"), 86_400 + 3723);
        assert_eq!(at("1970-01-02 01:02"), 86_400 + 3720);
        for bad in ["later", "now+", "now+5y", "now*3", "2024-13-01", "2024-01-01T25:00", "@x", "2024-01-01T1:2:3"] {
            let e = TimeSpec::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid --time"), "{bad}: {e}");
        }
    }

    #[test]
    fn random_cmids_are_version_4() {
        let plan = Plan::from_args(&Args {
            target: "127.0.0.1".into(),
            product: Some("Windows 10/11 Pro".into()),
            sku: None,
            protocol: None,
            rpc: RpcFlags::default(),
            requests: 1,
            cmid: None,
            previous_cmid: None,
            workstation: None,
            time: None,
            n_policy: None,
            vm: false,
            timeout: 10.0,
            json: false,
            check: false,
        })
        .unwrap();
        let (a, b) = (plan.request(), plan.request());
        assert_ne!(a.cmid, b.cmid);
        let s = a.cmid.to_string();
        assert_eq!(&s[14..15], "4", "{s}");
        assert!("89ab".contains(&s[19..20]), "{s}");
        assert_eq!(a.version, Version::V6);
        assert_eq!(a.n_policy, 25);
    }
}
