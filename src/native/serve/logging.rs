//! Logs to stderr through `tracing`: human-readable lines by default, or
//! one JSON object per line for log collectors.
use tracing_subscriber::EnvFilter;

pub fn init(filter: &str, json: bool) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(filter).map_err(|e| anyhow::anyhow!("log filter {filter:?}: {e}"))?;
    // Colours only for a person at a terminal; never into files or journals.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let result = if json { builder.json().try_init() } else { builder.try_init() };
    // Already initialised (e.g. by an embedding program): keep theirs.
    let _ = result;
    Ok(())
}
