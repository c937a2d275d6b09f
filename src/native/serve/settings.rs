//! Validated settings of `kmsedge serve`: flag, else config file, else the
//! built-in default. Every value is checked here, before anything is opened
//! or bound, and a bad one stops the start with one line naming where it
//! came from (`--max-pdu` or `limits.max_pdu in kmsedge.toml`) and why.
use std::prelude::rust_2024::{String, ToOwned, ToString, Vec};
use std::format;
use super::args::Args;
use super::file::{FileConfig, Scalar};
use crate::catalog::{self, SlotId};
use crate::epid::{Epid, parse_hwid};
use crate::host::policy::{CountPolicy, DEFAULT_MAX_TIME_SKEW};
use crate::host::connection::RX_CAP;
use crate::model::settings::{self as parse, ConnectionLimits, Expected};
use crate::Guid;
use super::admission::RateLimit;
use anyhow::{Context, anyhow, bail};
use ipnet::IpNet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: Vec<SocketAddr>,
    /// `None`: no HTTP server.
    pub http: Option<SocketAddr>,
    pub admin_token: Option<String>,
    pub data_dir: PathBuf,
    pub sync: SyncMode,
    /// Days of event history kept.
    pub event_days: u32,
    pub policy: PolicySettings,
    pub ndr64: bool,
    pub btfn: bool,
    pub limits: Limits,
    pub identity: IdentityOverrides,
    /// The organisation's host keys, validated.
    pub host_keys: HostKeys,
    pub log_filter: String,
    pub log_json: bool,
    /// `None`: no SRV publishing.
    pub dns: Option<crate::native::dns::PublishSettings>,
}

/// How hard a commit waits for the disk: the journal's fdatasync and
/// SQLite's `synchronous`. Either way a request is answered only after its
/// record is in the journal; the difference is what that survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// An fdatasync before answering (one for all the requests waiting):
    /// survives a power cut or an OS crash.
    Full,
    /// The record is in the OS's page cache: survives a crash or kill -9 of
    /// the process, not of the machine. The default: what the host must
    /// survive is itself; a client whose activation a power cut loses asks
    /// again at its next retry (2 hours by default) and is counted again;
    /// and an fdatasync costs milliseconds on shared disks.
    Normal,
}

pub use crate::model::host_keys::HostKeys;
pub use crate::model::identity::IdentityOverrides;
pub use crate::model::settings::{PolicySettings, ScopeSetting};

#[derive(Debug, Clone)]
pub struct Limits {
    /// Idle timeout, lifetime and request cap of every connection.
    pub connection: ConnectionLimits,
    pub max_pdu: u16,
    pub max_connections: usize,
    pub max_per_address: usize,
    /// Activations a minute per address; `None`: no limit.
    pub rate: Option<RateLimit>,
    /// Empty: everyone may connect.
    pub allow: Vec<IpNet>,
    pub shutdown_grace: Duration,
}

pub const DEFAULT_LISTEN: &str = "[::]:1688";
pub const DEFAULT_HTTP: &str = "127.0.0.1:8080";
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
pub const DEFAULT_MAX_PER_ADDRESS: usize = 256;
pub const DEFAULT_SHUTDOWN_GRACE: f64 = 10.0;
/// Smallest `max_pdu`: well above the largest KMS request PDU (300 bytes)
/// and a bind offering every context a client sends.
pub const MIN_PDU: u16 = 512;

/// A value and where it came from, for error messages.
struct Given<'a> {
    text: &'a str,
    origin: String,
}

/// The flag if given, else the file's key.
struct Sources {
    file_name: String,
}

