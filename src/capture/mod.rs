//! Packet captures (pcap, pcapng) → the KMS conversations in them, as the
//! byte stream [`crate::inspect::decode`] takes. Shared by
//! `kmsedge decode --file` and the browser page (feature `capture`).
//!
//! A reader turns the file into packet records and each packet into the TCP
//! segment it carries; what follows (which flows, reassembly, interleaving;
//! `flows.rs`) is protocol logic and shared. There are two readers:
//!
//! * `crates.rs` (feature `pcap-crates`, part of `native`): `pcap-parser`
//!   reads the container and `etherparse` the headers, so the CLI does not
//!   hand-roll pcap.
//! * `compact.rs` (builds without `pcap-crates`: the page's decoder module):
//!   the same small part of the formats read by hand, because the two
//!   crates cost 12.6 KB gzipped that a module held to 60 KB does not have.
//!
//! Native test builds compile both, and property tests check that they read
//! generated, damaged and cut captures the same (`tests.rs`, which also
//! names the one header only etherparse checks in full). What both read:
//!
//! * **Containers.** pcap in either byte order (micro- or nanosecond
//!   timestamps); pcapng sections in either byte order, with interface
//!   description (a link type per interface), enhanced packet and simple
//!   packet blocks (all other blocks are skipped). A file that ends inside
//!   a record (or has a malformed block) keeps the packets before it, with
//!   a note naming the byte offset; only a bad file header is an error.
//! * **Headers.** Link types Ethernet (with up to three 802.1Q/802.1ad VLAN
//!   tags), Linux cooked (SLL and SLL2), raw IPv4/IPv6 and BSD loopback
//!   (NULL/LOOP); packets of other link types are skipped with a note. IPv4
//!   (options, an AH header) and IPv6 (hop-by-hop, routing, fragment,
//!   destination-options and AH extension headers); fragments are skipped.
//!   IP lengths are honoured (Ethernet padding is not payload); a packet cut
//!   short by the capture's snap length is skipped, as a hole in its stream.
//!   A total length of 0 (TCP segmentation offload) means "the rest of the
//!   packet".
//! * **Which flows.** A TCP flow is a KMS conversation when one side uses
//!   port 1688 (that side is the host), or when one side's first PDU is a
//!   DCE/RPC bind offering the KMS interface (hosts may listen elsewhere;
//!   that side is the client). Other flows are ignored.
//! * **Reassembly.** Each direction's segments are ordered by sequence
//!   number (relative to the SYN, or to the lowest sequence number seen);
//!   retransmitted bytes are dropped. A hole (a segment missing from the
//!   capture) ends that direction's stream, with a note saying where.
//! * **Interleaving.** Each direction is cut into PDUs by `frag_length`, and
//!   the PDUs of both directions are merged in the order of the packets that
//!   completed them — the order the peers saw them.
//!
//! A 4-tuple reused by a later connection is treated as one flow.
use std::fmt;
use std::format;
use std::net::{IpAddr, SocketAddr};
use std::string::String;
use std::vec::Vec;

use flows::Flows;

#[cfg(any(test, not(feature = "pcap-crates")))]
mod compact;
#[cfg(feature = "pcap-crates")]
mod crates;
mod flows;
/// The readers against each other (needs both compiled: native tests).
#[cfg(all(test, feature = "pcap-crates", not(target_arch = "wasm32")))]
mod tests;

/// The port KMS hosts listen on.
pub const KMS_PORT: u16 = 1688;

/// The container format of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

impl Format {
    /// Recognises a capture by its magic number (pcap in either byte order,
    /// micro- or nanosecond; pcapng's section header block).
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        match bytes.get(..4)? {
            [0xD4, 0xC3, 0xB2, 0xA1] | [0xA1, 0xB2, 0xC3, 0xD4] | [0x4D, 0x3C, 0xB2, 0xA1] | [0xA1, 0xB2, 0x3C, 0x4D] => {
                Some(Format::Pcap)
            }
            [0x0A, 0x0D, 0x0D, 0x0A] => Some(Format::PcapNg),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::PcapNg => "pcapng",
        }
    }
}

/// Why a capture could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureError {
    /// Byte offset in the capture file.
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "capture file, byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for CaptureError {}

fn error(offset: usize, message: String) -> CaptureError {
    CaptureError { offset, message }
}

