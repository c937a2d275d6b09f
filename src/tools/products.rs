//! `kmsedge products [QUERY]`: the catalogue as an administrator needs it —
//! which GVLK to install and the exact `slmgr` / `ospp.vbs` commands that
//! point a client at this host. Also the product resolution that
//! `activate` and `bench` share, so "which SKU does this name mean" has one
//! answer everywhere in the CLI.
use crate::Guid;
use crate::catalog::{self, AppKey, Sku};
use crate::tools::kms_client::{DEFAULT_PORT, Target};
use anyhow::{Context, anyhow, bail};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

/// Shown with every listing: a common mistake is to try a retail or MAK key.
pub const GVLK_NOTE: &str = "Only GVLKs (the public KMS client setup keys below) activate against a KMS host; \
retail and MAK keys do not. Run the commands in an elevated Command Prompt on the client.";

/// Placeholder host for the commands when `--host` is not given.
pub const PLACEHOLDER_HOST: &str = "kms.example.com";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A product's name as people write it: the catalogue's, Microsoft's,
    /// the Polish article's, or short forms (any order, any case), e.g.
    /// `windows 11 pro`, `Visio Professional 2019` or `office 2021`; exact
    /// names first. Without words every product is listed.
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,
    /// KMS host name or address to put into the commands.
    #[arg(long, value_name = "HOST", default_value = PLACEHOLDER_HOST)]
    pub host: String,
    /// KMS port to put into the commands.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_PORT, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let query = args.query.join(" ");
    let target = command_target(&args.host, args.port)?;
    let listing = listing(&query, &target)?;
    let text = if args.json { serde_json::to_string_pretty(&listing)? + "\n" } else { render(&listing) };
    write_stdout(&text)
}

/// Writes to stdout, treating a closed pipe (`kmsedge products | head`) as
/// the reader having seen enough rather than an error.
pub(crate) fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Validates `--host`/`--port` as one KMS target.
fn command_target(host: &str, port: u16) -> anyhow::Result<Target> {
    let target = Target { host: host.trim_start_matches('[').trim_end_matches(']').to_string(), port };
    match Target::parse(&target.to_string()) {
        Ok(t) if t == target => Ok(t),
        Ok(_) => bail!("invalid --host {host:?}: give the port with --port"),
        Err(e) => bail!("invalid --host {host:?}: {}", e.reason),
    }
}

/// The JSON shape of `kmsedge products --json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Listing {
    pub note: String,
    pub query: String,
    pub host: String,
    pub port: u16,
    pub count: usize,
    pub families: Vec<Family>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Family {
    pub family: String,
    pub products: Vec<Product>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Product {
    pub name: String,
    pub edition: String,
    pub application: String,
    pub sku: String,
    pub kms_id: String,
    pub kms_name: String,
    pub gvlk: Option<String>,
    /// Office only: the folder holding `ospp.vbs` (64-bit Office on 64-bit Windows).
    pub folder: Option<String>,
    /// Exactly what to type on the client, in order; empty without a GVLK.
    pub commands: Vec<String>,
    /// The name the query matched, when not the catalogue's (e.g. Microsoft's
    /// "Visio Professional 2019" for "Office Visio Pro 2019").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_name: Option<String>,
    /// Set when the name matched is a product with no KMS client edition:
    /// why its own keys do not activate against a KMS host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_kms: Option<String>,
}

/// Every SKU matching `query`, best first ([`catalog::find`]), grouped by
/// family in the order of each family's best product. Nothing matching is an
/// error naming the closest products.
pub fn listing(query: &str, target: &Target) -> anyhow::Result<Listing> {
    let mut families: Vec<Family> = Vec::new();
    let mut count = 0;
    for hit in catalog::find(query) {
        count += 1;
        let sku = hit.sku;
        let mut product = product(sku, target);
        product.matched_name = hit.via.map(|a| a.name.to_string());
        product.not_kms = hit.via.and_then(|a| a.note).map(str::to_string);
        match families.iter_mut().find(|f| f.family == sku.family) {
            Some(f) => f.products.push(product),
            None => families.push(Family { family: sku.family.to_string(), products: std::vec![product] }),
        }
    }
    if count == 0 {
        bail!("{}", no_match(query));
    }
    Ok(Listing {
        note: GVLK_NOTE.to_string(),
        query: query.to_string(),
        host: target.host.clone(),
        port: target.port,
        count,
        families,
    })
}

fn product(sku: &Sku, target: &Target) -> Product {
    let kms = sku.kms_id();
    Product {
        name: sku.name.to_string(),
        edition: sku.edition.to_string(),
        application: catalog::application_by_key(sku.app).name.to_string(),
        sku: sku.id.to_string(),
        kms_id: sku.kms.to_string(),
        kms_name: kms.map_or("Unknown", |k| k.name).to_string(),
        gvlk: sku.gvlk.map(str::to_string),
        folder: office_folder(sku).map(str::to_string),
        commands: commands(sku, target),
        matched_name: None,
        not_kms: None,
    }
}

/// How many closest products a query that matches nothing is shown.
const CLOSEST: usize = 5;

/// The one line for a query that matches no product: the closest ones
/// ([`catalog::closest`]), or where to look when nothing is close.
pub fn no_match(query: &str) -> String {
    let closest: Vec<String> = catalog::closest(query, CLOSEST).map(|h| format!("{:?}", h.sku.name)).collect();
    if closest.is_empty() {
        format!("no product matches {query:?}; see `kmsedge products` for the whole list")
    } else {
        format!("no product matches {query:?}; closest: {}", closest.join(", "))
    }
}

/// Where `ospp.vbs` lives for this Office version (`None` for Windows).
pub fn office_folder(sku: &Sku) -> Option<&'static str> {
    match sku.app {
        AppKey::Windows => None,
        AppKey::Office2010 => Some(r"%ProgramFiles%\Microsoft Office\Office14"),
        AppKey::Office2013 if sku.family.contains("2013") => Some(r"%ProgramFiles%\Microsoft Office\Office15"),
        AppKey::Office2013 => Some(r"%ProgramFiles%\Microsoft Office\Office16"),
    }
}