impl Sources {
    fn pick<'a>(&self, flag: &'a Option<String>, flag_name: &str, file: &'a Option<Scalar>, key: &str) -> Option<Given<'a>> {
        if let Some(t) = flag {
            return Some(Given { text: t, origin: format!("--{flag_name}") });
        }
        file.as_ref().map(|s| Given { text: &s.0, origin: format!("{key} in {}", self.file_name) })
    }
    fn pick_str<'a>(&self, flag: &'a Option<String>, flag_name: &str, file: &'a Option<String>, key: &str) -> Option<Given<'a>> {
        if let Some(t) = flag {
            return Some(Given { text: t, origin: format!("--{flag_name}") });
        }
        file.as_ref().map(|s| Given { text: s, origin: format!("{key} in {}", self.file_name) })
    }
    /// The flag's list if non-empty, else the file's.
    fn pick_list<'a>(&self, flag: &'a [String], flag_name: &str, file: &'a Option<Vec<String>>, key: &str) -> Vec<Given<'a>> {
        if !flag.is_empty() {
            return flag.iter().map(|t| Given { text: t, origin: format!("--{flag_name}") }).collect();
        }
        file.iter()
            .flatten()
            .map(|t| Given { text: t, origin: format!("{key} in {}", self.file_name) })
            .collect()
    }
}

impl Settings {
    /// Reads the config file named by `--config` (if any) and merges it with
    /// the flags.
    pub fn load(args: &Args) -> anyhow::Result<Settings> {
        let file = match &args.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        let name = args.config.as_deref().map(file_label).unwrap_or_default();
        Settings::merge(args, &file, name)
    }

