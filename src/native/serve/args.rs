//! The command line of `kmsedge serve`. Every flag is optional here, with
//! no clap default, so that [`super::settings`] can tell "given on the
//! command line" from "not given" and let a flag override the config file,
//! which overrides the built-in default. Values stay strings until then,
//! so a bad value gets the same one-line message from the flag or the file.
use std::prelude::rust_2024::{String, Vec};
use std::path::PathBuf;

#[derive(Debug, Clone, Default, clap::Args)]
#[command(after_long_help = AFTER_HELP, args_override_self = true)]
pub struct Args {
    /// TOML configuration file; every option below can also be set there
    /// (see the key in brackets). Flags override the file.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// KMS listen address; repeatable [listen] [default: [::]:1688, IPv6 and IPv4]
    #[arg(short, long = "listen", value_name = "ADDR", help_heading = "Network")]
    pub listen: Vec<String>,
    /// Dashboard and API address, or "off" [http] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR", help_heading = "Network")]
    pub http: Option<String>,
    /// Bearer token for /api/status, /api/clients, /api/activity and /metrics.
    /// Without one, those answer loopback clients only [admin_token]
    #[arg(long, env = "KMSEDGE_ADMIN_TOKEN", hide_env_values = true, value_name = "TOKEN", help_heading = "Network")]
    pub admin_token: Option<String>,
    /// Read the admin token from this file instead [admin_token_file]
    #[arg(long, value_name = "FILE", help_heading = "Network")]
    pub admin_token_file: Option<PathBuf>,

    /// Directory of the client registry (SQLite) [data]
    /// [default: $STATE_DIRECTORY, else the user's data directory/kmsedge]
    #[arg(long, value_name = "DIR", help_heading = "Registry")]
    pub data: Option<PathBuf>,
    /// "normal": every activation is written to the registry's journal
    /// before it is answered, and survives a crash or kill -9 of kmsedge;
    /// "full": also a power cut or OS crash (an fdatasync shared by the
    /// requests waiting for it, slower) [registry.sync] [default: normal]
    #[arg(long, value_name = "MODE", help_heading = "Registry")]
    pub sync: Option<String>,
    /// Days of event history kept (one event per request and per DNS
    /// publishing attempt, shown by /api/events), 1..=3650
    /// [registry.event_days] [default: 30]
    #[arg(long, value_name = "DAYS", help_heading = "Registry")]
    pub event_days: Option<String>,

    /// Count reported to clients, never above 2 × N: "sufficient" (2 × N:
    /// every client activates), "genuine" (distinct machines in 30 days,
    /// like a genuine host), or a fixed number [policy.count] [default: sufficient]
    #[arg(long, value_name = "MODE", help_heading = "Policy")]
    pub count_policy: Option<String>,
    /// Products served: "covered" (what the host's keys cover, and products
    /// the catalogue does not know; retail and preview refused), "all",
    /// "known" (in the catalogue), "genuine" (only what the keys cover) or
    /// "list" (--kms-id) [policy.scope] [default: covered]
    #[arg(long, value_name = "SCOPE", help_heading = "Policy")]
    pub scope: Option<String>,
    /// KMS counted id (GUID or catalogue name) served with scope "list";
    /// repeatable [policy.kms_ids]
    #[arg(long = "kms-id", value_name = "ID", help_heading = "Policy")]
    pub kms_ids: Vec<String>,
    /// Largest client clock difference in seconds, or "off"
    /// [policy.max_time_skew] [default: 14400]
    #[arg(long, value_name = "SECS", help_heading = "Policy")]
    pub max_time_skew: Option<String>,
    /// Minutes a client not yet activated waits before retrying, 15..=43200
    /// [policy.activation_interval] [default: 120]
    #[arg(long, value_name = "MIN", help_heading = "Policy")]
    pub activation_interval: Option<String>,
    /// Minutes an activated client waits before renewing, 15..=43200
    /// [policy.renewal_interval] [default: 10080]
    #[arg(long, value_name = "MIN", help_heading = "Policy")]
    pub renewal_interval: Option<String>,

    /// Negotiate NDR64 as Windows 8+ hosts do (true/false) [rpc.ndr64] [default: true]
    #[arg(long, value_name = "BOOL", help_heading = "RPC")]
    pub ndr64: Option<String>,
    /// Acknowledge bind-time feature negotiation (true/false) [rpc.btfn] [default: true]
    #[arg(long, value_name = "BOOL", help_heading = "RPC")]
    pub btfn: Option<String>,

