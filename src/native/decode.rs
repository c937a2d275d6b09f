//! `kmsedge decode` (being written).
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`kmsedge decode` is not available yet")
}
