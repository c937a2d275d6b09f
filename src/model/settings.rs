//! The host's policy and connection settings, and the one parser of each
//! value, whether it comes from a flag or the TOML file (native) or from
//! `[vars]` (edge). Each parser returns what it expected on a bad value;
//! the caller adds where the value came from, so a typo is one line naming
//! its source on both hosts, and both accept exactly the same values.
use crate::Guid;
use crate::api::PolicyInfo;
use crate::catalog;
use crate::host::policy::INTERVAL_RANGE;
use crate::host::{CountPolicy, Limits, Policy, Scope};
use core::time::Duration;
use std::borrow::ToOwned;
use std::string::ToString;
use std::vec::Vec;

/// What a value should have been, for the caller's error line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected(pub &'static str);

impl core::fmt::Display for Expected {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

/// Which KMS counted ids are served; owns the list that [`Scope::List`] borrows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeSetting {
    Covered,
    All,
    Known,
    Genuine,
    List(Vec<Guid>),
}

/// The rules of [`crate::host::policy`], owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySettings {
    pub count: CountPolicy,
    pub scope: ScopeSetting,
    /// Seconds; `None` turns the check off.
    pub max_time_skew: Option<u64>,
    /// Minutes.
    pub activation_interval: u32,
    pub renewal_interval: u32,
}

impl Default for PolicySettings {
    fn default() -> Self {
        let p = Policy::default();
        PolicySettings {
            count: p.count,
            scope: ScopeSetting::Covered,
            max_time_skew: p.max_time_skew,
            activation_interval: p.activation_interval,
            renewal_interval: p.renewal_interval,
        }
    }
}

impl PolicySettings {
    /// The core's view of these settings, for a host holding the default
    /// keys; the host model puts in the keys it holds.
    pub fn policy(&self) -> Policy<'_> {
        Policy {
            max_time_skew: self.max_time_skew,
            host_keys: catalog::HELD_BY_DEFAULT,
            scope: match &self.scope {
                ScopeSetting::Covered => Scope::Covered,
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

    /// The policy as `/api/status` reports it.
    pub fn info(&self, ndr64: bool) -> PolicyInfo {
        let (count_mode, fixed_count) = match self.count {
            CountPolicy::Sufficient => ("sufficient", None),
            CountPolicy::Genuine => ("genuine", None),
            CountPolicy::Fixed(n) => ("fixed", Some(n)),
        };
        let (scope, scope_ids) = match &self.scope {
            ScopeSetting::Covered => ("covered", Vec::new()),
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
            ndr64,
        }
    }
}

/// What one connection may use ([`Limits`], in the units people set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    pub max_requests: u32,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        let l = Limits::default();
        ConnectionLimits {
            idle_timeout: Duration::from_millis(l.idle_timeout),
            max_lifetime: Duration::from_millis(l.max_lifetime),
            max_requests: l.max_requests,
        }
    }
}

impl ConnectionLimits {
    pub fn core(&self) -> Limits {
        Limits {
            idle_timeout: self.idle_timeout.as_millis() as u64,
            max_lifetime: self.max_lifetime.as_millis() as u64,
            max_requests: self.max_requests,
        }
    }
}

/// `sufficient`, `genuine`, or a fixed count.
pub fn count(text: &str) -> Result<CountPolicy, Expected> {
    Ok(match text.trim().to_ascii_lowercase().as_str() {
        "sufficient" => CountPolicy::Sufficient,
        "genuine" => CountPolicy::Genuine,
        n => match n.parse::<u32>() {
            Ok(v) if (1..=10_000).contains(&v) => CountPolicy::Fixed(v),
            _ => return Err(Expected("sufficient, genuine or a count from 1 to 10000")),
        },
    })
}

/// `covered` (the default: what the held keys cover, and ids the
/// catalogue does not know), `all`, `known`, `genuine` (only what the held
/// keys cover), or a comma-separated list of KMS counted ids (GUIDs or
/// catalogue names).
pub fn scope(text: &str) -> Result<ScopeSetting, Expected> {
    Ok(match text.trim().to_ascii_lowercase().as_str() {
        "covered" => ScopeSetting::Covered,
        "all" => ScopeSetting::All,
        "known" => ScopeSetting::Known,
        "genuine" => ScopeSetting::Genuine,
        _ => {
            let ids: Result<Vec<Guid>, _> = text.split(',').map(kms_id).collect();
            match ids {
                Ok(ids) if !ids.is_empty() => ScopeSetting::List(ids),
                _ => return Err(Expected("covered, all, known, genuine, or a comma-separated list of KMS counted ids")),
            }
        }
    })
}