    /// Seconds a connection may go without completing a request; a client
    /// that trickles bytes is closed too [limits.idle_timeout] [default: 30]
    #[arg(long, value_name = "SECS", help_heading = "Limits")]
    pub idle_timeout: Option<String>,
    /// Seconds any connection may stay open [limits.max_connection_time]
    /// [default: 300]
    #[arg(long, value_name = "SECS", help_heading = "Limits")]
    pub max_connection_time: Option<String>,
    /// Activation requests answered per connection [limits.max_requests]
    /// [default: 10000]
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_requests: Option<String>,
    /// Largest RPC PDU accepted, 512..=4096 bytes [limits.max_pdu] [default: 4096]
    #[arg(long, value_name = "BYTES", help_heading = "Limits")]
    pub max_pdu: Option<String>,
    /// Most connections open at once [limits.max_connections] [default: 4096]
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_connections: Option<String>,
    /// Most connections open at once from one address
    /// [limits.max_per_address] [default: 256]
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub max_per_address: Option<String>,
    /// Activations a minute one address may make; over it the connection is
    /// closed unanswered and the client retries later; "off" for none
    /// [limits.rate_per_address] [default: off]
    #[arg(long, value_name = "PER_MIN", help_heading = "Limits")]
    pub rate_limit: Option<String>,
    /// Activations one address may make at once under --rate-limit
    /// [limits.rate_burst] [default: a minute's worth]
    #[arg(long, value_name = "N", help_heading = "Limits")]
    pub rate_burst: Option<String>,
    /// Accept KMS clients only from this range (CIDR, e.g. 10.0.0.0/8);
    /// repeatable. Others are closed at accept [limits.allow] [default: anyone]
    #[arg(long = "allow", value_name = "CIDR", help_heading = "Limits")]
    pub allow: Vec<String>,
    /// Seconds to let in-flight requests finish on SIGINT/SIGTERM
    /// [limits.shutdown_grace] [default: 10]
    #[arg(long, value_name = "SECS", help_heading = "Limits")]
    pub shutdown_grace: Option<String>,

    /// Host HwId, 16 hex digits [identity.hwid] [default: random on first start, kept]
    #[arg(long, value_name = "HEX", help_heading = "Identity")]
    pub hwid: Option<String>,
    /// ePID for one ePID slot, e.g. Windows=03612-00206-…; repeatable
    /// [identity.epids] [default: generated per slot on first start, kept]
    #[arg(long = "epid", value_name = "SLOT=EPID", help_heading = "Identity")]
    pub epids: Vec<String>,
    /// Install the organisation's KMS host key (CSVLK), as `slmgr /ipk` on a
    /// Windows host: its ePID then carries the key's group and serial. One
    /// Windows key and one per Office generation; repeatable. Prefer the
    /// file: a flag shows in the process list [identity.host_keys]
    /// [default: none, generated ePIDs]
    #[arg(long = "host-key", value_name = "KEY", help_heading = "Identity")]
    pub host_keys: Vec<String>,

    /// Log filter: error, warn, info (one line per activation), debug, or
    /// tracing directives [log.level] [default: $RUST_LOG, else info]
    #[arg(long, value_name = "FILTER", help_heading = "Logging")]
    pub log_level: Option<String>,
    /// "text" or "json" (one JSON object per line) [log.format] [default: text]
    #[arg(long, value_name = "FORMAT", help_heading = "Logging")]
    pub log_format: Option<String>,

    /// SRV record publishing by dynamic DNS update ([dns] in the file).
    #[command(flatten)]
    pub dns: crate::native::dns::PublishArgs,
}

const AFTER_HELP: &str = "\
Windows clients then activate with:
  slmgr /ipk <GVLK>              (kmsedge products <name> shows it)
  slmgr /skms <this host>:1688
  slmgr /ato
Office: cscript ospp.vbs /inpkey:<GVLK> /sethst:<this host> /setprt:1688 /act

Example config file (all keys optional):
  listen = [\"[::]:1688\"]
  http = \"127.0.0.1:8080\"
  data = \"/var/lib/kmsedge\"
  [policy]
  count = \"sufficient\"
  scope = \"covered\"
  max_time_skew = 14400
  [limits]
  idle_timeout = 30
  allow = [\"10.0.0.0/8\", \"192.168.0.0/16\"]
  [identity]
  hwid = \"0123456789ABCDEF\"
  epids = { Windows = \"03612-00206-556-123727-03-1033-17763.0000-2972018\" }
  host_keys = [\"XXXXX-XXXXX-XXXXX-XXXXX-XXXXX\"]";
