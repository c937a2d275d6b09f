//! Product keys: the 2009-format ("PKEY2009", `msft:rm/algorithm/pkey/2009`,
//! Windows 8 / Office 2013 and later) decoder, and what a key is against
//! the catalogue — a GVLK, a KMS host key (CSVLK), or neither.
//!
//! no_std and allocation-free, so the host (installing the organisation's
//! CSVLK), the CLI (`kmsedge key`) and the page can all use it.
//!
//! - [`text`]: the 25 characters as typed → [`KeyText`] (syntax only);
//! - [`decode`]: [`KeyText`] ⇄ [`ProductKey`], the fields of the 128-bit
//!   value and its checksum;
//! - [`classify`]: what a key is, from the catalogue (`data/products.json`);
//! - [`typo`]: which group of five a mistyped key's typo is in;
//! - [`host_key`]: the one question a host-key installer asks — is this a
//!   CSVLK, and which group and serial does it carry.
//!
//! A key is a secret: nothing here displays or debug-prints a whole key
//! except [`KeyText::as_str`], which callers must not log (the CLI prints
//! [`KeyText::masked`], as `slmgr /dlv` shows only a partial key).
//!
//! Format facts (no Microsoft documentation exists; these are the public
//! reverse-engineered descriptions): the `keycutter` tool and its notes,
//! github.com/awuctl/licensing-stuff (`keycutter.py`, `docs/product-keys.md`,
//! `docs/details.md`), after Microsoft's patent US8984293B2. Checked here
//! against every 2009-format GVLK of the catalogue (`tests.rs`).
mod classify;
mod decode;
mod host_key;
mod text;
mod typo;
#[cfg(test)]
mod tests;

pub use classify::{Classification, HOST_KEY, Identity, NOT_KMS, classify};
pub use decode::{ProductKey, decode, encode};
pub use host_key::{HostKey, HostKeyError, host_key};
pub use text::{KeyText, Masked};
pub use typo::{Groups, suspect_groups};

/// Why a string is not a valid 2009-format product key. Positions are
/// 1-based and count key characters only (dashes are not counted), except
/// [`Error::MisplacedDash`]'s, which counts every character as typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Not 25 key characters.
    Length { found: usize },
    /// A character outside `BCDFGHJKMNPQRTVWXY2346789` (any case).
    Character { position: usize, character: char },
    /// A dash where no group of five ends.
    MisplacedDash { position: usize },
    /// Some of the four dashes of the `XXXXX-XXXXX-XXXXX-XXXXX-XXXXX` form
    /// are there, not all.
    IncompleteDashes,
    /// No `N`: not a 2009-format key (older keys use the alphabet without it).
    NoN,
    /// A second `N`; a 2009-format key has exactly one.
    SecondN { position: usize },
    /// `N` last: its position is the key's first base-24 digit, so 0..=23.
    NLast,
    /// The 10-bit checksum in the key differs from the one its other bits give.
    Checksum { stored: u16, computed: u16 },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Error::Length { found } => write!(f, "a product key has 25 characters (dashes aside), this has {found}"),
            Error::Character { position, character } => write!(
                f,
                "character {position} ({character:?}) is not one of {}",
                text::ALPHABET_WITH_N
            ),
            Error::MisplacedDash { position } => write!(
                f,
                "the dash at position {position} does not end a group of five (XXXXX-XXXXX-XXXXX-XXXXX-XXXXX)"
            ),
            Error::IncompleteDashes => f.write_str(
                "dashes must separate all five groups (XXXXX-XXXXX-XXXXX-XXXXX-XXXXX) or be left out",
            ),
            Error::NoN => f.write_str("no N: not a 2009-format product key"),
            Error::SecondN { position } => {
                write!(f, "a second N at character {position}: a 2009-format key has exactly one")
            }
            Error::NLast => f.write_str("N is the last character, which no 2009-format key has"),
            Error::Checksum { stored, computed } => write!(
                f,
                "invalid checksum: the key says {stored:#05x}, its other bits give {computed:#05x} (a mistyped character?)"
            ),
        }
    }
}
