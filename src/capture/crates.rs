//! The native reader (feature `pcap-crates`, part of `native`): `pcap-parser`
//! reads the container, `etherparse` the link, IP and TCP headers, so that
//! `kmsedge decode --file` does not read pcap by hand (the page cannot
//! afford these crates and uses `compact.rs`; the tests hold the two to the
//! same results).
//!
//! Two link headers etherparse 0.21 does not know are read here, as a
//! fixed-size header before what etherparse does know: Linux cooked capture
//! v2 (SLL2: the protocol type, then 18 more bytes) and BSD loopback
//! (NULL/LOOP: a 4-byte address family, then IP).
//!
//! etherparse also reads MACsec frames that carry plain Ethernet payload,
//! and reads a Linux cooked (SLL v1) protocol type as an ether type only
//! for the hardware types that have one; the compact reader does neither.
use std::net::IpAddr;
use std::string::String;
use std::vec::Vec;

use etherparse::{
    EtherType, Ethernet2Slice, LaxNetSlice, LaxSlicedPacket, LinuxSllProtocolType, LinuxSllSlice, NetSlice, SlicedPacket,
    TcpSlice, TransportSlice,
};
use pcap_parser::pcapng::Block;
use pcap_parser::{parse_block_be, parse_block_le, parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header};

use super::{CaptureError, Format, Link, Reader, Record, Segment, block_cut, pcap_header_error, pcapng_header_error, record_cut};

pub(super) struct Crates;

impl Reader for Crates {
    fn records<'a>(bytes: &'a [u8], format: Format, notes: &mut Vec<String>) -> Result<Vec<Record<'a>>, CaptureError> {
        match format {
            Format::Pcap => pcap(bytes, notes),
            Format::PcapNg => pcapng(bytes, notes),
        }
    }

    fn segment(link: Link, data: &[u8]) -> Option<Segment<'_>> {
        let net = Net::of(link, data)?;
        let sliced = match net {
            Net::Ether(kind, rest) => SlicedPacket::from_ether_type(kind, rest),
            Net::Ip(rest) => SlicedPacket::from_ip(rest),
        };
        match sliced {
            Ok(p) => {
                let (src, dst) = match p.net? {
                    NetSlice::Ipv4(ip) => (IpAddr::V4(ip.header().source_addr()), IpAddr::V4(ip.header().destination_addr())),
                    NetSlice::Ipv6(ip) => (IpAddr::V6(ip.header().source_addr()), IpAddr::V6(ip.header().destination_addr())),
                    NetSlice::Arp(_) => return None,
                };
                // No transport slice for fragments; an IP packet shorter
                // than its length field (cut by the snap length) is an error.
                match p.transport? {
                    TransportSlice::Tcp(tcp) => Some(segment(src, dst, tcp)),
                    _ => None,
                }
            }
            Err(_) => offloaded(net),
        }
    }
}

// ------------------------------------------------------------ containers

/// `bytes` from the start of `rest` (a tail of it) on.
fn offset(bytes: &[u8], rest: &[u8]) -> usize {
    bytes.len() - rest.len()
}

fn pcap<'a>(bytes: &'a [u8], notes: &mut Vec<String>) -> Result<Vec<Record<'a>>, CaptureError> {
    let Ok((mut rest, header)) = parse_pcap_header(bytes) else {
        return Err(pcap_header_error());
    };
    // The low 16 bits are the link type (the high ones may give an FCS length).
    let link = header.network.0 as u32 & 0xFFFF;
    let frame = if header.is_bigendian() { parse_pcap_frame_be } else { parse_pcap_frame };
    let mut out = Vec::new();
    while !rest.is_empty() {
        let Ok((next, record)) = frame(rest) else {
            notes.push(record_cut(offset(bytes, rest)));
            break;
        };
        out.push(Record::Packet { link, data: record.data });
        rest = next;
    }
    Ok(out)
}

