//! `kmsedge host TARGET VERB`: administer a running host (native or edge)
//! with `slmgr`'s vocabulary, through its admin API (`/api/settings`,
//! `/api/status`, with the admin token). The rules live in the host
//! (`model::admin`); this only sends one change and words the answer.
use crate::api::{SettingChange, Settings, Status};
use anyhow::{Context, anyhow, bail};
use std::fmt::Write as _;
use std::format;
use std::io::Read as _;
use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;

#[derive(Debug, clap::Args)]
#[command(after_help = "TARGET is the host's HTTP address (HOST[:PORT], port 8080 by default) or a URL \
(https://kms.example.workers.dev for the edge host). Changes are kept in the host's registry, override its \
start-up configuration, and appear in its event history.")]
pub struct Args {
    /// The host's HTTP API: HOST[:PORT] or http(s)://…
    #[arg(value_name = "TARGET")]
    pub target: String,
    #[command(subcommand)]
    pub verb: Verb,
    /// The host's admin token
    #[arg(long, env = "KMSEDGE_ADMIN_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Seconds to wait for the host
    #[arg(long, default_value = "20", global = true)]
    pub timeout: f64,
}

#[derive(Debug, clap::Subcommand)]
pub enum Verb {
    /// Display the KMS host's information (slmgr /dlv).
    Dlv,
    /// Set the KMS port (slmgr /sprt); the native host rebinds and keeps open connections.
    Sprt { port: String },
    /// Turn DNS publishing of the SRV record off (slmgr /cdns).
    Cdns,
    /// Turn DNS publishing of the SRV record on (slmgr /sdns).
    Sdns,
    /// Run at low priority (slmgr /cpri).
    Cpri,
    /// Run at normal priority (slmgr /spri).
    Spri,
    /// Activation interval, minutes from 15 to 43200 (slmgr /sai).
    Sai { minutes: String },
    /// Renewal interval, minutes from 15 to 43200 (slmgr /sri).
    Sri { minutes: String },
    /// Install a KMS host key (CSVLK) (slmgr /ipk).
    Ipk { key: String },
    /// Uninstall the host key ending in PARTIAL, or every installed one (slmgr /upk).
    Upk { partial: Option<String> },
}

impl Verb {
    /// The API change this verb makes, if it makes one.
    pub fn change(&self) -> Option<SettingChange> {
        let c = |setting: &str, value: Option<&str>| Some(SettingChange { setting: setting.into(), value: value.map(Into::into) });
        match self {
            Verb::Dlv => None,
            Verb::Sprt { port } => c("port", Some(port)),
            Verb::Cdns => c("dns_publishing", Some("false")),
            Verb::Sdns => c("dns_publishing", Some("true")),
            Verb::Cpri => c("priority", Some("low")),
            Verb::Spri => c("priority", Some("normal")),
            Verb::Sai { minutes } => c("activation_interval", Some(minutes)),
            Verb::Sri { minutes } => c("renewal_interval", Some(minutes)),
            Verb::Ipk { key } => c("install_key", Some(key)),
            Verb::Upk { partial } => c("uninstall_key", partial.as_deref()),
        }
    }
}

/// `HOST[:PORT]` → `http://HOST:PORT`; a URL as given, without a trailing slash.
pub fn base_url(target: &str) -> anyhow::Result<String> {
    let t = target.trim().trim_end_matches('/');
    if t.is_empty() {
        bail!("TARGET is empty: expected HOST[:PORT] or a URL");
    }
    if t.starts_with("http://") || t.starts_with("https://") {
        return Ok(t.into());
    }
    if t.contains('/') {
        bail!("TARGET {t:?}: expected HOST[:PORT] or an http(s):// URL");
    }
    // A bare IPv6 address or a name without a port gets 8080.
    let has_port = match t.rsplit_once(':') {
        Some((h, p)) => p.parse::<u16>().is_ok() && (!h.contains(':') || h.ends_with(']')),
        None => false,
    };
    Ok(if has_port {
        format!("http://{t}")
    } else if t.contains(':') && !t.starts_with('[') {
        format!("http://[{t}]:8080")
    } else {
        format!("http://{t}:8080")
    })
}

struct Api {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Api {
    fn new(args: &Args) -> anyhow::Result<Api> {
        if !(args.timeout > 0.0 && args.timeout <= 3600.0) {
            bail!("--timeout: expected seconds above 0 and at most 3600, got {}", args.timeout);
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs_f64(args.timeout)))
            .build()
            .into();
        Ok(Api { base: base_url(&args.target)?, token: args.token.clone(), agent })
    }

    /// Sends a request; the JSON answer, or the host's one-line error.
    fn call<T: serde::de::DeserializeOwned>(&self, method: &str, path: &str, body: Option<&SettingChange>) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let result = match body {
            None => {
                let mut r = self.agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            Some(b) => {
                let mut r = self.agent.put(&url).header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.send(serde_json::to_vec(b)?.as_slice())
            }
        };
        let mut resp = result.map_err(|e| anyhow!("{method} {url}: {e}"))?;
        let status = resp.status().as_u16();
        let mut text = String::new();
        resp.body_mut().as_reader().read_to_string(&mut text).with_context(|| format!("{method} {url}"))?;
        if status != 200 {
            let msg = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
                .unwrap_or_else(|| text.trim().lines().next().unwrap_or("").into());
            bail!("the host refused ({status}): {msg}");
        }
        serde_json::from_str(&text).map_err(|e| anyhow!("{method} {url}: not the answer of a kmsedge host: {e}"))
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let api = Api::new(&args)?;
    let text = match args.verb.change() {
        None => {
            let status: Status = api.call("GET", "/api/status", None)?;
            let settings: Settings = api.call("GET", "/api/settings", None)?;
            dlv(&status, &settings)
        }
        Some(c) => {
            let after: Settings = api.call("PUT", "/api/settings", Some(&c))?;
            changed(&args.verb, &after)
        }
    };
    crate::tools::products::write_stdout(&text)
}

/// What slmgr says after a change, and the host's note where it applies
/// the setting differently.
pub fn changed(verb: &Verb, s: &Settings) -> String {
    let note = |name: &str| s.notes.get(name).map(|n| format!("\n({n})")).unwrap_or_default();
    match verb {
        Verb::Dlv => String::new(),
        Verb::Sprt { .. } => format!("KMS port set to {} successfully.\n", s.port.map_or("-".into(), |p| p.to_string())),
        Verb::Cdns => format!("DNS publishing disabled successfully.{}\n", note("dns_publishing")),
        Verb::Sdns => format!("DNS publishing enabled successfully.{}\n", note("dns_publishing")),
        Verb::Cpri => format!("KMS priority set to Low successfully.{}\n", note("priority")),
        Verb::Spri => format!("KMS priority set to Normal successfully.{}\n", note("priority")),
        Verb::Sai { .. } => format!("Volume activation interval set to {} minutes successfully.\n", s.activation_interval),
        Verb::Sri { .. } => format!("Volume renewal interval set to {} minutes successfully.\n", s.renewal_interval),
        Verb::Ipk { key } => {
            let last: String = key.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            let partial = last[last.len().saturating_sub(5)..].to_ascii_uppercase();
            format!("Installed product key …{partial} successfully.\n")
        }
        Verb::Upk { .. } => {
            let left: Vec<String> = s.host_keys.iter().map(|k| format!("…{}", k.partial)).collect();
            format!(
                "Uninstalled product key successfully.\nInstalled host keys: {}\n",
                if left.is_empty() { "none (the keys held by default)".into() } else { left.join(", ") }
            )
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// The `slmgr /dlv` layout of a KMS host.
pub fn dlv(st: &Status, s: &Settings) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "Key Management Service host ({} runtime, version {})", st.runtime, st.version);
    for e in &st.identity.epids {
        let _ = writeln!(o, "\nName: {}", e.csvlk_name);
        let _ = writeln!(o, "Extended PID: {}", e.epid);
        if let Some(p) = e.origin.strip_prefix("installed key …") {
            let _ = writeln!(o, "Partial Product Key: {p}");
        }
    }
    if s.host_keys.is_empty() {
        let _ = writeln!(o, "\nHost keys installed: none (the keys held by default)");
    }
    let _ = writeln!(o, "\nKey Management Service is {} on this machine", if s.kms_enabled { "enabled" } else { "disabled" });
    // One count per counting group (application), as each group counts alone.
    let mut groups: Vec<(&str, u64)> = Vec::new();
    for c in &st.counts {
        if !groups.iter().any(|(a, _)| *a == c.application) {
            groups.push((&c.application, c.group_genuine));
        }
    }
    if groups.is_empty() {
        let _ = writeln!(o, "    Current count: 0");
    }
    for (app, n) in groups {
        let _ = writeln!(o, "    Current count: {n} ({app})");
    }
    match s.port {
        Some(p) => {
            let _ = writeln!(o, "    Listening on Port: {p}");
        }
        None => {
            let _ = writeln!(o, "    Listening on: {}", st.listen.join(", "));
        }
    }
    let _ = writeln!(o, "    DNS publishing {}", if s.dns_publishing { "enabled" } else { "disabled" });
    if let Some(r) = &s.dns_record {
        let _ = writeln!(o, "    SRV record: {r}");
    }
    let _ = writeln!(o, "    KMS priority: {}", capitalised(&s.priority));
    let _ = writeln!(o, "    Activation Interval: {} minutes", s.activation_interval);
    let _ = writeln!(o, "    Renewal Interval: {} minutes", s.renewal_interval);
    for (name, note) in &s.notes {
        let _ = writeln!(o, "    Note ({name}): {note}");
    }
    if !s.changed.is_empty() {
        let _ = writeln!(o, "    Changed at runtime: {}", s.changed.join(", "));
    }
    let _ = writeln!(o, "\nKey Management Service cumulative requests received from clients");
    let _ = writeln!(o, "    Total requests received: {}", st.counters.total);
    let _ = writeln!(o, "    Failed requests received: {}", st.counters.failed);
    for (status, n) in &st.counters.by_license_status {
        let _ = writeln!(o, "    Requests with License Status {status}: {n}");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_become_urls() {
        assert_eq!(base_url("kms.example").unwrap(), "http://kms.example:8080");
        assert_eq!(base_url("127.0.0.1:9000").unwrap(), "http://127.0.0.1:9000");
        assert_eq!(base_url("[::1]:9000").unwrap(), "http://[::1]:9000");
        assert_eq!(base_url("::1").unwrap(), "http://[::1]:8080");
        assert_eq!(base_url("https://kms.example.workers.dev/").unwrap(), "https://kms.example.workers.dev");
        assert!(base_url("").is_err() && base_url("host/path").is_err());
    }

    #[test]
    fn verbs_are_slmgr_changes() {
        let c = Verb::Sai { minutes: "60".into() }.change().unwrap();
        assert_eq!((c.setting.as_str(), c.value.as_deref()), ("activation_interval", Some("60")));
        assert_eq!(Verb::Cdns.change().unwrap().value.as_deref(), Some("false"));
        assert_eq!(Verb::Upk { partial: None }.change().unwrap().value, None);
        assert!(Verb::Dlv.change().is_none());
    }
}
