//! The registry row one request leaves, and how a host that writes each
//! request on its own (the edge's Durable Object) stores it. The native
//! host journals the same fields and applies them to SQLite in groups
//! (`native::serve::store::writer`), with the grouped statements of
//! [`crate::registry`].
use super::sql::{Sql, Value};
use super::Verdict;
use crate::kms::{RequestRepr, Version};
use crate::registry::{self, counters};
use crate::Guid;
use std::format;
use std::string::String;

/// One request, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub cmid: Guid,
    pub kms_id: Guid,
    pub application: Guid,
    pub sku: Guid,
    pub workstation: String,
    /// Client address natively, branch id (or `tcp`) at the edge.
    pub remote: String,
    pub license_status: u32,
    pub protocol: Version,
    /// Unix seconds.
    pub now: i64,
    /// The answer's HRESULT (0 granted).
    pub hresult: u32,
}

impl ClientRecord {
    pub fn new(r: &RequestRepr, protocol: Version, verdict: Verdict, remote: String, now: i64) -> ClientRecord {
        let mut ws = [0u8; 192];
        ClientRecord {
            cmid: r.cmid,
            kms_id: r.kms_id,
            application: r.application,
            sku: r.sku,
            workstation: r.workstation.to_str(&mut ws).into(),
            remote,
            license_status: r.license_status,
            protocol,
            now,
            hresult: verdict.err().map_or(0, |hr| hr.0),
        }
    }

    /// Stores the row, the request counters and the hour's activity. Run
    /// it inside one transaction, so the registry never holds half a
    /// request.
    pub fn store<S: Sql>(&self, sql: &S) -> Result<(), S::Error> {
        let protocol = format!("{}.{}", self.protocol.major, self.protocol.minor);
        sql.execute(
            registry::UPSERT_CLIENT,
            &[
                self.cmid.into(),
                self.kms_id.into(),
                self.application.into(),
                self.sku.into(),
                self.workstation.as_str().into(),
                self.remote.as_str().into(),
                i64::from(self.license_status).into(),
                protocol.into(),
                self.now.into(),
                i64::from(self.hresult).into(),
            ],
        )?;
        let failed = self.hresult != 0;
        sql.execute(
            registry::BUMP_REQUEST_COUNTERS,
            &[
                counters::TOTAL.into(),
                counters::FAILED.into(),
                Value::Int(i64::from(failed)),
                format!("{}{}", counters::LICENSE_STATUS_PREFIX, self.license_status).into(),
            ],
        )?;
        sql.execute(
            registry::BUMP_ACTIVITY,
            &[(self.now / 3600).into(), Value::Int(i64::from(!failed)), Value::Int(i64::from(failed))],
        )
    }
}
