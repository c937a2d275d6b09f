//! Configuration of SRV publishing: the `[dns]` section of the serve config
//! file ([`DnsPublishConfig`]), the same settings as `--dns-*` flags
//! ([`PublishArgs`], flattened into `kmsedge serve`), and their checked
//! merge ([`PublishSettings::resolve`]: flag, else file, else default).
//! Nothing is sent unless publishing is switched on, and every value given
//! is checked even when it is off, so a typo shows at start, in one line
//! naming the flag or file key.
use std::prelude::rust_2024::{String, ToString, Vec};
use std::format;
use crate::dns::names::{DomainName, host_fqdn, server_addr};
use crate::dns::{DEFAULT_TTL, MAX_TTL};
use super::gss::{self, GssCredentials};
use super::tsig::{Algorithm, TsigKey};
use anyhow::bail;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Shortest TTL accepted for a published record; the record is refreshed
/// every TTL/2, so this bounds the update rate.
pub const MIN_PUBLISH_TTL: u32 = 10;

/// `[dns]` in the serve config file. Unknown keys are errors.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DnsPublishConfig {
    /// Publish the SRV record by dynamic update. Default false.
    pub publish: Option<bool>,
    /// The primary server of the zone: `IP` or `IP:PORT` (port 53).
    pub server: Option<String>,
    /// The zone to update, which is also the clients' domain.
    pub zone: Option<String>,
    /// This host's DNS name, the SRV target.
    pub host: Option<String>,
    /// The port in the record (default: the first KMS listener's port).
    pub port: Option<u16>,
    pub priority: Option<u16>,
    pub weight: Option<u16>,
    pub ttl: Option<u32>,
    /// A/AAAA records to publish for `host` (which must be inside the zone).
    pub addresses: Option<Vec<String>>,
    /// TSIG key file: BIND `key "name" { algorithm ...; secret "..."; };`
    /// (what tsig-keygen writes) or a bare base64 secret.
    pub tsig_key_file: Option<PathBuf>,
    /// The key to use from the file; required for a bare secret.
    pub tsig_key_name: Option<String>,
    /// hmac-sha256 (default), hmac-sha384 or hmac-sha512.
    pub tsig_algorithm: Option<String>,
    /// Keytab of the host's Kerberos identity, for GSS-TSIG secure
    /// updates (Active Directory zones).
    pub keytab: Option<PathBuf>,
    /// The principal to use from the keytab, `NAME@REALM`.
    pub principal: Option<String>,
}

/// The `--dns-*` flags of `kmsedge serve` (`#[command(flatten)]`). Every
/// one is optional so that a flag overrides the file only when given.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PublishArgs {
    /// Publish the _vlmcs._tcp SRV record by RFC 2136 dynamic update
    /// (true/false) [dns.publish] [default: false]
    #[arg(long = "dns-publish", value_name = "BOOL", help_heading = "DNS SRV publishing")]
    pub dns_publish: Option<String>,
    /// Do not publish, whatever the config file says (same as --dns-publish false)
    #[arg(long = "no-dns-publish", conflicts_with = "dns_publish", help_heading = "DNS SRV publishing")]
    pub no_dns_publish: bool,
    /// Primary DNS server of the zone, IP[:PORT] [dns.server] [default port: 53]
    #[arg(long = "dns-server", value_name = "ADDR", help_heading = "DNS SRV publishing")]
    pub dns_server: Option<String>,
    /// Zone to update; also the clients' DNS domain [dns.zone]
    #[arg(long = "dns-zone", value_name = "ZONE", help_heading = "DNS SRV publishing")]
    pub dns_zone: Option<String>,
    /// This host's DNS name, the SRV target [dns.host]
    #[arg(long = "dns-host", value_name = "FQDN", help_heading = "DNS SRV publishing")]
    pub dns_host: Option<String>,
    /// Port in the record [dns.port] [default: the first KMS listener's port]
    #[arg(long = "dns-port", value_name = "PORT", help_heading = "DNS SRV publishing")]
    pub dns_port: Option<String>,
    /// SRV priority, lower first [dns.priority] [default: 0]
    #[arg(long = "dns-priority", value_name = "N", help_heading = "DNS SRV publishing")]
    pub dns_priority: Option<String>,
    /// SRV weight among equal priorities [dns.weight] [default: 0]
    #[arg(long = "dns-weight", value_name = "N", help_heading = "DNS SRV publishing")]
    pub dns_weight: Option<String>,
    /// Record TTL in seconds; the record is refreshed every TTL/2
    /// [dns.ttl] [default: 3600]
    #[arg(long = "dns-ttl", value_name = "SECS", help_heading = "DNS SRV publishing")]
    pub dns_ttl: Option<String>,
    /// Also publish this A/AAAA address for the host; repeatable [dns.addresses]
    #[arg(long = "dns-address", value_name = "IP", help_heading = "DNS SRV publishing")]
    pub dns_addresses: Vec<String>,
    /// TSIG key file (tsig-keygen output, or a bare base64 secret) [dns.tsig_key_file]
    #[arg(long = "dns-tsig-key-file", value_name = "FILE", help_heading = "DNS SRV publishing")]
    pub dns_tsig_key_file: Option<PathBuf>,
    /// Key name: which key of the file, required for a bare secret [dns.tsig_key_name]
    #[arg(long = "dns-tsig-key-name", value_name = "NAME", help_heading = "DNS SRV publishing")]
    pub dns_tsig_key_name: Option<String>,
    /// TSIG algorithm [dns.tsig_algorithm] [default: hmac-sha256]
    #[arg(long = "dns-tsig-algorithm", value_name = "ALG", help_heading = "DNS SRV publishing")]
    pub dns_tsig_algorithm: Option<String>,
    /// Keytab for secure updates with GSS-TSIG (Active Directory zones),
    /// e.g. the machine account's; instead of a TSIG key [dns.keytab]
    #[arg(long = "dns-keytab", value_name = "FILE", help_heading = "DNS SRV publishing")]
    pub dns_keytab: Option<PathBuf>,
    /// Kerberos principal of the keytab to use, NAME@REALM, e.g.
    /// KMSHOST$@AD.EXAMPLE.COM [dns.principal]
    #[arg(long = "dns-principal", value_name = "NAME@REALM", help_heading = "DNS SRV publishing")]
    pub dns_principal: Option<String>,
}

