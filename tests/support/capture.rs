//! Builds captures for the decoder tests: Ethernet/IPv4/IPv6/TCP frames
//! around recorded PDUs, written as pcap or pcapng. Bytes are laid out by
//! hand on purpose — the code under test parses them with real crates
//! (natively) or with the page's compact reader (the web-decoder tests).

pub const CLIENT4: [u8; 4] = [10, 0, 0, 2];
pub const SERVER4: [u8; 4] = [10, 0, 0, 1];

/// One TCP segment of a flow.
pub struct Seg {
    pub c2s: bool,
    pub seq: u32,
    pub flags: u8,
    pub payload: Vec<u8>,
}

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const PSH: u8 = 0x08;

fn tcp(src_port: u16, dst_port: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&src_port.to_be_bytes());
    t.extend_from_slice(&dst_port.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes()); // ack number (not used by the decoder)
    t.push(5 << 4); // data offset: 20 bytes
    t.push(flags);
    t.extend_from_slice(&65535u16.to_be_bytes()); // window
    t.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    t.extend_from_slice(payload);
    t
}

/// Ethernet + IPv4 + TCP.
pub fn frame4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let seg = tcp(sport, dport, seq, flags, payload);
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    let total = (20 + seg.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]); // id, DF, ttl, TCP, checksum 0
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&seg);
    f
}

/// Ethernet + IPv6 + TCP.
pub fn frame6(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let seg = tcp(sport, dport, seq, flags, payload);
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xDD];
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    f.extend_from_slice(&[6, 64]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&seg);
    f
}

/// Frames of a KMS conversation over IPv4 (client port `cport` → `sport`):
/// handshake, then each PDU in its own segment, except that PDUs longer
/// than 100 bytes are split in two segments; the second half of the first
/// split is sent out of order (after a retransmission of the first half).
pub fn conversation_frames(pdus: &[(bool, Vec<u8>)], cport: u16, sport: u16) -> Vec<Vec<u8>> {
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut frames = vec![
        frame4(CLIENT4, SERVER4, cport, sport, cseq, SYN, &[]),
        frame4(SERVER4, CLIENT4, sport, cport, sseq, SYN | ACK, &[]),
        frame4(CLIENT4, SERVER4, cport, sport, cseq + 1, ACK, &[]),
    ];
    cseq += 1;
    sseq += 1;
    let mut reordered = false;
    for (c2s, pdu) in pdus {
        let (src, dst, sp, dp, seq) =
            if *c2s { (CLIENT4, SERVER4, cport, sport, &mut cseq) } else { (SERVER4, CLIENT4, sport, cport, &mut sseq) };
        if pdu.len() > 100 {
            let (a, b) = pdu.split_at(60);
            let first = frame4(src, dst, sp, dp, *seq, ACK, a);
            let second = frame4(src, dst, sp, dp, seq.wrapping_add(60), ACK | PSH, b);
            if !reordered {
                // second half arrives first, then the first half twice
                frames.push(second);
                frames.push(first.clone());
                frames.push(first);
                reordered = true;
            } else {
                frames.push(first);
                frames.push(second);
            }
        } else {
            frames.push(frame4(src, dst, sp, dp, *seq, ACK | PSH, pdu));
        }
        *seq = seq.wrapping_add(pdu.len() as u32);
    }
    frames
}

/// A little-endian, microsecond pcap with Ethernet link type.
pub fn pcap(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&(1_717_200_000u32 + i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn pad4(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut b = body.to_vec();
    pad4(&mut b);
    let len = (12 + b.len()) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&b);
    out.extend_from_slice(&len.to_le_bytes());
    out
}

/// A little-endian pcapng: section header, one Ethernet interface, an
/// enhanced packet block per frame.
pub fn pcapng(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut out = block(0x0A0D_0D0A, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes()); // LINKTYPE_ETHERNET
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65535u32.to_le_bytes());
    out.extend(block(1, &idb));
    for (i, f) in frames.iter().enumerate() {
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes()); // interface 0
        let ts = 1_717_200_000_000_000u64 + i as u64;
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(f);
        out.extend(block(6, &epb));
    }
    out
}
