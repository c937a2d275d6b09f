//! Administration of a running host, as `slmgr` administers a Windows KMS
//! host: the port (`/sprt`), DNS publishing (`/cdns`, `/sdns`), priority
//! (`/cpri`, `/spri`), the activation and renewal intervals (`/sai`,
//! `/sri`) and the host keys (`/ipk`, `/upk`), written once for both hosts.
//!
//! A change is validated here (one line naming the problem, nothing
//! changed), then stored in the registry's `settings` table together with
//! an event in the history ([`SettingEvent`]), in the runtime's one
//! transaction; the runtime then applies it. Precedence: a setting stored
//! at runtime overrides the start-up configuration (flags, kmsedge.toml,
//! the Worker's `[vars]`/secrets) at every later start, until it is changed
//! again; a setting never changed at runtime keeps its start-up value.
//! `host_keys` is one setting: once a key is installed or removed at
//! runtime, the stored list replaces the configured one entirely.
//!
//! Sources: Microsoft, "Appendix C: KMS Activation Configuration"
//! (learn.microsoft.com/previous-versions/bb490217): `-sprt` sets the
//! listening port, `-sdns` / `-cdns` turn dynamic DNS publishing on
//! (default) / off, `-cpri` / `-spri` set the KMS priority to low / normal
//! (default); "SetVLActivationInterval" and "SetVLRenewalInterval" of the
//! SoftwareLicensingService WMI class (learn.microsoft.com,
//! previous-versions/windows/desktop/sppwmi): both intervals are minutes
//! from 15 to 43 200; "Slmgr.vbs options for obtaining volume activation
//! information" (windows-server/get-started/activation-slmgr-vbs-options)
//! for `/sai`, `/sri`, `/ipk`, `/upk` and `/dlv`.
use super::events::SettingEvent;
use super::host_keys::{self, HostKeys, Installed};
use super::settings::{self, Expected};
use super::sql::Sql;
use crate::api;
use crate::catalog;
use crate::registry;
use std::borrow::ToOwned;
use std::collections::BTreeMap;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

/// Setting names, as stored and as the API names them.
pub mod names {
    pub const PORT: &str = "port";
    pub const DNS_PUBLISHING: &str = "dns_publishing";
    pub const PRIORITY: &str = "priority";
    pub const ACTIVATION_INTERVAL: &str = "activation_interval";
    pub const RENEWAL_INTERVAL: &str = "renewal_interval";
    pub const HOST_KEYS: &str = "host_keys";
    /// Changes only, not stored under this name: `ipk` / `upk`.
    pub const INSTALL_KEY: &str = "install_key";
    pub const UNINSTALL_KEY: &str = "uninstall_key";
}

/// Where a stored host key came from, for its refusal line.
const RUNTIME_KEY: &str = "host key installed at runtime";

/// KMS service priority (`slmgr /cpri`, `/spri`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Priority {
    #[default]
    Normal,
    Low,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Normal => "normal",
            Priority::Low => "low",
        }
    }
}

/// `low` or `normal`.
pub fn priority(text: &str) -> Result<Priority, Expected> {
    match text.trim().to_ascii_lowercase().as_str() {
        "normal" => Ok(Priority::Normal),
        "low" => Ok(Priority::Low),
        _ => Err(Expected("low or normal")),
    }
}

/// The settings an administrator can change on a running host, as they
/// are in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// The KMS port; `None` on a host without a port of its own (the edge).
    pub port: Option<u16>,
    pub dns_publishing: bool,
    pub priority: Priority,
    pub activation_interval: u32,
    pub renewal_interval: u32,
    pub host_keys: HostKeys,
    /// Names of the settings whose value was stored at runtime.
    pub changed: Vec<&'static str>,
}

/// What the registry's `settings` table holds (`None`: never changed at
/// runtime).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    pub port: Option<u16>,
    pub dns_publishing: Option<bool>,
    pub priority: Option<Priority>,
    pub activation_interval: Option<u32>,
    pub renewal_interval: Option<u32>,
    pub host_keys: Option<HostKeys>,
}

