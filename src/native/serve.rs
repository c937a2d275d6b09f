//! `kmsedge serve` (being written).
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`kmsedge serve` is not available yet")
}
