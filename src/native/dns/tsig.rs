//! TSIG keys (RFC 8945) read from a file, in the format `tsig-keygen` and
//! `rndc-confgen` write and BIND's `include` reads:
//!
//! ```text
//! key "kmsedge" {
//!     algorithm hmac-sha256;
//!     secret "base64...";
//! };
//! ```
//!
//! or a file holding only the base64 secret (then the key name comes from
//! the configuration). Signing itself is hickory-proto's [`TSigner`].
use std::vec;
use std::prelude::rust_2024::{String, ToString, Vec};
use std::format;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{Name, TSigner};
use std::fmt;
use std::path::Path;

/// Seconds of clock difference the server may accept (RFC 8945 recommends 300).
pub const FUDGE: u16 = 300;

/// A key: its name, algorithm and secret. The secret never appears in
/// `Debug` output or error messages.
#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    pub name: String,
    pub algorithm: Algorithm,
    secret: Vec<u8>,
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &format_args!("<{} bytes>", self.secret.len()))
            .finish()
    }
}

/// The HMAC algorithms hickory signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl Algorithm {
    pub fn parse(text: &str) -> Result<Algorithm, String> {
        match text.trim().trim_end_matches('.').to_ascii_lowercase().as_str() {
            "hmac-sha256" => Ok(Algorithm::HmacSha256),
            "hmac-sha384" => Ok(Algorithm::HmacSha384),
            "hmac-sha512" => Ok(Algorithm::HmacSha512),
            other => Err(format!("TSIG algorithm {other:?} is not supported; use hmac-sha256 (or hmac-sha384, hmac-sha512)")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha384 => "hmac-sha384",
            Algorithm::HmacSha512 => "hmac-sha512",
        }
    }

    fn hickory(self) -> TsigAlgorithm {
        match self {
            Algorithm::HmacSha256 => TsigAlgorithm::HmacSha256,
            Algorithm::HmacSha384 => TsigAlgorithm::HmacSha384,
            Algorithm::HmacSha512 => TsigAlgorithm::HmacSha512,
        }
    }
}

impl TsigKey {
    /// Reads `path`. `want_name`: the key to pick from a BIND-format file
    /// (required when it holds several, and for a bare secret);
    /// `want_alg`: the algorithm for a bare secret, and a check for a BIND
    /// key. Errors are one line naming the file.
    pub fn load(path: &Path, want_name: Option<&str>, want_alg: Option<Algorithm>) -> Result<TsigKey, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("TSIG key file {}: {e}", path.display()))?;
        TsigKey::parse(&text, want_name, want_alg).map_err(|e| format!("TSIG key file {}: {e}", path.display()))
    }

    pub fn parse(text: &str, want_name: Option<&str>, want_alg: Option<Algorithm>) -> Result<TsigKey, String> {
        let want_name = want_name.map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase());
        if let Some(n) = &want_name {
            check_key_name(n)?;
        }
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err("the file is empty; expected a key \"NAME\" { algorithm ...; secret \"...\"; }; block or a base64 secret".into());
        }
        let keys = if looks_like_bind(trimmed) { parse_bind(trimmed)? } else {
            let Some(name) = want_name.clone() else {
                return Err("the file holds a bare secret, so the key name must be configured (--dns-tsig-key-name / dns.tsig_key_name)".into());
            };
            let secret = decode_secret(trimmed)?;
            vec![TsigKey { name, algorithm: want_alg.unwrap_or(Algorithm::HmacSha256), secret }]
        };
        let key = match (&want_name, keys.len()) {
            (None, 1) => keys.into_iter().next().unwrap(),
            (None, n) => return Err(format!("the file defines {n} keys; choose one with --dns-tsig-key-name / dns.tsig_key_name")),
            (Some(n), _) => match keys.into_iter().find(|k| &k.name == n) {
                Some(k) => k,
                None => return Err(format!("no key named {n:?} in the file")),
            },
        };
        if let Some(a) = want_alg.filter(|&a| a != key.algorithm) {
            return Err(format!("key {:?} is {} but {} was configured", key.name, key.algorithm.name(), a.name()));
        }
        Ok(key)
    }

    /// hickory's signer for this key.
    pub fn signer(&self) -> Result<TSigner, String> {
        let name = Name::from_ascii(format!("{}.", self.name)).map_err(|e| format!("TSIG key name {:?}: {e}", self.name))?;
        TSigner::new(self.secret.clone(), self.algorithm.hickory(), name, FUDGE)
            .map_err(|e| format!("TSIG key {:?}: {e}", self.name))
    }
}

fn looks_like_bind(text: &str) -> bool {
    strip_comments(text).split_whitespace().next() == Some("key")
}

