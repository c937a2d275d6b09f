//! The registry's write-ahead journal: what makes an answer safe to send.
//!
//! An activation is answered only once its record is durable. Committing
//! each group of records to SQLite directly costs whole 4 KiB pages per
//! row touched — the client row and three time-ordered indexes — so at
//! tens of thousands of requests a second the WAL grew by hundreds of
//! megabytes a second and the commits were most of the host's CPU. Here a
//! group is instead appended as compact records (~150 bytes each) with one
//! `write` (and, with `sync = full`, one `fdatasync`), and the waiting
//! connections are released. The registry thread applies journaled records
//! to SQLite in large, paced transactions, storing the last applied
//! sequence number in the same transaction ([`APPLIED_KEY`]); on start,
//! [`recover`] applies whatever the journal holds beyond it.
//!
//! The journal is a series of segment files `journal-<first seq>.log` in
//! the data directory. Each record is framed as
//!
//! ```text
//! [0..4)  body length (u32 LE)    [4..8)  CRC-32 of the body
//! body:   seq u64 | cmid, kms_id, application, sku (u128 each) |
//!         license_status u32 | version major, minor (u16 each) | now i64 |
//!         hresult u32 | address (16 bytes, IPv4 mapped) | is_v4 u8 |
//!         workstation length u16 | workstation UTF-8 |
//!         reported count u32 (u32::MAX: none)
//! ```
//!
//! all little-endian. The reported count (for the event history) came
//! later: a record without it, journaled by an older version, still reads,
//! with no count. A record cut short or failing its CRC ends its
//! segment: it can only be the tail of a write that never completed, which
//! was never acknowledged (a failed write is cut back off the segment, or,
//! if that fails too, the journal moves on to a new segment, so nothing
//! acknowledged ever follows a torn record).
//! Segments whose records are all applied are deleted.
use std::prelude::rust_2024::{String, ToOwned, Vec};
use std::format;
use super::super::settings::SyncMode;
pub use super::record::APPLIED_KEY;
use super::record::{Record, write_batch};
use crate::Guid;
use crate::kms::Version;
use anyhow::{Context, anyhow};
use rusqlite::OptionalExtension;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// A segment is closed and a new one started once it holds this much.
pub const SEGMENT_BYTES: u64 = 8 << 20;
/// A fully applied segment at least this large is replaced at once rather
/// than left to grow to [`SEGMENT_BYTES`].
const RECYCLE_BYTES: u64 = 256 << 10;

const HEADER: usize = 8;
const FIXED: usize = 8 + 4 * 16 + 4 + 4 + 8 + 4 + 16 + 1 + 2;
/// The reported count after the workstation.
const TAIL: usize = 4;
const NO_COUNT: u32 = u32::MAX;
/// Longer bodies cannot be ours (workstations are at most a few hundred
/// bytes), so such a length is read as damage.
const MAX_BODY: usize = FIXED + 1024 + TAIL;

