//! Installing a KMS host key (`slmgr /ipk` on a Windows host): only a valid
//! 2009-format key of a catalogue CSVLK group is accepted; its group id and
//! serial then make the host's ePID (group, key id).
use super::{Classification, Identity, KeyText, ProductKey, classify};
use crate::catalog::{SlotId, Sku};

/// A valid CSVLK. Neither `Debug` nor `Display` shows the whole key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HostKey {
    text: KeyText,
    key: ProductKey,
    slot: Option<SlotId>,
}

impl HostKey {
    /// The CSVLK group id: ePID part 2.
    pub fn group(&self) -> u32 {
        self.key.group
    }

    /// The key's serial: the ePID's key id (parts 3–4).
    pub fn serial(&self) -> u32 {
        self.key.serial
    }

    /// The catalogue CSVLK whose key id range holds the serial, if any. A
    /// key of a CSVLK group outside every catalogued range (e.g. a Windows
    /// Server 2016 CSVLK, group 206, which the catalogue does not list) is
    /// still a host key; the caller decides what it covers.
    pub fn slot(&self) -> Option<SlotId> {
        self.slot
    }

    /// The last five characters, as `slmgr /dlv` shows a partial product key.
    pub fn partial(&self) -> &str {
        self.text.last_five()
    }

    /// The whole key, for the installer to store. Never print or log it.
    pub fn secret(&self) -> &KeyText {
        &self.text
    }
}

impl core::fmt::Debug for HostKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HostKey")
            .field("partial", &self.partial())
            .field("group", &self.key.group)
            .field("serial", &self.key.serial)
            .field("slot", &self.slot)
            .finish()
    }
}

impl core::fmt::Display for HostKey {
    /// The masked key, `*****-*****-*****-*****-ABCDE`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.text.masked().fmt(f)
    }
}

/// Why a key cannot be installed as a host key. The messages name the key
/// by nothing but what is wrong with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKeyError {
    /// Not a valid product key (syntax, the `N`, or the checksum).
    Invalid(super::Error),
    /// A KMS client key (the catalogue's GVLK of `sku`, or a key of its group).
    Gvlk(&'static Sku),
    /// A valid key in the older format, which no CSVLK kmsedge knows uses.
    Pre2009,
    /// A valid key whose group is no catalogue CSVLK's.
    NotCsvlk { group: u32 },
}

impl core::fmt::Display for HostKeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HostKeyError::Invalid(e) => write!(f, "not a valid product key: {e}"),
            HostKeyError::Gvlk(sku) => write!(
                f,
                "a KMS client key (GVLK) of {}, not a KMS host key (CSVLK)",
                sku.name
            ),
            HostKeyError::Pre2009 => f.write_str(
                "not a 2009-format product key (it has no N): KMS host keys for Windows 8 and Office 2013 and later all are",
            ),
            HostKeyError::NotCsvlk { group } => write!(
                f,
                "a valid product key of group {group}, which is no KMS host key (CSVLK) group in the catalogue"
            ),
        }
    }
}

/// Accepts `input` as a host key if it is a valid 2009-format CSVLK.
pub fn host_key(input: &str) -> Result<HostKey, HostKeyError> {
    match classify(input) {
        Classification::Invalid(e) => Err(HostKeyError::Invalid(e)),
        Classification::Pre2009 { gvlk: Some(sku), .. } => Err(HostKeyError::Gvlk(sku)),
        Classification::Pre2009 { gvlk: None, .. } => Err(HostKeyError::Pre2009),
        Classification::Pkey2009 { text, key, identity } => match identity {
            Identity::Csvlk { slot, .. } => Ok(HostKey { text, key, slot }),
            Identity::Gvlk(sku) | Identity::GvlkGroup(sku) => Err(HostKeyError::Gvlk(sku)),
            Identity::NotKms => Err(HostKeyError::NotCsvlk { group: key.group }),
        },
    }
}
