//! What a product key is, as far as a KMS host is concerned: a client key
//! (GVLK) of a catalogue product, a host key (CSVLK) of a catalogue CSVLK
//! group, or a key that has nothing to do with KMS. Everything is read from
//! the catalogue (`data/products.json`): GVLKs and their `gvlk_group`s from
//! `skus[]`, CSVLK groups and key id ranges from `epid_slots[]`.
use super::{Error, KeyText, ProductKey};
use crate::catalog::{self, EPID_SLOTS, SKUS, SlotId, Sku};

/// The outcome of [`classify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classification {
    /// A 2009-format key whose checksum holds.
    Pkey2009 { text: KeyText, key: ProductKey, identity: Identity },
    /// A key in the older format (no `N`): its fields and checksum cannot be
    /// read here, so it is matched against the catalogue's GVLKs only.
    Pre2009 { text: KeyText, gvlk: Option<&'static Sku> },
    /// Not a product key, or a 2009-format key that fails its checks.
    Invalid(Error),
}

/// What a valid 2009-format key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The catalogue's GVLK of this SKU.
    Gvlk(&'static Sku),
    /// Another key of the group of this SKU's GVLK: the same product
    /// configuration, so a KMS client key of the same edition (keys are
    /// "generic" per group: the group, not the key, selects the edition).
    GvlkGroup(&'static Sku),
    /// A KMS host key: its group is a catalogue CSVLK's. `slot` is the
    /// CSVLK whose key id range holds the key's serial, if one does (group
    /// 206 is shared by many CSVLKs; the ranges tell them apart).
    Csvlk { group: u32, slot: Option<SlotId> },
    /// A valid key of no KMS group (retail, MAK, OEM…): it will not
    /// activate against a KMS host.
    NotKms,
}

/// Classifies a key as typed (any case, dashes optional).
pub fn classify(input: &str) -> Classification {
    let text = match KeyText::parse(input) {
        Ok(t) => t,
        Err(e) => return Classification::Invalid(e),
    };
    match text.decode() {
        Ok(key) => Classification::Pkey2009 { text, key, identity: identify(&text, &key) },
        Err(Error::NoN) => Classification::Pre2009 { text, gvlk: catalogue_gvlk(&text) },
        Err(e) => Classification::Invalid(e),
    }
}

fn identify(text: &KeyText, key: &ProductKey) -> Identity {
    if let Some(sku) = catalogue_gvlk(text) {
        return Identity::Gvlk(sku);
    }
    if let Some(sku) = SKUS.iter().find(|s| s.gvlk_group == Some(key.group)) {
        return Identity::GvlkGroup(sku);
    }
    if is_csvlk_group(key.group) {
        return Identity::Csvlk { group: key.group, slot: csvlk_slot(key.group, key.serial) };
    }
    Identity::NotKms
}

/// The SKU whose GVLK is exactly this key.
fn catalogue_gvlk(text: &KeyText) -> Option<&'static Sku> {
    SKUS.iter().find(|s| s.gvlk == Some(text.as_str()))
}

/// Whether some catalogue CSVLK has this group id.
pub(crate) fn is_csvlk_group(group: u32) -> bool {
    EPID_SLOTS.iter().any(|s| s.group_id == group)
}

/// The catalogue CSVLK of this group whose key id blocks hold `serial`.
pub(crate) fn csvlk_slot(group: u32, serial: u32) -> Option<SlotId> {
    catalog::csvlk_for(group, serial)
}

/// The catalogue CSVLKs of a group, for naming them when no range holds a
/// key's serial.
pub fn csvlks_of_group(group: u32) -> impl Iterator<Item = &'static catalog::EpidSlot> {
    EPID_SLOTS.iter().filter(move |s| s.group_id == group)
}

/// What a host key is for.
pub const HOST_KEY: &str = "a KMS host key (CSVLK), install it on the host, never on a client";
/// What any other valid key is not.
pub const NOT_KMS: &str = "a product key, but not a KMS client key: it will not activate against a KMS host";

impl core::fmt::Display for Identity {
    /// What the key is, in one sentence for an administrator; the wording
    /// for host keys and other keys is issue 14's (item 3).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Identity::Gvlk(sku) => write!(f, "the GVLK (KMS client setup key) of {}", sku.name),
            Identity::GvlkGroup(sku) => write!(
                f,
                "a KMS client key (GVLK) of the group of {}'s GVLK, not that key itself",
                sku.name
            ),
            Identity::Csvlk { slot: Some(slot), .. } => {
                write!(f, "{HOST_KEY}: {}", slot.get().csvlk_name)
            }
            Identity::Csvlk { group, slot: None } => {
                write!(f, "{HOST_KEY}; of group {group}, but its serial is in no catalogued key id range of that group (")?;
                for (i, s) in csvlks_of_group(group).enumerate() {
                    write!(f, "{}{}", if i == 0 { "" } else { ", " }, s.csvlk_name)?;
                }
                f.write_str(")")
            }
            Identity::NotKms => f.write_str(NOT_KMS),
        }
    }
}