fn check_key_name(n: &str) -> Result<(), String> {
    let ok = !n.is_empty()
        && n.len() <= 253
        && n.split('.').all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    if ok { Ok(()) } else { Err(format!("TSIG key name {n:?} is not a valid DNS name")) }
}

fn decode_secret(b64: &str) -> Result<Vec<u8>, String> {
    let compact: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let secret = data_encoding::BASE64
        .decode(compact.as_bytes())
        .map_err(|e| format!("the secret is not valid base64 ({e})"))?;
    if secret.len() < 16 {
        return Err(format!("the secret is only {} bytes; use at least 16 (tsig-keygen makes 32)", secret.len()));
    }
    Ok(secret)
}

/// Removes `#`, `//` and `/* */` comments (outside quotes), keeping line breaks.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            out.push(c);
            if c == '"' {
                quoted = false;
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                out.push(c);
            }
            '#' => {
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = ' ';
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                    }
                    if prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    out
}

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Semi,
}

/// Tokens with their line numbers.
fn tokens(text: &str) -> Result<Vec<(Tok, usize)>, String> {
    let mut out = Vec::new();
    for (i, line) in strip_comments(text).lines().enumerate() {
        let ln = i + 1;
        let mut rest = line;
        loop {
            rest = rest.trim_start();
            let Some(c) = rest.chars().next() else { break };
            match c {
                '{' => out.push((Tok::Open, ln)),
                '}' => out.push((Tok::Close, ln)),
                ';' => out.push((Tok::Semi, ln)),
                '"' => {
                    let Some(end) = rest[1..].find('"') else {
                        return Err(format!("line {ln}: unterminated quoted string"));
                    };
                    out.push((Tok::Quoted(rest[1..1 + end].to_string()), ln));
                    rest = &rest[end + 2..];
                    continue;
                }
                _ => {
                    let end = rest.find(|ch: char| ch.is_whitespace() || "{};\"".contains(ch)).unwrap_or(rest.len());
                    out.push((Tok::Word(rest[..end].to_string()), ln));
                    rest = &rest[end..];
                    continue;
                }
            }
            rest = &rest[1..];
        }
    }
    Ok(out)
}

/// `key NAME { algorithm ALG; secret "B64"; };` blocks, one or more.
fn parse_bind(text: &str) -> Result<Vec<TsigKey>, String> {
    let toks = tokens(text)?;
    let mut it = toks.into_iter().peekable();
    let mut keys = Vec::new();
    let last_line = text.lines().count().max(1);
    let next = |what: &str, it: &mut std::iter::Peekable<std::vec::IntoIter<(Tok, usize)>>| {
        it.next().ok_or_else(|| format!("line {last_line}: the file ends where {what} was expected"))
    };
    while it.peek().is_some() {
        match next("key", &mut it)? {
            (Tok::Word(w), _) if w == "key" => {}
            (t, ln) => return Err(format!("line {ln}: expected `key`, found {}", show(&t))),
        }
        let name = match next("the key name", &mut it)? {
            (Tok::Word(n) | Tok::Quoted(n), _) => n.trim_end_matches('.').to_ascii_lowercase(),
            (t, ln) => return Err(format!("line {ln}: expected the key name, found {}", show(&t))),
        };
        check_key_name(&name)?;
        match next("{", &mut it)? {
            (Tok::Open, _) => {}
            (t, ln) => return Err(format!("line {ln}: expected `{{` after key {name:?}, found {}", show(&t))),
        }
        let (mut algorithm, mut secret) = (None, None);
        loop {
            let (t, ln) = next("`}`", &mut it)?;
            let field = match t {
                Tok::Close => break,
                Tok::Word(w) => w.to_ascii_lowercase(),
                t => return Err(format!("line {ln}: expected `algorithm`, `secret` or `}}`, found {}", show(&t))),
            };
            let value = match next("a value", &mut it)? {
                (Tok::Word(v) | Tok::Quoted(v), _) => v,
                (t, ln) => return Err(format!("line {ln}: expected a value for {field}, found {}", show(&t))),
            };
            match next("`;`", &mut it)? {
                (Tok::Semi, _) => {}
                (t, ln) => return Err(format!("line {ln}: expected `;` after {field}, found {}", show(&t))),
            }
            match field.as_str() {
                "algorithm" => algorithm = Some(Algorithm::parse(&value).map_err(|e| format!("line {ln}: {e}"))?),
                "secret" => secret = Some(decode_secret(&value).map_err(|e| format!("line {ln}: {e}"))?),
                other => return Err(format!("line {ln}: unknown key field {other:?}; expected algorithm or secret")),
            }
        }
        if let Some((Tok::Semi, _)) = it.peek() {
            it.next();
        }
        let algorithm = algorithm.ok_or_else(|| format!("key {name:?} has no algorithm"))?;
        let secret = secret.ok_or_else(|| format!("key {name:?} has no secret"))?;
        keys.push(TsigKey { name, algorithm, secret });
    }
    Ok(keys)
}

