//! The wasm-bindgen API of the browser page (`www/`).
//!
//! The page loads two WebAssembly modules, both built from this crate by
//! `wasm-pack build --target web --no-default-features` (see
//! `scripts/test-web.sh`), so that opening the page fetches only what the
//! first view needs:
//!
//! * feature `web-lookup` → `www/pkg/kmsedge.js`, loaded with the page:
//!   [`search`], [`product`], [`check_key`], [`dns_records`], [`version`];
//! * feature `web-decoder` → `www/pkg/decoder/kmsedge_decoder.js`, loaded
//!   the first time the Decoder view is opened or a file is dropped:
//!   [`decode_hex`], [`decode_file`], [`version`].
//!
//! Everything returns a JSON string, so neither module carries serde nor a
//! JS-object bridge: the lookup writes its few shapes directly (below), the
//! decoder's JSON is [`crate::report`]'s, exactly `kmsedge decode --json`'s.
//! Functions never throw: problems come back as `{"error": "..."}` (or, for
//! the decoder, as the report's `error`/item errors with byte offsets).
use std::string::String;
use wasm_bindgen::prelude::wasm_bindgen;

/// The page's modules allocate little (a report's strings, then they are
/// dropped), so a free list with coalescing (`lol_alloc`) does as well as
/// std's dlmalloc in a fraction of the code. Single-threaded: the lock is
/// never contended.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// The crate version, shown in the page footer.
#[wasm_bindgen]
pub fn version() -> String {
    String::from(env!("CARGO_PKG_VERSION"))
}

// ------------------------------------------------------------ decoder

/// Decodes pasted hex; see [`crate::inspect::hex`] for what is accepted.
#[cfg(feature = "web-decoder")]
#[wasm_bindgen]
pub fn decode_hex(text: &str) -> String {
    crate::report::from_hex(text).to_json()
}

/// Decodes a dropped file: pcap/pcapng by magic number, else hex text,
/// else raw PDU bytes.
#[cfg(feature = "web-decoder")]
#[wasm_bindgen]
pub fn decode_file(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return crate::report::from_bytes("binary", bytes).to_json();
    }
    crate::report::from_input(bytes).to_json()
}

#[cfg(feature = "web-lookup")]
pub use lookup::*;

#[cfg(feature = "web-lookup")]
mod lookup {
    use crate::catalog::{self, AppKey, Sku};
    use std::format;
    use std::net::{IpAddr, Ipv6Addr};
    use std::string::{String, ToString};
    use std::vec;
    use std::vec::Vec;
    use wasm_bindgen::prelude::wasm_bindgen;

    /// The statement the page shows with every lookup.
    pub const GVLK_NOTE: &str = "Only GVLKs (the public KMS client setup keys listed here) activate against a KMS host; \
retail and MAK keys do not. Run the commands in an elevated Command Prompt on the client.";

    /// Host used in the commands while the page's host field is empty.
    pub const PLACEHOLDER_HOST: &str = "kms.example.com";

    // -------------------------------------------------------- JSON writer
    //
    // The lookup's answers are a handful of fixed shapes, written straight
    // into one string: a separator goes before a value unless the string
    // ends with `{`, `[` or `:`.

    fn sep(out: &mut String) {
        if !matches!(out.as_bytes().last(), None | Some(b'{' | b'[' | b':')) {
            out.push(',');
        }
    }

    /// `"key":` (keys are plain ASCII).
    fn key(out: &mut String, k: &str) {
        sep(out);
        out.push('"');
        out.push_str(k);
        out.push_str("\":");
    }

    /// A raw token: `{`, `[`, a number, `true`, `null`.
    fn raw(out: &mut String, r: &str) {
        sep(out);
        out.push_str(r);
    }

    /// A JSON string literal (RFC 8259 escapes).
    fn string(out: &mut String, s: &str) {
        sep(out);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c if (c as u32) < 0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.push_str("\\u00");
                    out.push(char::from(HEX[(c as usize) >> 4]));
                    out.push(char::from(HEX[(c as usize) & 15]));
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }

    fn field(out: &mut String, k: &str, v: &str) {
        key(out, k);
        string(out, v);
    }

    fn opt_field(out: &mut String, k: &str, v: Option<&str>) {
        key(out, k);
        match v {
            Some(v) => string(out, v),
            None => raw(out, "null"),
        }
    }

    fn error_json(message: &str) -> String {
        let mut out = String::from("{");
        field(&mut out, "error", message);
        out.push('}');
        out
    }

