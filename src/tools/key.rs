//! `kmsedge key KEY…`: what each product key is — valid or not, its group
//! id, serial and upgrade bit, and whether it is a GVLK (of which product),
//! a KMS host key (CSVLK) or neither. The reading is the core's
//! ([`crate::pkey`]); this only words it. Keys are shown masked
//! (`*****-*****-*****-*****-ABCDE`), never whole, even though the user
//! typed them: terminal scroll-back and logs are where keys leak.
use crate::pkey::{self, Classification, Identity, KeyText};
use crate::tools::kms_client::{DEFAULT_PORT, Target};
use crate::tools::products::{self, PLACEHOLDER_HOST};
use anyhow::bail;
use std::fmt::Write as _;
use std::string::String;
use std::vec::Vec;

#[derive(Debug, clap::Args)]
#[command(after_help = "Exit status: 0 if every key is valid (a 2009-format key whose checksum holds, or an \
older-format key, which can only be matched against the catalogue); 1 if any key is invalid; 2 on a usage error.")]
pub struct Args {
    /// Product keys, 25 characters each, any case, with or without the dashes.
    #[arg(value_name = "KEY", required = true)]
    pub keys: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (text, invalid) = render(&args.keys);
    crate::tools::products::write_stdout(&text)?;
    if invalid > 0 {
        let n = args.keys.len();
        bail!("{invalid} of {n} key{} invalid", if n == 1 { " is" } else { "s are" });
    }
    Ok(())
}

/// The report for `keys`, and how many of them are invalid.
pub fn render(keys: &[String]) -> (String, usize) {
    let mut out = String::new();
    let mut invalid = 0;
    for (i, key) in keys.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let c = pkey::classify(key);
        // Masked whenever it has 25 key characters, even with a bad checksum.
        let shown = KeyText::parse(key).map_or_else(|_| String::from("(not a product key)"), |t| masked(&t));
        let _ = writeln!(out, "key {}  {shown}", i + 1);
        match c {
            Classification::Pkey2009 { key, identity, .. } => {
                let _ = writeln!(out, "  valid     yes (2009 format, checksum correct)");
                let _ = writeln!(out, "  group id  {}", key.group);
                let _ = writeln!(out, "  serial    {}", key.serial);
                let _ = writeln!(out, "  upgrade   {}", if key.upgrade { "yes" } else { "no" });
                let _ = writeln!(out, "  what      {identity}");
                if let Identity::Gvlk(sku) = identity {
                    client_commands(&mut out, sku);
                }
            }
            Classification::Pre2009 { gvlk, .. } => {
                let _ = writeln!(
                    out,
                    "  valid     not checked: an older-format key (no N), matched against the catalogue only"
                );
                match gvlk {
                    Some(sku) => {
                        let _ = writeln!(out, "  what      {}", Identity::Gvlk(sku));
                        client_commands(&mut out, sku);
                    }
                    None => {
                        let _ = writeln!(out, "  what      not in the catalogue: not a known KMS client key");
                    }
                }
            }
            Classification::Invalid(e) => {
                invalid += 1;
                let _ = writeln!(out, "  valid     no: {e}");
                let suspect = pkey::suspect_groups(key);
                if !suspect.is_empty() {
                    let _ = writeln!(out, "  typo in   {suspect} (counting groups of five from the left)");
                } else if matches!(e, pkey::Error::Checksum { .. }) {
                    let _ = writeln!(out, "  typo in   unknown: no one-character change gives a known key");
                }
            }
        }
    }
    (out, invalid)
}

/// The commands that install a GVLK and activate against a host
/// (`kms.example.com` until one is named), with the key as `<this key>`:
/// like every key here, it is not printed whole.
fn client_commands(out: &mut String, sku: &crate::catalog::Sku) {
    let target = Target { host: PLACEHOLDER_HOST.into(), port: DEFAULT_PORT };
    for (i, c) in products::commands(sku, &target).iter().enumerate() {
        let c = sku.gvlk.map_or_else(|| c.clone(), |k| c.replace(k, "<this key>"));
        let _ = writeln!(out, "  {:<9} {c}", if i == 0 { "commands" } else { "" });
    }
}

fn masked(text: &KeyText) -> String {
    let mut s = String::new();
    let _ = write!(s, "{}", text.masked());
    s
}
