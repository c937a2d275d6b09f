//! What the tools share, so that `activate`, `bench` and `dns check` send
//! the same kind of requests and read the same flags the same way: the
//! clock, invented workstation names, the RPC bind flags and the
//! `--timeout` check.
use crate::client::Options;
use crate::time::FileTime;
use crate::tools::kms_client::ClientOptions;
use anyhow::bail;
use std::format;
use std::string::String;
use std::time::Duration;

/// The bind choices a tool offers, as vlmcs's `-N`, `-B`, `-p`
/// (`#[command(flatten)]`).
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct RpcFlags {
    /// Send the requests on NDR64 (fails if the host does not accept it).
    #[arg(long, conflicts_with = "no_ndr64")]
    pub ndr64: bool,
    /// Do not offer NDR64 in the bind.
    #[arg(long)]
    pub no_ndr64: bool,
    /// Do not offer bind-time feature negotiation.
    #[arg(long)]
    pub no_btfn: bool,
    /// Do not set the concurrent-multiplex flag in the bind.
    #[arg(long)]
    pub no_mux: bool,
}

impl RpcFlags {
    pub fn options(&self) -> Options {
        Options { offer_ndr64: !self.no_ndr64, use_ndr64: self.ndr64, btfn: !self.no_btfn, multiplex: !self.no_mux }
    }
}

/// `--timeout SECONDS`, refused outside `0 < SECONDS <= max` so that a
/// typo cannot make a tool wait for hours (or not at all).
pub fn timeout(secs: f64, max: f64) -> anyhow::Result<Duration> {
    if !(secs > 0.0 && secs <= max) {
        bail!("--timeout {secs} is out of range: give 0 < SECONDS <= {max}");
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The connection options of `activate` and `bench`: their bind flags and
/// a `--timeout` of at most an hour.
pub fn client_options(rpc: &RpcFlags, timeout_secs: f64) -> anyhow::Result<ClientOptions> {
    Ok(ClientOptions { rpc: rpc.options(), timeout: timeout(timeout_secs, 3600.0)?, ..ClientOptions::default() })
}

/// The request time a client would send: the system clock.
pub fn now() -> FileTime {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    FileTime::from_unix_nanos(d.as_nanos() as i128)
}

/// A Windows 10/11 default computer name: `DESKTOP-` and 7 letters/digits.
pub fn random_workstation() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let r: [u8; 7] = rand::random();
    let tail: String = r.iter().map(|&b| ALPHABET[b as usize % ALPHABET.len()] as char).collect();
    format!("DESKTOP-{tail}")
}

/// `--workstation`: the request holds at most 63 UTF-16 code units and a
/// terminating NUL.
pub fn check_workstation(w: &str) -> anyhow::Result<()> {
    let units = w.encode_utf16().count();
    if units == 0 || units > 63 {
        bail!("invalid --workstation {w:?}: give 1 to 63 characters (UTF-16 code units), got {units}");
    }
    if w.contains('\0') {
        bail!("invalid --workstation {w:?}: contains NUL");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn workstation_names() {
        let w = random_workstation();
        assert!(w.starts_with("DESKTOP-") && w.len() == 15, "{w}");
        assert!(check_workstation("PC-1").is_ok());
        assert!(check_workstation("").is_err());
        assert!(check_workstation(&"x".repeat(64)).is_err());
    }

    #[test]
    fn timeouts() {
        assert_eq!(timeout(0.5, 300.0).unwrap(), Duration::from_millis(500));
        assert_eq!(timeout(0.0, 3600.0).unwrap_err().to_string(), "--timeout 0 is out of range: give 0 < SECONDS <= 3600");
        assert_eq!(timeout(301.0, 300.0).unwrap_err().to_string(), "--timeout 301 is out of range: give 0 < SECONDS <= 300");
        assert!(timeout(f64::NAN, 300.0).is_err());
    }
}
