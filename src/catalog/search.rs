//! Allocation-free SKU search for the CLI and the web UI.
use super::{SKUS, Sku};

/// Case-insensitive, word-order-tolerant search over SKU names: a SKU matches
/// when every whitespace-separated word of `query` occurs as a substring of
/// its name, family or edition (so `11` finds `Windows 10/11 …` and `pro`
/// finds `Pro` and `Professional`). Results come in catalogue order; an empty
/// query matches every SKU. Case folding is ASCII-only (the data is ASCII).
pub fn search(query: &str) -> impl Iterator<Item = &'static Sku> + '_ {
    SKUS.iter().filter(move |s| matches(s, query))
}

fn matches(s: &Sku, query: &str) -> bool {
    query.split_whitespace().all(|w| {
        contains_ignore_ascii_case(s.name, w)
            || contains_ignore_ascii_case(s.family, w)
            || contains_ignore_ascii_case(s.edition, w)
    })
}

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || (n.len() <= h.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n)))
}
