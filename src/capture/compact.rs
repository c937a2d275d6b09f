//! The compact reader: pcap/pcapng containers and link/IP/TCP headers read
//! by hand, for the page's decoder module. `pcap-parser` and `etherparse`
//! (the native reader, `crates.rs`) cost 12.6 KB gzipped that a module held
//! to 60 KB does not have; this reads only what KMS needs (see the module
//! above) and is checked against them by the property tests. Compiled in
//! builds without `pcap-crates`, and in native test builds.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::string::String;
use std::vec::Vec;

use super::{CaptureError, Format, Link, Reader, Record, Segment, block_cut, pcap_header_error, pcapng_header_error, record_cut};

pub(super) struct Compact;

impl Reader for Compact {
    fn records<'a>(bytes: &'a [u8], format: Format, notes: &mut Vec<String>) -> Result<Vec<Record<'a>>, CaptureError> {
        match format {
            Format::Pcap => read_pcap(bytes, notes),
            Format::PcapNg => read_pcapng(bytes, notes),
        }
    }

    fn segment(link: Link, data: &[u8]) -> Option<Segment<'_>> {
        match link {
            // Destination, source, ether type.
            Link::Ethernet => ether(be16(data, 12), data.get(14..)),
            Link::LinuxSll => ether(be16(data, 14), data.get(16..)),
            Link::LinuxSll2 => ether(be16(data, 0), data.get(20..)),
            Link::RawIp => ip(data),
            Link::Loopback => data.get(4..).and_then(ip),
        }
    }
}

// ------------------------------------------------------------ containers

/// `n` bytes at `at` as a number, big-endian if `be`.
fn uint(b: &[u8], at: usize, n: usize, be: bool) -> Option<u32> {
    let s = b.get(at..at.checked_add(n)?)?;
    Some(if be { s.iter().fold(0, |v, &x| v << 8 | u32::from(x)) } else { s.iter().rev().fold(0, |v, &x| v << 8 | u32::from(x)) })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    uint(b, at, 2, true).map(|v| v as u16)
}

fn read_pcap<'a>(bytes: &'a [u8], notes: &mut Vec<String>) -> Result<Vec<Record<'a>>, CaptureError> {
    // The magic number says the byte order: a1b2c3d4 (µs) or a1b23c4d (ns).
    let be = bytes[0] == 0xA1;
    let Some(network) = uint(bytes, 20, 4, be) else {
        return Err(pcap_header_error());
    };
    // The low 16 bits are the link type (the high ones may give an FCS length).
    let link = network & 0xFFFF;
    let mut out = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        // ts_sec, ts_usec, caplen, origlen, then caplen bytes.
        let data = uint(bytes, at + 8, 4, be).and_then(|caplen| bytes.get(at + 16..(at + 16).checked_add(caplen as usize)?));
        let Some(data) = data else {
            notes.push(record_cut(at));
            break;
        };
        out.push(Record::Packet { link, data });
        at += 16 + data.len();
    }
    Ok(out)
}

fn read_pcapng<'a>(bytes: &'a [u8], notes: &mut Vec<String>) -> Result<Vec<Record<'a>>, CaptureError> {
    let mut be = false;
    let mut interfaces: Vec<u32> = Vec::new();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        // A block: type, total length, body, total length again (≥ 12 bytes).
        // A section header (its type reads the same in both byte orders)
        // sets the byte order of its section by its byte-order magic.
        let shb = uint(bytes, at, 4, be) == Some(0x0A0D_0D0A);
        if shb {
            be = uint(bytes, at + 8, 4, true) == Some(0x1A2B_3C4D);
        }
        let len = uint(bytes, at + 4, 4, be).map_or(0, |l| l as usize);
        let well_framed = len >= 12
            && len <= bytes.len() - at
            && uint(bytes, at + len - 4, 4, be) == Some(len as u32)
            && (!shb || uint(bytes, at + 8, 4, be) == Some(0x1A2B_3C4D));
        let body = if well_framed { &bytes[at + 8..at + len - 4] } else { &[] };
        let field = |off: usize, n: usize| uint(body, off, n, be);
        let record = match uint(bytes, at, 4, be) {
            _ if !well_framed => Err(()),
            Some(0x0A0D_0D0A) => {
                interfaces.clear();
                Ok(None)
            }
            // Interface description: link type (u16), reserved, snap length.
            Some(1) => field(0, 2).map(|lt| interfaces.push(lt)).map(|()| None).ok_or(()),
            // Enhanced packet: interface, timestamp (2 words), caplen, origlen, data.
            Some(6) => match (field(0, 4), field(12, 4)) {
                (Some(if_id), Some(caplen)) => match body.get(20..).and_then(|d| d.get(..caplen as usize)) {
                    Some(data) => Ok(Some(match interfaces.get(if_id as usize) {
                        Some(&link) => Record::Packet { link, data },
                        None => Record::NoInterface { at, if_id: Some(if_id) },
                    })),
                    None => Err(()),
                },
                _ => Err(()),
            },
            // Simple packet: origlen, data (padded, or cut by the snap length).
            Some(3) => match (field(0, 4), body.get(4..)) {
                (Some(orig), Some(data)) => Ok(Some(match interfaces.first() {
                    Some(&link) => Record::Packet { link, data: &data[..data.len().min(orig as usize)] },
                    None => Record::NoInterface { at, if_id: None },
                })),
                _ => Err(()),
            },
            _ => Ok(None),
        };
        match record {
            Ok(r) => out.extend(r),
            Err(()) if at == 0 => return Err(pcapng_header_error()),
            Err(()) => {
                notes.push(block_cut(at));
                break;
            }
        }
        at += len;
    }
    Ok(out)
}

