//! `kmsedge dns record`: the SRV record that lets Windows clients find the
//! host, as the three things an administrator types — a zone-file line
//! (BIND and most DNS servers), PowerShell's `Add-DnsServerResourceRecord`
//! and `dnscmd /recordadd` (Windows DNS Server).
use std::prelude::rust_2024::String;
use std::format;
use crate::dns::names::{DomainName, host_fqdn};
use crate::dns::{DEFAULT_TTL, MAX_TTL, SRV_LABEL};
use crate::tools::kms_client::DEFAULT_PORT;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The DNS domain the clients are in (their primary DNS suffix or AD domain).
    #[arg(long, value_name = "DOMAIN")]
    pub domain: String,
    /// The KMS host's DNS name (a name without a dot is taken inside --domain).
    #[arg(long, value_name = "FQDN")]
    pub host: String,
    /// The KMS port.
    #[arg(long, default_value_t = DEFAULT_PORT, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Lower is tried first; Microsoft hosts publish 0.
    #[arg(long, default_value_t = 0)]
    pub priority: u16,
    /// Share among hosts of equal priority; Microsoft hosts publish 0.
    #[arg(long, default_value_t = 0)]
    pub weight: u16,
    /// Seconds resolvers may cache the record.
    #[arg(long, default_value_t = DEFAULT_TTL, value_parser = clap::value_parser!(u32).range(1..=MAX_TTL as i64))]
    pub ttl: u32,
    /// Print the record and commands as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// One SRV record for a KMS host, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvSpec {
    pub domain: DomainName,
    pub target: DomainName,
    pub port: u16,
    pub priority: u16,
    pub weight: u16,
    pub ttl: u32,
}

impl SrvSpec {
    pub fn new(domain: &str, host: &str, port: u16, priority: u16, weight: u16, ttl: u32) -> Result<SrvSpec, String> {
        let domain = DomainName::parse("--domain", domain)?;
        let target = host_fqdn("--host", host, Some(&domain))?;
        if port == 0 {
            return Err("--port 0 is not a port; KMS uses 1688".into());
        }
        if ttl == 0 || ttl > MAX_TTL {
            return Err(format!("--ttl {ttl} is out of range; expected 1 to {MAX_TTL} seconds"));
        }
        Ok(SrvSpec { domain, target, port, priority, weight, ttl })
    }

    /// `_vlmcs._tcp.example.com. 3600 IN SRV 0 0 1688 kms.example.com.`
    pub fn zone_line(&self) -> String {
        format!(
            "{SRV_LABEL}.{}. {} IN SRV {} {} {} {}.",
            self.domain, self.ttl, self.priority, self.weight, self.port, self.target
        )
    }

    pub fn powershell(&self) -> String {
        format!(
            "Add-DnsServerResourceRecord -Srv -ZoneName \"{}\" -Name \"{SRV_LABEL}\" -DomainName \"{}\" -Priority {} -Weight {} -Port {} -TimeToLive {}",
            self.domain,
            self.target,
            self.priority,
            self.weight,
            self.port,
            timespan(self.ttl)
        )
    }

    pub fn dnscmd(&self) -> String {
        format!(
            "dnscmd /recordadd {} {SRV_LABEL} {} SRV {} {} {} {}",
            self.domain, self.ttl, self.priority, self.weight, self.port, self.target
        )
    }

    /// How to see the record from a Windows client.
    pub fn nslookup(&self) -> String {
        format!("nslookup -type=srv {SRV_LABEL}.{}", self.domain)
    }
}

/// A TTL as PowerShell reads a `[TimeSpan]`: `hh:mm:ss` or `d.hh:mm:ss`.
pub fn timespan(secs: u32) -> String {
    let (d, rest) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    if d > 0 { format!("{d}.{h:02}:{m:02}:{s:02}") } else { format!("{h:02}:{m:02}:{s:02}") }
}

#[derive(Serialize)]
struct Json {
    zone_line: String,
    powershell: String,
    dnscmd: String,
    nslookup: String,
    owner: String,
    target: String,
    port: u16,
    priority: u16,
    weight: u16,
    ttl: u32,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let spec = SrvSpec::new(&a.domain, &a.host, a.port, a.priority, a.weight, a.ttl).map_err(anyhow::Error::msg)?;
    if a.json {
        let j = Json {
            zone_line: spec.zone_line(),
            powershell: spec.powershell(),
            dnscmd: spec.dnscmd(),
            nslookup: spec.nslookup(),
            owner: format!("{SRV_LABEL}.{}.", spec.domain),
            target: spec.target.fqdn(),
            port: spec.port,
            priority: spec.priority,
            weight: spec.weight,
            ttl: spec.ttl,
        };
        std::println!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(());
    }
    std::println!("; Zone file (BIND, Unbound, Knot, ...):");
    std::println!("{}", spec.zone_line());
    std::println!();
    std::println!("# Windows DNS Server, PowerShell:");
    std::println!("{}", spec.powershell());
    std::println!();
    std::println!("rem Windows DNS Server, command prompt:");
    std::println!("{}", spec.dnscmd());
    std::println!();
    std::println!("rem Check from a client:");
    std::println!("{}", spec.nslookup());
    std::println!("kmsedge dns check --domain {}", spec.domain);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms() {
        let s = SrvSpec::new("Example.com.", "KMS1.example.com", 1688, 0, 0, 3600).unwrap();
        assert_eq!(s.zone_line(), "_vlmcs._tcp.example.com. 3600 IN SRV 0 0 1688 kms1.example.com.");
        assert_eq!(
            s.powershell(),
            "Add-DnsServerResourceRecord -Srv -ZoneName \"example.com\" -Name \"_vlmcs._tcp\" -DomainName \"kms1.example.com\" -Priority 0 -Weight 0 -Port 1688 -TimeToLive 01:00:00"
        );
        assert_eq!(s.dnscmd(), "dnscmd /recordadd example.com _vlmcs._tcp 3600 SRV 0 0 1688 kms1.example.com");
        let s = SrvSpec::new("corp.test", "kms2", 11688, 10, 60, 90_061).unwrap();
        assert_eq!(s.zone_line(), "_vlmcs._tcp.corp.test. 90061 IN SRV 10 60 11688 kms2.corp.test.");
        assert!(s.powershell().ends_with("-Priority 10 -Weight 60 -Port 11688 -TimeToLive 1.01:01:01"), "{}", s.powershell());
    }

    #[test]
    fn bad_input_is_one_line_naming_the_flag() {
        for (d, h, port, ttl, flag) in [
            ("", "kms", 1688, 3600, "--domain"),
            ("exa mple.com", "kms", 1688, 3600, "--domain"),
            ("example.com", "10.0.0.1", 1688, 3600, "--host"),
            ("example.com", "kms_1", 1688, 3600, "--host"),
            ("example.com", "kms", 0, 3600, "--port"),
            ("example.com", "kms", 1688, 0, "--ttl"),
            ("example.com", "kms", 1688, MAX_TTL + 1, "--ttl"),
        ] {
            let e = SrvSpec::new(d, h, port, 0, 0, ttl).unwrap_err();
            assert!(e.starts_with(flag), "{e}");
            assert!(!e.contains('\n'));
        }
    }
}