/// One contiguous piece of a conversation's stream: a PDU, or (if a
/// direction does not frame as DCE/RPC) the rest of that direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Offset and length in [`Conversation::stream`].
    pub offset: usize,
    pub len: usize,
    /// Sent by the client.
    pub c2s: bool,
    /// 1-based number of the packet that completed it.
    pub frame: usize,
}

/// One KMS TCP conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Number of the first packet of the flow.
    pub first_frame: usize,
    /// Both directions' PDUs, interleaved in the order they were completed.
    pub stream: Vec<u8>,
    pub chunks: Vec<Chunk>,
    /// Holes and other things the reader should know.
    pub notes: Vec<String>,
}

impl Conversation {
    /// The packet that completed the chunk containing stream offset `at`.
    pub fn frame_at(&self, at: usize) -> Option<usize> {
        self.chunks.iter().find(|c| at >= c.offset && at < c.offset + c.len).map(|c| c.frame)
    }
}

/// What a capture contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub format: Format,
    /// Packets (records) read.
    pub packets: usize,
    /// KMS conversations, in the order they started.
    pub conversations: Vec<Conversation>,
    /// Problems that did not stop reading (truncated file, unknown link types).
    pub notes: Vec<String>,
}

/// Reads a pcap or pcapng capture held in memory.
pub fn read(bytes: &[u8]) -> Result<Capture, CaptureError> {
    read_with::<Built>(bytes)
}

/// The reader of this build: the crates where they are compiled in (the
/// CLI), else the compact reader (the page).
#[cfg(feature = "pcap-crates")]
type Built = crates::Crates;
#[cfg(not(feature = "pcap-crates"))]
type Built = compact::Compact;

/// [`read`] with a given reader (tests read the same file with both).
fn read_with<R: Reader>(bytes: &[u8]) -> Result<Capture, CaptureError> {
    let format = Format::sniff(bytes).ok_or_else(|| {
        let mut shown = String::new();
        for b in bytes.iter().take(4) {
            shown.push_str(&format!("{}{b:02x}", if shown.is_empty() { "" } else { " " }));
        }
        error(
            0,
            format!(
                "not a capture: found {}; expected the magic number of pcap (d4 c3 b2 a1 or a1 b2 c3 d4) or pcapng (0a 0d 0d 0a)",
                if shown.is_empty() { "no bytes" } else { &shown }
            ),
        )
    })?;
    let mut notes = Vec::new();
    let records = R::records(bytes, format, &mut notes)?;
    let mut flows = Flows::default();
    let mut unknown: Vec<u32> = Vec::new();
    let mut packets = 0;
    for r in records {
        packets += 1;
        match r {
            Record::Packet { link, data } => match Link::of(link) {
                Some(l) => flows.add(packets, R::segment(l, data)),
                None if unknown.contains(&link) => {}
                None => {
                    unknown.push(link);
                    notes.push(format!("packets of link type {link} are not decoded (first: packet {packets})"));
                }
            },
            Record::NoInterface { at, if_id: Some(id) } => {
                notes.push(format!("packet {packets} (byte {at}) names interface {id} that was never described"))
            }
            Record::NoInterface { at, if_id: None } => {
                notes.push(format!("packet {packets} (byte {at}) comes before any interface description"))
            }
        }
    }
    Ok(Capture { format, packets, conversations: flows.finish(), notes })
}

// ------------------------------------------------------------ readers

/// What a reader provides; everything after it is shared.
trait Reader {
    /// The packet records of a `format` capture, in file order. A file that
    /// cannot be read past some record ends the list there, with a note
    /// ([`record_cut`], [`block_cut`]); only a bad file header is an error
    /// ([`pcap_header_error`], [`pcapng_header_error`]).
    fn records<'a>(bytes: &'a [u8], format: Format, notes: &mut Vec<String>) -> Result<Vec<Record<'a>>, CaptureError>;

    /// The TCP segment in a packet, if it carries one and is not an IP
    /// fragment or cut short by the snap length.
    fn segment(link: Link, data: &[u8]) -> Option<Segment<'_>>;
}

/// One packet record of a capture, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Record<'a> {
    /// The interface's link type (a LINKTYPE_ number) and the captured bytes.
    Packet { link: u32, data: &'a [u8] },
    /// A pcapng packet whose interface is unknown: the block's byte offset
    /// and the interface id (`None` for a simple packet block).
    NoInterface { at: usize, if_id: Option<u32> },
}