/// What to publish and where; present only when publishing is on.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishSettings {
    pub server: SocketAddr,
    pub zone: DomainName,
    pub host: DomainName,
    /// `None`: the port the host listens on, known once it has bound.
    pub port: Option<u16>,
    pub priority: u16,
    pub weight: u16,
    pub ttl: u32,
    pub addresses: Vec<IpAddr>,
    pub tsig: Option<TsigKey>,
    /// Kerberos identity for GSS-TSIG (never together with `tsig`).
    pub gss: Option<GssCredentials>,
    /// Limit for one DNS exchange.
    pub timeout: Duration,
}

impl PublishSettings {
    /// Time between refreshes: half the TTL, so that a record removed or
    /// expired elsewhere (scavenging) is back before caches miss it.
    pub fn refresh(&self) -> Duration {
        Duration::from_secs(u64::from(self.ttl / 2).max(5))
    }

    /// Merges flags over the file section. `Ok(None)`: publishing is off.
    /// `file_name` labels file values in errors ("kmsedge.toml").
    pub fn resolve(args: &PublishArgs, file: Option<&DnsPublishConfig>, file_name: &str) -> anyhow::Result<Option<PublishSettings>> {
        let empty = DnsPublishConfig::default();
        let f = file.unwrap_or(&empty);
        let key = |k: &str| format!("dns.{k} in {file_name}");
        // (value, where it came from)
        fn pick(flag: &Option<String>, flag_name: &str, file: Option<String>, file_key: String) -> Option<(String, String)> {
            match flag {
                Some(v) => Some((v.clone(), format!("--{flag_name}"))),
                None => file.map(|v| (v, file_key)),
            }
        }

        let publish = if args.no_dns_publish {
            false
        } else {
            match pick(&args.dns_publish, "dns-publish", f.publish.map(|b| b.to_string()), key("publish")) {
                None => false,
                Some((v, origin)) => parse_bool(&v).ok_or_else(|| anyhow::anyhow!("{origin}: expected true or false, got {v:?}"))?,
            }
        };
        let server = pick(&args.dns_server, "dns-server", f.server.clone(), key("server"))
            .map(|(v, o)| server_addr(&o, &v))
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let zone = pick(&args.dns_zone, "dns-zone", f.zone.clone(), key("zone"))
            .map(|(v, o)| DomainName::parse(&o, &v))
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let host = pick(&args.dns_host, "dns-host", f.host.clone(), key("host"))
            .map(|(v, o)| host_fqdn(&o, &v, zone.as_ref()))
            .transpose()
            .map_err(anyhow::Error::msg)?;
        let num = |flag: &Option<String>, flag_name: &str, file: Option<u32>, k: &str, lo: u32, hi: u32| -> anyhow::Result<Option<u32>> {
            match pick(flag, flag_name, file.map(|n| n.to_string()), key(k)) {
                None => Ok(None),
                Some((v, origin)) => match v.trim().parse::<u32>() {
                    Ok(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
                    _ => bail!("{origin}: expected a whole number from {lo} to {hi}, got {v:?}"),
                },
            }
        };
        let port = num(&args.dns_port, "dns-port", f.port.map(u32::from), "port", 1, 65535)?.map(|n| n as u16);
        let priority = num(&args.dns_priority, "dns-priority", f.priority.map(u32::from), "priority", 0, 65535)?.unwrap_or(0) as u16;
        let weight = num(&args.dns_weight, "dns-weight", f.weight.map(u32::from), "weight", 0, 65535)?.unwrap_or(0) as u16;
        let ttl = num(&args.dns_ttl, "dns-ttl", f.ttl, "ttl", MIN_PUBLISH_TTL, MAX_TTL)?.unwrap_or(DEFAULT_TTL);

        let (addr_list, addr_origin) = if !args.dns_addresses.is_empty() {
            (args.dns_addresses.clone(), "--dns-address".to_string())
        } else {
            (f.addresses.clone().unwrap_or_default(), key("addresses"))
        };
        let mut addresses = Vec::new();
        for a in &addr_list {
            let ip: IpAddr = a
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("{addr_origin}: {a:?} is not an IPv4 or IPv6 address"))?;
            if ip.is_unspecified() || ip.is_multicast() {
                bail!("{addr_origin}: {ip} cannot be a host address");
            }
            if !addresses.contains(&ip) {
                addresses.push(ip);
            }
        }

        let alg = pick(&args.dns_tsig_algorithm, "dns-tsig-algorithm", f.tsig_algorithm.clone(), key("tsig_algorithm"))
            .map(|(v, o)| Algorithm::parse(&v).map_err(|e| anyhow::anyhow!("{o}: {e}")))
            .transpose()?;
        let key_name = pick(&args.dns_tsig_key_name, "dns-tsig-key-name", f.tsig_key_name.clone(), key("tsig_key_name"));
        let key_file = match &args.dns_tsig_key_file {
            Some(p) => Some(p.clone()),
            None => f.tsig_key_file.clone(),
        };
        let tsig = match key_file {
            Some(path) => Some(
                TsigKey::load(&path, key_name.as_ref().map(|(n, _)| n.as_str()), alg).map_err(anyhow::Error::msg)?,
            ),
            None => {
                if let Some((_, origin)) = &key_name {
                    bail!("{origin}: a TSIG key name needs a key file (--dns-tsig-key-file or dns.tsig_key_file)");
                }
                if alg.is_some() {
                    bail!("a TSIG algorithm is set but no key file (--dns-tsig-key-file or dns.tsig_key_file)");
                }
                None
            }
        };

        let keytab = match &args.dns_keytab {
            Some(p) => Some((p.clone(), "--dns-keytab".to_string())),
            None => f.keytab.clone().map(|p| (p, key("keytab"))),
        };
        let principal = pick(&args.dns_principal, "dns-principal", f.principal.clone(), key("principal"));
        let gss = match (keytab, principal) {
            (None, None) => None,
            (Some((_, o)), None) => bail!("{o}: a keytab needs its principal: give --dns-principal or dns.principal (e.g. KMSHOST$@AD.EXAMPLE.COM)"),
            (None, Some((_, o))) => bail!("{o}: a principal needs a keytab: give --dns-keytab or dns.keytab"),
            (Some((path, ko)), Some((p, po))) => {
                if tsig.is_some() {
                    bail!("{ko}: choose one way to sign updates: a keytab (GSS-TSIG) or a TSIG key file, not both");
                }
                if !gss::SUPPORTED {
                    bail!("{ko}: this kmsedge was built without GSS-TSIG; build it with `--features ad-dns` (needs libkrb5-dev and libclang-dev)");
                }
                Some(GssCredentials::new(&path, &ko, &p, &po).map_err(anyhow::Error::msg)?)
            }
        };

        if !publish {
            return Ok(None);
        }
        let need = |what: &str, flag: &str| anyhow::anyhow!("DNS publishing is on but no {what} is set: give --{flag} or dns.{}", flag.trim_start_matches("dns-"));
        let server = server.ok_or_else(|| need("DNS server", "dns-server"))?;
        let zone = zone.ok_or_else(|| need("zone", "dns-zone"))?;
        let host = host.ok_or_else(|| need("host name", "dns-host"))?;
        if !addresses.is_empty() && !host.is_within(&zone) {
            bail!("{addr_origin}: A/AAAA records can only be published for a host inside zone {zone}, and {host} is not");
        }
        Ok(Some(PublishSettings {
            server,
            zone,
            host,
            port,
            priority,
            weight,
            ttl,
            addresses,
            tsig,
            gss,
            timeout: Duration::from_secs(5),
        }))
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::vec;

    fn on(extra: impl FnOnce(&mut PublishArgs)) -> anyhow::Result<Option<PublishSettings>> {
        let mut a = PublishArgs {
            dns_publish: Some("true".into()),
            dns_server: Some("127.0.0.1:15353".into()),
            dns_zone: Some("kms.test".into()),
            dns_host: Some("host1".into()),
            ..PublishArgs::default()
        };
        extra(&mut a);
        PublishSettings::resolve(&a, None, "kmsedge.toml")
    }

    fn err(extra: impl FnOnce(&mut PublishArgs)) -> String {
        let e = format!("{:#}", on(extra).unwrap_err());
        assert!(!e.contains('\n'), "{e}");
        e
    }

    #[test]
    fn off_unless_switched_on() {
        assert_eq!(PublishSettings::resolve(&PublishArgs::default(), None, "f").unwrap(), None);
        let file = DnsPublishConfig { publish: Some(true), server: Some("127.0.0.1".into()), zone: Some("kms.test".into()), host: Some("h".into()), ..Default::default() };
        assert!(PublishSettings::resolve(&PublishArgs::default(), Some(&file), "f").unwrap().is_some());
        let off = PublishArgs { no_dns_publish: true, ..PublishArgs::default() };
        assert_eq!(PublishSettings::resolve(&off, Some(&file), "f").unwrap(), None);
        let off = PublishArgs { dns_publish: Some("off".into()), ..PublishArgs::default() };
        assert_eq!(PublishSettings::resolve(&off, Some(&file), "f").unwrap(), None);
    }

    #[test]
    fn defaults_and_merge() {
        let s = on(|_| {}).unwrap().unwrap();
        assert_eq!(s.server, "127.0.0.1:15353".parse().unwrap());
        assert_eq!(s.host.as_str(), "host1.kms.test");
        assert_eq!((s.port, s.priority, s.weight, s.ttl), (None, 0, 0, 3600));
        assert_eq!(s.refresh(), Duration::from_secs(1800));
        assert!(s.tsig.is_none());
        // Flags win over the file; the file fills the rest.
        let file = DnsPublishConfig { ttl: Some(20), weight: Some(7), port: Some(1700), ..Default::default() };
        let a = PublishArgs {
            dns_publish: Some("yes".into()),
            dns_server: Some("::1".into()),
            dns_zone: Some("kms.test.".into()),
            dns_host: Some("h.kms.test.".into()),
            dns_weight: Some("9".into()),
            ..PublishArgs::default()
        };
        let s = PublishSettings::resolve(&a, Some(&file), "f").unwrap().unwrap();
        assert_eq!((s.port, s.weight, s.ttl), (Some(1700), 9, 20));
        assert_eq!(s.server, "[::1]:53".parse().unwrap());
        assert_eq!(s.refresh(), Duration::from_secs(10));
    }

    #[test]
    fn missing_and_bad_values_name_their_origin() {
        assert!(err(|a| a.dns_zone = None).contains("no zone is set: give --dns-zone or dns.zone"));
        assert!(err(|a| a.dns_server = None).contains("--dns-server or dns.server"));
        assert!(err(|a| a.dns_server = Some("ns1.example.com".into())).starts_with("--dns-server"));
        assert!(err(|a| a.dns_publish = Some("maybe".into())).starts_with("--dns-publish: expected true or false"));
        assert!(err(|a| a.dns_ttl = Some("5".into())).starts_with("--dns-ttl: expected a whole number from 10 to 604800"));
        assert!(err(|a| a.dns_port = Some("0".into())).starts_with("--dns-port"));
        assert!(err(|a| a.dns_priority = Some("-1".into())).starts_with("--dns-priority"));
        assert!(err(|a| a.dns_host = Some("10.1.2.3".into())).starts_with("--dns-host"));
        assert!(err(|a| a.dns_addresses = vec!["300.1.1.1".into()]).starts_with("--dns-address: \"300.1.1.1\""));
        assert!(err(|a| a.dns_addresses = vec!["0.0.0.0".into()]).contains("cannot be a host address"));
        assert!(err(|a| {
            a.dns_host = Some("kms.elsewhere.org".into());
            a.dns_addresses = vec!["127.0.0.1".into()];
        })
        .contains("inside zone kms.test"));
        assert!(err(|a| a.dns_tsig_key_name = Some("k".into())).contains("needs a key file"));
        assert!(err(|a| a.dns_tsig_key_file = Some("/nonexistent.key".into())).starts_with("TSIG key file /nonexistent.key"));
        // A bad value is an error even with publishing off.
        let a = PublishArgs { dns_zone: Some("bad zone".into()), ..PublishArgs::default() };
        assert!(format!("{}", PublishSettings::resolve(&a, None, "f").unwrap_err()).starts_with("--dns-zone"));
        let file = DnsPublishConfig { ttl: Some(1), ..Default::default() };
        let e = PublishSettings::resolve(&PublishArgs::default(), Some(&file), "kmsedge.toml").unwrap_err().to_string();
        assert!(e.starts_with("dns.ttl in kmsedge.toml"), "{e}");
    }

    #[test]
    fn keytab_and_principal_go_together_and_exclude_a_tsig_key() {
        let dir = tempfile::tempdir().unwrap();
        let kt = dir.path().join("host.keytab");
        std::fs::write(&kt, [5u8, 2]).unwrap();
        let tsig = dir.path().join("k.key");
        std::fs::write(&tsig, "key \"upd\" { algorithm hmac-sha256; secret \"QWL5tkpMf6N3o+hS1L1H9cu7x8ut7ib8hC8WTtad12g=\"; };").unwrap();
        assert!(err(|a| a.dns_keytab = Some(kt.clone())).starts_with("--dns-keytab: a keytab needs its principal"));
        assert!(err(|a| a.dns_principal = Some("H$@R".into())).starts_with("--dns-principal: a principal needs a keytab"));
        let both = |a: &mut PublishArgs| {
            a.dns_keytab = Some(kt.clone());
            a.dns_principal = Some("KMSHOST$@AD.KMS.TEST".into());
        };
        assert!(err(|a| {
            both(a);
            a.dns_tsig_key_file = Some(tsig.clone());
        })
        .contains("not both"));
        let file = DnsPublishConfig { keytab: Some(kt.clone()), principal: Some("nobody".into()), ..Default::default() };
        let e = PublishSettings::resolve(&PublishArgs::default(), Some(&file), "kmsedge.toml").unwrap_err().to_string();
        if gss::SUPPORTED {
            assert!(e.starts_with("dns.principal in kmsedge.toml: \"nobody\" has no realm"), "{e}");
            let s = on(both).unwrap().unwrap();
            assert_eq!(s.gss.unwrap().principal, "KMSHOST$@AD.KMS.TEST");
            assert!(s.tsig.is_none());
        } else {
            assert!(e.contains("built without GSS-TSIG"), "{e}");
            assert!(err(both).contains("--features ad-dns"));
        }
    }

    #[test]
    fn tsig_key_from_file() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "key \"upd\" {{ algorithm hmac-sha256; secret \"QWL5tkpMf6N3o+hS1L1H9cu7x8ut7ib8hC8WTtad12g=\"; }};").unwrap();
        let p = f.path().to_path_buf();
        let s = on(|a| a.dns_tsig_key_file = Some(p.clone())).unwrap().unwrap();
        assert_eq!(s.tsig.unwrap().name, "upd");
        assert!(err(|a| {
            a.dns_tsig_key_file = Some(p.clone());
            a.dns_tsig_algorithm = Some("hmac-md5".into());
        })
        .starts_with("--dns-tsig-algorithm"));
    }

    #[test]
    fn file_section_rejects_unknown_keys() {
        let ok: DnsPublishConfig = toml::from_str("publish = true\nzone = \"kms.test\"\nttl = 60\naddresses = [\"127.0.0.1\"]\n").unwrap();
        assert_eq!(ok.ttl, Some(60));
        let e = toml::from_str::<DnsPublishConfig>("publsh = true\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `publsh`"), "{e}");
    }
}
