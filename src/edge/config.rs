//! The Worker's settings, read from `[vars]` in `wrangler.toml` (or the
//! dashboard). Every value is checked once per use by the host model's
//! parsers (the same ones as `kmsedge serve`'s flags): a typo must be an
//! error that names the variable, not a silently different policy.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `KMS_ORGANISATION` | Durable Object name: one registry (one count) per organisation | `default` |
//! | `KMS_PORT` | port announced in bind_ack (what clients were told to dial) | `1688` |
//! | `KMS_NDR64` | `true`/`false`: accept NDR64 like Windows 8+ hosts | `true` |
//! | `KMS_BTFN` | `true`/`false`: acknowledge bind-time feature negotiation | `true` |
//! | `KMS_SCOPE` | `covered` (what the host's keys cover, and ids the catalogue does not know), `all`, `known`, `genuine` (only what the keys cover), or a comma-separated list of KMS counted ids (GUIDs or catalogue names) | `covered` |
//! | `KMS_COUNT` | `sufficient` (2 × N), `genuine`, or a number 1..=10000 (fixed count); never above 2 × N | `sufficient` |
//! | `KMS_MAX_TIME_SKEW` | seconds (1 to 10 years), or `off` | `14400` (4 h) |
//! | `KMS_ACTIVATION_INTERVAL` | minutes, 15..=43200 | `120` |
//! | `KMS_RENEWAL_INTERVAL` | minutes, 15..=43200 | `10080` |
//! | `KMS_IDLE_TIMEOUT_SECS` | close a connection that completes no PDU this long (seconds, up to 86400) | `30` |
//! | `KMS_MAX_CONNECTION_SECS` | close any connection after this long (seconds, up to 86400) | `300` |
//! | `KMS_MAX_REQUESTS` | activation requests per connection, 1..=1000000 | `10000` |
//! | `KMS_BRANCH_MAX_CONNECTIONS` | tunnel connections one branch may hold open | `200` |
//! | `KMS_BRANCH_ACTIVATIONS_PER_MINUTE` | activations one branch may make a minute (a minute's worth may come at once) | `1000` |
//! | `KMS_EVENT_DAYS` | days of event history kept (`/api/events`), 1..=3650 | `30` |
//!
//! One secret (`wrangler secret put HOST_KEYS`; locally `.dev.vars`), read
//! by the registry, which holds the identity:
//!
//! | secret | values | default |
//! |---|---|---|
//! | `HOST_KEYS` | the organisation's KMS host keys (CSVLKs), separated by commas or white space: one Windows key and one per Office generation, installed as `slmgr /ipk` does ([`crate::model::host_keys`]); a refused key stops the registry, naming the key by its last five characters | unset: generated ePIDs |
//!
//! | variable | values | default |
//! |---|---|---|
//! | `KMS_BENCH_SEED` | `true` enables `POST /api/bench/seed?n=N` (admin token): N invented clients, for `scripts/bench-edge.sh` only — never in production ([`super::seed`]) | unset (off) |
use crate::host::Config;
use crate::model::host_keys::{self, HostKeys};
use crate::model::rate::KeyLimits;
use crate::model::settings::{self as parse, ConnectionLimits, Expected, PolicySettings};
use core::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeConfig {
    pub organisation: String,
    pub port: u16,
    pub ndr64: bool,
    pub btfn: bool,
    pub policy: PolicySettings,
    pub limits: ConnectionLimits,
    /// What one branch may use of the tunnel.
    pub branch: KeyLimits,
    /// Days of event history kept.
    pub event_days: u32,
    /// The organisation's host keys (the `HOST_KEYS` secret).
    pub host_keys: HostKeys,
}

/// The secret holding the organisation's host keys.
pub const HOST_KEYS: &str = "HOST_KEYS";

/// Defaults of [`EdgeConfig::branch`]: room for a branch of a few hundred
/// machines booting at once, and a ceiling on what one leaked credential
/// can take from the others.
pub const DEFAULT_BRANCH: KeyLimits = KeyLimits { max_connections: 200, activations_per_minute: 1000, burst: 1000 };

