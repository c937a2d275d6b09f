//! Allocation-free SKU search for the CLI and the page: finds a product by
//! any name people use for it — the catalogue's, Microsoft's official
//! English name, the Polish article's, short forms — ranked so that an
//! exact name comes first; and, when nothing matches, the closest products.
//!
//! Names beyond the catalogue's are data (`data/names.tsv`), and so are the
//! word rules (`data/name-words.tsv`, see [`words`](super::words)).
use super::words::Words;
use super::{SKUS, Sku};

/// What kind of name a [`Hit`] was found by, besides the catalogue's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// Microsoft's English name in its KMS client key tables.
    Official,
    /// A usual name the word rules cannot tell apart from others.
    Common,
    /// The name in the Polish article users read.
    Article,
    /// A product with no KMS client edition (retail, subscription, free
    /// runtime): its keys never activate against a KMS host. It leads to
    /// the volume product of the same name; [`Alias::note`] says why.
    Other,
}

/// A name of a catalogue SKU other than its catalogue name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alias {
    sku: u16,
    pub name: &'static str,
    pub kind: NameKind,
    /// For [`NameKind::Other`]: why the product's own keys do not work.
    pub note: Option<&'static str>,
}

impl Alias {
    pub fn sku(&self) -> &'static Sku {
        &SKUS[usize::from(self.sku)]
    }
}

// ALIASES, WORD_RULES.
include!(concat!(env!("OUT_DIR"), "/search_tables.rs"));

/// Every name of the catalogue besides the SKUs' own ([`Sku::name`]).
pub fn aliases() -> &'static [Alias] {
    ALIASES
}

/// One product a query found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub sku: &'static Sku,
    /// The name that matched best, when it is not the catalogue's.
    pub via: Option<&'static Alias>,
    /// 0 for an exact name (the same words, in any order); higher is a
    /// looser match.
    pub cost: u16,
}

impl Hit {
    /// The query is one of the product's names (word order, case,
    /// diacritics and short forms aside).
    pub fn exact(&self) -> bool {
        self.cost == 0
    }
}

/// Hits in rank order: an iterator over fixed storage (one slot per SKU).
pub struct Hits {
    slots: [(u16, u16, u16); SKU_SLOTS],
    len: usize,
    next: usize,
}

impl Iterator for Hits {
    type Item = Hit;
    fn next(&mut self) -> Option<Hit> {
        let &(cost, sku, via) = self.slots[..self.len].get(self.next)?;
        self.next += 1;
        let via = via.checked_sub(1).map(|i| &ALIASES[usize::from(i)]);
        Some(Hit { sku: &SKUS[usize::from(sku)], via, cost })
    }
}

/// A query word found only as the start of a name's word ("serv" in
/// "server") costs this much more than the word itself.
const PREFIX_COST: u16 = 2;
/// Shortest query word that may match as a prefix: shorter ones ("n", "g",
/// "10") are editions and versions, which must match whole.
const MIN_PREFIX: usize = 3;

/// The SKUs one of whose names holds every word of `query` (whole, or as
/// the start of a word of three letters or more), best first: exact names,
/// then names with fewer other words; previews after released products of
/// the same rank, then catalogue order. An empty query lists every SKU in
/// catalogue order.
pub fn find(query: &str) -> Hits {
    let q = Words::of(query);
    rank(|names| names.filter_map(|(w, via)| cover(&q, &w).map(|c| (c, via))).min_by_key(|&(c, _)| c))
}

/// [`find`]'s SKUs, best first.
pub fn search(query: &str) -> impl Iterator<Item = &'static Sku> {
    find(query).map(|h| h.sku)
}

/// The products closest to a query [`find`] finds nothing for, best first,
/// at most `limit`: those sharing the most words with it, a word also
/// counting when it is one typo away (an edit for words of four letters or
/// more, two from eight). Nothing if no word is shared.
pub fn closest(query: &str, limit: usize) -> Hits {
    let q = Words::of(query);
    let mut hits = rank(|names| {
        names
            .filter_map(|(w, via)| {
                let shared = q.iter().filter(|qw| w.iter().any(|nw| near(qw, nw))).count() as u16;
                // Most shared words first, then the shortest name.
                (shared > 0).then(|| ((q.len() as u16 - shared) * 64 + w.len() as u16, via))
            })
            .min_by_key(|&(c, _)| c)
    });
    hits.len = hits.len.min(limit);
    hits
}

