//! The host model: everything a KMS host decides and remembers beyond the
//! wire protocol, written once for both runtimes (std, not the no_std
//! core). The native host and the edge host each hold one [`HostModel`]
//! and give it their storage through [`sql::Sql`]; neither carries its own
//! copy of these rules.
//!
//! * [`settings`] — the policy and connection settings and the one parser
//!   of each value (flags, TOML and `[vars]` alike);
//! * [`identity`] — ePIDs, HwId, host build and LCID: load-or-create;
//! * [`host_keys`] — the organisation's own host keys (CSVLKs): the one
//!   parser of `--host-key`, `[identity] host_keys` and `HOST_KEYS`;
//! * [`counts`] — the 30-day distinct-CMID count per counting group, in
//!   memory, so an activation costs O(1) whatever the registry's size;
//! * [`views`] — the `/api/*` answers;
//! * [`rate`] — per-source caps on open connections and activations per
//!   minute;
//! * [`record`] — the registry row one request leaves;
//! * [`events`] — the event history (one row per request and per DNS
//!   publishing attempt), its retention and the `/api/events` view.
//!
//! One activation: [`HostModel::check`] applies the rules (once), the
//! runtime stores the [`record::ClientRecord`] (native: journal, then
//! SQLite; edge: the Durable Object's SQLite), then
//! [`HostModel::conclude`] counts the machine and builds the decision.
pub mod counts;
pub mod events;
pub mod host_keys;
pub mod identity;
pub mod rate;
pub mod record;
pub mod settings;
pub mod sql;
pub mod views;

use crate::host::policy::{self, Decision};
use crate::kms::RequestRepr;
use crate::registry::CMID_EXPIRY_SECS;
use crate::time::FileTime;
use crate::{Guid, HResult};
use counts::Counts;
use identity::Identity;
use settings::PolicySettings;
use std::sync::Mutex;

/// How often expired CMIDs are dropped from the counts, at most.
pub const PRUNE_EVERY_SECS: i64 = 60;

/// The rules' verdict on one request: `Ok` to grant, else the refusal.
pub type Verdict = Result<(), HResult>;

/// A decided request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub decision: Decision,
    /// The group's genuine count after this request.
    pub genuine: u32,
}

#[derive(Debug)]
struct Tally {
    counts: Counts,
    pruned_at: i64,
}

pub struct HostModel {
    pub policy: PolicySettings,
    pub identity: Identity,
    tally: Mutex<Tally>,
}

impl HostModel {
    /// `counts` as rebuilt from the registry at `now` (Unix seconds).
    pub fn new(policy: PolicySettings, identity: Identity, counts: Counts, now: i64) -> HostModel {
        HostModel { policy, identity, tally: Mutex::new(Tally { counts, pruned_at: now }) }
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every refusal rule, applied once per request; the verdict goes into
    /// the record and then into [`HostModel::conclude`].
    pub fn check(&self, req: &RequestRepr, now: FileTime) -> Verdict {
        policy::check_request(req, now, &self.policy())
    }

    /// The settings' rules for a host holding this identity's keys.
    fn policy(&self) -> policy::Policy<'_> {
        policy::Policy { host_keys: &self.identity.slots, ..self.policy.policy() }
    }

    /// After the request's record is stored: counts the machine (a grant
    /// includes it, as a genuine host counts the client it answers; a
    /// refusal stops its row counting) and builds the decision.
    pub fn conclude(&self, req: &RequestRepr, verdict: Verdict, now: i64) -> Answer {
        match self.conclude_recording(req, verdict, now, |_| Ok::<(), core::convert::Infallible>(())) {
            Ok((answer, ())) => answer,
            Err(never) => match never {},
        }
    }

    /// [`HostModel::conclude`] for a runtime that records the answer with
    /// the request (the event history keeps the count each answer
    /// reported): `record` runs with the answer under the count's lock, so
    /// the count it sees is exactly the one answered even with concurrent
    /// requests; the machine is counted only if `record` succeeds.
    pub fn conclude_recording<T, E>(
        &self,
        req: &RequestRepr,
        verdict: Verdict,
        now: i64,
        record: impl FnOnce(&Answer) -> Result<T, E>,
    ) -> Result<(Answer, T), E> {
        let since = now - CMID_EXPIRY_SECS;
        let mut t = self.tally();
        if now - t.pruned_at >= PRUNE_EVERY_SECS {
            t.counts.prune(since);
            t.pruned_at = now;
        }
        let genuine = match verdict {
            Ok(()) => t.counts.after_grant(req.application, req.cmid, req.kms_id, now, since),
            Err(_) => t.counts.after_refusal(req.application, req.cmid, req.kms_id),
        };
        let answer = self.answer(req, verdict, genuine);
        let recorded = record(&answer)?;
        let counted = match verdict {
            Ok(()) => t.counts.grant(req.application, req.cmid, req.kms_id, now, since),
            Err(_) => t.counts.refuse(req.application, req.cmid, req.kms_id),
        };
        debug_assert_eq!(counted, genuine, "the count foreseen is the count made");
        Ok((answer, recorded))
    }

    fn answer(&self, req: &RequestRepr, verdict: Verdict, genuine: u32) -> Answer {
        let decision = match verdict {
            Err(hr) => Decision::Refuse(hr),
            Ok(()) => {
                let epid = self.identity.answer(&req.kms_id, &req.application);
                Decision::Grant(policy::grant(req, &self.policy(), genuine, epid, self.identity.hwid))
            }
        };
        Answer { decision, genuine }
    }

    /// Applies 30-day expiry now (also done by [`HostModel::conclude`] at
    /// most a minute apart).
    pub fn prune(&self, now: i64) {
        let mut t = self.tally();
        t.counts.prune(now - CMID_EXPIRY_SECS);
        t.pruned_at = now;
    }

    /// The in-memory genuine count of a counting group.
    pub fn genuine(&self, application: &Guid) -> u32 {
        self.tally().counts.genuine(application)
    }

    /// Granted (CMID, KMS id) rows held in memory.
    pub fn tracked_rows(&self) -> usize {
        self.tally().counts.tracked_rows()
    }
}
