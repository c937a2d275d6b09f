//! The two readers against each other: `compact.rs` (the page's) and
//! `crates.rs` (pcap-parser and etherparse, the CLI's) must find the same
//! packet records, the same notes, the same TCP segments and so the same
//! conversations in generated captures: pcap and pcapng of either byte
//! order, options, unknown blocks, simple packets, several sections,
//! unknown interfaces, VLAN tags, IP options and extension headers,
//! fragments, padding, wrong lengths and files and packets cut anywhere.
use super::compact::Compact;
use super::crates::Crates;
use super::*;
use proptest::prelude::*;
use std::vec;

/// A reader's records and notes for a capture file.
fn records<R: Reader>(bytes: &[u8]) -> (Result<Vec<Record<'_>>, CaptureError>, Vec<String>) {
    let mut notes = Vec::new();
    let format = Format::sniff(bytes).expect("a capture's magic number");
    let r = R::records(bytes, format, &mut notes);
    (r, notes)
}

/// A reader's segment for a packet of link type `lt` (`None` if unknown).
fn segment<R: Reader>(lt: u32, data: &[u8]) -> Option<Segment<'_>> {
    Link::of(lt).and_then(|l| R::segment(l, data))
}

// ------------------------------------------------------------ generators

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
    let ether_type: u16 = if s.v6 { 0x86DD } else { 0x0800 };
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
        while !b.len().is_multiple_of(4) {
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
        while !epb.len().is_multiple_of(4) {
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
// ------------------------------------------------------------ properties

/// Both readers find the same segment in a packet, or both none; with one
/// exception. The compact reader takes a Linux cooked (SLL) header's
/// protocol field as an ether type whatever the header's packet type and
/// hardware type say; etherparse knows packet types 0–7 and reads an ether
/// type only for the hardware types that carry one. Real captures have
/// those values right, and damaging them here would otherwise be the most
/// common way to tell the readers apart; so there, and only when
/// etherparse finds no ether type in the header, the compact reader may
/// find a segment that the crates do not.
fn agree(lt: u32, frame: &[u8]) -> Result<(), TestCaseError> {
    let (compact, crates) = (segment::<Compact>(lt, frame), segment::<Crates>(lt, frame));
    let no_ether_type = || {
        !matches!(
            etherparse::LinuxSllSlice::from_slice(frame).map(|h| h.protocol_type()),
            Ok(etherparse::LinuxSllProtocolType::EtherType(_))
        )
    };
    if lt == 113 && crates.is_none() && no_ether_type() {
        return Ok(());
    }
    prop_assert_eq!(compact, crates, "link type {}: {:?}", lt, frame);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Every generated packet: the same TCP segment (or the same "none").
    #[test]
    fn headers_agree(s in spec()) {
        let (lt, frame) = packet(&s);
        prop_assert_eq!(segment::<Compact>(lt, &frame), segment::<Crates>(lt, &frame), "{:?}", s);
    }

    /// Arbitrary bytes under every link type: never a panic, and the same
    /// segment (or none) from both (but see [`agree`]).
    #[test]
    fn arbitrary_bytes(lt in prop_oneof![Just(1u32), Just(113), Just(276), Just(101), Just(0), Just(7)], data in prop::collection::vec(any::<u8>(), 0..120)) {
        agree(lt, &data)?;
    }

    /// Generated packets with bytes overwritten anywhere (lengths, header
    /// lengths, versions, ether types, next headers, flags...).
    #[test]
    fn damaged_headers_agree(s in spec(), damage in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let (lt, mut frame) = packet(&s);
        if frame.is_empty() {
            return Ok(());
        }
        for (at, b) in damage {
            let n = frame.len();
            frame[at % n] = b;
        }
        agree(lt, &frame)?;
    }

    /// Whole files, cut anywhere: the same records, the same notes (or the
    /// same error), and the same capture read from them.
    #[test]
    fn containers_agree(
        specs in prop::collection::vec(spec(), 0..6),
        kind in 0u8..8,
        extras in any::<u8>(),
        cut in prop::option::weighted(0.3, any::<usize>()),
    ) {
        let file = file_of(&specs, kind, extras, cut);
        if Format::sniff(&file).is_none() {
            return Ok(());
        }
        prop_assert_eq!(records::<Compact>(&file), records::<Crates>(&file));
        prop_assert_eq!(read_with::<Compact>(&file), read_with::<Crates>(&file));
    }

    /// Conversations on port 1688 (segments overlapping, missing, cut or
    /// out of order): the same streams, chunks and notes from both.
    #[test]
    fn conversations_agree(
        specs in prop::collection::vec((spec(), any::<bool>(), 0u32..48, prop::bool::weighted(0.1)), 0..12),
        kind in 0u8..8,
        extras in any::<u8>(),
        cut in prop::option::weighted(0.1, any::<usize>()),
    ) {
        let specs: Vec<Spec> = specs
            .into_iter()
            .map(|(mut s, c2s, at, syn)| {
                s.ports = if c2s { (49_700, 1688) } else { (1688, 49_700) };
                s.seq = 1000 + at * 8;
                s.flags = if syn { 0x02 } else { 0x18 };
                s
            })
            .collect();
        let file = file_of(&specs, kind, extras, cut);
        if Format::sniff(&file).is_none() {
            return Ok(());
        }
        prop_assert_eq!(read_with::<Compact>(&file), read_with::<Crates>(&file));
    }
}

/// A capture of the packets of `specs` (pcap: all of the first's link
/// type), cut at `cut` (modulo its length) if given.
fn file_of(specs: &[Spec], kind: u8, extras: u8, cut: Option<usize>) -> Vec<u8> {
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
    file
}

#[test]
fn big_endian_sections_and_bad_magic() {
    let s = |v6| {
        packet(&Spec {
            link: 0, vlans: vec![1, 0], v6, ip_opts: 1, frag: 0x4000, exts: vec![(0, 1), (3, 0)], ah: Some(1), proto: 6,
            tcp_opts: 2, flags: 0x18, seq: 7, ports: (49_700, 1688), payload: b"hello".to_vec(), len_delta: 0, padding: 6, cut: None,
        })
    };
    for v6 in [false, true] {
        let (lt, f) = s(v6);
        let t = segment::<Crates>(lt, &f).unwrap();
        assert_eq!((t.payload, t.dst.port(), t.seq), (&b"hello"[..], 1688, 7));
        assert_eq!(segment::<Compact>(lt, &f), Some(t));
    }
    // Two sections of opposite byte orders in one file.
    let a = capture_file(&[s(false)], 2, 1);
    let b = capture_file(&[s(true)], 3, 6);
    let file: Vec<u8> = a.iter().chain(&b).copied().collect();
    let (recs, notes) = records::<Crates>(&file);
    assert_eq!(recs.as_ref().unwrap().len(), 2);
    assert!(notes.is_empty());
    assert_eq!((recs, notes), records::<Compact>(&file));
    // A section header with a bad byte-order magic.
    let mut bad = a.clone();
    bad[8] ^= 0xFF;
    assert_eq!(records::<Crates>(&bad).0, Err(pcapng_header_error()));
    assert_eq!(records::<Compact>(&bad), records::<Crates>(&bad));
    // TCP segmentation offload: an IPv4 total length of 0 is the rest of
    // the packet (Ethernet padding included: nothing says where it starts).
    let (lt, mut f) = s(false);
    f[24..26].copy_from_slice(&[0, 0]); // after 2 VLAN tags: IP at 22
    let t = segment::<Crates>(lt, &f).unwrap();
    assert_eq!(t.payload, &b"hello\xEE\xEE\xEE\xEE\xEE\xEE"[..]);
    assert_eq!(segment::<Compact>(lt, &f), Some(t));
    // Cut by the snap length (into the payload, past the 6 bytes of
    // padding): no segment, a hole in its stream.
    let (lt, f) = s(false);
    assert_eq!(segment::<Crates>(lt, &f[..f.len() - 8]), None);
    assert_eq!(segment::<Compact>(lt, &f[..f.len() - 8]), None);
}

/// `kmsedge decode --file` reads with the crates: the issue forbids a
/// hand-rolled pcap reader in the CLI.
#[test]
fn the_native_build_reads_with_the_crates() {
    assert_eq!(core::any::type_name::<Built>(), core::any::type_name::<Crates>());
}
