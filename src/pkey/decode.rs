//! The 2009-format key as a number: 25 base-24 digits whose first digit is
//! the position of the `N` and whose other 24 are the remaining characters,
//! read as a 128-bit value laid out (least significant bit first) as
//!
//! | bits    | width | field |
//! |---------|------:|-------|
//! | 0–19    | 20 | group id (the product configuration, `RefGroupId` in Microsoft's `pkeyconfig`) |
//! | 20–49   | 30 | serial (the key id a CSVLK's ePID carries) |
//! | 50–102  | 53 | security value |
//! | 103–112 | 10 | checksum |
//! | 113     |  1 | upgrade bit |
//! | 114     |  1 | "extra": room the encoding leaves (24^25 > 2^114), not a field; a key with it set is the "twin" of the same key without it |
//!
//! Sources: keycutter (github.com/awuctl/licensing-stuff, `keycutter.py`
//! masks, `docs/product-keys.md` "Structure" and "Twin keys").
use super::Error;
use super::text::{ALPHABET, CHARS, KeyText};

const GROUP_BITS: u32 = 20;
const SERIAL_BITS: u32 = 30;
const SECURITY_BITS: u32 = 53;
const SERIAL_SHIFT: u32 = GROUP_BITS;
const SECURITY_SHIFT: u32 = SERIAL_SHIFT + SERIAL_BITS;
const CHECKSUM_SHIFT: u32 = SECURITY_SHIFT + SECURITY_BITS;
const CHECKSUM_MASK: u128 = 0x3ff << CHECKSUM_SHIFT;
const UPGRADE_BIT: u32 = CHECKSUM_SHIFT + 10;
const EXTRA_BIT: u32 = UPGRADE_BIT + 1;

/// The checksum is the low 10 bits of CRC-32 (polynomial 0x04C11DB7,
/// initial 0xFFFFFFFF, not reflected) over the 16 little-endian bytes of
/// the value with the checksum bits zeroed, **complemented**: keycutter's
/// `checksum_key` returns `~crc & 0x3ff` of the CRC-32/MPEG-2 register,
/// which is CRC-32/BZIP2 (MPEG-2 with a final XOR of 0xFFFFFFFF). Issue 13
/// says CRC-32/MPEG-2; without the complement none of the catalogue's 209
/// 2009-format GVLKs checks, with it all of them do (`tests.rs`).
static CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_BZIP2);

/// The fields of a 2009-format key whose checksum held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProductKey {
    /// 20 bits: which product configuration (edition and channel) the key is for.
    pub group: u32,
    /// 30 bits: the key's number within its group; a CSVLK's key id.
    pub serial: u32,
    /// 53 bits: checked by Microsoft's activation servers only.
    pub security: u64,
    /// Marks an upgrade-channel key.
    pub upgrade: bool,
    /// The spare bit of the encoding (see the module table).
    pub extra: bool,
}

impl ProductKey {
    fn value_without_checksum(&self) -> Option<u128> {
        if self.group >> GROUP_BITS != 0 || self.serial >> SERIAL_BITS != 0 || self.security >> SECURITY_BITS != 0 {
            return None;
        }
        Some(
            u128::from(self.group)
                | u128::from(self.serial) << SERIAL_SHIFT
                | u128::from(self.security) << SECURITY_SHIFT
                | u128::from(self.upgrade) << UPGRADE_BIT
                | u128::from(self.extra) << EXTRA_BIT,
        )
    }

    /// The 10-bit checksum this key's fields give.
    pub fn checksum(&self) -> Option<u16> {
        self.value_without_checksum().map(checksum)
    }
}

fn checksum(value: u128) -> u16 {
    (CRC.checksum(&(value & !CHECKSUM_MASK).to_le_bytes()) & 0x3ff) as u16
}

/// Decodes and checks a 2009-format key as typed (see [`KeyText::parse`]).
pub fn decode(input: &str) -> Result<ProductKey, Error> {
    KeyText::parse(input)?.decode()
}

impl KeyText {
    /// The key's fields, if it is a 2009-format key with a valid checksum.
    pub fn decode(&self) -> Result<ProductKey, Error> {
        let mut n_at = None;
        let mut value: u128 = 0;
        for (i, c) in self.chars().enumerate() {
            if c == b'N' {
                if n_at.is_some() {
                    return Err(Error::SecondN { position: i + 1 });
                }
                n_at = Some(i);
                continue;
            }
            // parse() let only the alphabet and N through.
            let digit = ALPHABET.iter().position(|&a| a == c).unwrap_or(0);
            value = value * 24 + digit as u128;
        }
        let n_at = n_at.ok_or(Error::NoN)?;
        if n_at == CHARS - 1 {
            return Err(Error::NLast);
        }
        // The N's position is the most significant digit: 24 digits follow it.
        value += n_at as u128 * 24u128.pow(24);
        let stored = ((value & CHECKSUM_MASK) >> CHECKSUM_SHIFT) as u16;
        let computed = checksum(value);
        if stored != computed {
            return Err(Error::Checksum { stored, computed });
        }
        Ok(ProductKey {
            group: (value & ((1 << GROUP_BITS) - 1)) as u32,
            serial: ((value >> SERIAL_SHIFT) & ((1 << SERIAL_BITS) - 1)) as u32,
            security: ((value >> SECURITY_SHIFT) & ((1 << SECURITY_BITS) - 1)) as u64,
            upgrade: value >> UPGRADE_BIT & 1 == 1,
            extra: value >> EXTRA_BIT & 1 == 1,
        })
    }
}

/// The key with these fields and their checksum: `None` if a field is wider
/// than its bits, or (only possible with `extra`) the value needs more than
/// 25 base-24 digits.
pub fn encode(key: &ProductKey) -> Option<KeyText> {
    let mut v = key.value_without_checksum()?;
    v |= u128::from(checksum(v)) << CHECKSUM_SHIFT;
    let mut digits = [0u8; CHARS];
    for d in digits.iter_mut().rev() {
        *d = (v % 24) as u8;
        v /= 24;
    }
    if v != 0 {
        return None;
    }
    // digits[0] is where the N goes among the other 24.
    let n_at = usize::from(digits[0]);
    let mut chars = [0u8; CHARS];
    for (j, c) in chars.iter_mut().enumerate() {
        *c = match j.cmp(&n_at) {
            core::cmp::Ordering::Less => ALPHABET[usize::from(digits[j + 1])],
            core::cmp::Ordering::Equal => b'N',
            core::cmp::Ordering::Greater => ALPHABET[usize::from(digits[j])],
        };
    }
    Some(KeyText::from_chars(&chars))
}