/// The commands that install the GVLK, point the client at `target` and
/// activate: `slmgr` for Windows, `ospp.vbs` for Office. Empty when the
/// catalogue knows no GVLK for the SKU.
pub fn commands(sku: &Sku, target: &Target) -> Vec<String> {
    let Some(gvlk) = sku.gvlk else { return Vec::new() };
    match sku.app {
        AppKey::Windows => std::vec![
            format!("slmgr /ipk {gvlk}"),
            format!("slmgr /skms {target}"),
            "slmgr /ato".to_string(),
            "slmgr /dlv".to_string(),
        ],
        AppKey::Office2010 | AppKey::Office2013 => std::vec![
            format!("cscript ospp.vbs /inpkey:{gvlk}"),
            format!("cscript ospp.vbs /sethst:{}", target.host),
            format!("cscript ospp.vbs /setprt:{}", target.port),
            "cscript ospp.vbs /act".to_string(),
        ],
    }
}

fn render(l: &Listing) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}\n", l.note);
    for f in &l.families {
        let n = f.products.len();
        let _ = writeln!(out, "== {} ({n} product{}) ==\n", f.family, if n == 1 { "" } else { "s" });
        for p in &f.products {
            let _ = writeln!(out, "{}", p.name);
            if let Some(name) = &p.matched_name {
                let _ = writeln!(out, "  Found as        {name}");
            }
            if let Some(note) = &p.not_kms {
                let _ = writeln!(out, "  Note            {note}; the volume product is this one");
            }
            let _ = writeln!(out, "  SKU id          {}", p.sku);
            let _ = writeln!(out, "  KMS counted id  {} ({})", p.kms_id, p.kms_name);
            match &p.gvlk {
                Some(g) => {
                    let _ = writeln!(out, "  GVLK            {g}");
                }
                None => {
                    let _ = writeln!(
                        out,
                        "  GVLK            none published: this SKU cannot be pointed at a KMS host by key"
                    );
                }
            }
            if let Some(folder) = &p.folder {
                let _ = writeln!(out, "  In folder       cd /d \"{folder}\"");
            }
            for (i, c) in p.commands.iter().enumerate() {
                let label = if i == 0 { "Commands" } else { "" };
                let _ = writeln!(out, "  {label:<15} {c}");
            }
            out.push('\n');
        }
    }
    let fams = l.families.len();
    let _ = writeln!(
        out,
        "{} product{} in {fams} famil{}.",
        l.count,
        if l.count == 1 { "" } else { "s" },
        if fams == 1 { "y" } else { "ies" }
    );
    out
}

