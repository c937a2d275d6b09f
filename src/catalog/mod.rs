//! The product catalogue: applications, ePID slots (CSVLKs), KMS counted ids,
//! KMS-client SKUs with their GVLKs, and host OS builds.
//!
//! The tables are generated at build time by `build.rs` from
//! `data/products.json` (schema and caveats: `data/README.md`), which also
//! validates every cross-reference; here they are plain `&'static` slices, so
//! nothing allocates and everything works in `no_std`/wasm32.
use crate::guid::Guid;
use crate::time::Date;

mod keys;
mod search;
mod words;
#[cfg(test)]
mod tests;

pub use keys::{answering, covering, csvlk_for, replaces, slot_for};
pub use search::{Alias, Hit, Hits, NameKind, aliases, closest, find, search};

/// The three KMS applications (activation pools); JSON keys `win`, `o14`, `o15`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AppKey {
    /// `win`: Windows (client and server editions count together).
    Windows = 0,
    /// `o14`: Office 2010.
    Office2010 = 1,
    /// `o15`: Office 2013 and later (2016, 2019, LTSC 2021, LTSC 2024).
    Office2013 = 2,
}

impl AppKey {
    pub const ALL: [AppKey; 3] = [AppKey::Windows, AppKey::Office2010, AppKey::Office2013];

    /// The short key used in `products.json` (and handy for configuration).
    pub const fn json_key(self) -> &'static str {
        match self {
            AppKey::Windows => "win",
            AppKey::Office2010 => "o14",
            AppKey::Office2013 => "o15",
        }
    }

    /// Inverse of [`AppKey::json_key`] (ASCII case-insensitive).
    pub fn from_json_key(s: &str) -> Option<AppKey> {
        AppKey::ALL
            .into_iter()
            .find(|k| k.json_key().eq_ignore_ascii_case(s))
    }

    /// This application's catalogue entry.
    pub fn application(self) -> &'static Application {
        application_by_key(self)
    }
}

/// A KMS application (the `ApplicationId` of a request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Application {
    pub key: AppKey,
    pub id: Guid,
    pub name: &'static str,
    /// Count a genuine host keeps "charged" for this application (50 / 10).
    pub min_active_clients: u32,
}

/// Index into [`EPID_SLOTS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotId(pub u8);

impl SlotId {
    /// The slot's parameters; see [`slot`].
    pub fn get(self) -> &'static EpidSlot {
        slot(self)
    }
}

/// An inclusive range of key ids (a product key's serial) Microsoft issued
/// for a CSVLK. A CSVLK may have several with holes between them (Windows
/// Server 2022: 0–19 999 and 30 000–20 029 999), so a plausible ePID's key
/// id lies inside a block, not merely between the lowest and the highest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyBlock {
    pub first: u32,
    pub last: u32,
}

impl KeyBlock {
    pub fn contains(&self, key_id: u32) -> bool {
        (self.first..=self.last).contains(&key_id)
    }
}

/// A CSVLK (KMS host key) as the catalogue knows it: the parameters of
/// the ePID a host holding it answers with (§8.5), and the KMS counted ids
/// it activates (Microsoft's `KmsCountedIdList` of its licence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpidSlot {
    /// Slot name, e.g. `Windows`, `Office2019`, `WinServer2025`.
    pub name: &'static str,
    /// Activation id of the CSVLK.
    pub csvlk: Guid,
    pub csvlk_name: &'static str,
    /// The application whose clients it activates.
    pub app: AppKey,
    /// ePID part 2.
    pub group_id: u32,
    /// Key ids issued for it (ePID parts 3–4), ascending and disjoint.
    pub key_blocks: &'static [KeyBlock],
    /// CSVLK release: lower bound for the activation date.
    pub release: Date,
    /// Oldest host OS build that may carry this CSVLK.
    pub min_host_build: u32,
    /// Held by a host that has no key of the organisation's own.
    pub held: bool,
    /// The KMS counted ids it activates.
    pub covers: &'static [Guid],
}

impl EpidSlot {
    /// Whether a host holding this CSVLK activates clients sending `kms_id`.
    pub fn covers(&self, kms_id: &Guid) -> bool {
        self.covers.contains(kms_id)
    }

    /// Whether `key_id` lies in one of the CSVLK's key blocks.
    pub fn has_key_id(&self, key_id: u32) -> bool {
        self.key_blocks.iter().any(|b| b.contains(key_id))
    }
}

/// A KMS counted id (`KmsCountedId` of a request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KmsId {
    pub id: Guid,
    pub name: &'static str,
    pub app: AppKey,
    /// Required client count its clients send (25 Windows client, 5 server/Office).
    pub n_policy: u32,
    /// Default KMS protocol major version of its clients (4, 5 or 6).
    pub protocol: u8,
    /// Groups no CSVLK covers: a genuine host refuses them.
    pub retail: bool,
    pub preview: bool,
    /// Invented by py-kms; no real client sends it (kept for naming).
    pub synthetic: bool,
}

