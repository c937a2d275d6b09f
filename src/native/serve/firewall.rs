//! Firewall guidance, the way the set-up article gives it: a KMS host
//! opens TCP 1688 for the domain and private networks only. When
//! `kmsedge serve` listens on loopback alone, no client on the network can
//! reach it, so it logs one line per firewall (nftables, ufw, and
//! PowerShell's `New-NetFirewallRule` for a Windows machine, profiles
//! Domain and Private) opening the KMS port to the organisation's
//! networks: the `--allow` list ([limits] allow) if there is one, else the
//! host's own non-loopback subnets, else the private address ranges.
//! The same lines follow a warning when the host listens on the network
//! but its own firewall looks to filter the port: an nftables input chain
//! whose policy is drop with no rule naming the port, or an active ufw
//! with no rule for it (read from `nft list ruleset` and `ufw status`, as
//! root; without them nothing is said, since nothing is known).
//!
//! Source: Microsoft, "Deploying KMS Activation" (learn.microsoft.com,
//! previous-versions/tn-archive/ff793409): "KMS requires a firewall
//! exception on the KMS host … open TCP port 1688 … If using a non-default
//! port, open the custom TCP port in the firewall."
use std::prelude::rust_2024::*;
use std::format;
use ipnet::IpNet;
use std::net::SocketAddr;

/// The three rules, one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub nftables: String,
    pub ufw: String,
    pub powershell: String,
}

/// Logs the guidance if every KMS listener is on loopback, or the host's
/// firewall looks to filter the KMS port.
pub fn advise(bound: &[SocketAddr], allow: &[IpNet]) {
    let Some(port) = bound.first().map(|a| a.port()) else { return };
    if loopback_only(bound) {
        tracing::warn!(
            port,
            "KMS listens on loopback only, so no client on the network can activate: listen on [::]:{port} (--listen) and open the port to your networks"
        );
    } else {
        let nft = command_output("nft", &["list", "ruleset"]);
        let ufw = command_output("ufw", &["status"]);
        let Some(by) = filtered_by(nft.as_deref(), ufw.as_deref(), port) else { return };
        tracing::warn!(
            port,
            firewall = by,
            "the host's firewall looks to filter the KMS port ({by}: incoming traffic is dropped and no rule names TCP {port}): open it to your networks"
        );
    }
    log_rules(port, &networks(allow, &local_subnets()));
}

/// What `program args` prints, if it runs and succeeds (bounded: these
/// answer at once or not at all).
fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program).args(args).stdin(std::process::Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Which firewall looks to filter TCP `port`, from `nft list ruleset` and
/// `ufw status` output: an input hook chain with policy drop and no rule
/// naming the port, or ufw active with no rule for it.
pub fn filtered_by(nft: Option<&str>, ufw: Option<&str>, port: u16) -> Option<&'static str> {
    let names_port = |line: &str| {
        line.split(|c: char| !c.is_ascii_digit()).any(|w| w == port.to_string())
    };
    if let Some(text) = ufw {
        let active = text.lines().any(|l| l.trim() == "Status: active");
        let rule = text.lines().skip_while(|l| !l.trim_start().starts_with("--")).skip(1).any(|l| {
            let to = l.split_whitespace().next().unwrap_or("");
            to.split('/').next().is_some_and(|p| p == port.to_string() || p.split(',').any(|q| q == port.to_string()))
        });
        if active && !rule {
            return Some("ufw");
        }
    }
    if let Some(text) = nft {
        let mut in_input = false;
        let mut dropping = false;
        let mut named = false;
        for line in text.lines() {
            let l = line.trim();
            if l.starts_with("chain ") {
                in_input = false;
            }
            if l.contains("hook input") {
                in_input = true;
                if l.contains("policy drop") {
                    dropping = true;
                }
            }
            if in_input && l.contains("dport") && names_port(l) {
                named = true;
            }
        }
        if dropping && !named {
            return Some("nftables");
        }
    }
    None
}

fn log_rules(port: u16, nets: &[IpNet]) {
    let r = rules(port, nets);
    tracing::info!(firewall = "nftables", rule = %r.nftables, "firewall rule");
    tracing::info!(firewall = "ufw", rule = %r.ufw, "firewall rule");
    tracing::info!(firewall = "windows", rule = %r.powershell, "firewall rule");
}