/// A KMS counted id as a GUID or a catalogue name (case-insensitive).
pub fn kms_id(text: &str) -> Result<Guid, Expected> {
    let t = text.trim();
    if let Ok(id) = Guid::parse(t) {
        return Ok(id);
    }
    catalog::KMS_IDS
        .iter()
        .find(|k| k.name.eq_ignore_ascii_case(t))
        .map(|k| k.id)
        .ok_or(Expected("a GUID or the name of a KMS counted id in the catalogue"))
}

/// Seconds (1 to 10 years), or `off`.
pub fn time_skew(text: &str) -> Result<Option<u64>, Expected> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    match t.parse::<u64>() {
        Ok(v) if (1..=10 * 365 * 86_400).contains(&v) => Ok(Some(v)),
        _ => Err(Expected("seconds from 1 to 315360000 (10 years), or off")),
    }
}

/// Minutes a client waits before retrying or renewing, 15 to 43 200.
pub fn interval(text: &str) -> Result<u32, Expected> {
    match text.trim().parse::<u32>() {
        Ok(v) if INTERVAL_RANGE.contains(&v) => Ok(v),
        _ => Err(Expected("minutes from 15 to 43200")),
    }
}

pub fn boolean(text: &str) -> Result<bool, Expected> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(Expected("true or false")),
    }
}

/// Days of event history kept, 1 to 3 650 (ten years).
pub fn event_days(text: &str) -> Result<u32, Expected> {
    match text.trim().parse::<u32>() {
        Ok(v) if (1..=3650).contains(&v) => Ok(v),
        _ => Err(Expected("days from 1 to 3650")),
    }
}

/// Seconds, above 0 and at most a day; fractions allowed (`0.5`).
pub fn seconds(text: &str) -> Result<Duration, Expected> {
    match text.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(Expected("seconds above 0 and at most 86400 (e.g. 30 or 0.5)")),
    }
}

/// Activation requests per connection, 1 to 1 000 000.
pub fn max_requests(text: &str) -> Result<u32, Expected> {
    match text.trim().parse::<u32>() {
        Ok(v) if (1..=1_000_000).contains(&v) => Ok(v),
        _ => Err(Expected("a count from 1 to 1000000")),
    }
}

/// A per-source cap (connections held, activations a minute), 1 to 1 000 000.
pub fn cap(text: &str) -> Result<u32, Expected> {
    match text.trim().parse::<u32>() {
        Ok(v) if (1..=1_000_000).contains(&v) => Ok(v),
        _ => Err(Expected("a count from 1 to 1000000")),
    }
}

/// A TCP port, 1 to 65 535.
pub fn port(text: &str) -> Result<u16, Expected> {
    match text.trim().parse::<u16>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(Expected("a TCP port from 1 to 65535")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parser_accepts_its_values_and_names_what_it_expected() {
        assert_eq!(count(" Genuine "), Ok(CountPolicy::Genuine));
        assert_eq!(count("7"), Ok(CountPolicy::Fixed(7)));
        assert!(count("0").is_err() && count("lots").is_err() && count("10001").is_err());
        let win10 = Guid::parse("58e2134f-8e11-4d17-9cb2-91069c151148").unwrap();
        let named = catalog::kms_id(&win10).unwrap().name;
        assert_eq!(scope(&std::format!("{win10}, {}", named.to_uppercase())), Ok(ScopeSetting::List(std::vec![win10, win10])));
        assert_eq!(scope("KNOWN"), Ok(ScopeSetting::Known));
        assert_eq!(scope("covered"), Ok(ScopeSetting::Covered));
        assert_eq!(PolicySettings::default().scope, ScopeSetting::Covered);
        assert!(scope("everything").is_err());
        assert_eq!(time_skew("off"), Ok(None));
        assert_eq!(time_skew("60"), Ok(Some(60)));
        assert!(time_skew("-1").is_err() && time_skew("0").is_err());
        assert_eq!(interval("15"), Ok(15));
        assert!(interval("14").is_err() && interval("43201").is_err());
        assert_eq!(boolean("On"), Ok(true));
        assert!(boolean("maybe").is_err());
        assert_eq!(seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(seconds("0").is_err() && seconds("86401").is_err());
        assert_eq!(event_days(" 7 "), Ok(7));
        assert!(event_days("0").is_err() && event_days("3651").is_err() && event_days("a week").is_err());
        assert_eq!(max_requests("1"), Ok(1));
        assert!(max_requests("0").is_err());
        assert!(port("0").is_err() && port("65536").is_err());
        assert_eq!(PolicySettings::default().policy(), Policy::default());
        assert_eq!(ConnectionLimits::default().core(), Limits::default());
    }
}