    // -------------------------------------------------------- GVLK lookup

    /// A KMS host as typed: a DNS name, an IPv4 address or an IPv6 address
    /// (with or without brackets). Returns the bare host.
    pub fn parse_host(host: &str) -> Result<String, String> {
        let h = host.trim();
        let bare = h.strip_prefix('[').and_then(|x| x.strip_suffix(']')).unwrap_or(h);
        if bare.is_empty() {
            return Err(String::from("the host is empty; expected a DNS name or an IP address"));
        }
        if bare.parse::<IpAddr>().is_ok() {
            return Ok(bare.to_string());
        }
        if bare.contains(':') {
            return Err(format!("{bare:?} is not a host: give the port in the port field, and IPv6 addresses in full"));
        }
        check_dns_name(bare.strip_suffix('.').unwrap_or(bare)).map(|()| bare.strip_suffix('.').unwrap_or(bare).to_string())
    }

    /// RFC 1123 host name: labels of letters, digits and inner hyphens, each
    /// 1–63 characters, 253 in all.
    fn check_dns_name(name: &str) -> Result<(), String> {
        if name.len() > 253 {
            return Err(format!("{name:?} is longer than 253 characters"));
        }
        for (i, label) in name.split('.').enumerate() {
            let ok_chars = label.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
            if label.is_empty() || label.len() > 63 || !ok_chars || label.starts_with('-') || label.ends_with('-') {
                let at = name.split('.').take(i).map(|l| l.len() + 1).sum::<usize>();
                return Err(format!(
                    "{name:?} is not a valid DNS name: label {label:?} at character {at}; expected 1-63 letters, digits or inner hyphens"
                ));
            }
        }
        Ok(())
    }

    /// `host:port` as `slmgr /skms` takes it (IPv6 in brackets).
    fn host_port(host: &str, port: u16) -> String {
        if host.parse::<Ipv6Addr>().is_ok() { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
    }

    /// Where `ospp.vbs` lives (64-bit Office on 64-bit Windows); `None` for Windows.
    pub fn office_folder(sku: &Sku) -> Option<&'static str> {
        match sku.app {
            AppKey::Windows => None,
            AppKey::Office2010 => Some(r"%ProgramFiles%\Microsoft Office\Office14"),
            AppKey::Office2013 if sku.family.contains("2013") => Some(r"%ProgramFiles%\Microsoft Office\Office15"),
            AppKey::Office2013 => Some(r"%ProgramFiles%\Microsoft Office\Office16"),
        }
    }

    /// The commands that install the GVLK and activate against `host:port`, in
    /// the order to type them (the same as `kmsedge products`).
    pub fn product_commands(sku: &Sku, host: &str, port: u16) -> Vec<String> {
        let Some(gvlk) = sku.gvlk else { return Vec::new() };
        match sku.app {
            AppKey::Windows => vec![
                format!("slmgr /ipk {gvlk}"),
                format!("slmgr /skms {}", host_port(host, port)),
                String::from("slmgr /ato"),
                String::from("slmgr /dlv"),
            ],
            AppKey::Office2010 | AppKey::Office2013 => vec![
                format!("cscript ospp.vbs /inpkey:{gvlk}"),
                format!("cscript ospp.vbs /sethst:{host}"),
                format!("cscript ospp.vbs /setprt:{port}"),
                String::from("cscript ospp.vbs /act"),
            ],
        }
    }

    /// A product's fields, without the closing brace (so `product` can add one).
    fn product_fields(out: &mut String, sku: &Sku, host: &str, port: u16) {
        raw(out, "{");
        field(out, "id", &sku.id.to_string());
        field(out, "name", sku.name);
        field(out, "family", sku.family);
        field(out, "edition", sku.edition);
        field(out, "application", catalog::application_by_key(sku.app).name);
        key(out, "office");
        raw(out, if sku.app == AppKey::Windows { "false" } else { "true" });
        field(out, "kms_name", sku.kms_id().map_or("Unknown", |k| k.name));
        opt_field(out, "gvlk", sku.gvlk);
        opt_field(out, "folder", office_folder(sku));
        key(out, "commands");
        raw(out, "[");
        for c in product_commands(sku, host, port) {
            string(out, &c);
        }
        out.push(']');
    }