pub fn loopback_only(bound: &[SocketAddr]) -> bool {
    !bound.is_empty() && bound.iter().all(|a| a.ip().to_canonical().is_loopback())
}

/// The allow-list if given, else the host's subnets, else the private
/// ranges (RFC 1918, RFC 4193).
pub fn networks(allow: &[IpNet], local: &[IpNet]) -> Vec<IpNet> {
    if !allow.is_empty() {
        return allow.to_vec();
    }
    if !local.is_empty() {
        return local.to_vec();
    }
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"].iter().map(|n| n.parse().unwrap()).collect()
}

/// The rules opening TCP `port` to `nets`.
pub fn rules(port: u16, nets: &[IpNet]) -> Rules {
    let join = |v: Vec<String>, sep: &str| v.join(sep);
    let (v4, v6): (Vec<&IpNet>, Vec<&IpNet>) = nets.iter().partition(|n| matches!(n, IpNet::V4(_)));
    let mut nft = Vec::new();
    for (family, list) in [("ip", &v4), ("ip6", &v6)] {
        if !list.is_empty() {
            let set = join(list.iter().map(|n| n.to_string()).collect(), ", ");
            nft.push(format!("add rule inet filter input {family} saddr {{ {set} }} tcp dport {port} accept"));
        }
    }
    Rules {
        nftables: format!("nft '{}'", nft.join("; ")),
        ufw: join(nets.iter().map(|n| format!("ufw allow from {n} to any port {port} proto tcp")).collect(), " && "),
        powershell: format!(
            "New-NetFirewallRule -DisplayName 'KMS (TCP {port})' -Direction Inbound -Protocol TCP -LocalPort {port} -RemoteAddress {} -Profile Domain,Private -Action Allow",
            join(nets.iter().map(|n| n.to_string()).collect(), ",")
        ),
    }
}

/// The directly connected IPv4 subnets (Linux `/proc/net/route`: routes
/// without a gateway) and global IPv6 prefixes (`/proc/net/if_inet6`),
/// loopback and link-local left out.
fn local_subnets() -> Vec<IpNet> {
    let mut nets = Vec::new();
    if let Ok(t) = std::fs::read_to_string("/proc/net/route") {
        nets.extend(parse_route(&t));
    }
    if let Ok(t) = std::fs::read_to_string("/proc/net/if_inet6") {
        nets.extend(parse_if_inet6(&t));
    }
    nets.sort();
    nets.dedup();
    nets
}

/// `/proc/net/route`: Iface Destination Gateway Flags … Mask, addresses in
/// little-endian hex.
fn parse_route(text: &str) -> Vec<IpNet> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let hex = |s: &str| u32::from_str_radix(s, 16).ok().map(|v| std::net::Ipv4Addr::from(v.swap_bytes()));
            let (dest, gw, mask) = (hex(f.get(1)?)?, hex(f.get(2)?)?, hex(f.get(7)?)?);
            if f[0] == "lo" || !gw.is_unspecified() || dest.is_unspecified() || dest.is_loopback() || dest.is_link_local() {
                return None;
            }
            let prefix = u32::from(mask).leading_ones() as u8;
            ipnet::Ipv4Net::new(dest, prefix).ok().map(|n| IpNet::V4(n.trunc()))
        })
        .collect()
}