    pub fn merge(args: &Args, file: &FileConfig, file_name: String) -> anyhow::Result<Settings> {
        let src = Sources { file_name };

        let mut listen = Vec::new();
        for g in src.pick_list(&args.listen, "listen", &file.listen, "listen") {
            listen.push(socket_addr(&g)?);
        }
        if listen.is_empty() {
            listen.push(DEFAULT_LISTEN.parse().expect("valid default"));
        }
        let http = match src.pick_str(&args.http, "http", &file.http, "http") {
            Some(g) if g.text.eq_ignore_ascii_case("off") => None,
            Some(g) => Some(socket_addr(&g)?),
            None => Some(DEFAULT_HTTP.parse().expect("valid default")),
        };
        let admin_token = admin_token(args, file, &src.file_name)?;
        let data_dir = match args.data.as_ref().or(file.data.as_ref()) {
            Some(d) if d.as_os_str().is_empty() => bail!("the data directory must not be empty"),
            Some(d) => d.clone(),
            None => default_data_dir(),
        };
        let sync = match src.pick(&args.sync, "sync", &file.registry.sync, "registry.sync") {
            None => SyncMode::Normal,
            Some(g) => match g.text.to_ascii_lowercase().as_str() {
                "full" => SyncMode::Full,
                "normal" => SyncMode::Normal,
                _ => bail!("{}: expected \"full\" or \"normal\", got {:?}", g.origin, g.text),
            },
        };
        let event_days = match src.pick(&args.event_days, "event-days", &file.registry.event_days, "registry.event_days") {
            None => crate::model::events::DEFAULT_DAYS,
            Some(g) => shared(&g, parse::event_days)?,
        };

        let p = &file.policy;
        let count = match src.pick(&args.count_policy, "count-policy", &p.count, "policy.count") {
            None => CountPolicy::Sufficient,
            Some(g) => shared(&g, parse::count)?,
        };
        let kms_ids: Vec<Guid> = src
            .pick_list(&args.kms_ids, "kms-id", &p.kms_ids, "policy.kms_ids")
            .iter()
            .map(|g| shared(g, parse::kms_id))
            .collect::<anyhow::Result<_>>()?;
        let scope = match src.pick(&args.scope, "scope", &p.scope, "policy.scope") {
            None if kms_ids.is_empty() => ScopeSetting::Covered,
            None => ScopeSetting::List(kms_ids.clone()),
            Some(g) => match g.text.to_ascii_lowercase().as_str() {
                "list" if kms_ids.is_empty() => {
                    bail!("{}: scope \"list\" needs at least one KMS id (--kms-id or policy.kms_ids)", g.origin)
                }
                "list" => ScopeSetting::List(kms_ids.clone()),
                other if !kms_ids.is_empty() => {
                    bail!("{}: KMS ids are given but scope is {other:?}; use scope \"list\" or drop the ids", g.origin)
                }
                "covered" => ScopeSetting::Covered,
                "all" => ScopeSetting::All,
                "known" => ScopeSetting::Known,
                "genuine" => ScopeSetting::Genuine,
                _ => bail!("{}: expected covered, all, known, genuine or list, got {:?}", g.origin, g.text),
            },
        };
        let max_time_skew = match src.pick(&args.max_time_skew, "max-time-skew", &p.max_time_skew, "policy.max_time_skew") {
            None => Some(DEFAULT_MAX_TIME_SKEW),
            Some(g) => shared(&g, parse::time_skew)?,
        };
        let interval = |flag: &Option<String>, name: &str, f: &Option<Scalar>, key: &str, default: u32| {
            match src.pick(flag, name, f, key) {
                None => Ok(default),
                Some(g) => shared(&g, parse::interval),
            }
        };
        let activation_interval = interval(
            &args.activation_interval,
            "activation-interval",
            &p.activation_interval,
            "policy.activation_interval",
            120,
        )?;
        let renewal_interval =
            interval(&args.renewal_interval, "renewal-interval", &p.renewal_interval, "policy.renewal_interval", 10_080)?;

        let ndr64 = src.pick(&args.ndr64, "ndr64", &file.rpc.ndr64, "rpc.ndr64").map(|g| shared(&g, parse::boolean)).transpose()?;
        let btfn = src.pick(&args.btfn, "btfn", &file.rpc.btfn, "rpc.btfn").map(|g| shared(&g, parse::boolean)).transpose()?;

        let l = &file.limits;
        let secs = |flag: &Option<String>, name: &str, f: &Option<Scalar>, key: &str, default: Duration| {
            match src.pick(flag, name, f, key) {
                None => Ok(default),
                Some(g) => shared(&g, parse::seconds),
            }
        };
        let dflt = ConnectionLimits::default();
        let idle_timeout = secs(&args.idle_timeout, "idle-timeout", &l.idle_timeout, "limits.idle_timeout", dflt.idle_timeout)?;
        let max_lifetime = secs(
            &args.max_connection_time,
            "max-connection-time",
            &l.max_connection_time,
            "limits.max_connection_time",
            dflt.max_lifetime,
        )?;
        let max_requests = match src.pick(&args.max_requests, "max-requests", &l.max_requests, "limits.max_requests") {
            None => dflt.max_requests,
            Some(g) => shared(&g, parse::max_requests)?,
        };
        let shutdown_grace = secs(
            &args.shutdown_grace,
            "shutdown-grace",
            &l.shutdown_grace,
            "limits.shutdown_grace",
            Duration::from_secs_f64(DEFAULT_SHUTDOWN_GRACE),
        )?;
        let max_pdu = match src.pick(&args.max_pdu, "max-pdu", &l.max_pdu, "limits.max_pdu") {
            None => RX_CAP as u16,
            Some(g) => number(&g, u64::from(MIN_PDU)..=RX_CAP as u64, "bytes")? as u16,
        };
        let count_limit = |flag: &Option<String>, name: &str, f: &Option<Scalar>, key: &str, default: usize| {
            match src.pick(flag, name, f, key) {
                None => Ok(default),
                Some(g) => number(&g, 1..=1_000_000, "connections").map(|v| v as usize),
            }
        };
        let max_connections =
            count_limit(&args.max_connections, "max-connections", &l.max_connections, "limits.max_connections", DEFAULT_MAX_CONNECTIONS)?;
        let max_per_address =
            count_limit(&args.max_per_address, "max-per-address", &l.max_per_address, "limits.max_per_address", DEFAULT_MAX_PER_ADDRESS)?;
        let rate = rate_limit(args, l, &src)?;
        let allow = src
            .pick_list(&args.allow, "allow", &l.allow, "limits.allow")
            .iter()
            .map(ip_range)
            .collect::<anyhow::Result<_>>()?;

        let identity = identity(args, file, &src)?;
        let host_keys = host_keys(args, file, &src, &identity)?;
        let ndr64 = ndr64.unwrap_or(true);
        let btfn = btfn.unwrap_or(true);

        let log_filter = match src.pick_str(&args.log_level, "log-level", &file.log.level, "log.level") {
            Some(g) => {
                tracing_subscriber::EnvFilter::try_new(g.text)
                    .map_err(|e| anyhow!("{}: not a log filter ({e}): {:?}", g.origin, g.text))?;
                g.text.to_owned()
            }
            None => std::env::var("RUST_LOG").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "info".into()),
        };
        let log_json = match src.pick_str(&args.log_format, "log-format", &file.log.format, "log.format") {
            None => false,
            Some(g) => match g.text.to_ascii_lowercase().as_str() {
                "text" => false,
                "json" => true,
                _ => bail!("{}: expected \"text\" or \"json\", got {:?}", g.origin, g.text),
            },
        };

