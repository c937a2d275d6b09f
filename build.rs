//! Compiles `data/products.json` (schema: `data/README.md`) into static Rust
//! tables, written to `$OUT_DIR/catalog_tables.rs` and `include!`d by
//! `src/catalog/mod.rs`. Nothing in the tables is typed by hand: every value
//! comes from the JSON, which is validated here (shape, ranges, unique ids,
//! cross-references) so that the runtime code can rely on it without checks.
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;

const DATA: &str = "data/products.json";
const SCHEMA: &str = "kms-products/1";

#[derive(Deserialize)]
struct Catalogue {
    schema: String,
    applications: Vec<App>,
    epid_slots: Vec<Slot>,
    kms_ids: Vec<Kms>,
    skus: Vec<Sku>,
    host_builds: Vec<Build>,
}

#[derive(Deserialize)]
struct App {
    key: String,
    id: String,
    name: String,
    min_active_clients: u32,
}

#[derive(Deserialize)]
struct Slot {
    slot: String,
    csvlk: String,
    csvlk_name: String,
    app: String,
    group_id: u32,
    /// Inclusive `[first, last]` key id blocks, ascending, disjoint.
    key_blocks: Vec<[u32; 2]>,
    release: String,
    min_host_build: u32,
    /// Held by a host that has no key of the organisation's own.
    held: bool,
    /// The KMS counted ids this CSVLK activates.
    covers: Vec<String>,
}

#[derive(Deserialize)]
struct Kms {
    id: String,
    name: String,
    app: String,
    n_policy: u32,
    protocol: u8,
    retail: bool,
    preview: bool,
    #[serde(default)]
    synthetic: bool,
}

#[derive(Deserialize)]
struct Sku {
    id: String,
    name: String,
    family: String,
    edition: String,
    app: String,
    kms: String,
    gvlk: Option<String>,
    /// Group id a 2009-format GVLK decodes to (`src/pkey/`); a test in
    /// `src/pkey/tests.rs` checks it against the decoder.
    gvlk_group: Option<u32>,
}

#[derive(Deserialize)]
struct Build {
    build: u32,
    platform_id: u32,
    name: String,
    release: String,
    use_for_epid: bool,
    may_be_server: bool,
    ndr64: bool,
}

/// JSON application key → `AppKey` variant, in `AppKey` discriminant order.
const APP_KEYS: [(&str, &str); 3] = [
    ("win", "Windows"),
    ("o14", "Office2010"),
    ("o15", "Office2013"),
];

fn main() {
    println!("cargo:rerun-if-changed={DATA}");
    println!("cargo:rerun-if-changed=build.rs");

    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let text = match std::fs::read_to_string(manifest.join(DATA)) {
        Ok(t) => t,
        Err(e) => fail(&[format!("cannot read {DATA}: {e}")]),
    };
    let cat: Catalogue = match serde_json::from_str(&text) {
        Ok(c) => c,
        Err(e) => fail(&[format!("{DATA} is malformed: {e}")]),
    };
    let code = match generate(&cat) {
        Ok(code) => code,
        Err(errors) => fail(&errors),
    };
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("catalog_tables.rs");
    std::fs::write(&out, code)
        .unwrap_or_else(|e| fail(&[format!("cannot write {}: {e}", out.display())]));
}

fn fail(errors: &[String]) -> ! {
    for e in errors {
        eprintln!("error: {e}");
    }
    eprintln!(
        "error: the product catalogue {DATA} failed validation ({} problem(s)); see data/README.md for the schema",
        errors.len()
    );
    std::process::exit(1);
}

/// A GUID's canonical number and its 16 wire bytes (Data1..3 LE, Data4 raw).
fn parse_guid(s: &str) -> Option<(u128, [u8; 16])> {
    let b = s.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        v = (v << 4) | (c as char).to_digit(16)? as u128;
    }
    let be = v.to_be_bytes();
    let wire = [
        be[3], be[2], be[1], be[0], be[5], be[4], be[7], be[6], be[8], be[9], be[10], be[11],
        be[12], be[13], be[14], be[15],
    ];
    Some((v, wire))
}

fn guid_expr(v: u128) -> String {
    let h = format!("{v:032x}");
    format!(
        "Guid::from_u128(0x{}_{}_{}_{}_{})",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

/// `YYYY-MM-DD` → Rust `Date` expression.
fn date_expr(s: &str) -> Option<(String, (u32, u32, u32))> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = &s[r];
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let dim = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap(y) => 29,
        2 => 28,
        _ => return None,
    };
    if d == 0 || d > dim {
        return None;
    }
    Some((
        format!("Date {{ year: {y}, month: {m}, day: {d} }}"),
        (y, m, d),
    ))
}

