//! The JSON shapes of the hosts' HTTP API (`/api/status`, `/api/clients`,
//! `/api/activity`, `/api/events`), shared by the native host and the edge host so the
//! dashboard in `www/` reads either without knowing which it talks to.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::string::String;
use std::vec::Vec;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Status {
    /// "native" or "edge".
    pub runtime: String,
    pub version: String,
    /// Unix seconds.
    pub started_at: i64,
    pub uptime_secs: i64,
    /// Where KMS is served: socket addresses natively, entry paths at the edge.
    pub listen: Vec<String>,
    pub identity: Identity,
    pub policy: PolicyInfo,
    pub counters: Counters,
    /// One entry per KMS counted id seen in the last 30 days.
    pub counts: Vec<CountEntry>,
    /// DNS SRV publishing state, where the host has it.
    pub dns: Option<DnsInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Identity {
    /// ePID per slot, in catalogue order.
    pub epids: Vec<SlotEpid>,
    /// 16 hex digits.
    pub hwid: String,
    pub host_build: u32,
    pub lcid: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SlotEpid {
    pub slot: String,
    pub csvlk_name: String,
    pub epid: String,
    /// "generated", "fixed" (the administrator's `--epid`) or "installed
    /// key …ABCDE" (the organisation's host key, by its last five
    /// characters only).
    #[serde(default)]
    pub origin: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PolicyInfo {
    /// "sufficient", "genuine" or "fixed".
    pub count_mode: String,
    /// With count_mode "fixed".
    pub fixed_count: Option<u32>,
    /// "all", "known", "genuine" or "list".
    pub scope: String,
    /// With scope "list".
    pub scope_ids: Vec<String>,
    /// Seconds; None when the check is off.
    pub max_time_skew_secs: Option<u64>,
    pub activation_interval: u32,
    pub renewal_interval: u32,
    pub ndr64: bool,
}

/// Request counters in the `slmgr /dlv` layout.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counters {
    pub total: u64,
    pub failed: u64,
    /// Licence status name ("Unlicensed", "Licensed", "OOB grace", …) → requests.
    pub by_license_status: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CountEntry {
    pub kms_id: String,
    /// Catalogue name, or "Unknown".
    pub name: String,
    pub application: String,
    /// Distinct granted CMIDs of this counted id in the last 30 days.
    pub genuine: u64,
    /// Distinct CMIDs including refused ones.
    pub clients: u64,
    /// Distinct granted CMIDs of the whole application (the counting group).
    pub group_genuine: u64,
    /// Clients of this id need this many (25 Windows client, 5 otherwise).
    pub threshold: u32,
    /// What the host reports to a client of this id under the current policy.
    pub reported: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DnsInfo {
    pub publishing: bool,
    /// e.g. "published", "failed: <cause>", "off".
    pub state: String,
    pub record: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClientRow {
    pub cmid: String,
    pub kms_id: String,
    pub product: String,
    pub application: String,
    pub sku: String,
    pub sku_name: String,
    pub workstation: String,
    /// Client address natively, branch credential at the edge.
    pub remote: String,
    pub license_status: u32,
    pub license_status_name: String,
    pub protocol: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub requests: u64,
    /// "0x00000000" style.
    pub last_hresult: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClientPage {
    /// Rows matching the filter (all pages).
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    pub clients: Vec<ClientRow>,
}

/// Query of `/api/clients`: `?q=&kms_id=&sort=&order=&offset=&limit=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ClientQuery {
    /// Substring of workstation, CMID, remote or product.
    pub q: Option<String>,
    pub kms_id: Option<String>,
    /// A column of ClientRow: last_seen (default), first_seen, workstation, …
    pub sort: Option<String>,
    /// "asc" or "desc" (default).
    pub order: Option<String>,
    pub offset: Option<u64>,
    /// Default 100, at most 1000.
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActivityPoint {
    /// Unix seconds at the start of the bucket.
    pub start: i64,
    pub ok: u64,
    pub failed: u64,
}

/// `/api/activity`: per hour for the last 48 h, per day for the last 30 days.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Activity {
    pub hourly: Vec<ActivityPoint>,
    pub daily: Vec<ActivityPoint>,
}

/// One entry of the event history (`/api/events`): a request (event 12290
/// of a genuine host) or a DNS publishing attempt (12293 failed, 12294
/// published). The fields of the other kind are absent (null).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventRow {
    /// Unix seconds.
    pub time: i64,
    /// "request", "dns" or "setting" (a change on the running host: `name`
    /// the setting, `message` its new value).
    pub kind: String,
    /// 12290, 12293 or 12294.
    pub event_id: u32,
    /// "0x00000000" style; 0 is success.
    pub result: String,
    /// Client address natively, branch credential (or "tcp") at the edge.
    pub remote: Option<String>,
    pub workstation: Option<String>,
    pub cmid: Option<String>,
    pub kms_id: Option<String>,
    /// Catalogue name of the KMS counted id, or "Unknown".
    pub product: Option<String>,
    pub sku: Option<String>,
    pub sku_name: Option<String>,
    /// "6.0" style.
    pub protocol: Option<String>,
    /// The count the answer reported; null when refused.
    pub reported: Option<u32>,
    /// The SRV record published.
    pub name: Option<String>,
    /// The DNS server it was sent to.
    pub server: Option<String>,
    /// What the server answered, as a sentence.
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventPage {
    /// Events matching the filter (all pages).
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
    /// Newest first.
    pub events: Vec<EventRow>,
}

/// Query of `/api/events` and `/api/events.csv`:
/// `?since=&until=&cmid=&workstation=&product=&result=&kind=&offset=&limit=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EventQuery {
    /// Unix seconds: events at or after.
    pub since: Option<i64>,
    /// Unix seconds: events before.
    pub until: Option<i64>,
    pub cmid: Option<String>,
    /// Substring of the workstation name, case-insensitive.
    pub workstation: Option<String>,
    /// A KMS counted id or SKU id, or part of a catalogue name.
    pub product: Option<String>,
    /// "ok", "error" or one HRESULT (0xC004F042).
    pub result: Option<String>,
    /// "request", "dns" or "setting".
    pub kind: Option<String>,
    pub offset: Option<u64>,
    /// Default 100, at most 1000 (CSV: default and at most 100 000).
    pub limit: Option<u64>,
}

/// `GET /api/settings` (and the answer to `PUT`): what `slmgr /dlv` and the
/// Volume Activation Tools wizard's configuration page show of a host's
/// settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Settings {
    pub kms_enabled: bool,
    /// The KMS TCP port; null at the edge, which has no port of its own.
    pub port: Option<u16>,
    pub dns_publishing: bool,
    /// The SRV record published while publishing is on (zone-file text),
    /// where the host has a DNS configuration.
    pub dns_record: Option<String>,
    /// "normal" or "low".
    pub priority: String,
    /// Minutes.
    pub activation_interval: u32,
    pub renewal_interval: u32,
    /// The organisation's installed host keys, by their last five characters.
    pub host_keys: Vec<HostKeyInfo>,
    /// Settings changed at runtime, which override the start-up configuration.
    pub changed: Vec<String>,
    /// Setting → how this host applies it, where it differs from Windows.
    pub notes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HostKeyInfo {
    /// The last five characters, as `slmgr /dlv`'s partial product key.
    pub partial: String,
    /// The catalogue's name of the held key it is.
    pub slot: String,
    pub csvlk_name: String,
}

/// `PUT /api/settings`: one change, as one slmgr verb makes it. `setting`
/// is port, dns_publishing, priority, activation_interval,
/// renewal_interval, install_key or uninstall_key (value: the last five
/// characters of the key, or null for every installed key).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SettingChange {
    pub setting: String,
    #[serde(default)]
    pub value: Option<String>,
}
