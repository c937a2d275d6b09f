//! Packet captures (pcap, pcapng) → the KMS conversations in them, as the
//! byte stream [`crate::inspect::decode`] takes. Shared by
//! `kmsedge decode --file` and the browser page (feature `capture`).
//!
//! Everything here is the small part of the formats KMS needs, read by hand
//! (the general-purpose crates for pcapng and for packet headers were most
//! of the decoder's WebAssembly; the unit tests below check this reader
//! against them, `pcap-parser` and `etherparse`, on generated captures):
//!
//! * **Containers.** pcap in either byte order (micro- or nanosecond
//!   timestamps); pcapng sections in either byte order, with interface
//!   description, enhanced packet and simple packet blocks (all other
//!   blocks, and all options, are skipped by their length).
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
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::string::String;
use std::vec::Vec;

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
    let mut flows = Flows::default();
    let mut notes = Vec::new();
    let records = match format {
        Format::Pcap => read_pcap(bytes, &mut notes)?,
        Format::PcapNg => read_pcapng(bytes, &mut notes)?,
    };
    let mut packets = 0;
    for r in records {
        packets += 1;
        match r {
            Record::Packet(lt, data) => flows.packet(packets, lt, data, &mut notes),
            Record::NoInterface { at, if_id: Some(id) } => {
                notes.push(format!("packet {packets} (byte {at}) names interface {id} that was never described"))
            }
            Record::NoInterface { at, if_id: None } => {
                notes.push(format!("packet {packets} (byte {at}) comes before any interface description"))
            }
        }
    }
    // Flows are listed in the order they started.
    let conversations: Vec<Conversation> = flows.list.into_iter().filter_map(Flow::finish).collect();
    Ok(Capture { format, packets, conversations, notes })
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

// ------------------------------------------------------------ containers

/// One packet record of a capture, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Record<'a> {
    /// Link type and captured bytes.
    Packet(u32, &'a [u8]),
    /// A pcapng packet whose interface is unknown: the block's byte offset
    /// and the interface id (`None` for a simple packet block).
    NoInterface { at: usize, if_id: Option<u32> },
}

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
        return Err(error(0, String::from("pcap file header truncated or invalid; expected 24 bytes")));
    };
    // The low 16 bits are the link type (the high ones may give an FCS length).
    let lt = network & 0xFFFF;
    let mut out = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        // ts_sec, ts_usec, caplen, origlen, then caplen bytes.
        let data = uint(bytes, at + 8, 4, be).and_then(|caplen| bytes.get(at + 16..(at + 16).checked_add(caplen as usize)?));
        let Some(data) = data else {
            notes.push(format!(
                "the file ends inside the packet record at byte {at} (truncated capture); the packets before it were read"
            ));
            break;
        };
        out.push(Record::Packet(lt, data));
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
                        Some(&lt) => Record::Packet(lt, data),
                        None => Record::NoInterface { at, if_id: Some(if_id) },
                    })),
                    None => Err(()),
                },
                _ => Err(()),
            },
            // Simple packet: origlen, data (padded, or cut by the snap length).
            Some(3) => match (field(0, 4), body.get(4..)) {
                (Some(orig), Some(data)) => Ok(Some(match interfaces.first() {
                    Some(&lt) => Record::Packet(lt, &data[..data.len().min(orig as usize)]),
                    None => Record::NoInterface { at, if_id: None },
                })),
                _ => Err(()),
            },
            _ => Ok(None),
        };
        match record {
            Ok(r) => out.extend(r),
            Err(()) if at == 0 => return Err(error(0, String::from("pcapng section header block invalid or truncated"))),
            Err(()) => {
                notes.push(format!(
                    "the file ends inside (or has a malformed) pcapng block at byte {at}; the packets before it were read"
                ));
                break;
            }
        }
        at += len;
    }
    Ok(out)
}

// ------------------------------------------------------------ headers

/// The TCP part of a packet that the flows need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tcp<'a> {
    from: SocketAddr,
    to: SocketAddr,
    seq: u32,
    syn: bool,
    payload: &'a [u8],
}