/// A stored value no parser accepts (the registry was edited by hand, or
/// by a newer version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredError(pub String);

impl core::fmt::Display for StoredError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Stored {
    /// Reads every stored setting; a value that does not parse is an
    /// error naming the setting, so the host does not start on a guess.
    pub fn load<S: Sql>(sql: &S) -> Result<Stored, StoredError> {
        let rows = sql.query(registry::ALL_SETTINGS, &[]).map_err(|e| StoredError(format!("registry: {e}")))?;
        let mut s = Stored::default();
        for row in rows {
            let (name, value) = (row[0].text(), row[1].text());
            let bad = |e: Expected| StoredError(format!("registry setting {name} holds {value:?}: expected {e}"));
            match name.as_str() {
                names::PORT => s.port = Some(settings::port(&value).map_err(bad)?),
                names::DNS_PUBLISHING => s.dns_publishing = Some(settings::boolean(&value).map_err(bad)?),
                names::PRIORITY => s.priority = Some(priority(&value).map_err(bad)?),
                names::ACTIVATION_INTERVAL => s.activation_interval = Some(settings::interval(&value).map_err(bad)?),
                names::RENEWAL_INTERVAL => s.renewal_interval = Some(settings::interval(&value).map_err(bad)?),
                names::HOST_KEYS => {
                    let keys = host_keys::parse(value.split(',').map(str::trim).filter(|k| !k.is_empty()).map(|k| (RUNTIME_KEY, k)))
                        .map_err(|e| StoredError(format!("registry setting {name}: {e}")))?;
                    s.host_keys = Some(keys);
                }
                // A setting of a newer version: ignored, not guessed at.
                _ => {}
            }
        }
        Ok(s)
    }

    /// `startup` with these stored values over it.
    pub fn over(&self, startup: Admin) -> Admin {
        let mut a = startup;
        let mut changed = Vec::new();
        if let Some(p) = self.port {
            if a.port.is_some() {
                a.port = Some(p);
                changed.push(names::PORT);
            }
        }
        if let Some(v) = self.dns_publishing {
            a.dns_publishing = v;
            changed.push(names::DNS_PUBLISHING);
        }
        if let Some(v) = self.priority {
            a.priority = v;
            changed.push(names::PRIORITY);
        }
        if let Some(v) = self.activation_interval {
            a.activation_interval = v;
            changed.push(names::ACTIVATION_INTERVAL);
        }
        if let Some(v) = self.renewal_interval {
            a.renewal_interval = v;
            changed.push(names::RENEWAL_INTERVAL);
        }
        if let Some(k) = &self.host_keys {
            a.host_keys = k.clone();
            changed.push(names::HOST_KEYS);
        }
        a.changed = changed;
        a
    }
}

/// One administrator's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Port(u16),
    DnsPublishing(bool),
    Priority(Priority),
    ActivationInterval(u32),
    RenewalInterval(u32),
    /// `slmgr /ipk`: the key takes the place of the installed key it
    /// replaces, if any.
    InstallKey(Installed),
    /// `slmgr /upk`: the installed key ending in these characters, or all
    /// of them.
    UninstallKey(Option<String>),
}