/// The link types decoded (by LINKTYPE_ number; both readers share this
/// table, so they skip the same packets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Ethernet,
    /// Linux cooked capture v1: a 16-byte header, protocol type at 14.
    LinuxSll,
    /// Linux cooked capture v2: protocol type at 0, a 20-byte header.
    LinuxSll2,
    /// Raw IPv4 or IPv6, by the version nibble.
    RawIp,
    /// BSD loopback (NULL, LOOP): a 4-byte address family, then IP.
    Loopback,
}

impl Link {
    fn of(link: u32) -> Option<Link> {
        Some(match link {
            1 => Link::Ethernet,
            113 => Link::LinuxSll,
            276 => Link::LinuxSll2,
            // The DLT_RAW values of libpcap and pcapng, and IPv4/IPv6 only.
            12 | 14 | 101 | 228 | 229 => Link::RawIp,
            0 | 108 => Link::Loopback,
            _ => return None,
        })
    }
}

/// The TCP part of a packet that the flows need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment<'a> {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    syn: bool,
    payload: &'a [u8],
}

// What the readers say, worded once so that the CLI and the page say the
// same and the tests can compare the readers' notes exactly.

fn pcap_header_error() -> CaptureError {
    error(0, String::from("pcap file header truncated or invalid; expected 24 bytes"))
}

fn pcapng_header_error() -> CaptureError {
    error(0, String::from("pcapng section header block invalid or truncated"))
}

/// A pcap file cut inside the record at byte `at`.
fn record_cut(at: usize) -> String {
    format!("the file ends inside the packet record at byte {at} (truncated capture); the packets before it were read")
}

/// A pcapng file cut inside, or malformed at, the block at byte `at`.
fn block_cut(at: usize) -> String {
    format!("the file ends inside (or has a malformed) pcapng block at byte {at}; the packets before it were read")
}

/// `addr` exactly as `SocketAddr`'s `Display` writes it (`10.0.0.2:49700`,
/// `[2001:db8::2]:50000`, RFC 5952 for IPv6), written here because core's
/// IPv6 formatting is a sizeable part of the page's decoder wasm.
pub fn addr_text(addr: &SocketAddr) -> String {
    use core::fmt::Write;
    let mut s = String::new();
    let v4 = |s: &mut String, o: [u8; 4]| {
        let _ = write!(s, "{}.{}.{}.{}", o[0], o[1], o[2], o[3]);
    };
    match addr.ip() {
        IpAddr::V4(ip) => v4(&mut s, ip.octets()),
        IpAddr::V6(ip) => {
            s.push('[');
            if let Some(m) = ip.to_ipv4_mapped() {
                s.push_str("::ffff:");
                v4(&mut s, m.octets());
            } else {
                // The first longest run of two or more zero groups becomes `::`.
                let g = ip.segments();
                let (mut best, mut run) = ((0, 0), (0, 0));
                for (i, &x) in g.iter().enumerate() {
                    run = if x != 0 { (i + 1, 0) } else { (run.0, run.1 + 1) };
                    if run.1 > best.1 {
                        best = run;
                    }
                }
                let groups = |s: &mut String, part: &[u16]| {
                    for (i, x) in part.iter().enumerate() {
                        let _ = write!(s, "{}{x:x}", if i > 0 { ":" } else { "" });
                    }
                };
                if best.1 > 1 {
                    groups(&mut s, &g[..best.0]);
                    s.push_str("::");
                    groups(&mut s, &g[best.0 + best.1..]);
                } else {
                    groups(&mut s, &g);
                }
            }
            s.push(']');
        }
    }
    let _ = write!(s, ":{}", addr.port());
    s
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod addr_tests {
    use super::addr_text;
    use proptest::prelude::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    use std::string::ToString;

    proptest! {
        /// Addresses are written exactly as `SocketAddr`'s `Display` does.
        #[test]
        fn addresses_as_std_writes_them(
            g in prop::array::uniform8(prop_oneof![3 => Just(0u16), 1 => Just(0xFFFFu16), 2 => any::<u16>()]),
            v4 in any::<[u8; 4]>(),
            port in any::<u16>(),
        ) {
            for a in [
                SocketAddr::new(IpAddr::V6(Ipv6Addr::from(g)), port),
                SocketAddr::new(IpAddr::V4(Ipv4Addr::from(v4)), port),
                SocketAddr::new(IpAddr::V6(Ipv4Addr::from(v4).to_ipv6_mapped()), port),
            ] {
                prop_assert_eq!(addr_text(&a), a.to_string());
            }
        }
    }
}
