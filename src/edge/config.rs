//! The Worker's settings, read from `[vars]` in `wrangler.toml` (or the
//! dashboard). Every value is checked once per use: a typo must be an error
//! that names the variable, not a silently different policy.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `KMS_ORGANISATION` | Durable Object name: one registry (one count) per organisation | `default` |
//! | `KMS_PORT` | port announced in bind_ack (what clients were told to dial) | `1688` |
//! | `KMS_NDR64` | `true`/`false`: accept NDR64 like Windows 8+ hosts | `true` |
//! | `KMS_BTFN` | `true`/`false`: acknowledge bind-time feature negotiation | `true` |
//! | `KMS_SCOPE` | `all`, `known`, `genuine`, or a comma-separated list of KMS counted ids | `all` |
//! | `KMS_COUNT` | `sufficient`, `genuine`, or a number (fixed count) | `sufficient` |
//! | `KMS_MAX_TIME_SKEW` | seconds, or `off` | `14400` (4 h) |
//! | `KMS_ACTIVATION_INTERVAL` | minutes, 15..=43200 | `120` |
//! | `KMS_RENEWAL_INTERVAL` | minutes, 15..=43200 | `10080` |
//! | `KMS_IDLE_TIMEOUT_SECS` | close a connection silent this long | `30` |
//! | `KMS_MAX_CONNECTION_SECS` | close any connection after this long | `300` |
//! | `KMS_MAX_REQUESTS` | activation requests per connection | `1000` |
use crate::Guid;
use crate::api::PolicyInfo;
use crate::host::policy::{DEFAULT_MAX_TIME_SKEW, INTERVAL_RANGE, MAX_N_POLICY};
use crate::host::{Config, CountPolicy, Policy, Scope};
use core::fmt;
use core::time::Duration;

/// Which KMS counted ids are served; owns the list that [`Scope::List`] borrows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeSetting {
    All,
    Known,
    Genuine,
    List(Vec<Guid>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeConfig {
    pub organisation: String,
    pub port: u16,
    pub ndr64: bool,
    pub btfn: bool,
    pub scope: ScopeSetting,
    pub count: CountPolicy,
    pub max_time_skew: Option<u64>,
    pub activation_interval: u32,
    pub renewal_interval: u32,
    pub idle_timeout: Duration,
    pub max_connection_time: Duration,
    pub max_requests: u32,
}

/// A variable whose value is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[vars] {} = {:?}: expected {}", self.var, self.value, self.expected)
    }
}

impl std::error::Error for ConfigError {}

