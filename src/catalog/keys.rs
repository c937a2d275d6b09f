//! Which of the host's keys answers a request. A genuine KMS host holds one
//! Windows CSVLK and one CSVLK per Office generation; it activates a counted
//! id only if a key it holds lists that id (the `KmsCountedIdList` of the
//! key's licence), and answers with that key's ePID. The rules and their
//! sources are in `data/README.md` ("Host keys"); the lists are data.
use super::{AppKey, EPID_SLOTS, HELD_BY_DEFAULT, SlotId, application, kms_id, slot};
use crate::guid::Guid;

/// The held key that covers `kms_id`, if any (held keys never overlap:
/// `build.rs` checks the default set, [`replaces`] keeps it so).
pub fn covering(held: &[SlotId], kms_id: &Guid) -> Option<SlotId> {
    held.iter().copied().find(|s| slot(*s).covers(kms_id))
}

/// The held key whose ePID answers a request: the one covering its counted
/// id, else (an id the catalogue does not know, or a scope that serves
/// uncovered ids) the newest held key of the id's application, else of the
/// request's application, else the Windows key. `held` is never empty on a
/// host; an empty slice falls back to the default set.
pub fn answering(held: &[SlotId], kms: &Guid, app_id: &Guid) -> SlotId {
    let held = if held.is_empty() { HELD_BY_DEFAULT } else { held };
    if let Some(s) = covering(held, kms) {
        return s;
    }
    let app = kms_id(kms)
        .map(|k| k.app)
        .or_else(|| application(app_id).map(|a| a.key))
        .unwrap_or(AppKey::Windows);
    let newest_of = |app: AppKey| held.iter().copied().filter(|s| slot(*s).app == app).max_by_key(|s| slot(*s).release);
    newest_of(app).or_else(|| newest_of(AppKey::Windows)).unwrap_or(held[0])
}

/// [`answering`] for a host holding the default keys.
pub fn slot_for(kms: &Guid, app_id: &Guid) -> SlotId {
    answering(HELD_BY_DEFAULT, kms, app_id)
}

/// The catalogue's CSVLK with this group id whose key blocks contain
/// `key_id`: what an installed product key (group id, serial) is. Group 206
/// is shared by many CSVLKs, so the serial decides.
pub fn csvlk_for(group_id: u32, key_id: u32) -> Option<SlotId> {
    EPID_SLOTS
        .iter()
        .position(|s| s.group_id == group_id && s.has_key_id(key_id))
        .map(|i| SlotId(i as u8))
}

/// Whether installing CSVLK `new` removes the held key `old`, as
/// `slmgr /ipk` does on a Windows host: a host has one Windows key, so any
/// Windows CSVLK replaces the Windows key it holds; each Office generation
/// has its own key, which replaces only the same generation's.
pub fn replaces(new: SlotId, old: SlotId) -> bool {
    new == old || (slot(new).app == AppKey::Windows && slot(old).app == AppKey::Windows)
}