/// A refused change: one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl core::fmt::Display for Refused {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Reads a change from the API's `{setting, value}`.
pub fn change(setting: &str, value: Option<&str>) -> Result<Change, Refused> {
    let need = || value.ok_or_else(|| Refused(format!("{setting} needs a value")));
    let bad = |e: Expected| Refused(format!("{setting}: expected {e}, got {:?}", value.unwrap_or("")));
    Ok(match setting {
        names::PORT => Change::Port(settings::port(need()?).map_err(bad)?),
        names::DNS_PUBLISHING => Change::DnsPublishing(settings::boolean(need()?).map_err(bad)?),
        names::PRIORITY => Change::Priority(priority(need()?).map_err(bad)?),
        names::ACTIVATION_INTERVAL => Change::ActivationInterval(settings::interval(need()?).map_err(bad)?),
        names::RENEWAL_INTERVAL => Change::RenewalInterval(settings::interval(need()?).map_err(bad)?),
        names::INSTALL_KEY => {
            let keys = host_keys::parse([("host key", need()?)]).map_err(|e| Refused(e.to_string()))?;
            Change::InstallKey(*keys.iter().next().ok_or_else(|| Refused("install_key needs a key".into()))?)
        }
        names::UNINSTALL_KEY => {
            let partial = value.map(str::trim).filter(|p| !p.is_empty()).map(|p| p.trim_start_matches('…').to_ascii_uppercase());
            if let Some(p) = &partial
                && (p.len() != 5 || !p.chars().all(|c| c.is_ascii_alphanumeric()))
            {
                return Err(Refused(format!("uninstall_key: expected the last five characters of an installed key, got {p:?}")));
            }
            Change::UninstallKey(partial)
        }
        other => {
            return Err(Refused(format!(
                "no setting {other:?}: expected port, dns_publishing, priority, activation_interval, renewal_interval, install_key or uninstall_key"
            )));
        }
    })
}

/// A validated change: the settings it leads to, and what to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub after: Admin,
    /// The stored setting (`settings.name`) and its new value.
    pub name: &'static str,
    value: String,
    /// The event's text: the new value, a key by its last five characters.
    pub message: String,
}

impl Plan {
    /// Stores the setting and its event; run both in one transaction.
    pub fn store<S: Sql>(&self, sql: &S, now: i64) -> Result<(), S::Error> {
        sql.execute(registry::SET_SETTING, &[self.name.into(), self.value.as_str().into(), now.into()])?;
        SettingEvent { time: now, name: self.name.into(), message: self.message.clone() }.store(sql)
    }
}

fn keys_text(keys: &HostKeys) -> String {
    keys.iter().map(|i| i.key.secret().as_str().to_owned()).collect::<Vec<_>>().join(",")
}

fn keys_message(keys: &HostKeys) -> String {
    if keys.is_empty() {
        return "none (the keys held by default)".into();
    }
    keys.iter().map(|i| format!("…{} ({})", i.key.partial(), i.slot.get().csvlk_name)).collect::<Vec<_>>().join(", ")
}

