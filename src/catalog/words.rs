//! A product name or a query as the search compares them: the distinct
//! words after case and diacritics are folded and the word rules of
//! `data/name-words.tsv` (short forms, Polish words) are applied. Names
//! and queries go through the same function, so a rule never needs to be
//! written twice. Fixed-size buffers: no allocation (the page runs this in
//! wasm).

/// Words kept of one name or query; more are ignored (no product name has
/// half as many).
pub(crate) const MAX_WORDS: usize = 24;
/// Bytes of folded text kept.
const MAX_BYTES: usize = 192;
/// Longer words are cut (no product word has half as many letters).
const MAX_WORD: usize = 40;

/// Distinct folded words (lower-case ASCII letters and digits).
#[derive(Clone, Copy)]
pub(crate) struct Words {
    buf: [u8; MAX_BYTES],
    used: usize,
    spans: [(u8, u8); MAX_WORDS],
    len: usize,
}

impl Words {
    const EMPTY: Words = Words { buf: [0; MAX_BYTES], used: 0, spans: [(0, 0); MAX_WORDS], len: 0 };

    /// `text` folded, split at everything but letters and digits, with the
    /// word rules applied and repeated words dropped.
    pub(crate) fn of(text: &str) -> Words {
        Words::of_all(&[text])
    }

    /// [`Words::of`] of the texts one after another, as if spaces joined them.
    pub(crate) fn of_all(texts: &[&str]) -> Words {
        let raw = Words::folded(texts);
        let mut out = Words::EMPTY;
        let mut i = 0;
        'words: while i < raw.len {
            for &(from, n, to) in super::search::WORD_RULES {
                if i + n <= raw.len && from.split(' ').zip(i..i + n).all(|(w, j)| raw.word(j) == w) {
                    for w in to.split(' ').filter(|w| !w.is_empty()) {
                        out.push(w.as_bytes(), true);
                    }
                    i += n;
                    continue 'words;
                }
            }
            out.push(raw.word(i).as_bytes(), true);
            i += 1;
        }
        out
    }

    /// Folding and splitting only (repeats kept, for the phrase rules).
    fn folded(texts: &[&str]) -> Words {
        let mut out = Words::EMPTY;
        let mut word = [0u8; MAX_WORD];
        let mut n = 0;
        for c in texts.iter().flat_map(|t| t.chars().chain(core::iter::once(' '))) {
            match fold(c) {
                Some(b) if n < MAX_WORD => {
                    word[n] = b;
                    n += 1;
                }
                Some(_) => {}
                None => {
                    if n > 0 {
                        out.push(&word[..n], false);
                    }
                    n = 0;
                }
            }
        }
        out
    }

    fn push(&mut self, w: &[u8], distinct: bool) {
        if self.len == MAX_WORDS || self.used + w.len() > MAX_BYTES || (distinct && self.iter().any(|x| x.as_bytes() == w)) {
            return;
        }
        self.buf[self.used..self.used + w.len()].copy_from_slice(w);
        self.spans[self.len] = (self.used as u8, (self.used + w.len()) as u8);
        self.used += w.len();
        self.len += 1;
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn word(&self, i: usize) -> &str {
        let (a, b) = self.spans[i];
        // Only ASCII letters and digits are ever stored.
        core::str::from_utf8(&self.buf[usize::from(a)..usize::from(b)]).unwrap_or("")
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len).map(|i| self.word(i))
    }
}

/// A character as the search sees it: lower-case ASCII letter or digit, or
/// `None` for a separator. Diacritics of Polish (the article's language)
/// and of the other Latin letters likely in a product name are dropped.
fn fold(c: char) -> Option<u8> {
    if c.is_ascii_alphanumeric() {
        return Some(c.to_ascii_lowercase() as u8);
    }
    const FOLD: &[(&str, u8)] = &[
        ("ąĄáÁàÀâÂäÄãÃåÅ", b'a'),
        ("ćĆçÇčČ", b'c'),
        ("ęĘéÉèÈêÊëË", b'e'),
        ("íÍìÌîÎïÏ", b'i'),
        ("łŁ", b'l'),
        ("ńŃñÑ", b'n'),
        ("óÓòÒôÔöÖõÕøØ", b'o'),
        ("śŚšŠ", b's'),
        ("úÚùÙûÛüÜ", b'u'),
        ("źŹżŻžŽ", b'z'),
    ];
    FOLD.iter().find(|(set, _)| set.contains(c)).map(|&(_, b)| b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> std::vec::Vec<&'static str> {
        let w = Words::of(s);
        w.iter().map(|x| &*std::string::String::from(x).leak()).collect()
    }

    #[test]
    fn folds_case_diacritics_and_rules() {
        assert_eq!(words("Dostęp do LTSC 2021"), ["access", "ltsc", "2021"]);
        assert_eq!(words("Windows 11 Pro dla stacji roboczych"), ["windows", "11", "pro", "workstation"]);
        assert_eq!(words("WIN 10/11 Professional"), ["windows", "10", "11", "pro"]);
        assert_eq!(words("Office ProPlus 2019"), ["office", "pro", "plus", "2019"]);
        assert_eq!(words("Office dla Użytkowników Domowych i Małych Firm 2019"), ["office", "home", "business", "2019"]);
        assert_eq!(words("Windows 11 Pro / Windows 10 Pro"), ["windows", "11", "pro", "10"]);
        assert_eq!(words("  --  "), std::vec::Vec::<&str>::new());
        assert_eq!(words("Perspektywy na 2019 r."), ["outlook", "2019"]);
    }

    #[test]
    fn long_input_is_cut_not_overflowed() {
        let w = Words::of(&"x".repeat(1000));
        assert_eq!(w.word(0), "x".repeat(MAX_WORD));
        assert_eq!(Words::of(&"word ".repeat(100)).len(), 1);
        let many: std::string::String = (0..100).map(|i| std::format!("w{i} ")).collect();
        assert_eq!(Words::of(&many).len(), MAX_WORDS);
    }
}
