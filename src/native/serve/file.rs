//! The TOML configuration file of `kmsedge serve`, read as-is: unknown keys
//! are errors (a typo must not silently fall back to a default), values
//! stay loosely typed ([`Scalar`]) so that [`super::settings`] checks them
//! with the same code and messages as the command-line flags.
use std::prelude::rust_2024::{String, ToOwned, ToString, Vec};
use std::format;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<Vec<String>>,
    pub http: Option<String>,
    pub admin_token: Option<String>,
    pub admin_token_file: Option<PathBuf>,
    pub data: Option<PathBuf>,
    #[serde(default)]
    pub registry: Registry,
    #[serde(default)]
    pub policy: Policy,
    #[serde(default)]
    pub rpc: Rpc,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub identity: Identity,
    #[serde(default)]
    pub log: Log,
    /// SRV publishing; checked by [`crate::native::dns::PublishSettings`].
    pub dns: Option<crate::native::dns::DnsPublishConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    pub sync: Option<Scalar>,
    pub event_days: Option<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub count: Option<Scalar>,
    pub scope: Option<Scalar>,
    pub kms_ids: Option<Vec<String>>,
    pub max_time_skew: Option<Scalar>,
    pub activation_interval: Option<Scalar>,
    pub renewal_interval: Option<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rpc {
    pub ndr64: Option<Scalar>,
    pub btfn: Option<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub idle_timeout: Option<Scalar>,
    pub max_connection_time: Option<Scalar>,
    pub max_requests: Option<Scalar>,
    pub max_pdu: Option<Scalar>,
    pub max_connections: Option<Scalar>,
    pub max_per_address: Option<Scalar>,
    pub rate_per_address: Option<Scalar>,
    pub rate_burst: Option<Scalar>,
    pub allow: Option<Vec<String>>,
    pub shutdown_grace: Option<Scalar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub hwid: Option<String>,
    /// Slot name → ePID.
    pub epids: Option<BTreeMap<String, String>>,
    /// The organisation's host keys (CSVLKs); checked by
    /// [`crate::model::host_keys::parse`].
    pub host_keys: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    pub level: Option<String>,
    pub format: Option<String>,
}

/// A string, number or boolean, kept as the text a flag would carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl FileConfig {
    /// Reads and parses `path`. Errors are one line: the file, the line and
    /// column, and what is wrong (toml's own message spans several lines).
    pub fn load(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
        FileConfig::parse(&text).map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<FileConfig, String> {
        toml::from_str(text).map_err(|e: toml::de::Error| {
            let msg = e.message().trim().replace('\n', " ");
            match e.span() {
                Some(span) => {
                    let (line, col) = line_col(text, span.start);
                    format!("line {line}, column {col}: {msg}")
                }
                None => msg,
            }
        })
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;

    #[test]
    fn every_section_parses_and_scalars_keep_their_text() {
        let f = FileConfig::parse(
            r#"
listen = ["127.0.0.1:1688", "[::1]:1688"]
http = "off"
data = "/tmp/x"
[registry]
sync = "normal"
[policy]
count = 50
scope = "list"
kms_ids = ["Windows 10/11"]
max_time_skew = "off"
activation_interval = 120
[rpc]
ndr64 = false
[limits]
idle_timeout = 1.5
allow = ["10.0.0.0/8"]
[identity]
hwid = "0011223344556677"
epids = { Windows = "x" }
host_keys = ["a", "b"]
[log]
level = "debug"
"#,
        )
        .unwrap();
        assert_eq!(f.listen.unwrap().len(), 2);
        assert_eq!(f.policy.count, Some(Scalar("50".into())));
        assert_eq!(f.rpc.ndr64, Some(Scalar("false".into())));
        assert_eq!(f.limits.idle_timeout, Some(Scalar("1.5".into())));
        assert_eq!(f.identity.epids.unwrap()["Windows"], "x");
        assert_eq!(f.identity.host_keys.unwrap(), ["a", "b"]);
        assert_eq!(f.log.level.as_deref(), Some("debug"));
    }

    #[test]
    fn unknown_keys_are_named_with_their_position_on_one_line() {
        let e = FileConfig::parse("listen = []\n[limits]\nidle_timeot = 3\n").unwrap_err();
        assert!(e.starts_with("line 3, column 1: unknown field `idle_timeot`"), "{e}");
        assert!(!e.contains('\n'));
        let e = FileConfig::parse("colour = 1").unwrap_err();
        assert!(e.contains("unknown field `colour`"), "{e}");
    }

    #[test]
    fn wrong_types_and_syntax_are_errors() {
        let e = FileConfig::parse("[limits]\nmax_pdu = [1]\n").unwrap_err();
        assert!(e.contains("a string, number or boolean"), "{e}");
        let e = FileConfig::parse("listen = \"1.2.3.4:5\"\n").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        assert!(FileConfig::parse("[policy\n").is_err());
    }
}