/// Product-key alphabet (24 characters) plus the `N` marker of Windows 8+ keys.
fn valid_gvlk(k: &str) -> bool {
    const ALPHABET: &str = "BCDFGHJKMNPQRTVWXY2346789";
    let parts: Vec<&str> = k.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .all(|p| p.len() == 5 && p.chars().all(|c| ALPHABET.contains(c)))
}

fn lit(s: &str) -> String {
    format!("{s:?}")
}

fn generate(cat: &Catalogue) -> Result<String, Vec<String>> {
    let mut err: Vec<String> = Vec::new();
    if cat.schema != SCHEMA {
        err.push(format!(
            "schema is {:?}, this build understands {SCHEMA:?}",
            cat.schema
        ));
    }

    let guid = |what: &str, s: &str, err: &mut Vec<String>| -> (u128, [u8; 16]) {
        parse_guid(s).unwrap_or_else(|| {
            err.push(format!(
                "{what}: {s:?} is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
            ));
            (0, [0; 16])
        })
    };
    let date = |what: &str, s: &str, err: &mut Vec<String>| -> (String, (u32, u32, u32)) {
        date_expr(s).unwrap_or_else(|| {
            err.push(format!(
                "{what}: release {s:?} is not a valid YYYY-MM-DD date"
            ));
            ("Date { year: 0, month: 1, day: 1 }".into(), (0, 1, 1))
        })
    };
    let nonempty = |what: &str, field: &str, s: &str, err: &mut Vec<String>| {
        if s.trim().is_empty() {
            err.push(format!("{what}: {field} is empty"));
        }
    };

    // ---- applications (emitted in AppKey order so that lookup by key is an index)
    let mut app_by_key: HashMap<&str, &App> = HashMap::new();
    let mut app_ids = HashSet::new();
    for (i, a) in cat.applications.iter().enumerate() {
        let what = format!("applications[{i}] ({:?})", a.key);
        if !APP_KEYS.iter().any(|(k, _)| *k == a.key) {
            err.push(format!(
                "{what}: unknown application key (expected one of win, o14, o15)"
            ));
        }
        if app_by_key.insert(&a.key, a).is_some() {
            err.push(format!("{what}: duplicate application key"));
        }
        if !app_ids.insert(guid(&what, &a.id, &mut err).1) {
            err.push(format!("{what}: duplicate application id {}", a.id));
        }
    }
    let mut apps_code = String::new();
    for (key, variant) in APP_KEYS {
        let Some(a) = app_by_key.get(key) else {
            err.push(format!("applications: no entry with key {key:?}"));
            continue;
        };
        let what = format!("application {key:?}");
        nonempty(&what, "name", &a.name, &mut err);
        let (id, _) = guid(&what, &a.id, &mut err);
        let _ = writeln!(
            apps_code,
            "    Application {{ key: AppKey::{variant}, id: {}, name: {}, min_active_clients: {} }},",
            guid_expr(id),
            lit(&a.name),
            a.min_active_clients
        );
    }
    let app_variant = |what: &str, key: &str, err: &mut Vec<String>| -> &'static str {
        match APP_KEYS.iter().find(|(k, _)| *k == key) {
            Some((_, v)) if app_by_key.contains_key(key) => v,
            _ => {
                err.push(format!(
                    "{what}: application {key:?} is not in applications"
                ));
                "Windows"
            }
        }
    };

    // ---- KMS counted ids
    let mut kms_ix: HashMap<[u8; 16], usize> = HashMap::new();
    let mut kms_code = String::new();
    for (i, k) in cat.kms_ids.iter().enumerate() {
        let what = format!("kms_ids[{i}] ({} {:?})", k.id, k.name);
        nonempty(&what, "name", &k.name, &mut err);
        let (id, wire) = guid(&what, &k.id, &mut err);
        if kms_ix.insert(wire, i).is_some() {
            err.push(format!("{what}: duplicate KMS id"));
        }
        let app = app_variant(&what, &k.app, &mut err);
        if !(4..=6).contains(&k.protocol) {
            err.push(format!(
                "{what}: protocol {} is not a KMS major version (4, 5 or 6)",
                k.protocol
            ));
        }
        let _ = writeln!(
            kms_code,
            "    KmsId {{ id: {}, name: {}, app: AppKey::{app}, n_policy: {}, protocol: {}, retail: {}, preview: {}, synthetic: {} }},",
            guid_expr(id),
            lit(&k.name),
            k.n_policy,
            k.protocol,
            k.retail,
            k.preview,
            k.synthetic
        );
    }

    // ---- ePID slots (CSVLKs): key blocks, what each covers, which are held
    if cat.epid_slots.is_empty() || cat.epid_slots.len() > 255 {
        err.push(format!(
            "epid_slots: need 1..=255 slots, found {}",
            cat.epid_slots.len()
        ));
    }
    let mut slot_names = HashSet::new();
    let mut slots_code = String::new();
    let mut held_code = String::new();
    // KMS id → the held slot covering it: a counted id is answered by one held key.
    let mut held_cover: HashMap<[u8; 16], &str> = HashMap::new();
    let mut held_windows = 0;
    for (i, s) in cat.epid_slots.iter().enumerate() {
        let what = format!("epid_slots[{i}] ({:?})", s.slot);
        nonempty(&what, "slot", &s.slot, &mut err);
        nonempty(&what, "csvlk_name", &s.csvlk_name, &mut err);
        if !slot_names.insert(&s.slot) {
            err.push(format!("{what}: duplicate slot name"));
        }
        let (csvlk, _) = guid(&what, &s.csvlk, &mut err);
        let app = app_variant(&what, &s.app, &mut err);
        if s.group_id > 99_999 {
            err.push(format!(
                "{what}: group_id {} does not fit the 5-digit ePID field",
                s.group_id
            ));
        }
        if s.key_blocks.is_empty() {
            err.push(format!("{what}: key_blocks is empty"));
        }
        let mut blocks = String::new();
        let mut after: Option<u32> = None;
        for &[first, last] in &s.key_blocks {
            if first > last || last > 999_999_999 || after.is_some_and(|a| first <= a) {
                err.push(format!(
                    "{what}: key block {first}..={last} must be ordered, fit the 9-digit ePID field and follow the previous block"
                ));
            }
            after = Some(last);
            let _ = write!(blocks, "KeyBlock {{ first: {first}, last: {last} }}, ");
        }
        let mut covers = String::new();
        let mut seen = HashSet::new();
        for c in &s.covers {
            let (id, wire) = guid(&what, c, &mut err);
            match kms_ix.get(&wire) {
                None => err.push(format!("{what}: covered KMS id {c} is not in kms_ids")),
                Some(&k) if cat.kms_ids[k].app != s.app => err.push(format!(
                    "{what}: covered KMS id {c} belongs to application {:?}, the CSVLK to {:?}",
                    cat.kms_ids[k].app, s.app
                )),
                Some(_) => {}
            }
            if !seen.insert(wire) {
                err.push(format!("{what}: KMS id {c} is covered twice"));
            }
            if s.held
                && let Some(other) = held_cover.insert(wire, &s.slot)
            {
                err.push(format!("{what}: KMS id {c} is also covered by held slot {other:?}"));
            }
            let _ = write!(covers, "{}, ", guid_expr(id));
        }
        if s.held {
            let _ = write!(held_code, "SlotId({i}), ");
            held_windows += usize::from(s.app == "win");
        }
        let (release, _) = date(&what, &s.release, &mut err);
        let _ = writeln!(
            slots_code,
            "    EpidSlot {{ name: {}, csvlk: {}, csvlk_name: {}, app: AppKey::{app}, group_id: {}, key_blocks: &[{blocks}], release: {release}, min_host_build: {}, held: {}, covers: &[{covers}] }},",
            lit(&s.slot),
            guid_expr(csvlk),
            lit(&s.csvlk_name),
            s.group_id,
            s.min_host_build,
            s.held
        );
    }
    if held_windows != 1 {
        err.push(format!(
            "epid_slots: a host holds one Windows CSVLK; {held_windows} Windows slots are held"
        ));
    }

    // ---- SKUs
    if cat.skus.len() > usize::from(u16::MAX) || cat.kms_ids.len() > usize::from(u16::MAX) {
        err.push("skus/kms_ids: more than 65535 entries do not fit the u16 indexes".into());
    }
    let mut sku_ids: Vec<([u8; 16], usize)> = Vec::new();
    let mut seen_sku = HashSet::new();
    let mut seen_gvlk: HashMap<&str, &str> = HashMap::new();
    let mut sku_code = String::new();
    for (i, s) in cat.skus.iter().enumerate() {
        let what = format!("skus[{i}] ({} {:?})", s.id, s.name);
        nonempty(&what, "name", &s.name, &mut err);
        nonempty(&what, "family", &s.family, &mut err);
        let (id, wire) = guid(&what, &s.id, &mut err);
        if !seen_sku.insert(wire) {
            err.push(format!("{what}: duplicate SKU id"));
        }
        sku_ids.push((wire, i));
        let app = app_variant(&what, &s.app, &mut err);
        let (kms, kms_wire) = guid(&what, &s.kms, &mut err);
        match kms_ix.get(&kms_wire) {
            None => err.push(format!("{what}: KMS id {} is not in kms_ids", s.kms)),
            Some(&k) if cat.kms_ids[k].app != s.app => err.push(format!(
                "{what}: application {:?} differs from its KMS id's ({:?})",
                s.app, cat.kms_ids[k].app
            )),
            Some(_) => {}
        }
        let gvlk = match &s.gvlk {
            None => "None".to_string(),
            Some(k) => {
                if !valid_gvlk(k) {
                    err.push(format!(
                        "{what}: gvlk {k:?} is not a product key (XXXXX-XXXXX-XXXXX-XXXXX-XXXXX)"
                    ));
                }
                if let Some(other) = seen_gvlk.insert(k, &s.id) {
                    err.push(format!("{what}: gvlk {k} is also the key of SKU {other}"));
                }
                format!("Some({})", lit(k))
            }
        };
        // Only 2009-format keys (with an `N`) carry a group id in the key.
        let pkey2009 = s.gvlk.as_deref().is_some_and(|k| k.contains('N'));
        let gvlk_group = match s.gvlk_group {
            Some(g) if !pkey2009 => {
                err.push(format!("{what}: gvlk_group {g} given, but the SKU has no 2009-format gvlk (one with an N)"));
                "None".to_string()
            }
            None if pkey2009 => {
                err.push(format!("{what}: gvlk is a 2009-format key (it has an N) but gvlk_group is missing"));
                "None".to_string()
            }
            Some(g) if g >= 1 << 20 => {
                err.push(format!("{what}: gvlk_group {g} does not fit the key's 20-bit group field"));
                "None".to_string()
            }
            Some(g) => format!("Some({g})"),
            None => "None".to_string(),
        };
        let _ = writeln!(
            sku_code,
            "    Sku {{ id: {}, name: {}, family: {}, edition: {}, app: AppKey::{app}, kms: {}, gvlk: {gvlk}, gvlk_group: {gvlk_group} }},",
            guid_expr(id),
            lit(&s.name),
            lit(&s.family),
            lit(&s.edition),
            guid_expr(kms)
        );
    }

    // ---- host builds (emitted sorted by build number)
    let mut builds: Vec<&Build> = cat.host_builds.iter().collect();
    builds.sort_by_key(|b| b.build);
    let mut build_code = String::new();
    let mut seen_build = HashSet::new();
    for b in &builds {
        let what = format!("host_builds (build {})", b.build);
        nonempty(&what, "name", &b.name, &mut err);
        if !seen_build.insert(b.build) {
            err.push(format!("{what}: duplicate build"));
        }
        if b.build == 0 || b.build > 99_999 || b.platform_id > 99_999 {
            err.push(format!(
                "{what}: build and platform_id must be 1..=99999 to fit the ePID"
            ));
        }
        let (release, _) = date(&what, &b.release, &mut err);
        let _ = writeln!(
            build_code,
            "    HostBuild {{ build: {}, platform_id: {}, name: {}, release: {release}, use_for_epid: {}, may_be_server: {}, ndr64: {} }},",
            b.build,
            b.platform_id,
            lit(&b.name),
            b.use_for_epid,
            b.may_be_server,
            b.ndr64
        );
    }
    // ePID generation needs a host build able to carry every held CSVLK, with and without NDR64.
    let need = cat
        .epid_slots
        .iter()
        .filter(|s| s.held)
        .map(|s| s.min_host_build)
        .max()
        .unwrap_or(0);
    for ndr64 in [false, true] {
        if !builds
            .iter()
            .any(|b| b.use_for_epid && b.build >= need && (b.ndr64 || !ndr64))
        {
            err.push(format!(
                "host_builds: no use_for_epid build >= {need} (the largest min_host_build){}",
                if ndr64 { " with ndr64" } else { "" }
            ));
        }
    }

    if !err.is_empty() {
        return Err(err);
    }

    // ---- id indexes sorted by wire bytes (the order of `Guid`'s derived `Ord`)
    let mut kms_sorted: Vec<([u8; 16], usize)> = kms_ix.into_iter().collect();
    kms_sorted.sort();
    sku_ids.sort();
    let index = |v: &[([u8; 16], usize)]| -> String {
        let mut s = String::new();
        for (w, i) in v {
            let _ = writeln!(s, "    (Guid({w:?}), {i}),");
        }
        s
    };

    let mut code = String::new();
    let _ = writeln!(
        code,
        "// @generated by build.rs from {DATA}; do not edit.\n"
    );
    let _ = writeln!(
        code,
        "/// The applications, in [`AppKey`] order (`APPLICATIONS[k as usize].key == k`)."
    );
    let _ = writeln!(
        code,
        "pub static APPLICATIONS: &[Application] = &[\n{apps_code}];\n"
    );
    let _ = writeln!(
        code,
        "/// The ePID slots (CSVLKs), in catalogue order; [`SlotId`] indexes this."
    );
    let _ = writeln!(
        code,
        "pub static EPID_SLOTS: &[EpidSlot] = &[\n{slots_code}];\n"
    );
    let _ = writeln!(
        code,
        "/// The CSVLKs a host holds when it has none of the organisation's own, in catalogue order."
    );
    let _ = writeln!(code, "pub static HELD_BY_DEFAULT: &[SlotId] = &[{held_code}];\n");
    let _ = writeln!(code, "/// The KMS counted ids, in catalogue order.");
    let _ = writeln!(code, "pub static KMS_IDS: &[KmsId] = &[\n{kms_code}];\n");
    let _ = writeln!(code, "/// The KMS-client SKUs, in catalogue order.");
    let _ = writeln!(code, "pub static SKUS: &[Sku] = &[\n{sku_code}];\n");
    let _ = writeln!(code, "/// Host OS builds, sorted by build number.");
    let _ = writeln!(
        code,
        "pub static HOST_BUILDS: &[HostBuild] = &[\n{build_code}];\n"
    );
    let _ = writeln!(code, "/// (id, index into KMS_IDS), sorted by id.");
    let _ = writeln!(
        code,
        "static KMS_ID_INDEX: &[(Guid, u16)] = &[\n{}];\n",
        index(&kms_sorted)
    );
    let _ = writeln!(code, "/// (id, index into SKUS), sorted by id.");
    let _ = writeln!(
        code,
        "static SKU_INDEX: &[(Guid, u16)] = &[\n{}];\n",
        index(&sku_ids)
    );

    // ---- compact name tables (the browser's decoder needs only names): ids
    // sorted by wire bytes, and line i of the text names id i.
    let names = |what: &str, v: &[([u8; 16], usize)], line: &dyn Fn(usize) -> String| {
        let (mut ids, mut text) = (String::new(), String::new());
        for (w, i) in v {
            let _ = writeln!(ids, "    {w:?},");
            text.push_str(&line(*i));
            text.push('\n');
        }
        format!(
            "/// Ids of [`{what}_NAME_TEXT`]'s lines, sorted.\nstatic {what}_NAME_IDS: [[u8; 16]; {}] = [\n{ids}];\n\
             static {what}_NAME_TEXT: &str = {};\n",
            v.len(),
            lit(&text)
        )
    };
    let field_ok = |s: &str| !s.contains(['\t', '\n']);
    if !cat.skus.iter().all(|s| field_ok(&s.name) && field_ok(&s.family) && field_ok(&s.edition))
        || !cat.kms_ids.iter().all(|k| field_ok(&k.name))
    {
        return Err(vec!["names must not contain tabs or line breaks".to_string()]);
    }
    let _ = writeln!(
        code,
        "/// SKU names: `name\\tfamily\\tedition` per line; the name is left out (empty) when it is `family edition`."
    );
    code.push_str(&names("SKU", &sku_ids, &|i| {
        let s = &cat.skus[i];
        let name = if s.name == format!("{} {}", s.family, s.edition) { "" } else { &s.name };
        format!("{name}\t{}\t{}", s.family, s.edition)
    }));
    let _ = writeln!(code, "/// KMS counted id names, one per line.");
    code.push_str(&names("KMS", &kms_sorted, &|i| cat.kms_ids[i].name.clone()));
    Ok(code)
}