/// The SKU that `--product NAME` means: the one SKU of which `NAME` is a
/// name (the catalogue's, or another of its names — not a product without
/// a KMS client edition, whose name leads elsewhere), or else the one SKU
/// a catalogue search for `NAME` finds. Several matches are an error naming
/// a few of them, never a guess.
pub fn resolve(name: &str) -> anyhow::Result<&'static Sku> {
    let name = name.trim();
    if name.is_empty() {
        bail!("--product needs a product name; see `kmsedge products`");
    }
    if let Some(s) = catalog::SKUS.iter().find(|s| s.name.eq_ignore_ascii_case(name)) {
        return Ok(s);
    }
    let mut exact = catalog::find(name)
        .filter(|h| h.exact() && h.via.is_none_or(|a| a.kind != catalog::NameKind::Other))
        .map(|h| h.sku);
    if let (Some(s), None) = (exact.next(), exact.next()) {
        return Ok(s);
    }
    let mut found = catalog::search(name);
    let Some(first) = found.next() else {
        bail!("{}", no_match(name));
    };
    let rest: Vec<&Sku> = found.collect();
    if rest.is_empty() {
        return Ok(first);
    }
    let total = rest.len() + 1;
    let shown: Vec<String> =
        core::iter::once(first).chain(rest.iter().copied()).take(4).map(|s| format!("{:?}", s.name)).collect();
    let more = if total > 4 { format!(" and {} more", total - 4) } else { String::new() };
    Err(anyhow!(
        "product {name:?} is ambiguous: {total} products match ({}{more}); give an exact name or --sku",
        shown.join(", ")
    ))
}

/// The SKU with this SKU id (activation id), which must be in the catalogue.
pub fn resolve_sku_id(id: &str) -> anyhow::Result<&'static Sku> {
    let guid = Guid::parse(id.trim()).map_err(|e| anyhow!("invalid --sku {id:?}: {e}"))?;
    catalog::sku(&guid).with_context(|| format!("unknown SKU id {guid}: not in the catalogue (see `kmsedge products`)"))
}

/// `--product` or `--sku`, whichever was given (clap makes them exclusive).
pub fn select(product: Option<&str>, sku: Option<&str>) -> anyhow::Result<&'static Sku> {
    match (product, sku) {
        (_, Some(id)) => resolve_sku_id(id),
        (Some(name), None) => resolve(name),
        (None, None) => bail!("choose a product with --product NAME or --sku ID"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target { host: PLACEHOLDER_HOST.to_string(), port: 1688 }
    }

    #[test]
    fn resolves_exact_unique_and_refuses_ambiguous() {
        assert_eq!(resolve("windows 10/11 pro").unwrap().name, "Windows 10/11 Pro");
        assert_eq!(resolve("excel ltsc 2021").unwrap().name, "Office Excel LTSC 2021");
        assert_eq!(
            resolve("server 2022 standard semi").unwrap().name,
            "Windows Server 2022 Standard (Semi-Annual Channel)"
        );
        let e = resolve("windows pro").unwrap_err().to_string();
        assert!(e.contains("ambiguous") && e.contains("more"), "{e}");
        assert!(resolve("no such product").unwrap_err().to_string().contains("no product matches"));
        assert!(resolve("  ").is_err());
        let pro = resolve_sku_id("2de67392-b7a7-462a-b1ca-108dd189f588").unwrap();
        assert_eq!(pro.name, "Windows 10/11 Pro");
        assert!(resolve_sku_id("not-a-guid").unwrap_err().to_string().starts_with("invalid --sku"));
        assert!(
            resolve_sku_id("00000000-1111-2222-3333-444444444444").unwrap_err().to_string().contains("unknown SKU id")
        );
    }

    #[test]
    fn commands_per_application() {
        let t = Target { host: "::1".to_string(), port: 1700 };
        let win = resolve("Windows 10/11 Pro").unwrap();
        assert_eq!(
            commands(win, &t),
            ["slmgr /ipk W269N-WFGWX-YVC9B-4J6C9-T83GX", "slmgr /skms [::1]:1700", "slmgr /ato", "slmgr /dlv"]
        );
        let office = resolve("Office LTSC Professional Plus 2021").unwrap();
        let c = commands(office, &t);
        assert!(c[0].starts_with("cscript ospp.vbs /inpkey:"), "{c:?}");
        assert_eq!(c[1..], ["cscript ospp.vbs /sethst:::1", "cscript ospp.vbs /setprt:1700", "cscript ospp.vbs /act"]);
        assert_eq!(office_folder(office), Some(r"%ProgramFiles%\Microsoft Office\Office16"));
        assert_eq!(
            office_folder(resolve("Office Professional Plus 2010").unwrap()).unwrap().rsplit('\\').next(),
            Some("Office14")
        );
    }

    #[test]
    fn listing_groups_by_family() {
        let l = listing("office 2021", &target()).unwrap();
        assert!(
            l.families.iter().all(|f| f.family.contains("2021")),
            "{:?}",
            l.families.iter().map(|f| &f.family).collect::<Vec<_>>()
        );
        assert_eq!(l.count, l.families.iter().map(|f| f.products.len()).sum::<usize>());
        assert!(listing("zzzz", &target()).is_err());
        assert!(command_target("a b", 1688).is_err());
        assert!(command_target("host:1", 1688).is_err());
        assert_eq!(command_target("[::1]", 1688).unwrap().to_string(), "[::1]:1688");
    }
}