/// Ether types of IPv4, IPv6 and the VLAN tags (802.1Q, 802.1ad, old QinQ).
const IPV4: u16 = 0x0800;
const IPV6: u16 = 0x86DD;

/// The TCP segment in a packet of link type `lt`, if it carries one (and
/// is not an IP fragment or cut short); `Err(())` for an unknown link type.
fn tcp_of(lt: u32, data: &[u8]) -> Result<Option<Tcp<'_>>, ()> {
    Ok(match lt {
        // Ethernet: destination, source, ether type.
        1 => ether(be16(data, 12), data.get(14..)),
        // Linux cooked capture v1: 16-byte header, protocol type at 14.
        113 => ether(be16(data, 14), data.get(16..)),
        // Linux cooked capture v2: protocol type at 0, 20-byte header.
        276 => ether(be16(data, 0), data.get(20..)),
        // Raw IP (the DLT_RAW values of libpcap and pcapng).
        12 | 14 | 101 | 228 | 229 => ip(data),
        // BSD loopback: a 4-byte address family, then IP.
        0 | 108 => data.get(4..).and_then(ip),
        _ => return Err(()),
    })
}

/// An ether-type payload: up to three VLAN tags, then IPv4 or IPv6.
fn ether(mut kind: Option<u16>, mut rest: Option<&[u8]>) -> Option<Tcp<'_>> {
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
fn ip(p: &[u8]) -> Option<Tcp<'_>> {
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
    Some(Tcp {
        from: SocketAddr::new(src, be16(body, 0)?),
        to: SocketAddr::new(dst, be16(body, 2)?),
        seq: uint(body, 4, 4, true)?,
        syn: body[13] & 0x02 != 0,
        payload,
    })
}

// ------------------------------------------------------------ flows

/// A TCP segment with payload.
struct Segment<'a> {
    seq: u32,
    frame: usize,
    data: &'a [u8],
}

#[derive(Default)]
struct Side<'a> {
    syn: Option<u32>,
    segments: Vec<Segment<'a>>,
}

/// One TCP flow, sides in the order first seen (`sides[0]` sent first).
struct Flow<'a> {
    addrs: [SocketAddr; 2],
    first_frame: usize,
    sides: [Side<'a>; 2],
}

/// The flows seen so far (a capture of KMS traffic has few, so a list
/// searched linearly is smaller and fast enough).
#[derive(Default)]
struct Flows<'a> {
    list: Vec<Flow<'a>>,
    unsupported: Vec<u32>,
}