/// A KMS-client SKU (the `SkuId`/`ActivationId` of a request).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sku {
    pub id: Guid,
    pub name: &'static str,
    /// Product line, e.g. `Windows 10/11`, `Office LTSC 2021`.
    pub family: &'static str,
    /// Edition within the family, e.g. `Enterprise N`, `Visio Pro`.
    pub edition: &'static str,
    pub app: AppKey,
    /// The KMS counted id its clients send (always present in [`KMS_IDS`]).
    pub kms: Guid,
    /// KMS client setup key, where one is known.
    pub gvlk: Option<&'static str>,
    /// The group id of a 2009-format [`Sku::gvlk`] (the `pkey` decoder's
    /// reading of it, recorded in the catalogue): the key's product
    /// configuration, the same for every key of that configuration.
    pub gvlk_group: Option<u32>,
}

impl Sku {
    /// The KMS counted id entry this SKU's clients send.
    pub fn kms_id(&self) -> Option<&'static KmsId> {
        kms_id(&self.kms)
    }
}

/// A Windows build a KMS host may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostBuild {
    pub build: u32,
    /// ePID part 1.
    pub platform_id: u32,
    pub name: &'static str,
    pub release: Date,
    /// A build real KMS hosts ship as (the ones to put in an ePID).
    pub use_for_epid: bool,
    pub may_be_server: bool,
    /// Genuine hosts of this build negotiate NDR64.
    pub ndr64: bool,
}

// APPLICATIONS, EPID_SLOTS, HELD_BY_DEFAULT, KMS_IDS, SKUS, HOST_BUILDS, KMS_ID_INDEX, SKU_INDEX.
include!(concat!(env!("OUT_DIR"), "/catalog_tables.rs"));

/// The application with this `ApplicationId`.
pub fn application(id: &Guid) -> Option<&'static Application> {
    APPLICATIONS.iter().find(|a| a.id == *id)
}

/// The application entry for a key (the build guarantees all three exist).
pub fn application_by_key(k: AppKey) -> &'static Application {
    &APPLICATIONS[k as usize]
}

/// The KMS counted id entry (binary search; this is on the activation path).
pub fn kms_id(id: &Guid) -> Option<&'static KmsId> {
    KMS_ID_INDEX
        .binary_search_by(|(g, _)| g.cmp(id))
        .ok()
        .map(|i| &KMS_IDS[usize::from(KMS_ID_INDEX[i].1)])
}

/// The SKU with this `SkuId` (binary search).
pub fn sku(id: &Guid) -> Option<&'static Sku> {
    SKU_INDEX
        .binary_search_by(|(g, _)| g.cmp(id))
        .ok()
        .map(|i| &SKUS[usize::from(SKU_INDEX[i].1)])
}

/// The names of a SKU, as the decoder shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SkuNames {
    pub family: &'static str,
    pub edition: &'static str,
    /// The name where it is not `family edition` (most are).
    own_name: Option<&'static str>,
}

impl core::fmt::Display for SkuNames {
    /// The SKU's name ([`Sku::name`]).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.own_name {
            Some(n) => f.write_str(n),
            None => write!(f, "{} {}", self.family, self.edition),
        }
    }
}

/// A SKU's names (the same as [`sku`]'s; its `Display` is the name), from
/// a compact table of ids and names only: the browser's decoder uses this
/// and so carries no more of the catalogue (GVLKs, applications, counted
/// ids of each SKU).
pub fn sku_names(id: &Guid) -> Option<SkuNames> {
    let i = SKU_NAME_IDS.binary_search(&id.0).ok()?;
    let mut f = SKU_NAME_TEXT.split('\n').nth(i)?.split('\t');
    let own_name = Some(f.next()?).filter(|n| !n.is_empty());
    Some(SkuNames { family: f.next()?, edition: f.next()?, own_name })
}

/// A KMS counted id's name (the same as [`kms_id`]'s), from a compact table.
pub fn kms_id_name(id: &Guid) -> Option<&'static str> {
    let i = KMS_NAME_IDS.binary_search(&id.0).ok()?;
    KMS_NAME_TEXT.split('\n').nth(i)
}

/// The SKUs whose clients send this KMS counted id, in catalogue order.
pub fn skus_for_kms(id: &Guid) -> impl Iterator<Item = &'static Sku> {
    let id = *id;
    SKUS.iter().filter(move |s| s.kms == id)
}

/// A slot's parameters. Panics if `id` is not an index into [`EPID_SLOTS`]
/// (every `SlotId` in the catalogue is).
pub fn slot(id: SlotId) -> &'static EpidSlot {
    &EPID_SLOTS[usize::from(id.0)]
}

/// The slot with this name (ASCII case-insensitive), e.g. `"Office2019"`.
pub fn slot_by_name(name: &str) -> Option<SlotId> {
    EPID_SLOTS
        .iter()
        .position(|s| s.name.eq_ignore_ascii_case(name))
        .map(|i| SlotId(i as u8))
}

/// The host build entry for a build number (binary search).
pub fn host_build(build: u32) -> Option<&'static HostBuild> {
    HOST_BUILDS
        .binary_search_by_key(&build, |b| b.build)
        .ok()
        .map(|i| &HOST_BUILDS[i])
}
