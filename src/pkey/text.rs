//! A product key's 25 characters, normalised (upper case, dashes in the
//! usual places), and the masked form that is all a key may be shown as.
use super::Error;

/// The 24 base-24 digits, in value order (`B` = 0 … `9` = 23). Every
/// product key uses them; 2009-format keys add one `N`.
pub(crate) const ALPHABET: &[u8; 24] = b"BCDFGHJKMPQRTVWXY2346789";
pub(crate) const ALPHABET_WITH_N: &str = "BCDFGHJKMNPQRTVWXY2346789";

/// Characters of a key and of its dashed form.
pub(crate) const CHARS: usize = 25;
const DASHED: usize = 29;

/// A syntactically valid product key (either format): 25 characters from
/// the alphabet plus `N`. Says nothing of the format or the checksum — see
/// [`KeyText::decode`]. Its `Debug` shows the masked form only.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyText {
    /// `XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`, upper case ASCII.
    dashed: [u8; DASHED],
}

impl KeyText {
    /// Accepts the 25 characters in any case, either bare or as five groups
    /// of five separated by dashes; surrounding whitespace is ignored.
    pub fn parse(input: &str) -> Result<KeyText, Error> {
        let mut chars = [0u8; CHARS];
        let (mut n, mut dashes) = (0usize, 0usize);
        for (i, c) in input.trim().chars().enumerate() {
            if c == '-' {
                // Only right after the 1st..4th group, once each.
                if n == 0 || n % 5 != 0 || n >= CHARS || n / 5 != dashes + 1 {
                    return Err(Error::MisplacedDash { position: i + 1 });
                }
                dashes += 1;
                continue;
            }
            let u = c.to_ascii_uppercase();
            if !(u == 'N' || (u.is_ascii() && ALPHABET.contains(&(u as u8)))) {
                return Err(Error::Character { position: n + 1, character: c });
            }
            if n < CHARS {
                chars[n] = u as u8;
            }
            n += 1;
        }
        if n != CHARS {
            return Err(Error::Length { found: n });
        }
        if dashes != 0 && dashes != 4 {
            return Err(Error::IncompleteDashes);
        }
        Ok(KeyText::from_chars(&chars))
    }

    /// From 25 characters already known to be valid.
    pub(crate) fn from_chars(chars: &[u8; CHARS]) -> KeyText {
        let mut dashed = [b'-'; DASHED];
        for (i, &c) in chars.iter().enumerate() {
            dashed[i + i / 5] = c;
        }
        KeyText { dashed }
    }

    /// The 25 characters, dashes left out.
    pub(crate) fn chars(&self) -> impl Iterator<Item = u8> + '_ {
        self.dashed.iter().copied().filter(|&c| c != b'-')
    }

    /// The whole key, `XXXXX-XXXXX-XXXXX-XXXXX-XXXXX` — the form the
    /// catalogue holds GVLKs in. For comparing and storing only: never
    /// print or log it (use [`KeyText::masked`]).
    pub fn as_str(&self) -> &str {
        // Always ASCII: built from the alphabet and dashes.
        core::str::from_utf8(&self.dashed).unwrap_or("")
    }

    /// The last five characters, as `slmgr /dlv` shows a partial product key.
    pub fn last_five(&self) -> &str {
        &self.as_str()[DASHED - 5..]
    }

    /// `*****-*****-*****-*****-ABCDE`: the only way a key is displayed.
    pub fn masked(&self) -> Masked<'_> {
        Masked(self)
    }
}

impl core::fmt::Debug for KeyText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "KeyText({})", self.masked())
    }
}

/// A key shown as `*****-*****-*****-*****-` and its last five characters.
#[derive(Clone, Copy)]
pub struct Masked<'a>(&'a KeyText);

impl core::fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "*****-*****-*****-*****-{}", self.0.last_five())
    }
}