// ------------------------------------------------------------ headers

/// Ether types of IPv4 and IPv6.
const IPV4: u16 = 0x0800;
const IPV6: u16 = 0x86DD;

/// An ether-type payload: up to three VLAN tags (802.1Q, 802.1ad, old
/// QinQ), then IPv4 or IPv6.
fn ether(mut kind: Option<u16>, mut rest: Option<&[u8]>) -> Option<Segment<'_>> {
    for _ in 0..=3 {
        match kind? {
            IPV4 | IPV6 => return ip(rest?),
            0x8100 | 0x88A8 | 0x9100 => {
                // A tag: 2 bytes of priority and VLAN id, then the next type.
                let r = rest?;
                kind = be16(r, 2);
                rest = r.get(4..);
            }
            _ => return None,
        }
    }
    None
}

/// An IPv4 or IPv6 packet (by its version nibble).
fn ip(p: &[u8]) -> Option<Segment<'_>> {
    let (src, dst, mut proto, mut body, mut fragment);
    match p.first()? >> 4 {
        4 => {
            let ihl = usize::from(p[0] & 15) * 4;
            let total = usize::from(be16(p, 2)?);
            let total = if total == 0 { p.len() } else { total }; // TSO
            if ihl < 20 || total < ihl || total > p.len() {
                return None;
            }
            let a: [u8; 8] = p.get(12..20)?.try_into().ok()?;
            src = IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]));
            dst = IpAddr::V4(Ipv4Addr::new(a[4], a[5], a[6], a[7]));
            // More fragments, or a fragment offset.
            fragment = be16(p, 6)? & 0x3FFF != 0;
            proto = p[9];
            body = &p[ihl..total];
        }
        6 => {
            let len = usize::from(be16(p, 4)?);
            let end = if len == 0 { p.len() } else { 40 + len }; // jumbogram
            if end > p.len() || p.len() < 40 {
                return None;
            }
            let a: [u8; 16] = p[8..24].try_into().ok()?;
            let b: [u8; 16] = p[24..40].try_into().ok()?;
            src = IpAddr::V6(Ipv6Addr::from(a));
            dst = IpAddr::V6(Ipv6Addr::from(b));
            proto = p[6];
            body = &p[40..end];
            fragment = false;
        }
        _ => return None,
    }
    // Extension headers: each starts with the next header's number.
    let v6 = src.is_ipv6();
    let mut first = true;
    loop {
        let len = match proto {
            // Hop-by-hop (only right after the IPv6 header), routing,
            // destination options: 8-byte units after the first 8.
            0 if v6 && first => (usize::from(*body.get(1)?) + 1) * 8,
            43 | 60 if v6 => (usize::from(*body.get(1)?) + 1) * 8,
            // Fragment: 8 bytes; an offset or "more fragments" means a fragment.
            44 if v6 => {
                fragment |= be16(body, 2)? & 0xFFF9 != 0;
                8
            }
            // Authentication header: 4-byte units, minus 2 (at least 12 bytes).
            51 if *body.get(1)? > 0 => (usize::from(body[1]) + 2) * 4,
            0 | 51 => return None,
            _ => break,
        };
        proto = *body.first()?;
        body = body.get(len..)?;
        first = false;
    }
    if proto != 6 || fragment {
        return None;
    }
    // TCP: ports, sequence number, ack, data offset (4-byte units), flags.
    let off = usize::from(body.get(12)? >> 4) * 4;
    let payload = body.get(off.max(20)..)?;
    if off < 20 {
        return None;
    }
    Some(Segment {
        src: SocketAddr::new(src, be16(body, 0)?),
        dst: SocketAddr::new(dst, be16(body, 2)?),
        seq: uint(body, 4, 4, true)?,
        syn: body[13] & 0x02 != 0,
        payload,
    })
}
