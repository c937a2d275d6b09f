//! Turning pasted hex into bytes, without allocating.
//!
//! People paste KMS traffic from many tools: a bare hex stream, bytes
//! separated by spaces, C arrays, `xxd`, `hexdump -C`, Wireshark's "Copy as
//! Hex Dump". [`parse_hex`] accepts all of these and nothing vaguer, so a
//! typo is reported at its position instead of silently changing the bytes.
//!
//! # What is accepted
//!
//! * Hex digits `0-9 a-f A-F` (either case). A run of digits (a *group*) must
//!   have an even number of digits; each pair is one byte (`0500` = `05 00`).
//! * Between groups: any whitespace (space, tab, CR, LF), `,` or `;`.
//! * A group may carry a `0x` / `0X` or `\x` prefix (`0x05, 0x00`,
//!   `\x05\x00`); `\x` groups may follow each other without a separator.
//! * **Dump lines.** A line that starts (after leading blanks) with an
//!   *offset* is a dump line, and the offset is dropped. An offset is either
//!   - 4 or more hex digits directly followed by `:` (`xxd`, `0010:`), or
//!   - 4 or more hex digits followed by two or more spaces or a tab
//!     (`hexdump -C`, Wireshark), whose value is 0 or equals the number of
//!     bytes read since the last dump line with offset 0 — so `0500  0b03`
//!     (offset 0x500 after no bytes) is read as data, not as an offset.
//!
//!   On a dump line the data ends at the ASCII column, which is recognised
//!   as: a `|`; a gap of three or more spaces (or a tab) after at least one
//!   byte; a gap of two or more spaces after 16 bytes; or the first group
//!   that is not an even run of hex digits. A dump line that holds only a
//!   no-colon offset equal to the bytes read so far (`hexdump`'s closing
//!   length line) is dropped.
//!
//! Everything else is a [`HexError`] naming the character, its byte offset
//! in the input, and its line and column.
use core::fmt;

/// Why pasted text is not hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HexError {
    /// Byte offset of the problem in the input text.
    pub offset: usize,
    /// 1-based line and column (column counted in characters).
    pub line: usize,
    pub column: usize,
    pub kind: HexErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HexErrorKind {
    /// A character that is neither hex, a separator nor a prefix.
    Unexpected(char),
    /// A group of hex digits of odd length (half a byte).
    OddDigits { digits: usize },
    /// More bytes than the output buffer holds.
    TooLong { capacity: usize },
    /// A `0x` or `\x` prefix with no digits after it.
    MissingDigits,
    /// No hex digits at all.
    Empty,
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (o, l, c) = (self.offset, self.line, self.column);
        match self.kind {
            HexErrorKind::Unexpected(ch) => {
                write!(f, "hex input, line {l} column {c} (character offset {o}): unexpected ")?;
                // Printable ASCII in quotes, anything else as its code point
                // (no `{:?}`: its Unicode tables would grow the page's wasm).
                match ch {
                    '!'..='~' if ch != '\'' && ch != '\\' => write!(f, "'{ch}'")?,
                    _ => write!(f, "U+{:04X}", ch as u32)?,
                }
                f.write_str("; expected hex digits, whitespace, ',' or a 0x prefix")
            }
            HexErrorKind::OddDigits { digits } => write!(
                f,
                "hex input, line {l} column {c} (character offset {o}): a group of {digits} hex digits; expected an even number (two per byte)"
            ),
            HexErrorKind::TooLong { capacity } => {
                write!(f, "hex input, line {l} column {c} (character offset {o}): more than {capacity} bytes")
            }
            HexErrorKind::MissingDigits => write!(
                f,
                "hex input, line {l} column {c} (character offset {o}): expected hex digits after the prefix"
            ),
            HexErrorKind::Empty => f.write_str("hex input: no hex digits found; expected the bytes of DCE/RPC PDUs or of a KMS message"),
        }
    }
}

impl core::error::Error for HexError {}

/// An upper bound of the bytes `text` can produce: size output buffers with it.
pub fn max_len(text: &str) -> usize {
    text.len() / 2
}

/// Parses `text` (see the [module docs](self) for what is accepted) into
/// `out`; returns the number of bytes written.
pub fn parse_hex(text: &str, out: &mut [u8]) -> Result<usize, HexError> {
    let mut p = Parser { text, out, n: 0, dump_base: None };
    let mut start = 0;
    for line in text.split('\n') {
        p.line(line, start)?;
        start += line.len() + 1;
    }
    if p.n == 0 {
        return Err(HexError { offset: 0, line: 1, column: 1, kind: HexErrorKind::Empty });
    }
    Ok(p.n)
}