/// Appends `record` with sequence number `seq` to `out`.
pub fn encode(seq: u64, r: &Record, out: &mut Vec<u8>) {
    let ws = r.workstation.as_bytes();
    let ws = &ws[..ws.len().min(MAX_BODY - FIXED - TAIL)];
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.extend_from_slice(&seq.to_le_bytes());
    for g in [r.cmid, r.kms_id, r.application, r.sku] {
        out.extend_from_slice(&g.to_u128().to_le_bytes());
    }
    out.extend_from_slice(&r.license_status.to_le_bytes());
    out.extend_from_slice(&r.protocol.major.to_le_bytes());
    out.extend_from_slice(&r.protocol.minor.to_le_bytes());
    out.extend_from_slice(&r.now.to_le_bytes());
    out.extend_from_slice(&r.hresult.to_le_bytes());
    let (addr, v4) = match r.remote {
        IpAddr::V4(a) => (a.to_ipv6_mapped(), 1u8),
        IpAddr::V6(a) => (a, 0u8),
    };
    out.extend_from_slice(&addr.octets());
    out.push(v4);
    out.extend_from_slice(&(ws.len() as u16).to_le_bytes());
    out.extend_from_slice(ws);
    out.extend_from_slice(&r.reported.unwrap_or(NO_COUNT).to_le_bytes());
    let body = &out[start + HEADER..];
    let (len, crc) = (body.len() as u32, crc32fast::hash(body));
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// The records of one segment, in order, and where they stopped if the
/// segment does not end with a complete record.
#[derive(Debug, Default)]
pub struct Decoded {
    pub records: Vec<(u64, Record)>,
    /// Offset of a torn or damaged record; nothing after it is read.
    pub torn_at: Option<usize>,
}

/// Reads a segment's bytes.
pub fn decode(bytes: &[u8]) -> Decoded {
    let mut d = Decoded::default();
    let mut at = 0;
    while at < bytes.len() {
        match decode_one(&bytes[at..]) {
            Some((seq, record, used)) => {
                d.records.push((seq, record));
                at += used;
            }
            None => {
                d.torn_at = Some(at);
                break;
            }
        }
    }
    d
}

fn decode_one(b: &[u8]) -> Option<(u64, Record, usize)> {
    let len = u32::from_le_bytes(b.get(0..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(b.get(4..8)?.try_into().ok()?);
    if !(FIXED..=MAX_BODY).contains(&len) {
        return None;
    }
    let body = b.get(HEADER..HEADER + len)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let mut f = Fields(body);
    let seq = u64::from_le_bytes(f.take());
    let mut guid = || Guid::from_u128(u128::from_le_bytes(f.take()));
    let (cmid, kms_id, application, sku) = (guid(), guid(), guid(), guid());
    let license_status = u32::from_le_bytes(f.take());
    let protocol = Version { major: u16::from_le_bytes(f.take()), minor: u16::from_le_bytes(f.take()) };
    let now = i64::from_le_bytes(f.take());
    let hresult = u32::from_le_bytes(f.take());
    let addr = Ipv6Addr::from(f.take::<16>());
    let remote = match f.take::<1>() {
        [1] => IpAddr::V4(addr.to_ipv4_mapped()?),
        [0] => IpAddr::V6(addr),
        _ => return None,
    };
    let ws_len = u16::from_le_bytes(f.take()) as usize;
    let reported = match f.0.len().checked_sub(ws_len)? {
        0 => None,
        TAIL => Some(u32::from_le_bytes(f.0[ws_len..].try_into().ok()?)).filter(|n| *n != NO_COUNT),
        _ => return None,
    };
    let workstation = core::str::from_utf8(&f.0[..ws_len]).ok()?.to_owned();
    let record = Record { cmid, kms_id, application, sku, workstation, remote, license_status, protocol, now, hresult, reported };
    Some((seq, record, HEADER + len))
}

/// A cursor over a body whose length was checked against [`FIXED`].
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        head.try_into().unwrap_or([0; N])
    }
}

fn segment_name(first_seq: u64) -> String {
    format!("journal-{first_seq:020}.log")
}

/// The segment files in `dir`, ordered by first sequence number.
fn segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let first = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("journal-")?.strip_suffix(".log")?.parse::<u64>().ok());
        if let Some(first) = first {
            out.push((first, path));
        }
    }
    out.sort();
    Ok(out)
}

/// The sequence number of the last record applied to `conn`'s registry.
pub fn applied(conn: &rusqlite::Connection) -> anyhow::Result<u64> {
    let v: Option<String> = conn
        .query_row(crate::registry::GET_HOST, [APPLIED_KEY], |r| r.get(0))
        .optional()?;
    match v {
        None => Ok(0),
        Some(v) => v.parse().map_err(|_| anyhow!("registry: host key {APPLIED_KEY} is {v:?}, not a number")),
    }
}

/// What to do about a journal segment damaged in its middle.
const JOURNAL_ADVICE: &str = "move it aside to start without the records it holds, or restore a backup of the data directory";

/// How many intact records follow a damaged one at `at`. A torn tail (the
/// end of a write that never completed) has none: the journal never writes
/// after a torn record ([`Journal::append`]), so records after damage mean
/// the file itself was damaged, and acknowledged records would be lost
/// without a word. Only run on damage; a candidate offset must first hold
/// a plausible length, so the scan is cheap.
fn intact_after(bytes: &[u8], at: usize) -> usize {
    (at + 1..bytes.len()).find_map(|from| decode_one(&bytes[from..]).map(|_| decode(&bytes[from..]).records.len())).unwrap_or(0)
}