/// Checks `change` against the settings in effect; nothing is stored.
pub fn plan(current: &Admin, change: &Change) -> Result<Plan, Refused> {
    let mut after = current.clone();
    let mark = |after: &mut Admin, name: &'static str| {
        if !after.changed.contains(&name) {
            after.changed.push(name);
        }
    };
    let (name, value, message) = match change {
        Change::Port(p) => {
            if current.port.is_none() {
                return Err(Refused("this host has no KMS port of its own to change (the edge is reached through Cloudflare)".into()));
            }
            after.port = Some(*p);
            (names::PORT, p.to_string(), p.to_string())
        }
        Change::DnsPublishing(on) => {
            after.dns_publishing = *on;
            (names::DNS_PUBLISHING, on.to_string(), if *on { "on" } else { "off" }.into())
        }
        Change::Priority(p) => {
            after.priority = *p;
            (names::PRIORITY, p.as_str().into(), p.as_str().into())
        }
        Change::ActivationInterval(m) => {
            after.activation_interval = *m;
            (names::ACTIVATION_INTERVAL, m.to_string(), format!("{m} minutes"))
        }
        Change::RenewalInterval(m) => {
            after.renewal_interval = *m;
            (names::RENEWAL_INTERVAL, m.to_string(), format!("{m} minutes"))
        }
        Change::InstallKey(new) => {
            // As slmgr /ipk: the new key takes the place of the one it
            // replaces; the list is then checked as a whole.
            let kept = current.host_keys.iter().filter(|i| !catalog::replaces(new.slot, i.slot) && !catalog::replaces(i.slot, new.slot));
            let texts: Vec<String> = kept.map(|i| i.key.secret().as_str().to_owned()).chain([new.key.secret().as_str().to_owned()]).collect();
            after.host_keys = host_keys::parse(texts.iter().map(|t| ("host key", t.as_str()))).map_err(|e| Refused(e.to_string()))?;
            (names::HOST_KEYS, keys_text(&after.host_keys), format!("installed …{}; now {}", new.key.partial(), keys_message(&after.host_keys)))
        }
        Change::UninstallKey(partial) => {
            if current.host_keys.is_empty() {
                return Err(Refused("no host key is installed (the host holds its default keys)".into()));
            }
            let texts: Vec<String> = match partial {
                None => Vec::new(),
                Some(p) => {
                    if !current.host_keys.iter().any(|i| i.key.partial() == p.as_str()) {
                        let have: Vec<String> = current.host_keys.iter().map(|i| format!("…{}", i.key.partial())).collect();
                        return Err(Refused(format!("no installed host key ends in {p}; installed: {}", have.join(", "))));
                    }
                    current.host_keys.iter().filter(|i| i.key.partial() != p.as_str()).map(|i| i.key.secret().as_str().to_owned()).collect()
                }
            };
            after.host_keys = host_keys::parse(texts.iter().map(|t| (RUNTIME_KEY, t.as_str()))).map_err(|e| Refused(e.to_string()))?;
            let removed = partial.as_deref().map_or_else(|| "every installed key".to_owned(), |p| format!("…{p}"));
            (names::HOST_KEYS, keys_text(&after.host_keys), format!("uninstalled {removed}; now {}", keys_message(&after.host_keys)))
        }
    };
    mark(&mut after, name);
    Ok(Plan { after, name, value, message })
}

/// What a runtime adds to [`view`]: the record it publishes, and where it
/// does not apply a setting, why.
#[derive(Debug, Clone, Default)]
pub struct RuntimeNotes {
    pub dns_record: Option<String>,
    pub notes: BTreeMap<String, String>,
}