struct Parser<'t, 'o> {
    text: &'t str,
    out: &'o mut [u8],
    n: usize,
    /// Output length at the last dump line with offset 0 (no-colon offsets
    /// are only believed when they count from there).
    dump_base: Option<usize>,
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn is_sep(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b',' | b';')
}

fn hex_run(b: &[u8], from: usize) -> usize {
    b[from..].iter().take_while(|c| hex_val(**c).is_some()).count()
}

/// Value of a run of hex digits, if it fits a usize.
fn run_value(digits: &[u8]) -> Option<usize> {
    digits.iter().try_fold(0usize, |v, &c| v.checked_mul(16)?.checked_add(hex_val(c)? as usize))
}

impl Parser<'_, '_> {
    fn error(&self, at: usize, kind: HexErrorKind) -> HexError {
        let before = &self.text[..at];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        HexError {
            offset: at,
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            kind,
        }
    }

    /// Where the data of a dump line starts, if `line` is one (else `None`).
    fn dump_offset(&mut self, b: &[u8]) -> Option<usize> {
        let lead = b.iter().take_while(|c| matches!(c, b' ' | b'\t')).count();
        let d = hex_run(b, lead);
        if d < 4 {
            return None;
        }
        let end = lead + d;
        if b.get(end) == Some(&b':') {
            return Some(end + 1);
        }
        let value = run_value(&b[lead..end])?;
        let rest = &b[end..];
        let gap = rest.starts_with(b"  ") || rest.first() == Some(&b'\t');
        let only = rest.iter().all(|c| c.is_ascii_whitespace());
        if !(gap || only) {
            return None;
        }
        let counted = self.dump_base.map(|base| self.n - base);
        if gap && value == 0 {
            self.dump_base = Some(self.n);
            return Some(end);
        }
        if counted == Some(value) {
            // A closing length line has nothing after its offset.
            return Some(if only { b.len() } else { end });
        }
        None
    }