    /// The host to put in commands, and the problem with what was typed.
    fn command_host(host: &str) -> (String, Option<String>) {
        if host.trim().is_empty() {
            return (String::from(PLACEHOLDER_HOST), None);
        }
        match parse_host(host) {
            Ok(h) => (h, None),
            Err(e) => (String::from(PLACEHOLDER_HOST), Some(e)),
        }
    }

    /// Every SKU with a GVLK one of whose names (the catalogue's,
    /// Microsoft's, the Polish article's, short forms: [`catalog::find`])
    /// holds all words of `query`, best first, grouped by family in the
    /// order of each family's best product, with the commands for
    /// `host:port`. `matched_name` is the name that matched when not the
    /// catalogue's; `not_kms` is set when that name is a product with no KMS
    /// client edition (why its own keys do not work). When nothing matches,
    /// `suggestions` holds the closest products ([`catalog::closest`]).
    ///
    /// `{"note", "query", "host", "port", "host_error", "count",
    ///   "families": [{"family", "products": [{"id", "name", "family", "edition",
    ///   "application", "office", "kms_name", "gvlk", "folder", "commands",
    ///   "matched_name", "not_kms"}]}],
    ///   "suggestions": [{"id", "name"}]}`
    #[wasm_bindgen]
    pub fn search(query: &str, host: &str, port: u16) -> String {
        let port = if port == 0 { 1688 } else { port };
        let (host, host_error) = command_host(host);
        let mut families: Vec<(&'static str, Vec<catalog::Hit>)> = Vec::new();
        let mut count = 0usize;
        for hit in catalog::find(query).filter(|h| h.sku.gvlk.is_some()) {
            count += 1;
            match families.iter_mut().find(|(f, _)| *f == hit.sku.family) {
                Some((_, list)) => list.push(hit),
                None => families.push((hit.sku.family, vec![hit])),
            }
        }
        let mut out = String::from("{");
        field(&mut out, "note", GVLK_NOTE);
        field(&mut out, "query", query);
        field(&mut out, "host", &host);
        key(&mut out, "port");
        raw(&mut out, &port.to_string());
        opt_field(&mut out, "host_error", host_error.as_deref());
        key(&mut out, "count");
        raw(&mut out, &count.to_string());
        key(&mut out, "families");
        raw(&mut out, "[");
        for (family, list) in families {
            raw(&mut out, "{");
            field(&mut out, "family", family);
            key(&mut out, "products");
            raw(&mut out, "[");
            for hit in list {
                product_fields(&mut out, hit.sku, &host, port);
                opt_field(&mut out, "matched_name", hit.via.map(|a| a.name));
                opt_field(&mut out, "not_kms", hit.via.and_then(|a| a.note));
                out.push('}');
            }
            out.push_str("]}");
        }
        out.push(']');
        key(&mut out, "suggestions");
        raw(&mut out, "[");
        if count == 0 {
            for hit in catalog::closest(query, SUGGESTIONS).filter(|h| h.sku.gvlk.is_some()) {
                raw(&mut out, "{");
                field(&mut out, "id", &hit.sku.id.to_string());
                field(&mut out, "name", hit.sku.name);
                out.push('}');
            }
        }
        out.push_str("]}");
        out
    }

    /// How many closest products a search that finds nothing suggests.
    const SUGGESTIONS: usize = 5;

    // -------------------------------------------------------- key checker

    /// What a product key is, for the page's checker: the core's reading
    /// ([`crate::pkey`]), the same as `kmsedge key`'s. The key is never
    /// returned whole (`masked`: the last five characters only).
    ///
    /// `{"kind", "valid", "masked", "message", "error", "suspect_groups",
    ///   "group_id", "serial", "csvlk_name", "product"}`:
    /// - `kind`: `gvlk` (the catalogue's GVLK of `product`, whose `commands`
    ///   are for `host:port`), `gvlk_group` (another KMS client key of
    ///   `product`'s group), `csvlk` (a KMS host key), `not_kms` (a valid
    ///   key that is not a KMS client key), `older_gvlk` / `older_unknown`
    ///   (a key without `N`, which only the catalogue can tell: a GVLK of
    ///   `product`, or not known), `invalid`;
    /// - `valid`: true, false, or null for an older-format key (no checksum);
    /// - `message`: one English sentence saying what the key is;
    /// - `error`: why it is invalid; `suspect_groups`: the groups of five
    ///   (1–5) a typo is probably in, empty when unknown;
    /// - `group_id`, `serial`: a 2009-format key's fields, else null.
    #[wasm_bindgen]
    pub fn check_key(input: &str, host: &str, port: u16) -> String {
        use crate::pkey::{self, Classification, Identity};
        let port = if port == 0 { 1688 } else { port };
        let (host, _) = command_host(host);
        let masked = pkey::KeyText::parse(input).ok().map(|t| t.masked().to_string());
        let mut out = String::from("{");
        let (kind, valid, message, product, fields, csvlk) = match pkey::classify(input) {
            Classification::Pkey2009 { key, identity, .. } => {
                let (kind, product, csvlk) = match identity {
                    Identity::Gvlk(s) => ("gvlk", Some(s), None),
                    Identity::GvlkGroup(s) => ("gvlk_group", Some(s), None),
                    Identity::Csvlk { slot, .. } => ("csvlk", None, slot.map(|s| s.get().csvlk_name)),
                    Identity::NotKms => ("not_kms", None, None),
                };
                (kind, "true", identity.to_string(), product, Some((key.group, key.serial)), csvlk)
            }
            Classification::Pre2009 { gvlk: Some(s), .. } => {
                ("older_gvlk", "null", Identity::Gvlk(s).to_string(), Some(s), None, None)
            }
            Classification::Pre2009 { gvlk: None, .. } => (
                "older_unknown",
                "null",
                String::from("an older-format key (no N) that is not in the catalogue: not a known KMS client key"),
                None,
                None,
                None,
            ),
            Classification::Invalid(e) => {
                field(&mut out, "error", &e.to_string());
                ("invalid", "false", format!("not a valid product key: {e}"), None, None, None)
            }
        };
        if kind != "invalid" {
            raw(&mut out, "\"error\":null");
        }
        field(&mut out, "kind", kind);
        key(&mut out, "valid");
        raw(&mut out, valid);
        opt_field(&mut out, "masked", masked.as_deref());
        field(&mut out, "message", &message);
        key(&mut out, "suspect_groups");
        raw(&mut out, "[");
        for g in pkey::suspect_groups(input).iter() {
            raw(&mut out, &g.to_string());
        }
        out.push(']');
        key(&mut out, "group_id");
        raw(&mut out, &fields.map_or_else(|| String::from("null"), |f| f.0.to_string()));
        key(&mut out, "serial");
        raw(&mut out, &fields.map_or_else(|| String::from("null"), |f| f.1.to_string()));
        opt_field(&mut out, "csvlk_name", csvlk);
        key(&mut out, "product");
        match product {
            Some(sku) => {
                product_fields(&mut out, sku, &host, port);
                out.push('}');
            }
            None => raw(&mut out, "null"),
        }
        out.push('}');
        out
    }

    /// One product by SKU id (the page's `#product/<id>` deep link), with its
    /// commands for `host:port`; `{"error": …}` if the id is unknown.
    #[wasm_bindgen]
    pub fn product(id: &str, host: &str, port: u16) -> String {
        let port = if port == 0 { 1688 } else { port };
        let Ok(guid) = crate::Guid::parse(id.trim()) else {
            return error_json(&format!(
                "{id:?} is not a product id; expected a GUID like 73111121-5638-40f6-bc11-f1d7b0d64300"
            ));
        };
        let Some(sku) = catalog::sku(&guid) else {
            return error_json(&format!("no product with id {guid} in the catalogue"));
        };
        let (host, host_error) = command_host(host);
        let mut out = String::new();
        product_fields(&mut out, sku, &host, port);
        opt_field(&mut out, "host_error", host_error.as_deref());
        out.push('}');
        out
    }

    // -------------------------------------------------------- DNS helper

    /// The SRV record that lets clients find the host (`_vlmcs._tcp`), as a
    /// zone-file line and as the PowerShell command for a Windows DNS server.
    /// A host without a dot is taken as a name inside `domain`.
    ///
    /// `{"zone_line", "powershell", "check", "target"}` or `{"error"}`.
    #[wasm_bindgen]
    pub fn dns_records(domain: &str, host: &str, port: u16) -> String {
        match dns(domain, host, port) {
            Ok(out) => out,
            Err(e) => error_json(&e),
        }
    }

    fn dns(domain: &str, host: &str, port: u16) -> Result<String, String> {
        let domain = domain.trim().trim_end_matches('.');
        if domain.is_empty() {
            return Err(String::from("the domain is empty; expected the DNS domain the clients are in, e.g. corp.example.com"));
        }
        check_dns_name(domain).map_err(|e| format!("domain: {e}"))?;
        if port == 0 {
            return Err(String::from("the port is 0; expected 1-65535 (KMS uses 1688)"));
        }
        let host = host.trim().trim_end_matches('.');
        if host.is_empty() {
            return Err(String::from("the host is empty; expected the KMS host's DNS name"));
        }
        if host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok() {
            return Err(format!(
                "{host} is an address; an SRV record needs the host's DNS name (create an A/AAAA record for the address first)"
            ));
        }
        check_dns_name(host).map_err(|e| format!("host: {e}"))?;
        let target = if host.contains('.') { host.to_string() } else { format!("{host}.{domain}") };
        let domain_lc = domain.to_ascii_lowercase();
        let target_lc = target.to_ascii_lowercase();
        // Within the zone, the record's name is relative to it.
        let mut out = String::from("{");
        field(&mut out, "zone_line", &format!("_vlmcs._tcp.{domain_lc}. IN SRV 0 0 {port} {target_lc}."));
        field(
            &mut out,
            "powershell",
            &format!(
                "Add-DnsServerResourceRecord -ZoneName \"{domain_lc}\" -Srv -Name \"_vlmcs._tcp\" -DomainName \"{target_lc}\" -Priority 0 -Weight 0 -Port {port}"
            ),
        );
        field(&mut out, "check", &format!("nslookup -type=srv _vlmcs._tcp.{domain_lc}"));
        field(&mut out, "target", &target_lc);
        out.push('}');
        Ok(out)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn json_strings_are_escaped() {
            let mut out = String::from("[");
            string(&mut out, "q\"b\\n\nt\tc\u{1}é");
            raw(&mut out, "null");
            out.push(']');
            assert_eq!(out, r#"["q\"b\\n\nt\u0009c\u0001é",null]"#);
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v[0], "q\"b\\n\nt\tc\u{1}é");
        }

        fn json(s: &str) -> serde_json::Value {
            serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
        }

        #[test]
        fn search_finds_polish_names_and_suggests_when_nothing_matches() {
            let v = json(&search("Wydawca 2019", "", 0));
            assert_eq!(v["families"][0]["products"][0]["name"], "Office Publisher 2019");
            assert_eq!(v["suggestions"], serde_json::json!([]));
            let v = json(&search("Access Runtime 2019", "", 0));
            let p = &v["families"][0]["products"][0];
            assert_eq!((p["name"].as_str(), p["matched_name"].as_str()), (Some("Office Access 2019"), Some("Access Runtime 2019")));
            assert!(p["not_kms"].as_str().unwrap().contains("not KMS client keys"));
            let v = json(&search("Windwos 11 Pro", "", 0));
            assert_eq!(v["count"], 0);
            assert_eq!(v["suggestions"][0]["name"], "Windows 10/11 Pro");
        }

        #[test]
        fn check_key_classifies_and_names_the_typo_group() {
            let v = json(&check_key("w269n-wfgwx-yvc9b-4j6c9-t83gx", "kms.lan", 1700));
            assert_eq!((v["kind"].as_str(), v["valid"].as_bool()), (Some("gvlk"), Some(true)));
            assert_eq!(v["masked"], "*****-*****-*****-*****-T83GX");
            assert_eq!(v["product"]["name"], "Windows 10/11 Pro");
            assert_eq!(v["product"]["commands"][1], "slmgr /skms kms.lan:1700");
            assert_eq!(v["error"], serde_json::Value::Null);
            // One character of group 3 changed.
            let v = json(&check_key("W269N-WFGWX-YVK9B-4J6C9-T83GX", "", 0));
            assert_eq!((v["kind"].as_str(), v["valid"].as_bool()), (Some("invalid"), Some(false)));
            assert!(v["suspect_groups"].as_array().unwrap().contains(&serde_json::json!(3)), "{v}");
            assert!(v["error"].as_str().unwrap().contains("checksum"));
            // A retail key of the article (row 78, Excel 2019): valid, not a KMS key.
            let v = json(&check_key("R9Q2B-N7FCB-66HFM-6WJ6T-TJHHK", "", 0));
            assert_eq!(v["kind"], "not_kms");
            assert_eq!(v["message"], crate::pkey::NOT_KMS);
            assert!(!v.to_string().contains("R9Q2B"));
            let v = json(&check_key("nonsense", "", 0));
            assert_eq!((v["kind"].as_str(), v["masked"].as_str()), (Some("invalid"), None));
        }
    }
}
