//! What a host answers, as pure functions of the request, the time and the
//! registry's count (kms-protocol.md §8.2–8.4). The defaults behave like a
//! genuine host holding the newest keys (`catalog::HELD_BY_DEFAULT`): it
//! activates what its keys cover and refuses the rest, except counted ids
//! the catalogue does not know, which it activates so that a product
//! released after this catalogue does not break a site. Each refusal rule
//! can be loosened.
use crate::catalog::{self, SlotId};
use crate::epid::Epid;
use crate::kms::RequestRepr;
use crate::time::FileTime;
use crate::{Guid, HResult};

/// Which KMS counted ids the host serves; others get `0xC004F042`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Ids a held key covers, and ids the catalogue does not know (the
    /// default). Retail, preview and beta ids are covered by no CSVLK, so
    /// they are refused, as a genuine host refuses them.
    Covered,
    /// Every id, known or not (the reference hosts' default).
    All,
    /// Ids in the catalogue.
    Known,
    /// Exactly what a genuine host answers: ids a held key covers, sent
    /// with the matching application id; unknown ids are refused.
    Genuine,
    /// Exactly these ids.
    List(&'a [Guid]),
}

/// What `CurrentCount` the host reports (§8.3). Whatever the policy, the
/// count never exceeds 2 × N (N = the request's required minimum): a
/// genuine host keeps at most that many machines in its cache ("only stores
/// the 50 most recent contacts": 50 for Windows clients, N = 25; 10 for
/// servers and Office, N = 5 — Microsoft, "KMS activation planning",
/// learn.microsoft.com/windows-server/get-started/kms-activation-planning),
/// so a larger count gives the host away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountPolicy {
    /// 2 × N: every client activates at once, with the count of a host
    /// whose cache is full.
    Sufficient,
    /// Distinct CMIDs in the last 30 days, capped at 2 × N, as a genuine
    /// host: clients activate only once enough machines have asked.
    Genuine,
    /// This number, capped at 2 × N.
    Fixed(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy<'a> {
    /// Largest tolerated difference between client and host clock, in
    /// seconds; `None` disables the check. Genuine hosts use 4 hours.
    pub max_time_skew: Option<u64>,
    pub scope: Scope<'a>,
    /// The CSVLKs the host holds: which ids it covers, and whose ePID
    /// answers (`catalog::answering`).
    pub host_keys: &'a [SlotId],
    pub count: CountPolicy,
    /// Minutes (§8.4): retry interval for not-yet-activated clients.
    pub activation_interval: u32,
    /// Minutes: renewal interval for activated clients.
    pub renewal_interval: u32,
}

impl Default for Policy<'_> {
    fn default() -> Self {
        Policy {
            max_time_skew: Some(DEFAULT_MAX_TIME_SKEW),
            scope: Scope::Covered,
            host_keys: catalog::HELD_BY_DEFAULT,
            count: CountPolicy::Sufficient,
            activation_interval: 120,
            renewal_interval: 10_080,
        }
    }
}

pub const DEFAULT_MAX_TIME_SKEW: u64 = 4 * 3600;
/// Intervals clients accept: 15 minutes to 30 days.
pub const INTERVAL_RANGE: core::ops::RangeInclusive<u32> = 15..=43_200;
/// An N policy above this is absurd (vlmcsd rejects it too).
pub const MAX_N_POLICY: u32 = 1000;

/// ±`max_skew` seconds between the client's request time and the host clock.
pub fn check_time(request_time: FileTime, now: FileTime, max_skew: Option<u64>) -> Result<(), HResult> {
    match max_skew {
        Some(max) if request_time.0.abs_diff(now.0) / 10_000_000 > max => Err(HResult::INVALID_TIMESTAMP),
        _ => Ok(()),
    }
}

/// Whether the host serves `kms_id` under `scope`, holding `host_keys`.
pub fn check_scope(kms_id: &Guid, application: &Guid, scope: Scope<'_>, host_keys: &[SlotId]) -> Result<(), HResult> {
    let covered = || catalog::covering(host_keys, kms_id).is_some();
    let served = match scope {
        Scope::Covered => catalog::kms_id(kms_id).is_none() || covered(),
        Scope::All => true,
        Scope::Known => catalog::kms_id(kms_id).is_some(),
        Scope::Genuine => {
            covered()
                && catalog::kms_id(kms_id)
                    .is_some_and(|k| catalog::application(application).is_some_and(|a| a.key == k.app))
        }
        Scope::List(ids) => ids.contains(kms_id),
    };
    if served { Ok(()) } else { Err(HResult::KMS_ID_MISMATCH) }
}