impl EdgeConfig {
    /// Reads every setting through `get` (the Worker's `env.var`); unset
    /// variables take their defaults.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<EdgeConfig, ConfigError> {
        let var = |name: &'static str| get(name).map(|v| (name, v.trim().to_owned()));
        let err = |var: &'static str, value: &str, expected: &'static str| ConfigError {
            var,
            value: value.to_owned(),
            expected,
        };
        let number = |name: &'static str, default: u64, range: core::ops::RangeInclusive<u64>, expected| {
            match var(name) {
                None => Ok(default),
                Some((n, v)) => match v.parse::<u64>() {
                    Ok(x) if range.contains(&x) => Ok(x),
                    _ => Err(err(n, &v, expected)),
                },
            }
        };
        let boolean = |name: &'static str, default: bool| match var(name) {
            None => Ok(default),
            Some((n, v)) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(err(n, &v, "true or false")),
            },
        };

        let organisation = match var("KMS_ORGANISATION") {
            None => "default".to_owned(),
            Some((n, v)) if v.is_empty() || v.len() > 64 => return Err(err(n, &v, "a name of 1 to 64 characters")),
            Some((_, v)) => v,
        };
        let scope = match var("KMS_SCOPE") {
            None => ScopeSetting::All,
            Some((n, v)) => match v.to_ascii_lowercase().as_str() {
                "all" => ScopeSetting::All,
                "known" => ScopeSetting::Known,
                "genuine" => ScopeSetting::Genuine,
                _ => {
                    let ids: Result<Vec<Guid>, _> =
                        v.split(',').map(|s| Guid::parse(s.trim())).collect();
                    match ids {
                        Ok(ids) if !ids.is_empty() => ScopeSetting::List(ids),
                        _ => {
                            return Err(err(n, &v, "all, known, genuine, or comma-separated KMS counted ids"));
                        }
                    }
                }
            },
        };
        let count = match var("KMS_COUNT") {
            None => CountPolicy::Sufficient,
            Some((n, v)) => match v.to_ascii_lowercase().as_str() {
                "sufficient" => CountPolicy::Sufficient,
                "genuine" => CountPolicy::Genuine,
                other => match other.parse::<u32>() {
                    Ok(x) if x <= 2 * MAX_N_POLICY => CountPolicy::Fixed(x),
                    _ => return Err(err(n, &v, "sufficient, genuine, or a count 0..=2000")),
                },
            },
        };
        let max_time_skew = match var("KMS_MAX_TIME_SKEW") {
            None => Some(DEFAULT_MAX_TIME_SKEW),
            Some((_, v)) if v.eq_ignore_ascii_case("off") => None,
            Some((n, v)) => match v.parse::<u64>() {
                Ok(x) if x > 0 && x <= 10 * 365 * 86_400 => Some(x),
                _ => return Err(err(n, &v, "seconds (1 to 10 years), or off")),
            },
        };
        let interval = |name, default| {
            let r = u64::from(*INTERVAL_RANGE.start())..=u64::from(*INTERVAL_RANGE.end());
            number(name, default, r, "minutes, 15 to 43200").map(|x| x as u32)
        };
        Ok(EdgeConfig {
            organisation,
            port: number("KMS_PORT", 1688, 1..=65_535, "a TCP port 1 to 65535")? as u16,
            ndr64: boolean("KMS_NDR64", true)?,
            btfn: boolean("KMS_BTFN", true)?,
            scope,
            count,
            max_time_skew,
            activation_interval: interval("KMS_ACTIVATION_INTERVAL", 120)?,
            renewal_interval: interval("KMS_RENEWAL_INTERVAL", 10_080)?,
            idle_timeout: Duration::from_secs(number("KMS_IDLE_TIMEOUT_SECS", 30, 1..=3600, "seconds, 1 to 3600")?),
            max_connection_time: Duration::from_secs(number(
                "KMS_MAX_CONNECTION_SECS",
                300,
                1..=86_400,
                "seconds, 1 to 86400",
            )?),
            max_requests: number("KMS_MAX_REQUESTS", 1000, 1..=1_000_000, "a count, 1 to 1000000")? as u32,
        })
    }

    /// The rules [`crate::host::policy::decide`] applies.
    pub fn policy(&self) -> Policy<'_> {
        Policy {
            max_time_skew: self.max_time_skew,
            scope: match &self.scope {
                ScopeSetting::All => Scope::All,
                ScopeSetting::Known => Scope::Known,
                ScopeSetting::Genuine => Scope::Genuine,
                ScopeSetting::List(ids) => Scope::List(ids),
            },
            count: self.count,
            activation_interval: self.activation_interval,
            renewal_interval: self.renewal_interval,
        }
    }

    /// The per-connection settings of the host engine.
    pub fn host_config(&self) -> Config {
        Config { port: self.port, ndr64: self.ndr64, btfn: self.btfn, ..Config::default() }
    }

    /// The policy as `/api/status` reports it.
    pub fn policy_info(&self) -> PolicyInfo {
        let (count_mode, fixed_count) = match self.count {
            CountPolicy::Sufficient => ("sufficient", None),
            CountPolicy::Genuine => ("genuine", None),
            CountPolicy::Fixed(n) => ("fixed", Some(n)),
        };
        let (scope, scope_ids) = match &self.scope {
            ScopeSetting::All => ("all", Vec::new()),
            ScopeSetting::Known => ("known", Vec::new()),
            ScopeSetting::Genuine => ("genuine", Vec::new()),
            ScopeSetting::List(ids) => ("list", ids.iter().map(|g| g.to_string()).collect()),
        };
        PolicyInfo {
            count_mode: count_mode.to_owned(),
            fixed_count,
            scope: scope.to_owned(),
            scope_ids,
            max_time_skew_secs: self.max_time_skew,
            activation_interval: self.activation_interval,
            renewal_interval: self.renewal_interval,
            ndr64: self.ndr64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(vars: &[(&str, &str)]) -> Result<EdgeConfig, ConfigError> {
        let m: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        EdgeConfig::from_vars(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_match_a_genuine_host_that_activates_everything() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.organisation, "default");
        assert_eq!(c.policy(), Policy::default());
        assert_eq!(c.host_config(), Config::default());
        assert_eq!(c.max_requests, 1000);
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
        assert!(matches!(&c.scope, ScopeSetting::List(ids) if ids.len() == 2));
        assert_eq!(c.count, CountPolicy::Fixed(7));
        assert_eq!(c.max_time_skew, None);
        assert!(!c.host_config().ndr64);
        assert_eq!(c.policy_info().scope, "list");
        for (var, value) in [
            ("KMS_COUNT", "lots"),
            ("KMS_SCOPE", "everything"),
            ("KMS_ACTIVATION_INTERVAL", "14"),
            ("KMS_RENEWAL_INTERVAL", "43201"),
            ("KMS_PORT", "0"),
            ("KMS_NDR64", "maybe"),
            ("KMS_MAX_TIME_SKEW", "-1"),
            ("KMS_ORGANISATION", ""),
        ] {
            let e = parse(&[(var, value)]).unwrap_err();
            assert_eq!(e.var, var);
            assert!(e.to_string().contains(var));
        }
    }
}