    fn line(&mut self, line: &str, start: usize) -> Result<(), HexError> {
        let b = line.as_bytes();
        let (mut i, dump) = match self.dump_offset(b) {
            Some(at) => (at, true),
            None => (0, false),
        };
        let mut on_line = 0usize;
        while i < b.len() {
            // Separators, measuring the run of spaces for dump lines.
            let sep_start = i;
            while i < b.len() && is_sep(b[i]) {
                i += 1;
            }
            if i == b.len() {
                break;
            }
            if dump && on_line > 0 && i > sep_start {
                let gap = &b[sep_start..i];
                let spaces = gap.iter().filter(|&&c| c == b' ').count();
                if gap.contains(&b'\t') || spaces >= 3 || (spaces >= 2 && on_line >= 16) {
                    break;
                }
            }
            if dump && b[i] == b'|' {
                break;
            }
            let group_start = i;
            if b[i..].starts_with(b"0x") || b[i..].starts_with(b"0X") || b[i..].starts_with(b"\\x") {
                i += 2;
            }
            let d = hex_run(b, i);
            let end = i + d;
            let next_ok = end == b.len() || is_sep(b[end]) || b[end] == b'\\' || (dump && b[end] == b'|');
            if d == 0 || !next_ok || !d.is_multiple_of(2) {
                if dump {
                    break; // the ASCII column
                }
                if d == 0 && i > group_start {
                    return Err(self.error(start + i, HexErrorKind::MissingDigits));
                }
                if d == 0 || !next_ok {
                    let at = if d == 0 { i } else { end };
                    let ch = line[at..].chars().next().unwrap_or('?');
                    return Err(self.error(start + at, HexErrorKind::Unexpected(ch)));
                }
                return Err(self.error(start + group_start, HexErrorKind::OddDigits { digits: d }));
            }
            for pair in b[i..end].chunks_exact(2) {
                let byte = (hex_val(pair[0]).unwrap_or(0) << 4) | hex_val(pair[1]).unwrap_or(0);
                let Some(slot) = self.out.get_mut(self.n) else {
                    let capacity = self.out.len();
                    return Err(self.error(start + group_start, HexErrorKind::TooLong { capacity }));
                };
                *slot = byte;
                self.n += 1;
                on_line += 1;
            }
            i = end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::string::ToString;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn parse(s: &str) -> Result<([u8; 64], usize), HexError> {
        let mut out = [0u8; 64];
        let n = parse_hex(s, &mut out)?;
        Ok((out, n))
    }

    fn bytes(s: &str) -> std::vec::Vec<u8> {
        let (o, n) = parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        o[..n].to_vec()
    }

    #[test]
    fn plain_spaced_and_prefixed() {
        let want = [0x05, 0x00, 0x0B, 0x03, 0xAB];
        assert_eq!(bytes("05000b03ab"), want);
        assert_eq!(bytes("05 00 0B 03 Ab"), want);
        assert_eq!(bytes("  0500\n0b03\r\nAB\t"), want);
        assert_eq!(bytes("0x05, 0x00, 0x0b, 0x03, 0xab,"), want);
        assert_eq!(bytes("\\x05\\x00\\x0b\\x03\\xab"), want);
        assert_eq!(bytes("0x05000B03AB"), want);
        assert_eq!(bytes("05;00;0b;03;ab"), want);
    }

    #[test]
    fn dump_formats() {
        let xxd = "00000000: 0500 0b03 1000 0000 7800 0000 0200 0000  ....x...........\n\
                   00000010: d016 d016                                ....\n";
        let want = [5, 0, 0x0b, 3, 0x10, 0, 0, 0, 0x78, 0, 0, 0, 2, 0, 0, 0, 0xd0, 0x16, 0xd0, 0x16];
        assert_eq!(bytes(xxd), want);
        let hexdump = "00000000  05 00 0b 03 10 00 00 00  78 00 00 00 02 00 00 00  |....x...........|\n\
                       00000010  d0 16 d0 16                                       |....|\n\
                       00000014\n";
        assert_eq!(bytes(hexdump), want);
        let wireshark = "0000   05 00 0b 03 10 00 00 00 78 00 00 00 02 00 00 00   ....x...........\n\
                         0010   d0 16 d0 16                                       ....";
        assert_eq!(bytes(wireshark), want);
        // An ASCII column made only of hex letters still ends at the gap.
        let tricky = "0000:  41 42 43 44   ABCD";
        assert_eq!(bytes(tricky), [0x41, 0x42, 0x43, 0x44]);
        // A short colon offset.
        assert_eq!(bytes("0000: 05 00\n0002: 0b 03"), [5, 0, 0x0b, 3]);
    }

    #[test]
    fn grouped_hex_is_not_mistaken_for_an_offset() {
        // 0x0500 as the first "offset" would need 0x500 bytes before it.
        assert_eq!(bytes("0500  0b03"), [5, 0, 0x0b, 3]);
        assert_eq!(bytes("05000b03\n10000000"), [5, 0, 0x0b, 3, 0x10, 0, 0, 0]);
    }

    #[test]
    fn errors_name_the_position() {
        let e = parse("05 00\n0b 0g").unwrap_err();
        assert_eq!((e.offset, e.line, e.column, e.kind), (10, 2, 5, HexErrorKind::Unexpected('g')));
        assert!(e.to_string().contains("line 2 column 5"), "{e}");
        let e = parse("05 0 0b").unwrap_err();
        assert_eq!((e.offset, e.kind), (3, HexErrorKind::OddDigits { digits: 1 }));
        let e = parse("hello").unwrap_err();
        assert_eq!((e.offset, e.kind), (0, HexErrorKind::Unexpected('h')));
        let e = parse("05 0x").unwrap_err();
        assert_eq!((e.offset, e.kind), (5, HexErrorKind::MissingDigits));
        let e = parse(" \n ,").unwrap_err();
        assert_eq!(e.kind, HexErrorKind::Empty);
        let mut small = [0u8; 2];
        let e = parse_hex("0500 0b", &mut small).unwrap_err();
        assert_eq!((e.offset, e.kind), (5, HexErrorKind::TooLong { capacity: 2 }));
        // Non-ASCII is reported as a character, at its byte offset.
        let e = parse("05 é").unwrap_err();
        assert_eq!((e.offset, e.column, e.kind), (3, 4, HexErrorKind::Unexpected('é')));
        assert!(e.to_string().contains("unexpected U+00E9; expected hex digits"), "{e}");
        assert!(parse("hello").unwrap_err().to_string().contains("unexpected 'h';"));
        assert!(parse("'").unwrap_err().to_string().contains("unexpected U+0027;"));
    }
}
