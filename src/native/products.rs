//! `kmsedge products` (being written).
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`kmsedge products` is not available yet")
}