        let dns = crate::native::dns::PublishSettings::resolve(&args.dns, file.dns.as_ref(), &src.file_name)?;

        Ok(Settings {
            listen,
            http,
            admin_token,
            data_dir,
            sync,
            event_days,
            policy: PolicySettings { count, scope, max_time_skew, activation_interval, renewal_interval },
            ndr64,
            btfn,
            limits: Limits {
                connection: ConnectionLimits { idle_timeout, max_lifetime, max_requests },
                max_pdu,
                max_connections,
                max_per_address,
                rate,
                allow,
                shutdown_grace,
            },
            identity,
            host_keys,
            log_filter,
            log_json,
            dns,
        })
    }
}

fn file_label(p: &Path) -> String {
    p.display().to_string()
}

/// `$STATE_DIRECTORY` (systemd's `StateDirectory=`), else the platform's
/// per-user data directory + `kmsedge`, else `./kmsedge-data`.
pub fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("STATE_DIRECTORY").filter(|d| !d.is_empty()) {
        // systemd may list several, separated by ':'; the first is ours.
        let first = d.to_string_lossy().split(':').next().unwrap_or_default().to_owned();
        return PathBuf::from(first);
    }
    dirs::data_dir().map(|d| d.join("kmsedge")).unwrap_or_else(|| PathBuf::from("kmsedge-data"))
}

fn socket_addr(g: &Given<'_>) -> anyhow::Result<SocketAddr> {
    g.text.trim().parse().map_err(|_| {
        anyhow!(
            "{}: {:?} is not an IP address and port (e.g. [::]:1688, 0.0.0.0:1688, 127.0.0.1:8080)",
            g.origin,
            g.text
        )
    })
}

fn ip_range(g: &Given<'_>) -> anyhow::Result<IpNet> {
    let t = g.text.trim();
    // A bare address is a range of one.
    t.parse::<IpNet>()
        .or_else(|_| t.parse::<std::net::IpAddr>().map(IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| anyhow!("{}: {:?} is not an address range (e.g. 10.0.0.0/8, 2001:db8::/32)", g.origin, g.text))
}

/// A value through the host model's parser (the edge host's `[vars]` use
/// the same one), with its origin in the error.
fn shared<T>(g: &Given<'_>, parse: fn(&str) -> Result<T, Expected>) -> anyhow::Result<T> {
    parse(g.text).map_err(|e| anyhow!("{}: expected {e}, got {:?}", g.origin, g.text))
}

fn number(g: &Given<'_>, range: std::ops::RangeInclusive<u64>, unit: &str) -> anyhow::Result<u64> {
    match g.text.trim().parse::<u64>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => bail!("{}: expected {} to {} {unit}, got {:?}", g.origin, range.start(), range.end(), g.text),
    }
}