/// `/proc/net/if_inet6`: address (32 hex digits), index, prefix length
/// (hex), scope, flags, interface; global scope (0) only.
fn parse_if_inet6(text: &str) -> Vec<IpNet> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 6 || f[3] != "00" || f[5] == "lo" {
                return None;
            }
            let addr = std::net::Ipv6Addr::from(u128::from_str_radix(f[0], 16).ok()?);
            let prefix = u8::from_str_radix(f[2], 16).ok()?;
            ipnet::Ipv6Net::new(addr, prefix).ok().map(|n| IpNet::V6(n.trunc()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::{borrow::ToOwned, string::ToString, vec, vec::Vec};

    fn nets(v: &[&str]) -> Vec<IpNet> {
        v.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn rules_open_the_port_to_the_networks_only() {
        let r = rules(1688, &nets(&["192.168.1.0/24", "10.20.0.0/16", "2001:db8:1::/64"]));
        assert_eq!(
            r.nftables,
            "nft 'add rule inet filter input ip saddr { 192.168.1.0/24, 10.20.0.0/16 } tcp dport 1688 accept; \
             add rule inet filter input ip6 saddr { 2001:db8:1::/64 } tcp dport 1688 accept'"
        );
        assert_eq!(
            r.ufw,
            "ufw allow from 192.168.1.0/24 to any port 1688 proto tcp && ufw allow from 10.20.0.0/16 to any port 1688 proto tcp \
             && ufw allow from 2001:db8:1::/64 to any port 1688 proto tcp"
        );
        assert_eq!(
            r.powershell,
            "New-NetFirewallRule -DisplayName 'KMS (TCP 1688)' -Direction Inbound -Protocol TCP -LocalPort 1688 \
             -RemoteAddress 192.168.1.0/24,10.20.0.0/16,2001:db8:1::/64 -Profile Domain,Private -Action Allow"
        );
        let one = rules(1700, &nets(&["172.16.5.0/24"]));
        assert_eq!(one.nftables, "nft 'add rule inet filter input ip saddr { 172.16.5.0/24 } tcp dport 1700 accept'");
        assert!(!one.ufw.contains("&&"));
    }

    #[test]
    fn networks_come_from_the_allow_list_then_the_host_then_private_ranges() {
        let allow = nets(&["10.1.0.0/16"]);
        let local = nets(&["192.168.7.0/24"]);
        assert_eq!(networks(&allow, &local), allow);
        assert_eq!(networks(&[], &local), local);
        assert_eq!(networks(&[], &[]).len(), 4);
    }

    #[test]
    fn only_loopback_listeners_get_advice() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(loopback_only(&[a("127.0.0.1:1688"), a("[::1]:1688")]));
        assert!(loopback_only(&[a("[::ffff:127.0.0.1]:1688")]));
        assert!(!loopback_only(&[a("127.0.0.1:1688"), a("[::]:1688")]));
        assert!(!loopback_only(&[a("192.168.1.5:1688")]));
        assert!(!loopback_only(&[]));
    }

    #[test]
    fn a_dropping_input_chain_or_an_active_ufw_without_the_port_looks_filtered() {
        let nft_drop = "table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\tct state established,related accept\n\t\ttcp dport 22 accept\n\t}\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\n";
        assert_eq!(filtered_by(Some(nft_drop), None, 1688), Some("nftables"));
        assert_eq!(filtered_by(Some(nft_drop), None, 22), None, "a rule names the port");
        let nft_open = nft_drop.replace("tcp dport 22 accept", "ip saddr { 10.0.0.0/8 } tcp dport 1688 accept");
        assert_eq!(filtered_by(Some(&nft_open), None, 1688), None);
        // A rule for the port in another chain does not open the input.
        let elsewhere = nft_drop.replace("policy drop;\n\t}\n}", "policy drop;\n\t\ttcp dport 1688 accept\n\t}\n}");
        assert_eq!(filtered_by(Some(&elsewhere), None, 1688), Some("nftables"));
        assert_eq!(filtered_by(Some(&nft_drop.replace("input priority filter; policy drop", "input priority filter; policy accept")), None, 1688), None);

        let ufw = "Status: active\n\nTo                         Action      From\n--                         ------      ----\n22/tcp                     ALLOW       Anywhere\n";
        assert_eq!(filtered_by(None, Some(ufw), 1688), Some("ufw"));
        let ufw_open = std::format!("{ufw}1688/tcp                   ALLOW       10.0.0.0/8\n");
        assert_eq!(filtered_by(None, Some(&ufw_open), 1688), None);
        assert_eq!(filtered_by(None, Some("Status: inactive\n"), 1688), None);
        assert_eq!(filtered_by(None, None, 1688), None, "nothing known: nothing said");
    }

    #[test]
    fn host_subnets_are_read_from_proc() {
        let route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                     eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                     eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n\
                     lo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n";
        assert_eq!(parse_route(route), nets(&["192.168.1.0/24"]));
        let inet6 = "20010db8000100000000000000000005 02 40 00 80 eth0\n\
                     fe800000000000000000000000000005 02 40 20 80 eth0\n\
                     00000000000000000000000000000001 01 80 10 80 lo\n";
        assert_eq!(parse_if_inet6(inet6), nets(&["2001:db8:1::/64"]));
    }
}