/// What [`recover`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Records applied now that the registry did not have yet.
    pub replayed: usize,
    /// The sequence number the journal continues from.
    pub next_seq: u64,
    /// Segments that ended in a torn or damaged record: (file, offset).
    pub torn: Vec<(PathBuf, usize)>,
}

/// Applies to the registry every journaled record it does not have yet
/// (those after its [`APPLIED_KEY`]), in one transaction, then deletes the
/// segments. Run before the host takes requests.
pub fn recover(dir: &Path, conn: &mut rusqlite::Connection) -> anyhow::Result<Recovered> {
    let done = applied(conn)?;
    let files = segments(dir).with_context(|| format!("journal in {}", dir.display()))?;
    let (mut pending, mut torn, mut last) = (Vec::new(), Vec::new(), done);
    for (_, path) in &files {
        let bytes = std::fs::read(path).with_context(|| format!("journal {}", path.display()))?;
        let d = decode(&bytes);
        if let Some(at) = d.torn_at {
            let after = intact_after(&bytes, at);
            if after > 0 {
                let what = format!("the record at byte {at} is unreadable and {after} intact record(s) follow it");
                return Err(anyhow!("registry journal {} is damaged ({what}): {JOURNAL_ADVICE}", path.display()));
            }
            torn.push((path.clone(), at));
        }
        for (seq, r) in d.records {
            last = last.max(seq);
            if seq > done {
                pending.push((seq, r));
            }
        }
    }
    pending.sort_by_key(|(seq, _)| *seq);
    if let Some(&(top, _)) = pending.last() {
        write_batch(conn, pending.iter().map(|(_, r)| r), Some(top)).context("registry: replaying the journal")?;
    }
    for (_, path) in &files {
        std::fs::remove_file(path).with_context(|| format!("journal {}", path.display()))?;
    }
    Ok(Recovered { replayed: pending.len(), next_seq: last + 1, torn })
}

/// The appending end, owned by the journal thread.
pub struct Journal {
    dir: PathBuf,
    sync: SyncMode,
    segment_bytes: u64,
    file: File,
    first: u64,
    written: u64,
    /// Closed segments: (path, last sequence number in it).
    closed: VecDeque<(PathBuf, u64)>,
    next_seq: u64,
    buf: Vec<u8>,
    /// A failed write may have left part of a record that is not yet cut
    /// off.
    torn: bool,
}

impl Journal {
    /// Starts a new segment at `next_seq` (from [`recover`]).
    pub fn open(dir: &Path, next_seq: u64, sync: SyncMode) -> io::Result<Journal> {
        Journal::with_segment_size(dir, next_seq, sync, SEGMENT_BYTES)
    }

    pub fn with_segment_size(dir: &Path, next_seq: u64, sync: SyncMode, segment_bytes: u64) -> io::Result<Journal> {
        let file = create_segment(dir, next_seq, sync)?;
        Ok(Journal {
            dir: dir.to_owned(),
            sync,
            segment_bytes,
            file,
            first: next_seq,
            written: 0,
            closed: VecDeque::new(),
            next_seq,
            buf: Vec::with_capacity(64 << 10),
            torn: false,
        })
    }

