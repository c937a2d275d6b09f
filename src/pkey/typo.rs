//! Which group of five a mistyped key's typo is in, so a person can compare
//! that group against their source instead of the whole key. The CLI
//! (`kmsedge key`) and the page's checker both ask this.
//!
//! A character outside the alphabet is its own answer. For a key whose
//! checksum (or `N`) fails, every single-character substitution is tried
//! (25 positions × 24 characters): a group is suspect when changing one of
//! its characters gives a valid key of a group the catalogue knows (a GVLK's
//! or a CSVLK's). A random key's checksum holds one time in 1 024 and its
//! group is known one time in ~10 000 or less, so a suspect group is almost
//! never a coincidence.
use super::text::{ALPHABET_WITH_N, CHARS, KeyText};
use super::{Error, classify};
use crate::catalog::SKUS;

/// A set of the five groups, numbered 1 to 5.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Groups(u8);

impl Groups {
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The groups' numbers (1 to 5), ascending.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (1..=5).filter(move |g| self.0 & (1 << (g - 1)) != 0)
    }

    fn with_char(self, index: usize) -> Groups {
        Groups(self.0 | 1 << (index / 5))
    }
}

impl core::fmt::Display for Groups {
    /// `group 3`, `groups 2 and 4`, `groups 1, 2 and 5`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let n = self.iter().count();
        f.write_str(if n == 1 { "group " } else { "groups " })?;
        for (i, g) in self.iter().enumerate() {
            let sep = if i == 0 { "" } else if i + 1 == n { " and " } else { ", " };
            write!(f, "{sep}{g}")?;
        }
        Ok(())
    }
}

/// The groups where the typo of an invalid key `input` probably is: none
/// when the key is valid, of the older format (no `N`, no checksum to
/// test), or not 25 characters (a missing character shifts every group).
pub fn suspect_groups(input: &str) -> Groups {
    let text = match KeyText::parse(input) {
        Ok(t) => t,
        // Only in something of a key's length: "not-a-key" has no groups.
        Err(Error::Character { position, .. })
            if position <= CHARS && input.trim().chars().filter(|&c| c != '-').count() == CHARS =>
        {
            return Groups::default().with_char(position - 1);
        }
        Err(_) => return Groups::default(),
    };
    match text.decode() {
        Err(Error::Checksum { .. } | Error::SecondN { .. } | Error::NLast) => one_away(&text),
        _ => Groups::default(),
    }
}

/// The groups where one substitution makes a valid key of a known group.
fn one_away(text: &KeyText) -> Groups {
    let mut chars = [0u8; CHARS];
    for (c, k) in chars.iter_mut().zip(text.chars()) {
        *c = k;
    }
    let mut found = Groups::default();
    for i in 0..CHARS {
        let original = chars[i];
        for &c in ALPHABET_WITH_N.as_bytes() {
            if c == original || found.0 & (1 << (i / 5)) != 0 {
                continue;
            }
            chars[i] = c;
            if KeyText::from_chars(&chars).decode().is_ok_and(|k| known_group(k.group)) {
                found = found.with_char(i);
            }
        }
        chars[i] = original;
    }
    found
}

/// A group some catalogue GVLK or CSVLK has.
fn known_group(group: u32) -> bool {
    SKUS.iter().any(|s| s.gvlk_group == Some(group)) || classify::is_csvlk_group(group)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    fn groups(s: &str) -> std::vec::Vec<usize> {
        suspect_groups(s).iter().collect()
    }

    /// One character of a catalogue GVLK changed, in each group: that group
    /// is named (and only rarely another as well).
    #[test]
    fn a_substitution_is_found_in_its_group() {
        let gvlk = "W269N-WFGWX-YVC9B-4J6C9-T83GX"; // Windows 10/11 Pro, data/products.json
        for (at, to) in [(1, 'C'), (8, '2'), (14, 'K'), (21, 'B'), (28, 'Y')] {
            let mut k: std::vec::Vec<char> = gvlk.chars().collect();
            k[at] = to;
            let typo: std::string::String = k.into_iter().collect();
            assert!(classify(&typo) != classify(gvlk), "{at}");
            let group = (at - at / 6) / 5 + 1;
            assert!(groups(&typo).contains(&group), "{typo}: {:?}, want {group}", groups(&typo));
        }
        assert!(groups(gvlk).is_empty());
    }

    #[test]
    fn a_foreign_character_names_its_group() {
        assert_eq!(groups("W269N-WFGWX-YVC9B-4J6C9-T83GO"), [5]);
        assert!(groups("W269N-WFGWX-YVC9B-4J6C9-T83G").is_empty()); // too short: unknown
        assert!(groups("not-a-key").is_empty());
        assert_eq!(suspect_groups("W269N-WFGWX-YVC9B-4J6C9-T83GO").to_string(), "group 5");
        assert_eq!(Groups(0b10110).to_string(), "groups 2, 3 and 5");
    }
}