/// `--rate-limit`/`--rate-burst`: off by default (a host on a LAN serves
/// whoever asks, as a Windows host does); the burst defaults to a minute's
/// worth, as on the edge.
fn rate_limit(args: &Args, l: &super::file::Limits, src: &Sources) -> anyhow::Result<Option<RateLimit>> {
    let per_minute = match src.pick(&args.rate_limit, "rate-limit", &l.rate_per_address, "limits.rate_per_address") {
        Some(g) if g.text.trim().eq_ignore_ascii_case("off") => None,
        Some(g) => Some(shared(&g, parse::cap)?),
        None => None,
    };
    let burst = src.pick(&args.rate_burst, "rate-burst", &l.rate_burst, "limits.rate_burst");
    match (per_minute, burst) {
        (None, None) => Ok(None),
        (None, Some(g)) => bail!("{}: a burst needs a rate (--rate-limit or limits.rate_per_address)", g.origin),
        (Some(per_minute), None) => Ok(Some(RateLimit { per_minute, burst: per_minute })),
        (Some(per_minute), Some(g)) => Ok(Some(RateLimit { per_minute, burst: shared(&g, parse::cap)? })),
    }
}

fn admin_token(args: &Args, file: &FileConfig, file_name: &str) -> anyhow::Result<Option<String>> {
    let (token, origin) = if let Some(t) = &args.admin_token {
        (t.clone(), "--admin-token (or KMSEDGE_ADMIN_TOKEN)".to_owned())
    } else if let Some(p) = &args.admin_token_file {
        (read_token(p)?, format!("--admin-token-file {}", p.display()))
    } else if let Some(t) = &file.admin_token {
        (t.clone(), format!("admin_token in {file_name}"))
    } else if let Some(p) = &file.admin_token_file {
        (read_token(p)?, format!("admin_token_file in {file_name}"))
    } else {
        return Ok(None);
    };
    if token.len() < 16 {
        bail!("{origin}: the admin token must be at least 16 characters");
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("{origin}: the admin token must not contain spaces or control characters");
    }
    Ok(Some(token))
}

fn read_token(p: &Path) -> anyhow::Result<String> {
    let t = std::fs::read_to_string(p).with_context(|| format!("admin token file {}", p.display()))?;
    Ok(t.trim().to_owned())
}

fn identity(args: &Args, file: &FileConfig, src: &Sources) -> anyhow::Result<IdentityOverrides> {
    let hwid = match src.pick_str(&args.hwid, "hwid", &file.identity.hwid, "identity.hwid") {
        None => None,
        Some(g) => Some(
            parse_hwid(g.text)
                .ok_or_else(|| anyhow!("{}: expected 16 hex digits (e.g. 0123456789ABCDEF), got {:?}", g.origin, g.text))?,
        ),
    };
    let mut pairs: Vec<(String, String, String)> = Vec::new();
    if !args.epids.is_empty() {
        for e in &args.epids {
            let (slot, epid) =
                e.split_once('=').ok_or_else(|| anyhow!("--epid: expected SLOT=EPID (e.g. Windows=03612-…), got {e:?}"))?;
            pairs.push((slot.trim().to_owned(), epid.trim().to_owned(), "--epid".to_owned()));
        }
    } else if let Some(m) = &file.identity.epids {
        for (slot, epid) in m {
            pairs.push((slot.clone(), epid.clone(), format!("identity.epids in {}", src.file_name)));
        }
    }
    let mut epids: Vec<(SlotId, Epid)> = Vec::new();
    for (slot, epid, origin) in pairs {
        let id = catalog::slot_by_name(&slot).ok_or_else(|| {
            let names: Vec<&str> = catalog::EPID_SLOTS.iter().map(|s| s.name).collect();
            anyhow!("{origin}: unknown ePID slot {slot:?} (slots: {})", names.join(", "))
        })?;
        let e = Epid::parse(&epid).map_err(|e| anyhow!("{origin}: slot {slot}: {e}"))?;
        if epids.iter().any(|(s, _)| *s == id) {
            bail!("{origin}: slot {slot} is given twice");
        }
        epids.push((id, e));
    }
    Ok(IdentityOverrides { hwid, epids })
}