/// A variable whose value is unusable, or a refused host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub expected: String,
    /// A refused key of the `HOST_KEYS` secret: the line names the key by
    /// its last five characters only, never the value.
    pub refusal: Option<host_keys::Refusal>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.refusal {
            Some(r) => r.fmt(f),
            None => write!(f, "[vars] {} = {:?}: expected {}", self.var, self.value, self.expected),
        }
    }
}

impl std::error::Error for ConfigError {}

impl EdgeConfig {
    /// Reads every setting through `get` (the Worker's `env.var`) and the
    /// host keys through `secret` (`env.secret`); unset variables take
    /// their defaults. Each value goes through the host model's parser,
    /// the one `kmsedge serve` uses for its flags.
    pub fn from_env(
        get: impl Fn(&str) -> Option<String>,
        secret: impl Fn(&str) -> Option<String>,
    ) -> Result<EdgeConfig, ConfigError> {
        fn var<T>(
            get: &impl Fn(&str) -> Option<String>,
            name: &'static str,
            parse: impl Fn(&str) -> Result<T, Expected>,
        ) -> Result<Option<T>, ConfigError> {
            match get(name) {
                None => Ok(None),
                Some(v) => parse(&v).map(Some).map_err(|e| ConfigError { var: name, value: v, expected: e.to_string(), refusal: None }),
            }
        }
        let organisation = match get("KMS_ORGANISATION").map(|v| v.trim().to_owned()) {
            None => "default".to_owned(),
            Some(v) if v.is_empty() || v.len() > 64 => {
                return Err(ConfigError {
                    var: "KMS_ORGANISATION",
                    value: v,
                    expected: "a name of 1 to 64 characters".into(),
                    refusal: None,
                });
            }
            Some(v) => v,
        };
        let (p, l) = (PolicySettings::default(), ConnectionLimits::default());
        let keys = secret(HOST_KEYS).unwrap_or_default();
        let host_keys = host_keys::parse(host_keys::split(&keys).map(|k| ("secret HOST_KEYS", k))).map_err(|r| ConfigError {
            var: HOST_KEYS,
            value: String::new(),
            expected: String::new(),
            refusal: Some(r),
        })?;
        Ok(EdgeConfig {
            organisation,
            port: var(&get, "KMS_PORT", parse::port)?.unwrap_or(1688),
            ndr64: var(&get, "KMS_NDR64", parse::boolean)?.unwrap_or(true),
            btfn: var(&get, "KMS_BTFN", parse::boolean)?.unwrap_or(true),
            policy: PolicySettings {
                scope: var(&get, "KMS_SCOPE", parse::scope)?.unwrap_or(p.scope),
                count: var(&get, "KMS_COUNT", parse::count)?.unwrap_or(p.count),
                max_time_skew: var(&get, "KMS_MAX_TIME_SKEW", parse::time_skew)?.unwrap_or(p.max_time_skew),
                activation_interval: var(&get, "KMS_ACTIVATION_INTERVAL", parse::interval)?.unwrap_or(p.activation_interval),
                renewal_interval: var(&get, "KMS_RENEWAL_INTERVAL", parse::interval)?.unwrap_or(p.renewal_interval),
            },
            limits: ConnectionLimits {
                idle_timeout: var(&get, "KMS_IDLE_TIMEOUT_SECS", parse::seconds)?.unwrap_or(l.idle_timeout),
                max_lifetime: var(&get, "KMS_MAX_CONNECTION_SECS", parse::seconds)?.unwrap_or(l.max_lifetime),
                max_requests: var(&get, "KMS_MAX_REQUESTS", parse::max_requests)?.unwrap_or(l.max_requests),
            },
            branch: {
                let per_minute = var(&get, "KMS_BRANCH_ACTIVATIONS_PER_MINUTE", parse::cap)?
                    .unwrap_or(DEFAULT_BRANCH.activations_per_minute);
                KeyLimits {
                    max_connections: var(&get, "KMS_BRANCH_MAX_CONNECTIONS", parse::cap)?
                        .unwrap_or(DEFAULT_BRANCH.max_connections),
                    activations_per_minute: per_minute,
                    // A minute's worth may come at once, as documented above.
                    burst: per_minute,
                }
            },
            event_days: var(&get, "KMS_EVENT_DAYS", parse::event_days)?.unwrap_or(crate::model::events::DEFAULT_DAYS),
            host_keys,
        })
    }