/// Each SKU's best cost over its names (`best` gets `(words, alias index +
/// 1 or 0)` per name), ranked.
fn rank(best: impl Fn(&mut dyn Iterator<Item = (Words, u16)>) -> Option<(u16, u16)>) -> Hits {
    let mut hits = Hits { slots: [(0, 0, 0); SKU_SLOTS], len: 0, next: 0 };
    for (i, sku) in SKUS.iter().enumerate() {
        // The catalogue's name, and its family and edition ("Office LTSC
        // 2021" + "Project Pro" for "Office Project Pro 2021").
        let own = [Words::of(sku.name), Words::of_all(&[sku.family, sku.edition])].map(|w| (w, 0)).into_iter();
        let other = ALIASES
            .iter()
            .enumerate()
            .filter(|(_, a)| usize::from(a.sku) == i)
            .map(|(j, a)| (Words::of(a.name), j as u16 + 1));
        if let Some((cost, via)) = best(&mut own.chain(other)) {
            hits.slots[hits.len] = (cost, i as u16, via);
            hits.len += 1;
        }
    }
    hits.slots[..hits.len].sort_unstable_by_key(|&(cost, i, _)| (cost, is_preview(&SKUS[usize::from(i)]), i));
    hits
}

/// Whether every query word is in `name`, and at what cost: 0 when both
/// hold the same words, plus one per word of the name the query lacks,
/// plus [`PREFIX_COST`] per query word found only as a prefix.
fn cover(query: &Words, name: &Words) -> Option<u16> {
    if query.len() == 0 {
        return Some(0);
    }
    let mut used = [false; super::words::MAX_WORDS];
    let mut cost = 0;
    for q in query.iter() {
        if let Some(i) = name.iter().position(|n| n == q) {
            used[i] = true;
        } else if q.len() >= MIN_PREFIX && q.bytes().all(|b| b.is_ascii_alphabetic()) {
            let i = name.iter().position(|n| n.starts_with(q))?;
            used[i] = true;
            cost += PREFIX_COST;
        } else {
            return None;
        }
    }
    Some(cost + used[..name.len()].iter().filter(|u| !**u).count() as u16)
}

/// A preview or pre-release SKU, ranked after released ones.
fn is_preview(sku: &Sku) -> bool {
    sku.kms_id().is_some_and(|k| k.preview) || sku.name.contains("Preview") || sku.name.contains("Pre-Release")
}

/// The same word, a prefix of it, or a typo away (see [`closest`]);
/// versions and years (words with digits) only the same.
fn near(q: &str, n: &str) -> bool {
    if q == n || (q.len() >= MIN_PREFIX && n.starts_with(q)) {
        return true;
    }
    if q.bytes().chain(n.bytes()).any(|b| b.is_ascii_digit()) {
        return false;
    }
    let allowed = match q.len() {
        0..=3 => return false,
        4..=7 => 1,
        _ => 2,
    };
    edit_distance(q.as_bytes(), n.as_bytes(), allowed) <= allowed
}

/// Levenshtein distance with adjacent transpositions (optimal string
/// alignment), or more than `limit` if it exceeds it; words longer than
/// 32 bytes are never near.
fn edit_distance(a: &[u8], b: &[u8], limit: usize) -> usize {
    const MAX: usize = 32;
    if a.len() > MAX || b.len() > MAX || a.len().abs_diff(b.len()) > limit {
        return limit + 1;
    }
    // Three rows: two back (for transpositions), previous, current.
    let mut rows = [[0usize; MAX + 1]; 3];
    for (j, v) in rows[0].iter_mut().enumerate().take(b.len() + 1) {
        *v = j;
    }
    for i in 1..=a.len() {
        let (cur, prev, back) = (i % 3, (i + 2) % 3, (i + 1) % 3);
        rows[cur][0] = i;
        for j in 1..=b.len() {
            let sub = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[prev][j] + 1).min(rows[cur][j - 1] + 1).min(rows[prev][j - 1] + sub);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[back][j - 2] + 1);
            }
            rows[cur][j] = d;
        }
    }
    rows[a.len() % 3][b.len()]
}
