//! `kmsedge serve`: the native KMS host.
//!
//! ```text
//! settings (flags > TOML file > defaults)
//!   └─ server: registry (journal + SQLite thread) + host model (identity, counts)
//!        ├─ listener → admission → session (driver loop, core Connection) → host (model) → journal
//!        └─ http (axum): www/ page, /api/*, /metrics, /healthz
//! ```
//! The protocol is the no_std core's; this module only moves bytes, keeps
//! time, draws random numbers and remembers clients.
pub mod admin;
pub mod admission;
mod args;
pub mod file;
pub mod firewall;
pub mod host;
pub mod http;
pub mod listener;
mod logging;
pub mod metrics;
pub mod priority;
pub mod server;
pub mod session;
pub mod settings;
pub mod store;

pub use args::Args;
pub use logging::ExtraLog;
pub use server::Server;
pub use settings::Settings;

/// Runs the host until SIGINT or SIGTERM. `set_env` gets the environment
/// variables the settings need (GSS-TSIG's keytab and ticket cache for
/// MIT Kerberos, [`crate::native::dns::gss`]) while the process has one
/// thread, the only time setting them is sound; the binary sets them
/// (this library forbids `unsafe`).
pub fn run(args: Args, set_env: impl FnOnce(&[(&'static str, std::string::String)])) -> anyhow::Result<()> {
    run_with_env(&args, None, set_env, async {
        wait_for_signal().await;
        tracing::info!("shutting down (a second signal stops at once)");
        tokio::spawn(async {
            wait_for_signal().await;
            tracing::warn!("second signal: stopping without waiting");
            // Let the logging thread write that line: exit skips destructors.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            std::process::exit(130);
        });
    })
}

/// Runs the host until `stop` completes, logging also to `extra` if given:
/// a service manager's stop request and the Windows Event Log
/// ([`crate::native::service`]) instead of signals.
pub fn run_until(args: &Args, extra: Option<ExtraLog>, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
    run_with_env(args, extra, |_| {}, stop)
}

fn run_with_env(
    args: &Args,
    extra: Option<ExtraLog>,
    set_env: impl FnOnce(&[(&'static str, std::string::String)]),
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    // First, while the process has one thread.
    let inherited = listener::inherited()?;
    let settings = Settings::load(args)?;
    if let Some(gss) = settings.dns.as_ref().and_then(|d| d.gss.as_ref()) {
        set_env(&gss.environment());
    }
    // Held to the end, so the last lines ("stopped; registry closed") are written.
    let _log = logging::init(&settings.log_filter, settings.log_json, extra)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kmsedge")
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the runtime: {e}"))?;
    rt.block_on(async {
        let server = Server::start_with(settings, inherited).await?;
        stop.await;
        server.shutdown().await
    })
}

/// SIGINT (Ctrl-C) or SIGTERM (service managers).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