/// The count to report for a client of `application` with policy
/// `n_policy` when the registry has seen `genuine` distinct machines of
/// its group in 30 days: never above [`count_cap`].
pub fn reported_count(policy: CountPolicy, n_policy: u32, application: &Guid, genuine: u32) -> u32 {
    let cap = count_cap(n_policy, application);
    match policy {
        CountPolicy::Sufficient => cap,
        CountPolicy::Genuine => genuine.min(cap),
        CountPolicy::Fixed(n) => n.min(cap),
    }
}

/// The largest client cache a genuine host keeps (Windows: 50; Office:
/// 10), for an application the catalogue does not know.
pub const MAX_CACHE: u32 = 50;

/// The most a host reports to a client requiring `n_policy`: 2 × N (1 when
/// N is 0, as both reference hosts answer, kms-protocol.md §8.3), and never
/// more than the clients a genuine host caches for the application
/// (`min_active_clients`: 50 Windows, 10 Office): a genuine host reports
/// what its cache holds, so a request claiming N = 1000 still sees 50,
/// never an echo of its own absurd N.
pub fn count_cap(n_policy: u32, application: &Guid) -> u32 {
    let cache = catalog::application(application).map_or(MAX_CACHE, |a| a.min_active_clients);
    n_policy.saturating_mul(2).max(1).min(cache)
}

/// Every refusal rule, in the order a host applies them.
pub fn check_request(req: &RequestRepr, now: FileTime, policy: &Policy<'_>) -> Result<(), HResult> {
    if req.n_policy > MAX_N_POLICY {
        return Err(HResult::INVALID_DATA);
    }
    check_time(req.request_time, now, policy.max_time_skew)?;
    check_scope(&req.kms_id, &req.application, policy.scope, policy.host_keys)
}

/// What the host grants: its identity for the request's slot and the numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub epid: Epid,
    pub hwid: [u8; 8],
    pub current_count: u32,
    pub activation_interval: u32,
    pub renewal_interval: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Grant(Grant),
    Refuse(HResult),
}

impl Decision {
    pub fn hresult(&self) -> HResult {
        match self {
            Decision::Grant(_) => HResult::S_OK,
            Decision::Refuse(hr) => *hr,
        }
    }
}

/// What a request that passed [`check_request`] is granted, given the
/// host's identity for its ePID slot and its group's distinct-CMID count.
/// Separate from the check so a host runs the rules once per request: the
/// check's verdict decides whether the machine counts, the count decides
/// the grant.
pub fn grant(req: &RequestRepr, policy: &Policy<'_>, genuine: u32, epid: Epid, hwid: [u8; 8]) -> Grant {
    Grant {
        epid,
        hwid,
        current_count: reported_count(policy.count, req.n_policy, &req.application, genuine),
        activation_interval: policy.activation_interval,
        renewal_interval: policy.renewal_interval,
    }
}