/// Stable insertion sort: the lists sorted here are short, and the
/// standard library's sort adds several KB to the page's wasm.
fn sort_by_key<T, K: PartialOrd>(v: &mut [T], key: impl Fn(&T) -> K) {
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && key(&v[j - 1]) > key(&v[j]) {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
}

impl<'a> Flows<'a> {
    fn packet(&mut self, frame: usize, lt: u32, data: &'a [u8], notes: &mut Vec<String>) {
        let tcp = match tcp_of(lt, data) {
            Ok(Some(tcp)) => tcp,
            Ok(None) => return,
            Err(()) => {
                if !self.unsupported.contains(&lt) {
                    self.unsupported.push(lt);
                    notes.push(format!("packets of link type {lt} are not decoded (first: packet {frame})"));
                }
                return;
            }
        };
        let (from, to) = (tcp.from, tcp.to);
        let i = match self.list.iter().position(|f| f.addrs == [from, to] || f.addrs == [to, from]) {
            Some(i) => i,
            None => {
                self.list.push(Flow { addrs: [from, to], first_frame: frame, sides: [Side::default(), Side::default()] });
                self.list.len() - 1
            }
        };
        let flow = &mut self.list[i];
        let side = &mut flow.sides[usize::from(flow.addrs[0] != from)];
        if tcp.syn {
            side.syn = Some(tcp.seq);
        }
        if !tcp.payload.is_empty() {
            // SYN occupies one sequence number; data on a SYN starts after it.
            let seq = tcp.seq.wrapping_add(u32::from(tcp.syn));
            side.segments.push(Segment { seq, frame, data: tcp.payload });
        }
    }
}

/// A direction's bytes and, for each run of them, the packet that carried it.
struct Stream {
    bytes: Vec<u8>,
    /// (end offset, frame) runs in stream order.
    frames: Vec<(usize, usize)>,
    hole: Option<String>,
}

impl Stream {
    fn frame_of(&self, at: usize) -> usize {
        self.frames.iter().find(|(end, _)| at < *end).map_or(0, |(_, f)| *f)
    }
}

fn assemble(side: &mut Side<'_>, name: &str) -> Stream {
    let mut out = Stream { bytes: Vec::new(), frames: Vec::new(), hole: None };
    if side.segments.is_empty() {
        return out;
    }
    let base = match side.syn {
        Some(s) => s.wrapping_add(1),
        None => {
            // Relative to the first segment, then shifted to the lowest.
            let first = side.segments[0].seq;
            let low = side.segments.iter().map(|s| s.seq.wrapping_sub(first) as i32).min().unwrap_or(0);
            first.wrapping_add(low as u32)
        }
    };
    let rel = |s: &Segment<'_>| i64::from(s.seq.wrapping_sub(base) as i32);
    sort_by_key(&mut side.segments, |s| (rel(s), s.frame));
    for s in &side.segments {
        let (start, end) = (rel(s), rel(s) + s.data.len() as i64);
        let have = out.bytes.len() as i64;
        if start > have {
            out.hole = Some(format!(
                "{name}: {} bytes missing at stream offset {have} before packet {} (not in the capture); the stream is decoded up to there",
                start - have,
                s.frame
            ));
            break;
        }
        if end <= have {
            continue; // retransmission
        }
        out.bytes.extend_from_slice(&s.data[(have - start) as usize..]);
        out.frames.push((out.bytes.len(), s.frame));
    }
    out
}

/// Cuts a direction's stream into PDUs by `frag_length`; whatever does not
/// frame (not RPC, or cut short) is one final chunk, for the decoder to report.
fn pdus(s: &Stream) -> Vec<(usize, usize, usize)> {
    let b = &s.bytes;
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let frag = match b.get(at..at + 16) {
            Some(h) if h[0] == 5 && h[1] == 0 => u16::from_le_bytes([h[8], h[9]]) as usize,
            _ => 0,
        };
        let len = if frag >= 16 && at + frag <= b.len() { frag } else { b.len() - at };
        out.push((at, len, s.frame_of(at + len - 1)));
        at += len;
    }
    out
}

/// Whether a stream starts with a bind offering the KMS interface.
fn starts_with_kms_bind(b: &[u8]) -> bool {
    let iface = crate::wire::syntax::KMS_INTERFACE.uuid.0;
    b.len() > 16 && b[..3] == [5, 0, 11] && {
        let frag = (u16::from_le_bytes([b[8], b[9]]) as usize).min(b.len());
        b[..frag].windows(16).any(|w| w == iface)
    }
}

impl Flow<'_> {
    fn finish(mut self) -> Option<Conversation> {
        let [a, b] = self.addrs.map(|x| addr_text(&x));
        let names = [format!("{a} → {b}"), format!("{b} → {a}")];
        let streams = [assemble(&mut self.sides[0], &names[0]), assemble(&mut self.sides[1], &names[1])];
        if streams.iter().all(|s| s.bytes.is_empty()) {
            return None; // handshake only, nothing to decode
        }
        let port = |i: usize| self.addrs[i].port();
        let client = if port(1) == KMS_PORT && port(0) != KMS_PORT {
            0
        } else if port(0) == KMS_PORT && port(1) != KMS_PORT {
            1
        } else if starts_with_kms_bind(&streams[0].bytes) {
            0
        } else if starts_with_kms_bind(&streams[1].bytes) {
            1
        } else {
            return None;
        };
        let mut chunks: Vec<(usize, bool, usize, usize, usize)> = Vec::new(); // (frame, !c2s, side, off, len)
        for (side, s) in streams.iter().enumerate() {
            for (off, len, frame) in pdus(s) {
                chunks.push((frame, side != client, side, off, len));
            }
        }
        sort_by_key(&mut chunks, |c| (c.0, c.1));
        let mut conv = Conversation {
            client: self.addrs[client],
            server: self.addrs[1 - client],
            first_frame: self.first_frame,
            stream: Vec::new(),
            chunks: Vec::new(),
            notes: streams.iter().filter_map(|s| s.hole.clone()).collect(),
        };
        for (frame, s2c, side, off, len) in chunks {
            let offset = conv.stream.len();
            conv.stream.extend_from_slice(&streams[side].bytes[off..off + len]);
            conv.chunks.push(Chunk { offset, len, c2s: !s2c, frame });
        }
        Some(conv)
    }
}

