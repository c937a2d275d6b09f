//! `kmsedge bench` (being written).
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`kmsedge bench` is not available yet")
}
