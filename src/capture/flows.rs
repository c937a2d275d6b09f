//! Which TCP flows are KMS conversations, each direction's reassembly, and
//! the interleaving of both directions' PDUs: shared by both readers (this
//! is protocol logic, not capture format).
use std::format;
use std::net::SocketAddr;
use std::string::String;
use std::vec::Vec;

use super::{Chunk, Conversation, KMS_PORT, Segment, addr_text};

/// Payload one side sent: its first sequence number and the packet that carried it.
struct Sent<'a> {
    seq: u32,
    frame: usize,
    data: &'a [u8],
}

#[derive(Default)]
struct Side<'a> {
    syn: Option<u32>,
    segments: Vec<Sent<'a>>,
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
pub(super) struct Flows<'a> {
    list: Vec<Flow<'a>>,
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
    /// Packet number `frame`, and the TCP segment in it if any.
    pub(super) fn add(&mut self, frame: usize, segment: Option<Segment<'a>>) {
        let Some(tcp) = segment else { return };
        let (from, to) = (tcp.src, tcp.dst);
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
            side.segments.push(Sent { seq, frame, data: tcp.payload });
        }
    }

    /// The KMS conversations, in the order their flows started.
    pub(super) fn finish(self) -> Vec<Conversation> {
        self.list.into_iter().filter_map(Flow::finish).collect()
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
    let rel = |s: &Sent<'_>| i64::from(s.seq.wrapping_sub(base) as i32);
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