/// The whole decision for one request: [`check_request`], then [`grant`].
pub fn decide(req: &RequestRepr, now: FileTime, policy: &Policy<'_>, genuine: u32, epid: Epid, hwid: [u8; 8]) -> Decision {
    match check_request(req, now, policy) {
        Err(hr) => Decision::Refuse(hr),
        Ok(()) => Decision::Grant(grant(req, policy, genuine, epid, hwid)),
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    const HOUR: u64 = 3600 * 10_000_000;

    #[test]
    fn time_skew_window_is_inclusive_four_hours() {
        let now = FileTime(133_485_408_000_000_000);
        let max = Some(DEFAULT_MAX_TIME_SKEW);
        assert_eq!(check_time(FileTime(now.0 + 4 * HOUR), now, max), Ok(()));
        assert_eq!(check_time(FileTime(now.0 - 4 * HOUR), now, max), Ok(()));
        assert_eq!(check_time(FileTime(now.0 + 4 * HOUR + 10_000_000), now, max), Err(HResult::INVALID_TIMESTAMP));
        assert_eq!(check_time(FileTime(now.0 - 5 * HOUR), now, max), Err(HResult::INVALID_TIMESTAMP));
        assert_eq!(check_time(FileTime(0), now, None), Ok(()));
    }

    #[test]
    fn no_policy_reports_more_than_twice_n() {
        // Sufficient: a full cache, 2N; genuine: what was seen, up to 2N; fixed: capped.
        let win = &catalog::application_by_key(catalog::AppKey::Windows).id;
        let office = &catalog::application_by_key(catalog::AppKey::Office2013).id;
        let unknown = &Guid::from_u128(7);
        assert_eq!(reported_count(CountPolicy::Sufficient, 25, win, 3), 50);
        assert_eq!(reported_count(CountPolicy::Sufficient, 5, win, 70), 10);
        assert_eq!(reported_count(CountPolicy::Sufficient, 5, office, 70), 10);
        assert_eq!(reported_count(CountPolicy::Sufficient, 0, win, 0), 1);
        assert_eq!(reported_count(CountPolicy::Genuine, 25, win, 3), 3);
        assert_eq!(reported_count(CountPolicy::Genuine, 5, win, 70), 10);
        assert_eq!(reported_count(CountPolicy::Fixed(7), 25, win, 70), 7);
        assert_eq!(reported_count(CountPolicy::Fixed(70), 25, win, 0), 50);
        assert_eq!(reported_count(CountPolicy::Fixed(70), 5, win, 0), 10);
        // An absurd N is never echoed: the application's cache bounds it.
        assert_eq!(reported_count(CountPolicy::Sufficient, 1000, win, 0), 50);
        assert_eq!(reported_count(CountPolicy::Sufficient, 1000, office, 0), 10);
        assert_eq!(reported_count(CountPolicy::Sufficient, 1000, unknown, 0), MAX_CACHE);
        assert_eq!(reported_count(CountPolicy::Sufficient, 25, office, 0), 10);
        for policy in [CountPolicy::Sufficient, CountPolicy::Genuine, CountPolicy::Fixed(10_000)] {
            for n in [1, 5, 25, 1000, MAX_N_POLICY] {
                for genuine in [0, 1, n, 2 * n, 2 * n + 1, 100_000] {
                    for app in [win, office, unknown] {
                        let r = reported_count(policy, n, app, genuine);
                        assert!(r <= 2 * n && r <= MAX_CACHE, "{policy:?} n={n} genuine={genuine}");
                    }
                }
            }
        }
    }

    #[test]
    fn scopes() {
        let win10 = Guid::parse("58e2134f-8e11-4d17-9cb2-91069c151148").unwrap();
        let win_app = Guid::parse("55c92734-d682-4d71-983e-d6ec3f16059f").unwrap();
        let office_app = Guid::parse("0ff1ce15-a989-479d-af46-f275c6370663").unwrap();
        let unknown = Guid::parse("00000000-1111-2222-3333-444444444444").unwrap();
        let held = catalog::HELD_BY_DEFAULT;
        let check = |id: &Guid, app: &Guid, scope| check_scope(id, app, scope, held);
        assert_eq!(check(&unknown, &win_app, Scope::All), Ok(()));
        assert_eq!(check(&unknown, &win_app, Scope::Known), Err(HResult::KMS_ID_MISMATCH));
        assert_eq!(check(&win10, &win_app, Scope::Known), Ok(()));
        assert_eq!(check(&win10, &win_app, Scope::Genuine), Ok(()));
        assert_eq!(check(&win10, &office_app, Scope::Genuine), Err(HResult::KMS_ID_MISMATCH));
        let list = [unknown];
        assert_eq!(check_scope(&win10, &win_app, Scope::List(&list), held), Err(HResult::KMS_ID_MISMATCH));
        assert_eq!(check_scope(&unknown, &win_app, Scope::List(&list), held), Ok(()));
        // The default: what the held keys cover, and what the catalogue does not know.
        assert_eq!(Policy::default().scope, Scope::Covered);
        assert_eq!(check(&win10, &win_app, Scope::Covered), Ok(()));
        assert_eq!(check(&unknown, &win_app, Scope::Covered), Ok(()));
        assert_eq!(check(&unknown, &win_app, Scope::Genuine), Err(HResult::KMS_ID_MISMATCH));
        // Every retail, preview or beta id is refused by default and in genuine mode.
        let flagged: std::vec::Vec<_> = catalog::KMS_IDS.iter().filter(|k| k.retail || k.preview).collect();
        assert_eq!(flagged.len(), 6);
        for k in flagged {
            let app = catalog::application_by_key(k.app).id;
            assert_eq!(check(&k.id, &app, Scope::Covered), Err(HResult::KMS_ID_MISMATCH), "{}", k.name);
            assert_eq!(check(&k.id, &app, Scope::Genuine), Err(HResult::KMS_ID_MISMATCH), "{}", k.name);
            assert_eq!(check(&k.id, &app, Scope::Known), Ok(()));
        }
        // A host holding only the Server 2019 CSVLK refuses Server 2022 and 2025
        // clients, as a genuine host with that older key does.
        let ws2019 = [catalog::slot_by_name("Windows").unwrap()];
        let ws2022 = Guid::parse("b74263e4-0f92-46c6-bcf8-c11d5efe2959").unwrap();
        assert_eq!(check_scope(&ws2022, &win_app, Scope::Covered, &ws2019), Err(HResult::KMS_ID_MISMATCH));
        assert_eq!(check_scope(&win10, &win_app, Scope::Covered, &ws2019), Ok(()));
        assert_eq!(check(&ws2022, &win_app, Scope::Covered), Ok(()));
    }
}