/// The reader against `pcap-parser` (containers) and `etherparse`
/// (headers), used the way this module used them before it read captures
/// by hand: on generated captures both must find the same packets and the
/// same TCP segments.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;
    use std::vec;

    // ---------------------------------------------------------- references

    fn reference_tcp(lt: u32, data: &[u8]) -> Result<Option<Tcp<'_>>, ()> {
        use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};
        let sliced = match lt {
            1 => SlicedPacket::from_ethernet(data),
            113 => SlicedPacket::from_linux_sll(data),
            12 | 14 | 101 | 228 | 229 => SlicedPacket::from_ip(data),
            0 | 108 => match data.get(4..) {
                Some(ip) => SlicedPacket::from_ip(ip),
                None => return Ok(None),
            },
            276 => match (data.get(..2), data.get(20..)) {
                (Some(p), Some(rest)) => SlicedPacket::from_ether_type(EtherType(u16::from_be_bytes([p[0], p[1]])), rest),
                _ => return Ok(None),
            },
            _ => return Err(()),
        };
        let Ok(p) = sliced else { return Ok(None) };
        let (src, dst) = match &p.net {
            Some(NetSlice::Ipv4(ip)) => (IpAddr::V4(ip.header().source_addr()), IpAddr::V4(ip.header().destination_addr())),
            Some(NetSlice::Ipv6(ip)) => (IpAddr::V6(ip.header().source_addr()), IpAddr::V6(ip.header().destination_addr())),
            _ => return Ok(None),
        };
        let Some(TransportSlice::Tcp(tcp)) = p.transport else { return Ok(None) };
        Ok(Some(Tcp {
            from: SocketAddr::new(src, tcp.source_port()),
            to: SocketAddr::new(dst, tcp.destination_port()),
            seq: tcp.sequence_number(),
            syn: tcp.syn(),
            payload: tcp.payload(),
        }))
    }

    fn reference_records(bytes: &[u8]) -> (Result<Vec<Record<'_>>, CaptureError>, Vec<String>) {
        use pcap_parser::pcapng::Block;
        use pcap_parser::{parse_block_be, parse_block_le, parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header};
        let mut notes = Vec::new();
        let mut out = Vec::new();
        if Format::sniff(bytes) == Some(Format::Pcap) {
            let Ok((mut rem, header)) = parse_pcap_header(bytes) else {
                return (Err(error(0, String::from("pcap file header truncated or invalid; expected 24 bytes"))), notes);
            };
            let be = header.is_bigendian();
            while !rem.is_empty() {
                let at = bytes.len() - rem.len();
                match if be { parse_pcap_frame_be(rem) } else { parse_pcap_frame(rem) } {
                    Ok((next, block)) => {
                        out.push(Record::Packet(header.network.0 as u32, block.data));
                        rem = next;
                    }
                    Err(_) => {
                        notes.push(format!(
                            "the file ends inside the packet record at byte {at} (truncated capture); the packets before it were read"
                        ));
                        break;
                    }
                }
            }
            return (Ok(out), notes);
        }
        let (mut rem, mut be, mut interfaces) = (bytes, false, Vec::new());
        while !rem.is_empty() {
            let at = bytes.len() - rem.len();
            let (next, block) = match if be { parse_block_be(rem) } else { parse_block_le(rem) } {
                Ok(x) => x,
                Err(_) if at == 0 => {
                    return (Err(error(0, String::from("pcapng section header block invalid or truncated"))), notes);
                }
                Err(_) => {
                    notes.push(format!(
                        "the file ends inside (or has a malformed) pcapng block at byte {at}; the packets before it were read"
                    ));
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
                    Some(&lt) => Record::Packet(lt, &epb.data[..(epb.caplen as usize).min(epb.data.len())]),
                    None => Record::NoInterface { at, if_id: Some(epb.if_id) },
                }),
                Block::SimplePacket(spb) => out.push(match interfaces.first() {
                    Some(&lt) => Record::Packet(lt, &spb.data[..(spb.origlen as usize).min(spb.data.len())]),
                    None => Record::NoInterface { at, if_id: None },
                }),
                _ => {}
            }
            rem = next;
        }
        (Ok(out), notes)
    }

    fn ours(bytes: &[u8]) -> (Result<Vec<Record<'_>>, CaptureError>, Vec<String>) {
        let mut notes = Vec::new();
        let r = match Format::sniff(bytes) {
            Some(Format::Pcap) => read_pcap(bytes, &mut notes),
            _ => read_pcapng(bytes, &mut notes),
        };
        (r, notes)
    }

    // ---------------------------------------------------------- generators

    /// A TCP segment: header (with options) and payload.
    fn tcp_bytes(sport: u16, dport: u16, seq: u32, flags: u8, opts: usize, payload: &[u8]) -> Vec<u8> {
        let mut t = vec![0u8; 20 + opts * 4];
        t[..2].copy_from_slice(&sport.to_be_bytes());
        t[2..4].copy_from_slice(&dport.to_be_bytes());
        t[4..8].copy_from_slice(&seq.to_be_bytes());
        t[12] = ((5 + opts) as u8) << 4;
        t[13] = flags;
        for (i, b) in t[20..].iter_mut().enumerate() {
            *b = 1 + (i % 3) as u8; // NOPs and junk: options are not read
        }
        t.extend_from_slice(payload);
        t
    }

    #[derive(Debug, Clone)]
    struct Spec {
        link: u8,
        vlans: Vec<u16>,
        v6: bool,
        ip_opts: usize,
        frag: u16,
        exts: Vec<(u8, u8)>,
        ah: Option<u8>,
        proto: u8,
        tcp_opts: usize,
        flags: u8,
        seq: u32,
        ports: (u16, u16),
        payload: Vec<u8>,
        len_delta: i8,
        padding: usize,
        cut: Option<usize>,
    }

    /// A packet from a spec: link header, IP header (lengths off by
    /// `len_delta`, extension headers, fragments), TCP, padding, a cut.
    fn packet(s: &Spec) -> (u32, Vec<u8>) {
        let seg = tcp_bytes(s.ports.0, s.ports.1, s.seq, s.flags, s.tcp_opts, &s.payload);
        let mut ip = Vec::new();
        let mut inner = Vec::new();
        // Extension headers (IPv6) / AH (both), innermost last.
        let mut chain: Vec<(u8, Vec<u8>)> = Vec::new();
        if s.v6 {
            for &(kind, n) in &s.exts {
                let code = [0u8, 43, 60, 44][usize::from(kind % 4)];
                let mut h = vec![0u8; if code == 44 { 8 } else { (usize::from(n % 3) + 1) * 8 }];
                if code == 44 {
                    h[2..4].copy_from_slice(&(u16::from(n) & 0x0F).to_be_bytes());
                } else {
                    h[1] = n % 3;
                }
                chain.push((code, h));
            }
        }
        if let Some(a) = s.ah {
            let mut h = vec![0u8; (usize::from(a % 3) + 2) * 4];
            h[1] = a % 3;
            chain.push((51, h));
        }
        let mut next = s.proto;
        for (code, mut h) in chain.into_iter().rev() {
            h[0] = next;
            next = code;
            h.extend_from_slice(&inner);
            inner = h;
        }
        let body: Vec<u8> = inner.iter().copied().chain(seg).collect();
        // (The chain was built without the segment; prepend it now.)
        let mut payload = inner;
        payload.extend_from_slice(&body[payload.len()..]);
        if s.v6 {
            ip.extend_from_slice(&[0x60, 0, 0, 0]);
            let len = (payload.len() as i32 + i32::from(s.len_delta)).clamp(0, 0xFFFF) as u16;
            ip.extend_from_slice(&len.to_be_bytes());
            ip.extend_from_slice(&[next, 64]);
            ip.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
            ip.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        } else {
            let hl = 20 + s.ip_opts * 4;
            ip.push(0x40 | (5 + s.ip_opts) as u8);
            ip.push(0);
            let total = ((hl + payload.len()) as i32 + i32::from(s.len_delta)).clamp(1, 0xFFFF) as u16;
            ip.extend_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&[0, 1]);
            ip.extend_from_slice(&s.frag.to_be_bytes());
            ip.extend_from_slice(&[64, next, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1]);
            ip.resize(hl, 1);
        }
        ip.extend_from_slice(&payload);
        let ether_type: u16 = if s.v6 { IPV6 } else { IPV4 };
        let (lt, mut frame) = match s.link % 6 {
            0 | 1 => {
                let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
                for &tag in &s.vlans {
                    f.extend_from_slice(&[0x81, 0x00, 0, 7]);
                    let _ = tag;
                }
                // Tag types: the first of each pair is 802.1ad when asked.
                let mut at = 12;
                for &tag in &s.vlans {
                    let t: u16 = [0x8100, 0x88A8, 0x9100][usize::from(tag % 3)];
                    f[at..at + 2].copy_from_slice(&t.to_be_bytes());
                    at += 4;
                }
                // The ether type after each tag (and the outer one).
                let mut types: Vec<u16> = s.vlans.iter().skip(1).map(|&t| [0x8100, 0x88A8, 0x9100][usize::from(t % 3)]).collect();
                types.push(ether_type);
                let mut f2 = f[..12].to_vec();
                if s.vlans.is_empty() {
                    f2.extend_from_slice(&ether_type.to_be_bytes());
                } else {
                    for (i, &tag) in s.vlans.iter().enumerate() {
                        let t: u16 = [0x8100, 0x88A8, 0x9100][usize::from(tag % 3)];
                        if i == 0 {
                            f2.extend_from_slice(&t.to_be_bytes());
                        }
                        f2.extend_from_slice(&[0, 7]);
                        f2.extend_from_slice(&types[i].to_be_bytes());
                    }
                }
                (1, f2)
            }
            2 => {
                let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
                f.extend_from_slice(&ether_type.to_be_bytes());
                (113, f)
            }
            3 => {
                let mut f = ether_type.to_be_bytes().to_vec();
                f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 6, 2, 0, 0, 0, 0, 0, 1]);
                (276, f)
            }
            4 => ([101, 12, 14, 228, 229][usize::from(s.ports.0 % 5)], Vec::new()),
            _ => ([0, 108][usize::from(s.ports.1 % 2)], vec![2, 0, 0, 0]),
        };
        frame.extend_from_slice(&ip);
        frame.extend(std::iter::repeat_n(0xEE, s.padding));
        if let Some(c) = s.cut {
            frame.truncate(c % (frame.len() + 1));
        }
        (lt, frame)
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (
            (any::<u8>(), prop::collection::vec(any::<u16>(), 0..4), any::<bool>(), 0usize..3),
            (prop_oneof![4 => Just(0u16), 1 => Just(0x2000u16), 1 => 1u16..0x2000, 1 => Just(0x4000u16)], prop::collection::vec(any::<(u8, u8)>(), 0..4)),
            (prop::option::of(any::<u8>()), prop_oneof![6 => Just(6u8), 1 => Just(17u8), 1 => any::<u8>()], 0usize..4, any::<u8>(), any::<u32>()),
            (any::<(u16, u16)>(), prop::collection::vec(any::<u8>(), 0..80)),
            (prop_oneof![6 => Just(0i8), 1 => -8i8..8], 0usize..20, prop::option::weighted(0.2, any::<usize>())),
        )
            .prop_map(|((link, vlans, v6, ip_opts), (frag, exts), (ah, proto, tcp_opts, flags, seq), (ports, payload), (len_delta, padding, cut))| Spec {
                link, vlans, v6, ip_opts, frag, exts, ah, proto, tcp_opts, flags, seq, ports, payload, len_delta, padding, cut,
            })
    }

    /// pcap or pcapng (either byte order) of `frames`, with the extras
    /// pcapng allows: options, other blocks, simple packets, sections.
    fn capture_file(frames: &[(u32, Vec<u8>)], kind: u8, extras: u8) -> Vec<u8> {
        let be = kind & 1 == 1;
        let u16b = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut out = Vec::new();
        if kind & 2 == 0 {
            out.extend_from_slice(&u32b(if kind & 4 == 0 { 0xA1B2_C3D4 } else { 0xA1B2_3C4D }));
            out.extend_from_slice(&u16b(2));
            out.extend_from_slice(&u16b(4));
            out.extend_from_slice(&[0; 8]);
            out.extend_from_slice(&u32b(65535));
            out.extend_from_slice(&u32b(frames.first().map_or(1, |f| f.0)));
            for (_, f) in frames {
                out.extend_from_slice(&[0; 8]);
                out.extend_from_slice(&u32b(f.len() as u32));
                out.extend_from_slice(&u32b(f.len() as u32 + u32::from(extras)));
                out.extend_from_slice(f);
            }
            return out;
        }
        let block = |out: &mut Vec<u8>, kind: u32, body: &[u8]| {
            let mut b = body.to_vec();
            while b.len() % 4 != 0 {
                b.push(0);
            }
            let len = (12 + b.len()) as u32;
            out.extend_from_slice(&u32b(kind));
            out.extend_from_slice(&u32b(len));
            out.extend_from_slice(&b);
            out.extend_from_slice(&u32b(len));
        };
        let options = |extras: u8| -> Vec<u8> {
            if extras & 1 == 0 {
                return Vec::new();
            }
            let mut o = Vec::new();
            o.extend_from_slice(&u16b(1)); // opt_comment
            o.extend_from_slice(&u16b(5));
            o.extend_from_slice(b"hello\0\0\0");
            o.extend_from_slice(&[0; 4]); // opt_endofopt
            o
        };
        let mut shb = u32b(0x1A2B_3C4D).to_vec();
        shb.extend_from_slice(&u16b(1));
        shb.extend_from_slice(&u16b(0));
        shb.extend_from_slice(&[0xFF; 8]);
        block(&mut out, 0x0A0D_0D0A, &shb);
        // Interfaces: one per link type used, in order of first use.
        let mut lts: Vec<u32> = Vec::new();
        for (lt, _) in frames {
            if !lts.contains(lt) {
                lts.push(*lt);
            }
        }
        if extras & 2 != 0 {
            block(&mut out, 0x0000_0BAD, b"an unknown block"); // skipped
        }
        for lt in &lts {
            let mut idb = u16b(*lt as u16).to_vec();
            idb.extend_from_slice(&u16b(0));
            idb.extend_from_slice(&u32b(65535));
            idb.extend_from_slice(&options(extras));
            block(&mut out, 1, &idb);
        }
        for (i, (lt, f)) in frames.iter().enumerate() {
            let if_id = lts.iter().position(|l| l == lt).unwrap() as u32;
            if extras & 4 != 0 && if_id == 0 && i % 2 == 1 {
                let mut spb = u32b(f.len() as u32).to_vec();
                spb.extend_from_slice(f);
                block(&mut out, 3, &spb);
                continue;
            }
            let mut epb = u32b(if_id + u32::from(extras & 8 != 0 && i == 1) * 7).to_vec();
            epb.extend_from_slice(&[0; 8]);
            epb.extend_from_slice(&u32b(f.len() as u32));
            epb.extend_from_slice(&u32b(f.len() as u32 + 3));
            epb.extend_from_slice(f);
            while epb.len() % 4 != 0 {
                epb.push(0);
            }
            epb.extend_from_slice(&options(extras));
            block(&mut out, 6, &epb);
            if extras & 16 != 0 && i == 0 {
                block(&mut out, 5, &[0; 12]); // interface statistics
            }
        }
        out
    }

    // ---------------------------------------------------------- properties

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Every generated packet: the same TCP segment (or the same "none").
        #[test]
        fn headers_match_etherparse(s in spec()) {
            let (lt, frame) = packet(&s);
            prop_assert_eq!(tcp_of(lt, &frame), reference_tcp(lt, &frame), "{:?}", s);
        }

        /// Arbitrary bytes under every link type: never a panic, and every
        /// segment etherparse finds is found the same (the reader is more
        /// lenient in one place only: an IPv4 total length of 0).
        #[test]
        fn arbitrary_bytes(lt in prop_oneof![Just(1u32), Just(113), Just(276), Just(101), Just(0), Just(7)], data in prop::collection::vec(any::<u8>(), 0..120)) {
            let ours = tcp_of(lt, &data);
            match reference_tcp(lt, &data) {
                Ok(Some(t)) => prop_assert_eq!(ours, Ok(Some(t))),
                other => prop_assert!(ours == other || matches!(ours, Ok(Some(_))), "{:?} vs {:?}", ours, other),
            }
        }

        /// Whole files, cut anywhere: the same records and the same notes.
        #[test]
        fn containers_match_pcap_parser(
            specs in prop::collection::vec(spec(), 0..6),
            kind in 0u8..8,
            extras in any::<u8>(),
            cut in prop::option::weighted(0.3, any::<usize>()),
        ) {
            let frames: Vec<(u32, Vec<u8>)> = specs.iter().map(packet).collect();
            // pcap has one link type for the whole file.
            let frames: Vec<(u32, Vec<u8>)> = if kind & 2 == 0 {
                let lt = frames.first().map_or(1, |f| f.0);
                frames.into_iter().map(|(_, f)| (lt, f)).collect()
            } else {
                frames
            };
            let mut file = capture_file(&frames, kind, extras);
            if let Some(c) = cut {
                file.truncate(c % (file.len() + 1));
            }
            if Format::sniff(&file).is_none() {
                return Ok(());
            }
            prop_assert_eq!(ours(&file), reference_records(&file));
        }
    }

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

    #[test]
    fn big_endian_sections_and_bad_magic() {
        let s = |v6| packet(&Spec {
            link: 0, vlans: vec![1, 0], v6, ip_opts: 1, frag: 0x4000, exts: vec![(0, 1), (3, 0)], ah: Some(1), proto: 6,
            tcp_opts: 2, flags: 0x18, seq: 7, ports: (49_700, 1688), payload: b"hello".to_vec(), len_delta: 0, padding: 6, cut: None,
        });
        for v6 in [false, true] {
            let (lt, f) = s(v6);
            let t = tcp_of(lt, &f).unwrap().unwrap();
            assert_eq!((t.payload, t.to.port(), t.seq), (&b"hello"[..], 1688, 7));
            assert_eq!(tcp_of(lt, &f), reference_tcp(lt, &f));
        }
        // Two sections of opposite byte orders in one file.
        let a = capture_file(&[s(false)], 2, 1);
        let b = capture_file(&[s(true)], 3, 6);
        let file: Vec<u8> = a.iter().chain(&b).copied().collect();
        let (records, notes) = ours(&file);
        assert_eq!(records.as_ref().unwrap().len(), 2);
        assert!(notes.is_empty());
        assert_eq!((records, notes), reference_records(&file));
        // A section header with a bad byte-order magic.
        let mut bad = a.clone();
        bad[8] ^= 0xFF;
        assert_eq!(ours(&bad), reference_records(&bad));
        assert!(ours(&bad).0.is_err());
        // TCP segmentation offload: an IPv4 total length of 0.
        let (lt, mut f) = s(false);
        f[24..26].copy_from_slice(&[0, 0]); // after 2 VLAN tags: IP at 22
        assert_eq!(tcp_of(lt, &f).unwrap().unwrap().payload, &b"hello\xEE\xEE\xEE\xEE\xEE\xEE"[..]);
    }
}