    /// Appends `records` in one write (not synced: see
    /// [`Journal::file_for_sync`]); returns the sequence number of the
    /// first. On an error nothing of this group may be replayed as if
    /// acknowledged: the segment is cut back to where the group began, or,
    /// if even that fails, abandoned for a new one.
    pub fn append<'a>(&mut self, records: impl Iterator<Item = &'a Record>) -> io::Result<u64> {
        let first = self.next_seq;
        self.buf.clear();
        let mut seq = first;
        for r in records {
            encode(seq, r, &mut self.buf);
            seq += 1;
        }
        if seq == first {
            return Ok(first);
        }
        if self.torn {
            self.repair()?;
        }
        if self.written > 0 && self.written + self.buf.len() as u64 > self.segment_bytes {
            self.rotate()?;
        }
        match self.file.write_all(&self.buf) {
            Ok(()) => {
                self.written += self.buf.len() as u64;
                self.next_seq = seq;
                Ok(first)
            }
            Err(e) => {
                // Sequence numbers are not reused: a record that reached
                // the file before the error is simply never acknowledged.
                self.next_seq = seq;
                self.torn = true;
                let _ = self.repair();
                Err(e)
            }
        }
    }

    /// Cuts a failed write back off the segment, or if that fails starts a
    /// new one; until one of them works nothing more is written, so no
    /// acknowledged record ever follows a torn one (what [`recover`]
    /// relies on to tell a torn tail from damage).
    fn repair(&mut self) -> io::Result<()> {
        use std::io::Seek;
        let cut = self.file.set_len(self.written).and_then(|()| self.file.seek(io::SeekFrom::Start(self.written)).map(drop));
        if cut.is_err() {
            self.rotate()?;
        }
        self.torn = false;
        Ok(())
    }

    /// Deletes the segments whose every record is at or below `applied`;
    /// replaces the current one too once it is fully applied and large.
    pub fn release(&mut self, applied: u64) -> io::Result<()> {
        if self.written >= RECYCLE_BYTES && self.next_seq - 1 <= applied {
            self.rotate()?;
        }
        while let Some((path, last)) = self.closed.front() {
            if *last > applied {
                break;
            }
            std::fs::remove_file(path)?;
            self.closed.pop_front();
        }
        Ok(())
    }

    /// The segment being written (for a log line about it).
    pub fn path(&self) -> PathBuf {
        self.dir.join(segment_name(self.first))
    }

    pub fn sync_mode(&self) -> SyncMode {
        self.sync
    }

    /// A handle on the current segment, for an fdatasync run off the lock.
    /// Earlier segments were synced when they were closed.
    pub fn file_for_sync(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// Closes the current segment and starts the next. A segment that
    /// never got a record is deleted at once.
    fn rotate(&mut self) -> io::Result<()> {
        if self.sync == SyncMode::Full {
            self.file.sync_data()?;
        }
        let file = create_segment(&self.dir, self.next_seq, self.sync)?;
        drop(std::mem::replace(&mut self.file, file));
        let old_path = self.dir.join(segment_name(self.first));
        if self.next_seq == self.first {
            let _ = std::fs::remove_file(&old_path);
        } else {
            self.closed.push_back((old_path, self.next_seq - 1));
        }
        self.first = self.next_seq;
        self.written = 0;
        Ok(())
    }

    /// Deletes the current segment when it holds nothing unapplied (at
    /// shutdown, after the last apply).
    pub fn finish(mut self, applied: u64) -> io::Result<()> {
        if self.next_seq - 1 <= applied {
            self.release(applied)?;
            drop(self.file);
            std::fs::remove_file(self.dir.join(segment_name(self.first)))?;
        }
        Ok(())
    }
}

/// Creates an empty segment; with `sync = full` its directory entry is made
/// durable too, or a power cut could lose the whole file.
fn create_segment(dir: &Path, first: u64, sync: SyncMode) -> io::Result<File> {
    let path = dir.join(segment_name(first));
    let file = File::options().create(true).truncate(true).write(true).open(&path)?;
    if sync == SyncMode::Full {
        File::open(dir)?.sync_all()?;
    }
    Ok(file)
}