fn pcapng<'a>(bytes: &'a [u8], notes: &mut Vec<String>) -> Result<Vec<Record<'a>>, CaptureError> {
    // Each section header sets the byte order of the blocks after it (it
    // is itself read in either order), and starts a new list of interfaces.
    let (mut rest, mut be) = (bytes, false);
    let mut interfaces: Vec<u32> = Vec::new();
    let mut out = Vec::new();
    while !rest.is_empty() {
        let at = offset(bytes, rest);
        let (next, block) = match if be { parse_block_be(rest) } else { parse_block_le(rest) } {
            Ok(x) => x,
            Err(_) if at == 0 => return Err(pcapng_header_error()),
            Err(_) => {
                notes.push(block_cut(at));
                break;
            }
        };
        match block {
            Block::SectionHeader(shb) => {
                be = shb.big_endian();
                interfaces.clear();
            }
            Block::InterfaceDescription(idb) => interfaces.push(idb.linktype.0 as u32),
            Block::EnhancedPacket(epb) => out.push(match interfaces.get(epb.if_id as usize) {
                Some(&link) => Record::Packet { link, data: cut(epb.data, epb.caplen) },
                None => Record::NoInterface { at, if_id: Some(epb.if_id) },
            }),
            // Its data is padded, or cut by the snap length: the original
            // length says which.
            Block::SimplePacket(spb) => out.push(match interfaces.first() {
                Some(&link) => Record::Packet { link, data: cut(spb.data, spb.origlen) },
                None => Record::NoInterface { at, if_id: None },
            }),
            _ => {}
        }
        rest = next;
    }
    Ok(out)
}

/// A packet block's data without its padding: at most `len` bytes (what
/// the crate's `packet_data` does, with the lifetime of the file).
fn cut(data: &[u8], len: u32) -> &[u8] {
    &data[..data.len().min(len as usize)]
}

// ------------------------------------------------------------ headers

/// A packet past its link header: an ether type and what follows it, or IP.
#[derive(Clone, Copy)]
enum Net<'a> {
    Ether(EtherType, &'a [u8]),
    Ip(&'a [u8]),
}

impl<'a> Net<'a> {
    fn of(link: Link, data: &'a [u8]) -> Option<Net<'a>> {
        Some(match link {
            Link::Ethernet => {
                let e = Ethernet2Slice::from_slice_without_fcs(data).ok()?;
                Net::Ether(e.ether_type(), e.payload_slice())
            }
            Link::LinuxSll => {
                let s = LinuxSllSlice::from_slice(data).ok()?;
                match s.protocol_type() {
                    LinuxSllProtocolType::EtherType(kind) => Net::Ether(kind, s.payload_slice()),
                    _ => return None,
                }
            }
            Link::LinuxSll2 => Net::Ether(EtherType(u16::from_be_bytes([*data.first()?, *data.get(1)?])), data.get(20..)?),
            Link::RawIp => Net::Ip(data),
            Link::Loopback => Net::Ip(data.get(4..)?),
        })
    }
}

/// TCP segmentation offload: an IPv4 packet captured before the NIC split
/// it has a total length of 0, which etherparse's slicing rejects (shorter
/// than the header). Its lax slicing takes the rest of the packet instead,
/// which is what the offload means; it is used for that case only
/// (everything else it would also accept, such as a packet cut short or
/// another length smaller than the header, is not a whole segment).
fn offloaded(net: Net<'_>) -> Option<Segment<'_>> {
    let p = match net {
        Net::Ether(kind, rest) => LaxSlicedPacket::from_ether_type(kind, rest),
        Net::Ip(rest) => LaxSlicedPacket::from_ip(rest).ok()?,
    };
    let Some(LaxNetSlice::Ipv4(ip)) = &p.net else { return None };
    let h = ip.header();
    if h.total_len() != 0 || ip.payload().incomplete || p.stop_err.is_some() {
        return None;
    }
    let (src, dst) = (IpAddr::V4(h.source_addr()), IpAddr::V4(h.destination_addr()));
    match p.transport? {
        TransportSlice::Tcp(tcp) => Some(segment(src, dst, tcp)),
        _ => None,
    }
}

fn segment<'a>(src: IpAddr, dst: IpAddr, tcp: TcpSlice<'a>) -> Segment<'a> {
    Segment {
        src: (src, tcp.source_port()).into(),
        dst: (dst, tcp.destination_port()).into(),
        seq: tcp.sequence_number(),
        syn: tcp.syn(),
        payload: tcp.payload(),
    }
}
