//! What a host answers, as pure functions of the request, the time and the
//! registry's count (kms-protocol.md §8.2–8.4). Every refusal rule can be
//! turned off; the defaults behave like a genuine host that activates
//! everything it is asked for.
use crate::catalog;
use crate::epid::Epid;
use crate::kms::RequestRepr;
use crate::time::FileTime;
use crate::{Guid, HResult};

/// Which KMS counted ids the host serves; others get `0xC004F042`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Every id, known or not (the reference hosts' default).
    All,
    /// Ids in the catalogue.
    Known,
    /// Ids a genuine host's CSVLKs cover: in the catalogue, neither retail
    /// nor preview, and sent with the matching application id.
    Genuine,
    /// Exactly these ids.
    List(&'a [Guid]),
}

/// What `CurrentCount` the host reports (§8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountPolicy {
    /// max(genuine count, 2 × N, 1): every client activates at once.
    Sufficient,
    /// Distinct CMIDs in the last 30 days, capped at 2 × N, as a genuine
    /// host: clients activate only once enough machines have asked.
    Genuine,
    /// Always this number.
    Fixed(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy<'a> {
    /// Largest tolerated difference between client and host clock, in
    /// seconds; `None` disables the check. Genuine hosts use 4 hours.
    pub max_time_skew: Option<u64>,
    pub scope: Scope<'a>,
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
            scope: Scope::All,
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

pub fn check_scope(kms_id: &Guid, application: &Guid, scope: Scope<'_>) -> Result<(), HResult> {
    let served = match scope {
        Scope::All => true,
        Scope::Known => catalog::kms_id(kms_id).is_some(),
        Scope::Genuine => catalog::kms_id(kms_id).is_some_and(|k| {
            !k.retail && !k.preview && catalog::application(application).is_some_and(|a| a.key == k.app)
        }),
        Scope::List(ids) => ids.contains(kms_id),
    };
    if served { Ok(()) } else { Err(HResult::KMS_ID_MISMATCH) }
}

/// The count to report for a client with policy `n_policy` when the
/// registry has seen `genuine` distinct machines of its group in 30 days.
pub fn reported_count(policy: CountPolicy, n_policy: u32, genuine: u32) -> u32 {
    let twice = n_policy.saturating_mul(2);
    match policy {
        CountPolicy::Sufficient => genuine.max(twice).max(1),
        CountPolicy::Genuine => genuine.min(twice),
        CountPolicy::Fixed(n) => n,
    }
}

/// Every refusal rule, in the order a host applies them.
pub fn check_request(req: &RequestRepr, now: FileTime, policy: &Policy<'_>) -> Result<(), HResult> {
    if req.n_policy > MAX_N_POLICY {
        return Err(HResult::INVALID_DATA);
    }
    check_time(req.request_time, now, policy.max_time_skew)?;
    check_scope(&req.kms_id, &req.application, policy.scope)
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
        current_count: reported_count(policy.count, req.n_policy, genuine),
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
    fn count_policies() {
        assert_eq!(reported_count(CountPolicy::Sufficient, 25, 3), 50);
        assert_eq!(reported_count(CountPolicy::Sufficient, 5, 70), 70);
        assert_eq!(reported_count(CountPolicy::Sufficient, 0, 0), 1);
        assert_eq!(reported_count(CountPolicy::Genuine, 25, 3), 3);
        assert_eq!(reported_count(CountPolicy::Genuine, 5, 70), 10);
        assert_eq!(reported_count(CountPolicy::Fixed(7), 25, 70), 7);
    }

    #[test]
    fn scopes() {
        let win10 = Guid::parse("58e2134f-8e11-4d17-9cb2-91069c151148").unwrap();
        let win_app = Guid::parse("55c92734-d682-4d71-983e-d6ec3f16059f").unwrap();
        let office_app = Guid::parse("0ff1ce15-a989-479d-af46-f275c6370663").unwrap();
        let unknown = Guid::parse("00000000-1111-2222-3333-444444444444").unwrap();
        assert_eq!(check_scope(&unknown, &win_app, Scope::All), Ok(()));
        assert_eq!(check_scope(&unknown, &win_app, Scope::Known), Err(HResult::KMS_ID_MISMATCH));
        assert_eq!(check_scope(&win10, &win_app, Scope::Known), Ok(()));
        assert_eq!(check_scope(&win10, &win_app, Scope::Genuine), Ok(()));
        assert_eq!(check_scope(&win10, &office_app, Scope::Genuine), Err(HResult::KMS_ID_MISMATCH));
        assert_eq!(check_scope(&win10, &win_app, Scope::List(&[unknown])), Err(HResult::KMS_ID_MISMATCH));
        assert_eq!(check_scope(&unknown, &win_app, Scope::List(&[unknown])), Ok(()));
        // Retail and preview groups are refused in genuine mode.
        let flagged = crate::catalog::KMS_IDS.iter().find(|k| k.retail || k.preview).expect("catalogue has one");
        let app = crate::catalog::application_by_key(flagged.app).id;
        assert_eq!(check_scope(&flagged.id, &app, Scope::Genuine), Err(HResult::KMS_ID_MISMATCH));
        assert_eq!(check_scope(&flagged.id, &app, Scope::Known), Ok(()));
    }
}