/// `GET /api/settings`.
pub fn view(a: &Admin, rt: RuntimeNotes) -> api::Settings {
    api::Settings {
        kms_enabled: true,
        port: a.port,
        dns_publishing: a.dns_publishing,
        dns_record: rt.dns_record,
        priority: a.priority.as_str().into(),
        activation_interval: a.activation_interval,
        renewal_interval: a.renewal_interval,
        host_keys: a
            .host_keys
            .iter()
            .map(|i| api::HostKeyInfo {
                partial: i.key.partial().into(),
                slot: i.slot.get().name.into(),
                csvlk_name: i.slot.get().csvlk_name.into(),
            })
            .collect(),
        changed: a.changed.iter().map(|n| (*n).to_owned()).collect(),
        notes: rt.notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkey;

    /// A made Windows Server 2022 CSVLK (group 4573, a serial in the
    /// catalogue's key block), as the host_keys tests make theirs.
    fn made_key(nth: u32) -> String {
        let k = pkey::ProductKey { group: 4573, serial: 30_123 + nth, security: 0x1234_5678_9abc, upgrade: false, extra: false };
        pkey::encode(&k).unwrap().as_str().to_string()
    }

    fn startup() -> Admin {
        Admin {
            port: Some(1688),
            dns_publishing: true,
            priority: Priority::Normal,
            activation_interval: 120,
            renewal_interval: 10_080,
            host_keys: HostKeys::default(),
            changed: Vec::new(),
        }
    }

    #[test]
    fn each_change_is_validated_in_one_line() {
        assert_eq!(change("activation_interval", Some("15")), Ok(Change::ActivationInterval(15)));
        assert_eq!(change("renewal_interval", Some("43200")), Ok(Change::RenewalInterval(43_200)));
        let e = change("renewal_interval", Some("43201")).unwrap_err().0;
        assert_eq!(e, "renewal_interval: expected minutes from 15 to 43200, got \"43201\"");
        assert!(change("activation_interval", Some("14")).is_err());
        assert!(change("port", Some("0")).unwrap_err().0.contains("a TCP port from 1 to 65535"));
        assert_eq!(change("priority", Some("LOW")), Ok(Change::Priority(Priority::Low)));
        assert!(change("priority", Some("high")).unwrap_err().0.contains("low or normal"));
        assert_eq!(change("dns_publishing", Some("off")), Ok(Change::DnsPublishing(false)));
        assert!(change("port", None).unwrap_err().0.contains("needs a value"));
        assert!(change("colour", Some("x")).unwrap_err().0.starts_with("no setting \"colour\""));
        assert_eq!(change("uninstall_key", None), Ok(Change::UninstallKey(None)));
        assert_eq!(change("uninstall_key", Some("…abcde")), Ok(Change::UninstallKey(Some("ABCDE".into()))));
        assert!(change("uninstall_key", Some("ABCDEFG")).is_err());
        for e in [change("install_key", Some("not a key")).unwrap_err().0, change("renewal_interval", Some("x\ny")).unwrap_err().0] {
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn install_replaces_the_key_of_its_kind_and_uninstall_names_one() {
        let a = startup();
        let first = match change("install_key", Some(&made_key(0))).unwrap() {
            Change::InstallKey(i) => i,
            _ => unreachable!(),
        };
        let p = plan(&a, &Change::InstallKey(first)).unwrap();
        assert_eq!(p.name, names::HOST_KEYS);
        assert_eq!(p.after.host_keys.iter().count(), 1);
        assert!(p.message.contains(first.key.partial()) && !p.message.contains(first.key.secret().as_str()), "{}", p.message);
        assert_eq!(p.after.changed, [names::HOST_KEYS]);
        // A second Windows key takes the first one's place.
        let second = match change("install_key", Some(&made_key(1))).unwrap() {
            Change::InstallKey(i) => i,
            _ => unreachable!(),
        };
        let q = plan(&p.after, &Change::InstallKey(second)).unwrap();
        assert_eq!(q.after.host_keys.iter().map(|i| i.key).collect::<Vec<_>>(), [second.key]);
        // upk names a key by its last five characters.
        let e = plan(&q.after, &Change::UninstallKey(Some("ZZZZZ".into()))).unwrap_err().0;
        assert!(e.starts_with("no installed host key ends in ZZZZZ; installed: …"), "{e}");
        let r = plan(&q.after, &Change::UninstallKey(Some(second.key.partial().into()))).unwrap();
        assert!(r.after.host_keys.is_empty());
        assert!(plan(&r.after, &Change::UninstallKey(None)).unwrap_err().0.starts_with("no host key is installed"));
    }

    #[test]
    fn a_port_change_needs_a_port_of_its_own() {
        let mut edge = startup();
        edge.port = None;
        assert!(plan(&edge, &Change::Port(1689)).unwrap_err().0.contains("no KMS port of its own"));
        assert_eq!(plan(&startup(), &Change::Port(1689)).unwrap().after.port, Some(1689));
    }

    #[test]
    fn stored_values_override_the_startup_ones_and_bad_ones_are_named() {
        let stored = Stored { activation_interval: Some(60), dns_publishing: Some(false), port: Some(1700), ..Stored::default() };
        let a = stored.over(startup());
        assert_eq!((a.activation_interval, a.renewal_interval, a.dns_publishing, a.port), (60, 10_080, false, Some(1700)));
        assert_eq!(a.changed, [names::PORT, names::DNS_PUBLISHING, names::ACTIVATION_INTERVAL]);
        let mut edge = startup();
        edge.port = None;
        assert_eq!(stored.over(edge).port, None, "a stored port does not give the edge one");
    }
}