/// `--host-key` if given, else `identity.host_keys`, through the model's
/// one parser. An `--epid` for the held key an installed key replaces is
/// refused: the host would answer with one or the other.
fn host_keys(args: &Args, file: &FileConfig, src: &Sources, overrides: &IdentityOverrides) -> anyhow::Result<HostKeys> {
    let given = src.pick_list(&args.host_keys, "host-key", &file.identity.host_keys, "identity.host_keys");
    let keys = crate::model::host_keys::parse(given.iter().map(|g| (g.origin.as_str(), g.text)))?;
    for (slot, _) in &overrides.epids {
        if let Some(i) = keys.replacing(*slot) {
            bail!(
                "host key …{} ({}) and an ePID for slot {} are both given: a host answers with one key of each kind",
                i.key.partial(),
                i.slot.get().csvlk_name,
                slot.get().name
            );
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;

    fn merge(args: Args, toml: &str) -> anyhow::Result<Settings> {
        let f = FileConfig::parse(toml).map_err(|e| anyhow!(e))?;
        Settings::merge(&args, &f, "test.toml".into())
    }

    fn err(args: Args, toml: &str) -> String {
        format!("{:#}", merge(args, toml).unwrap_err())
    }

    #[test]
    fn defaults() {
        let s = merge(Args::default(), "").unwrap();
        assert_eq!(s.listen, vec!["[::]:1688".parse::<SocketAddr>().unwrap()]);
        assert_eq!(s.http, Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(s.policy.count, CountPolicy::Sufficient);
        assert_eq!(s.policy.scope, ScopeSetting::Covered);
        assert_eq!(s.policy.max_time_skew, Some(4 * 3600));
        assert_eq!((s.policy.activation_interval, s.policy.renewal_interval), (120, 10_080));
        assert_eq!(s.limits.connection.idle_timeout, Duration::from_secs(30));
        assert_eq!(s.limits.max_pdu, 4096);
        assert!(s.ndr64 && s.btfn);
        assert_eq!(s.sync, SyncMode::Normal);
        assert!(s.admin_token.is_none());
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let toml = "listen = [\"127.0.0.1:1\"]\n[limits]\nidle_timeout = 5\nmax_pdu = 1024\n[policy]\ncount = \"genuine\"\n";
        let s = merge(Args::default(), toml).unwrap();
        assert_eq!(s.listen, vec!["127.0.0.1:1".parse::<SocketAddr>().unwrap()]);
        assert_eq!(s.limits.connection.idle_timeout, Duration::from_secs(5));
        assert_eq!(s.policy.count, CountPolicy::Genuine);
        let args = Args {
            listen: vec!["127.0.0.1:2".into(), "[::1]:3".into()],
            idle_timeout: Some("0.5".into()),
            count_policy: Some("77".into()),
            ..Args::default()
        };
        let s = merge(args, toml).unwrap();
        assert_eq!(s.listen.len(), 2);
        assert_eq!(s.listen[1].port(), 3);
        assert_eq!(s.limits.connection.idle_timeout, Duration::from_millis(500));
        assert_eq!(s.limits.max_pdu, 1024, "untouched by flags");
        assert_eq!(s.policy.count, CountPolicy::Fixed(77));
    }

    #[test]
    fn bad_values_name_their_origin_in_one_line() {
        let cases: Vec<(Args, &str, &str)> = vec![
            (Args { listen: vec!["localhost".into()], ..Args::default() }, "", "--listen: \"localhost\" is not an IP address and port"),
            (Args::default(), "http = \"1.2.3.4\"", "http in test.toml: \"1.2.3.4\""),
            (Args::default(), "[limits]\nmax_pdu = 100000", "limits.max_pdu in test.toml: expected 512 to 4096 bytes"),
            (Args { ndr64: Some("maybe".into()), ..Args::default() }, "", "--ndr64: expected true or false, got \"maybe\""),
            (Args { allow: vec!["10.0.0.0/33".into()], ..Args::default() }, "", "--allow: \"10.0.0.0/33\" is not an address range"),
            (Args::default(), "[policy]\nactivation_interval = 5", "policy.activation_interval in test.toml: expected minutes from 15 to 43200"),
            (Args { max_requests: Some("0".into()), ..Args::default() }, "", "--max-requests: expected a count from 1 to 1000000"),
            (Args::default(), "[limits]\nmax_connection_time = \"long\"", "limits.max_connection_time in test.toml: expected seconds"),
            (Args { hwid: Some("xyz".into()), ..Args::default() }, "", "--hwid: expected 16 hex digits"),
            (Args { epids: vec!["Nowhere=1-2".into()], ..Args::default() }, "", "--epid: unknown ePID slot \"Nowhere\""),
            (Args { admin_token: Some("short".into()), ..Args::default() }, "", "the admin token must be at least 16 characters"),
            (Args { idle_timeout: Some("-1".into()), ..Args::default() }, "", "--idle-timeout: expected seconds"),
            (Args { max_connections: Some("0".into()), ..Args::default() }, "", "--max-connections: expected 1 to 1000000"),
            (Args { sync: Some("sometimes".into()), ..Args::default() }, "", "--sync: expected \"full\" or \"normal\""),
            (Args { log_level: Some("=[".into()), ..Args::default() }, "", "--log-level: not a log filter"),
        ];
        for (args, toml, want) in cases {
            let e = err(args, toml);
            assert!(e.contains(want), "{e:?} lacks {want:?}");
            assert!(!e.contains('\n'), "one line: {e:?}");
        }
    }

    #[test]
    fn scope_and_kms_ids_agree() {
        let win10 = "58e2134f-8e11-4d17-9cb2-91069c151148";
        let s = merge(Args { kms_ids: vec![win10.into()], ..Args::default() }, "").unwrap();
        assert_eq!(s.policy.scope, ScopeSetting::List(vec![Guid::parse(win10).unwrap()]));
        let name = catalog::KMS_IDS[0].name;
        let s = merge(Args::default(), &format!("[policy]\nscope = \"list\"\nkms_ids = [\"{}\"]", name.to_uppercase())).unwrap();
        assert_eq!(s.policy.scope, ScopeSetting::List(vec![catalog::KMS_IDS[0].id]));
        let e = err(Args { scope: Some("list".into()), ..Args::default() }, "");
        assert!(e.contains("needs at least one KMS id"), "{e}");
        let e = err(Args { scope: Some("all".into()), kms_ids: vec![win10.into()], ..Args::default() }, "");
        assert!(e.contains("KMS ids are given but scope is \"all\""), "{e}");
        let e = err(Args { kms_ids: vec!["Windows 99".into()], ..Args::default() }, "");
        assert!(e.contains("--kms-id: expected a GUID or the name of a KMS counted id"), "{e}");
    }

    #[test]
    fn identity_overrides() {
        let epid = "03612-00206-556-123727-03-1033-17763.0000-2972018";
        let s = merge(
            Args::default(),
            &format!("[identity]\nhwid = \"01 23 45 67 89 ab cd ef\"\nepids = {{ windows = \"{epid}\" }}"),
        )
        .unwrap();
        assert_eq!(s.identity.hwid, Some([0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]));
        assert_eq!(s.identity.epids, vec![(catalog::slot_by_name("Windows").unwrap(), Epid::parse(epid).unwrap())]);
        let e = err(Args { epids: vec![format!("Windows={epid}"), format!("WINDOWS={epid}")], ..Args::default() }, "");
        assert!(e.contains("given twice"), "{e}");
    }

    fn made_key(group: u32, serial: u32) -> String {
        let k = crate::pkey::ProductKey { group, serial, security: 0xfeed_beef, upgrade: false, extra: false };
        crate::pkey::encode(&k).unwrap().as_str().to_owned()
    }

    #[test]
    fn host_keys_from_the_flag_else_the_file() {
        let (ws2022, o2024) = (made_key(4573, 40_000), made_key(206, 600_000_001));
        let file = format!("[identity]\nhost_keys = [\"{o2024}\"]");
        let s = merge(Args::default(), &file).unwrap();
        assert_eq!(s.host_keys.iter().map(|i| i.slot.get().name).collect::<Vec<_>>(), ["Office2024"]);
        let s = merge(Args { host_keys: vec![ws2022.clone()], ..Args::default() }, &file).unwrap();
        assert_eq!(s.host_keys.iter().map(|i| i.slot.get().name).collect::<Vec<_>>(), ["WinServer2022"]);
        assert!(merge(Args::default(), "").unwrap().host_keys.is_empty());
        // Debug (what a trace of the settings would show) holds no whole key.
        assert!(!format!("{s:?}").contains(&ws2022[..20]));

        // A GVLK: one line naming the source and the last five characters.
        let gvlk = catalog::SKUS.iter().find(|s| s.name == "Windows 10/11 Enterprise").unwrap().gvlk.unwrap();
        let e = err(Args::default(), &format!("[identity]\nhost_keys = [\"{gvlk}\"]"));
        assert_eq!(
            e,
            format!("identity.host_keys in test.toml …{}: a KMS client key (GVLK) of Windows 10/11 Enterprise, not a KMS host key (CSVLK)", &gvlk[24..])
        );
        // Two Windows keys.
        let e = err(Args { host_keys: vec![ws2022.clone(), made_key(4919, 7)], ..Args::default() }, "");
        assert!(e.starts_with("--host-key …") && e.contains("one Windows host key"), "{e}");
        // An ePID for the held key the installed key replaces.
        let epid = "03612-00206-556-123727-03-1033-17763.0000-2972018";
        let e = err(Args { host_keys: vec![ws2022.clone()], epids: vec![format!("Windows={epid}")], ..Args::default() }, "");
        assert!(e.contains("and an ePID for slot Windows are both given"), "{e}");
        assert!(!e.contains(&ws2022[..20]) && !e.contains('\n'), "{e}");
        // An ePID for another held key is fine.
        let s = merge(Args { host_keys: vec![ws2022], epids: vec![format!("Office2019={epid}")], ..Args::default() }, "").unwrap();
        assert_eq!(s.identity.epids.len(), 1);
    }

    #[test]
    fn rate_limit_is_off_by_default_and_burst_needs_a_rate() {
        assert_eq!(merge(Args::default(), "").unwrap().limits.rate, None);
        let s = merge(Args { rate_limit: Some("30".into()), ..Args::default() }, "").unwrap();
        assert_eq!(s.limits.rate, Some(RateLimit { per_minute: 30, burst: 30 }));
        let s = merge(Args { rate_burst: Some("5".into()), ..Args::default() }, "[limits]\nrate_per_address = 120").unwrap();
        assert_eq!(s.limits.rate, Some(RateLimit { per_minute: 120, burst: 5 }));
        let s = merge(Args { rate_limit: Some("off".into()), ..Args::default() }, "[limits]\nrate_per_address = 120").unwrap();
        assert_eq!(s.limits.rate, None, "the flag turns the file's limit off");
        let e = err(Args { rate_burst: Some("5".into()), ..Args::default() }, "");
        assert_eq!(e, "--rate-burst: a burst needs a rate (--rate-limit or limits.rate_per_address)");
        let e = err(Args::default(), "[limits]\nrate_per_address = 0");
        assert_eq!(e, "limits.rate_per_address in test.toml: expected a count from 1 to 1000000, got \"0\"");
    }

    #[test]
    fn off_switches() {
        let s = merge(Args { http: Some("off".into()), max_time_skew: Some("OFF".into()), ..Args::default() }, "").unwrap();
        assert_eq!(s.http, None);
        assert_eq!(s.policy.max_time_skew, None);
        let s = merge(Args::default(), "[registry]\nsync = \"full\"\n[log]\nformat = \"json\"").unwrap();
        assert_eq!(s.sync, SyncMode::Full);
        assert!(s.log_json);
    }
}