impl core::fmt::Display for Recovered {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} record(s) replayed", self.replayed)?;
        for (path, at) in &self.torn {
            write!(f, "; {} ends in an incomplete record at byte {at}", path.display())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)] // TESTPRELUDE
    use std::{borrow::ToOwned, format, string::{String, ToString}, vec, vec::Vec};
    use super::*;
    use crate::native::serve::store::open_writer;

    fn records() -> Vec<Record> {
        let base = Record {
            cmid: Guid::from_u128(0x1234_5678_9abc_def0_1122_3344_5566_7788),
            kms_id: Guid::from_u128(7),
            application: Guid::from_u128(u128::MAX),
            sku: Guid::from_u128(0),
            workstation: "PC-1.corp.example".into(),
            remote: "192.0.2.1".parse().unwrap(),
            license_status: 2,
            protocol: Version::V6,
            now: 1_700_000_000,
            hresult: 0,
            reported: Some(50),
        };
        vec![
            base.clone(),
            Record { remote: "2001:db8::7".parse().unwrap(), workstation: "Büro-Rechner-ü".into(), protocol: Version::V4, hresult: 0xC004_F042, reported: None, ..base.clone() },
            Record { remote: "::ffff:10.0.0.1".parse().unwrap(), workstation: String::new(), now: -5, ..base.clone() },
            Record { remote: "::1".parse().unwrap(), workstation: "x".repeat(300), protocol: Version::V5, license_status: 6, ..base },
        ]
    }

    fn encoded(recs: &[Record], first: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, r) in recs.iter().enumerate() {
            encode(first + i as u64, r, &mut out);
        }
        out
    }

    #[test]
    fn records_round_trip_exactly() {
        let recs = records();
        let d = decode(&encoded(&recs, 41));
        assert_eq!(d.torn_at, None);
        let back: Vec<_> = d.records.iter().map(|(_, r)| r.clone()).collect();
        assert_eq!(back, recs, "an IPv4-mapped IPv6 address stays IPv6, an IPv4 address IPv4");
        assert_eq!(d.records.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [41, 42, 43, 44]);
    }

    /// A record journaled before the reported count was (no tail) still
    /// reads, with no count; a tail of another length is damage.
    #[test]
    fn a_record_without_the_count_reads_as_before() {
        let rec = &records()[0];
        let mut new = Vec::new();
        encode(9, rec, &mut new);
        let reframe = |body: &[u8]| {
            let mut out = Vec::new();
            out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
            out.extend_from_slice(body);
            out
        };
        let old = reframe(&new[HEADER..new.len() - TAIL]);
        let d = decode(&old);
        assert_eq!(d.torn_at, None);
        assert_eq!(d.records, vec![(9, Record { reported: None, ..rec.clone() })]);
        let odd = reframe(&new[HEADER..new.len() - 1]);
        assert_eq!(decode(&odd).torn_at, Some(0));
    }

    #[test]
    fn every_cut_keeps_exactly_the_complete_records() {
        let bytes = encoded(&records(), 1);
        let mut ends = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            at += HEADER + u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            ends.push(at);
        }
        for cut in 0..=bytes.len() {
            let d = decode(&bytes[..cut]);
            let complete = ends.iter().filter(|e| **e <= cut).count();
            assert_eq!(d.records.len(), complete, "cut at {cut}");
            let boundary = cut == 0 || ends.contains(&cut);
            assert_eq!(d.torn_at.is_some(), !boundary, "cut at {cut}");
        }
    }

    #[test]
    fn a_damaged_record_ends_the_segment_there() {
        let bytes = encoded(&records(), 1);
        let second = HEADER + u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
        for at in [second, second + 5, second + 40, second + HEADER + FIXED - 1] {
            let mut b = bytes.clone();
            b[at] ^= 0x20;
            let d = decode(&b);
            assert_eq!(d.records.len(), 1, "flip at {at}");
            assert_eq!(d.torn_at, Some(second));
        }
    }

    fn segment_files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = segments(dir).unwrap().into_iter().map(|(_, p)| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn segments_rotate_and_go_once_applied() {
        let tmp = tempfile::tempdir().unwrap();
        let mut j = Journal::with_segment_size(tmp.path(), 1, SyncMode::Full, 1024).unwrap();
        let recs = records();
        for _ in 0..6 {
            j.append(recs.iter()).unwrap();
        }
        let files = segment_files(tmp.path());
        assert!(files.len() >= 3, "{files:?}");
        assert_eq!(files[0], "journal-00000000000000000001.log");
        j.release(8).unwrap();
        let left = segment_files(tmp.path());
        assert!(left.len() < files.len() && !left.contains(&files[0]), "{left:?}");
        // What is left still holds every record after 8.
        let mut seqs: Vec<u64> = Vec::new();
        for f in &left {
            seqs.extend(decode(&std::fs::read(tmp.path().join(f)).unwrap()).records.iter().map(|(s, _)| *s));
        }
        assert!((9..=24).all(|s| seqs.contains(&s)), "{seqs:?}");
        j.finish(24).unwrap();
        assert!(segment_files(tmp.path()).is_empty());
    }

    #[test]
    fn finishing_with_unapplied_records_keeps_them() {
        let tmp = tempfile::tempdir().unwrap();
        let mut j = Journal::open(tmp.path(), 5, SyncMode::Normal).unwrap();
        j.append(records().iter()).unwrap();
        j.finish(6).unwrap();
        assert_eq!(segment_files(tmp.path()), ["journal-00000000000000000005.log"]);
    }

    #[test]
    fn recover_applies_what_the_registry_lacks_and_skips_a_torn_tail() {
        let tmp = tempfile::tempdir().unwrap();
        let mut conn = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        let recs = records();
        let mut j = Journal::open(tmp.path(), 1, SyncMode::Normal).unwrap();
        j.append(recs[..2].iter()).unwrap();
        write_batch(&mut conn, recs[..2].iter(), Some(2)).unwrap();
        j.append(recs[2..].iter()).unwrap();
        drop(j);
        // A half-written group at the end, as a kill in the middle of a write.
        let path = tmp.path().join(segment_name(1));
        let mut bytes = std::fs::read(&path).unwrap();
        let whole = bytes.len();
        bytes.extend_from_slice(&encoded(&recs[..1], 5)[..30]);
        std::fs::write(&path, &bytes).unwrap();

        let r = recover(tmp.path(), &mut conn).unwrap();
        assert_eq!(r.replayed, 2);
        assert_eq!(r.next_seq, 5);
        assert_eq!(r.torn, [(path, whole)]);
        assert!(segment_files(tmp.path()).is_empty());
        assert_eq!(applied(&conn).unwrap(), 4);
        let n: i64 = conn.query_row("SELECT SUM(requests) FROM clients", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 4);
        let again = recover(tmp.path(), &mut conn).unwrap();
        assert_eq!((again.replayed, again.next_seq), (0, 5));
    }

    /// A bit flipped in the middle of a segment is not a torn tail: the
    /// records after it were acknowledged, so start-up refuses, naming the
    /// file, and changes nothing.
    #[test]
    fn damage_before_intact_records_is_refused_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let mut conn = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        let mut j = Journal::open(tmp.path(), 1, SyncMode::Normal).unwrap();
        j.append(records().iter()).unwrap();
        drop(j);
        let path = tmp.path().join(segment_name(1));
        let mut bytes = std::fs::read(&path).unwrap();
        let second = HEADER + u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
        bytes[second + 40] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let e = recover(tmp.path(), &mut conn).unwrap_err().to_string();
        assert!(e.starts_with(&format!("registry journal {} is damaged", path.display())), "{e}");
        assert!(e.contains(&format!("byte {second}")) && e.contains("2 intact record(s)") && e.contains("move it aside"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "left as it was");
        assert_eq!(applied(&conn).unwrap(), 0);
    }

    /// A write that fails (here ENOSPC from /dev/full, which cannot be cut
    /// back either) is not acknowledged, and the next record goes to a new
    /// segment rather than after the torn one.
    #[test]
    fn after_a_failed_write_the_journal_goes_on_in_a_clean_segment() {
        let tmp = tempfile::tempdir().unwrap();
        let full = tmp.path().join(segment_name(1));
        std::os::unix::fs::symlink("/dev/full", &full).unwrap();
        let recs = records();
        let mut j = Journal::open(tmp.path(), 1, SyncMode::Normal).unwrap();
        let e = j.append(recs[..1].iter()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
        assert_eq!(j.append(recs[1..].iter()).unwrap(), 2, "sequence numbers are not reused");
        assert_eq!(j.path(), tmp.path().join(segment_name(2)));
        drop(j);
        std::fs::remove_file(&full).unwrap();
        let mut conn = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        let r = recover(tmp.path(), &mut conn).unwrap();
        assert_eq!((r.replayed, r.next_seq), (3, 5), "every acknowledged record, none of the failed one");
    }

    #[test]
    fn a_bad_applied_mark_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let mut conn = open_writer(&tmp.path().join("r.sqlite3"), SyncMode::Normal).unwrap();
        conn.execute(crate::registry::SET_HOST, [APPLIED_KEY, "lots"]).unwrap();
        let e = recover(tmp.path(), &mut conn).unwrap_err().to_string();
        assert!(e.contains("journal_applied") && e.contains("lots"), "{e}");
    }
}