fn show(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("`{w}`"),
        Tok::Quoted(q) => format!("\"{q}\""),
        Tok::Open => "`{`".into(),
        Tok::Close => "`}`".into(),
        Tok::Semi => "`;`".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    const KEYGEN: &str = "key \"kmsedge-test\" {\n\talgorithm hmac-sha256;\n\tsecret \"QWL5tkpMf6N3o+hS1L1H9cu7x8ut7ib8hC8WTtad12g=\";\n};\n";

    #[test]
    fn reads_what_tsig_keygen_writes() {
        let k = TsigKey::parse(KEYGEN, None, None).unwrap();
        assert_eq!(k.name, "kmsedge-test");
        assert_eq!(k.algorithm, Algorithm::HmacSha256);
        assert_eq!(k.secret.len(), 32);
        assert_eq!(k.secret[..3], [0x41, 0x62, 0xf9]);
        let s = k.signer().unwrap();
        assert_eq!(s.signer_name().to_ascii(), "kmsedge-test.");
        // The secret stays out of Debug.
        assert!(!format!("{k:?}").contains("QWL5"));
        // Same key by name, with a matching algorithm.
        assert_eq!(TsigKey::parse(KEYGEN, Some("KMSEDGE-test."), Some(Algorithm::HmacSha256)).unwrap(), k);
    }

    #[test]
    fn comments_several_keys_and_bare_secrets() {
        let two = "# made by hand\nkey a.example { algorithm HMAC-SHA512; secret \"QWL5tkpMf6N3o+hS1L1H9cu7x8ut7ib8hC8WTtad12g=\"; };\n\
                   /* second */ key \"b\" {\n // the secret\n secret \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"; algorithm hmac-sha256; };";
        assert!(TsigKey::parse(two, None, None).unwrap_err().contains("2 keys"));
        assert_eq!(TsigKey::parse(two, Some("a.example"), None).unwrap().algorithm, Algorithm::HmacSha512);
        assert_eq!(TsigKey::parse(two, Some("b"), None).unwrap().secret, vec![0u8; 32]);
        assert!(TsigKey::parse(two, Some("c"), None).unwrap_err().contains("no key named \"c\""));
        let bare = "QWL5tkpMf6N3o+hS1L1H9cu7x8ut7ib8hC8WTtad12g=\n";
        assert!(TsigKey::parse(bare, None, None).unwrap_err().contains("key name must be configured"));
        let k = TsigKey::parse(bare, Some("upd"), None).unwrap();
        assert_eq!((k.name.as_str(), k.algorithm), ("upd", Algorithm::HmacSha256));
    }

    #[test]
    fn broken_files_are_one_line_errors() {
        for (text, want) in [
            ("", "empty"),
            ("key \"k\" { algorithm hmac-sha256; secret \"QWL5tkpMf6N3o+hS1L1H9cu7x8ut7ib8hC8WTtad12g=\" };", "line 1: expected `;` after secret"),
            ("key \"k\" { algorithm hmac-md5; secret \"QWL5tkpMf6N3o+hS1L1H9cu7x8ut7ib8hC8WTtad12g=\"; };", "not supported"),
            ("key \"k\" { algorithm hmac-sha256; };", "has no secret"),
            ("key \"k\" {\n algorithm hmac-sha256;\n secret \"!!notbase64\";\n};", "line 3: the secret is not valid base64"),
            ("key \"k\" { algorithm hmac-sha256; secret \"AAAA\"; };", "only 3 bytes"),
            ("key \"k\" { algorithm hmac-sha256; colour \"x\"; };", "unknown key field \"colour\""),
            ("key \"k\" { algorithm hmac-sha256;\n", "the file ends where"),
            ("key \"k\" { secret \"unterminated; };", "unterminated"),
        ] {
            let e = TsigKey::parse(text, None, None).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let e = TsigKey::parse(KEYGEN, None, Some(Algorithm::HmacSha512)).unwrap_err();
        assert!(e.contains("is hmac-sha256 but hmac-sha512 was configured"), "{e}");
        let e = TsigKey::load(Path::new("/nonexistent/kmsedge.key"), None, None).unwrap_err();
        assert!(e.starts_with("TSIG key file /nonexistent/kmsedge.key:"), "{e}");
    }
}
