//! Who may use the tunnel and the admin API.
//!
//! **Branch credentials** (the tunnel): the Worker secret `BRANCH_TOKENS`
//! holds a JSON object mapping each branch's id to its secret,
//! `{"paris": "…", "lyon": "…"}` (`wrangler secret put BRANCH_TOKENS`;
//! `.dev.vars` locally). A branch presents them either as the headers that
//! `cloudflared access tcp --service-token-id ID --service-token-secret S`
//! sends (`Cf-Access-Client-Id: ID`, `Cf-Access-Client-Secret: S`) or as
//! `Authorization: Bearer S` (`kmsedge bridge --token S`). The branch id is
//! what the registry records as each client's `remote`. One JSON secret
//! rather than one secret per branch, because a Worker cannot list its
//! secrets: adding a branch is one `wrangler secret put`, no code change.
//!
//! **Admin token** (`/api/*`): the secret `ADMIN_TOKEN`, presented as
//! `Authorization: Bearer …`. Without it set, the API refuses everyone.
//!
//! Every comparison is constant-time over SHA-256 digests, so neither the
//! content nor the length of a secret leaks through timing, and a bearer
//! token is checked against every branch without stopping at a match.
use crate::crypto::sha256;
use subtle::{Choice, ConstantTimeEq};

/// Secrets shorter than this are refused at load time: a guessable tunnel
/// credential would open the organisation's KMS host to anyone.
pub const MIN_SECRET_LEN: usize = 16;

/// What a request presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// `Cf-Access-Client-Id` / `Cf-Access-Client-Secret` (cloudflared service token).
    ServiceToken { id: &'a str, secret: &'a str },
    /// `Authorization: Bearer <secret>`.
    Bearer(&'a str),
}

struct Branch {
    id: String,
    id_digest: [u8; 32],
    secret_digest: [u8; 32],
}

/// The configured branch credentials.
pub struct Branches {
    branches: Vec<Branch>,
    /// Entries refused at load (for the log): branch id and why.
    pub rejected: Vec<(String, &'static str)>,
}

/// `BRANCH_TOKENS` is not a JSON object of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchTokensError(pub String);

impl core::fmt::Display for BranchTokensError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "secret BRANCH_TOKENS: {} (expected a JSON object {{\"branch-id\": \"secret\", …}})", self.0)
    }
}

impl Branches {
    /// Parses the `BRANCH_TOKENS` secret; `None` (unset) means no branch may
    /// connect. Entries with an empty id or a short secret are skipped and
    /// listed in `rejected`.
    pub fn parse(json: Option<&str>) -> Result<Branches, BranchTokensError> {
        let mut out = Branches { branches: Vec::new(), rejected: Vec::new() };
        let Some(json) = json else { return Ok(out) };
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|e| BranchTokensError(e.to_string()))?;
        for (id, v) in map {
            let Some(secret) = v.as_str() else {
                return Err(BranchTokensError(format!("the value for {id:?} is not a string")));
            };
            if id.is_empty() || id.len() > 128 {
                out.rejected.push((id, "branch id must be 1 to 128 characters"));
            } else if secret.len() < MIN_SECRET_LEN {
                out.rejected.push((id, "secret shorter than 16 characters"));
            } else {
                out.branches.push(Branch { id_digest: sha256(id.as_bytes()), secret_digest: sha256(secret.as_bytes()), id });
            }
        }
        Ok(out)
    }

    pub fn len(&self) -> usize {
        self.branches.len()
    }

    pub fn is_empty(&self) -> bool {
        self.branches.is_empty()
    }

    /// The branch id the credential belongs to. Examines every branch
    /// whatever matches, so the time taken depends only on the number of
    /// branches.
    pub fn authenticate(&self, cred: &Credential<'_>) -> Option<&str> {
        let (id, secret) = match cred {
            Credential::ServiceToken { id, secret } => (Some(sha256(id.as_bytes())), sha256(secret.as_bytes())),
            Credential::Bearer(secret) => (None, sha256(secret.as_bytes())),
        };
        let mut found: Option<&str> = None;
        for b in &self.branches {
            let id_ok = match &id {
                Some(d) => b.id_digest.ct_eq(d),
                None => Choice::from(1),
            };
            let ok: bool = (id_ok & b.secret_digest.ct_eq(&secret)).into();
            if ok && found.is_none() {
                found = Some(&b.id);
            }
        }
        found
    }
}

/// Constant-time equality of a presented admin token and the configured one.
/// An unset or empty configured token never matches.
pub fn admin_ok(configured: Option<&str>, presented: Option<&str>) -> bool {
    match (configured, presented) {
        (Some(c), Some(p)) if !c.is_empty() => sha256(c.as_bytes()).ct_eq(&sha256(p.as_bytes())).into(),
        _ => false,
    }
}

/// The token of an `Authorization: Bearer <token>` header value (the scheme
/// is case-insensitive, as HTTP says).
pub fn bearer(authorization: Option<&str>) -> Option<&str> {
    let v = authorization?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The credential a tunnel request carries: service-token headers win over
/// `Authorization`, as cloudflared sends only those.
pub fn credential<'a>(
    access_id: Option<&'a str>,
    access_secret: Option<&'a str>,
    authorization: Option<&'a str>,
) -> Option<Credential<'a>> {
    match (access_id, access_secret) {
        (Some(id), Some(secret)) => Some(Credential::ServiceToken { id: id.trim(), secret: secret.trim() }),
        _ => bearer(authorization).map(Credential::Bearer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKENS: &str = r#"{"paris": "0123456789abcdef-paris", "lyon": "0123456789abcdef-lyon", "weak": "short"}"#;

    #[test]
    fn branch_credentials() {
        let b = Branches::parse(Some(TOKENS)).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b.rejected, vec![("weak".to_string(), "secret shorter than 16 characters")]);
        let st = |id, secret| Credential::ServiceToken { id, secret };
        assert_eq!(b.authenticate(&st("paris", "0123456789abcdef-paris")), Some("paris"));
        assert_eq!(b.authenticate(&st("lyon", "0123456789abcdef-paris")), None);
        assert_eq!(b.authenticate(&st("paris", "0123456789abcdef-paris ")), None);
        assert_eq!(b.authenticate(&st("weak", "short")), None);
        assert_eq!(b.authenticate(&Credential::Bearer("0123456789abcdef-lyon")), Some("lyon"));
        assert_eq!(b.authenticate(&Credential::Bearer("")), None);
        assert!(Branches::parse(None).unwrap().is_empty());
        assert!(Branches::parse(Some("[1]")).is_err());
        assert!(Branches::parse(Some(r#"{"a": 1}"#)).is_err());
    }

    #[test]
    fn headers_and_admin_token() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer   abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
        assert_eq!(
            credential(Some("id"), Some("s"), Some("Bearer t")),
            Some(Credential::ServiceToken { id: "id", secret: "s" })
        );
        assert_eq!(credential(Some("id"), None, Some("Bearer t")), Some(Credential::Bearer("t")));
        assert_eq!(credential(None, None, None), None);
        assert!(admin_ok(Some("admin-secret"), Some("admin-secret")));
        assert!(!admin_ok(Some("admin-secret"), Some("admin-secreT")));
        assert!(!admin_ok(Some(""), Some("")));
        assert!(!admin_ok(None, Some("x")));
        assert!(!admin_ok(Some("x"), None));
    }
}
