//! `kmsedge decode`: shows a KMS conversation PDU by PDU — binds and their
//! results, the decrypted request, the response with every client check —
//! from hex (argument, `-` for stdin) or a file (pcap, pcapng, hex text or
//! raw PDU bytes). The decoding is the page's: [`crate::report`] over the
//! core's [`crate::inspect`].
use anyhow::{Context, bail};
use std::io::Read;
use std::path::PathBuf;
use std::string::String;
use std::vec::Vec;
use std::{format, print, println};

#[derive(Debug, clap::Args)]
#[command(after_help = "Hex may be spaced, prefixed (0x, \\x), comma-separated or a hex dump (xxd, hexdump -C, Wireshark); \
a file is read as pcap/pcapng when it has their magic number, else as hex text, else as raw bytes.")]
pub struct Args {
    /// The conversation in hex (several arguments are joined); `-` reads stdin.
    #[arg(value_name = "HEX", required_unless_present = "file", conflicts_with = "file")]
    pub hex: Vec<String>,
    /// Read a capture (.pcap, .pcapng), a hex text file or raw PDU bytes.
    #[arg(long, short, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print JSON (the shape the browser page renders) instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let report = if let Some(path) = &args.file {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if bytes.is_empty() {
            bail!("{} is empty; expected a pcap/pcapng capture, hex text or PDU bytes", path.display());
        }
        crate::report::from_input(&bytes)
    } else if args.hex.len() == 1 && args.hex[0] == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("cannot read hex from stdin")?;
        crate::report::from_hex(&text)
    } else {
        crate::report::from_hex(&args.hex.join(" "))
    };
    // A fatal input error (bad hex, unreadable capture) prints nothing but
    // the error; otherwise everything that decoded is shown first.
    let fatal = report.root.get("error").is_some_and(|e| *e != crate::report::Node::Null);
    if !fatal {
        if args.json {
            println!("{}", report.to_json());
        } else {
            print!("{}", report.to_text());
        }
    } else if args.json {
        println!("{}", report.to_json());
    }
    match report.errors.as_slice() {
        [] => Ok(()),
        [one] => bail!("{one}"),
        [first, rest @ ..] => bail!("{first} (and {} more error(s) above)", rest.len()),
    }
}