    /// The per-connection settings of the host engine, limits included.
    pub fn host_config(&self) -> Config {
        Config { port: self.port, ndr64: self.ndr64, btfn: self.btfn, limits: self.limits.core(), ..Config::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Result<EdgeConfig, ConfigError> {
        let m: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        EdgeConfig::from_env(|k| m.get(k).cloned(), |_| None)
    }

    #[test]
    fn defaults_match_a_genuine_host_that_activates_everything() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.organisation, "default");
        assert_eq!(c.policy.policy(), crate::host::Policy::default());
        assert_eq!(c.host_config(), Config::default());
        assert_eq!(c.limits.max_requests, 10_000);
        assert_eq!(c.event_days, 30);
    }

    fn made_key(group: u32, serial: u32) -> String {
        let k = crate::pkey::ProductKey { group, serial, security: 0xabcdef, upgrade: false, extra: false };
        crate::pkey::encode(&k).unwrap().as_str().to_owned()
    }

    #[test]
    fn host_keys_come_from_the_secret_through_the_model() {
        let (ws2025, o2021) = (made_key(4919, 20_000_001), made_key(206, 580_000_000));
        let with = |secret: String| {
            EdgeConfig::from_env(|_| None, move |k| (k == HOST_KEYS).then(|| secret.clone()))
        };
        let c = with(format!(" {ws2025},\n{} ", o2021.to_lowercase())).unwrap();
        let got: Vec<(&str, u32)> = c.host_keys.iter().map(|i| (i.slot.get().name, i.key.serial())).collect();
        assert_eq!(got, [("WinServer2025", 20_000_001), ("Office2021", 580_000_000)]);
        assert!(parse(&[]).unwrap().host_keys.is_empty());
        // A variable of that name is not read: the keys are a secret.
        assert!(parse(&[(HOST_KEYS, &ws2025)]).unwrap().host_keys.is_empty());
        // A GVLK in the secret: one line, the last five characters only.
        let gvlk = crate::catalog::SKUS.iter().find(|s| s.name == "Windows 10/11 Enterprise").unwrap().gvlk.unwrap();
        let e = with(format!("{o2021} {gvlk}")).unwrap_err();
        assert_eq!(e.var, HOST_KEYS);
        assert_eq!(
            e.to_string(),
            format!("secret HOST_KEYS …{}: a KMS client key (GVLK) of Windows 10/11 Enterprise, not a KMS host key (CSVLK)", &gvlk[24..])
        );
        let e = with(format!("{ws2025} {}", made_key(4573, 5))).unwrap_err().to_string();
        assert!(e.contains("one Windows host key") && !e.contains(&ws2025[..20]) && !e.contains('\n'), "{e}");
    }

    #[test]
    fn every_setting_parses_and_bad_values_name_their_variable() {
        let c = parse(&[
            ("KMS_SCOPE", "58e2134f-8e11-4d17-9cb2-91069c151148, 7ba0bf23-d0f5-4072-91d9-d55af5a481b6"),
            ("KMS_COUNT", "7"),
            ("KMS_MAX_TIME_SKEW", "off"),
            ("KMS_NDR64", "false"),
            ("KMS_ACTIVATION_INTERVAL", "15"),
        ])
        .unwrap();
        assert!(matches!(&c.policy.scope, crate::model::settings::ScopeSetting::List(ids) if ids.len() == 2));
        assert_eq!(c.policy.count, crate::host::CountPolicy::Fixed(7));
        assert_eq!(c.policy.max_time_skew, None);
        assert!(!c.host_config().ndr64);
        assert_eq!(c.policy.info(c.ndr64).scope, "list");
        for (var, value) in [
            ("KMS_COUNT", "lots"),
            ("KMS_SCOPE", "everything"),
            ("KMS_ACTIVATION_INTERVAL", "14"),
            ("KMS_RENEWAL_INTERVAL", "43201"),
            ("KMS_PORT", "0"),
            ("KMS_NDR64", "maybe"),
            ("KMS_MAX_TIME_SKEW", "-1"),
            ("KMS_ORGANISATION", ""),
            ("KMS_EVENT_DAYS", "0"),
        ] {
            let e = parse(&[(var, value)]).unwrap_err();
            assert_eq!(e.var, var);
            assert!(e.to_string().contains(var));
        }
    }
}
