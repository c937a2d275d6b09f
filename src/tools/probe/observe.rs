//! The probe's conversations: a fixed, small number of connections, each
//! sending what one check needs, recorded as raw facts ([`Observations`])
//! for [`super::checks`] to judge. Nothing here decides what is genuine.
use crate::catalog::Sku;
use crate::Guid;
use crate::client::{Options, RequestBuilder};
use crate::kms::{RequestRepr, Version};
use crate::tools::common;
use crate::tools::kms_client::{self, ClientOptions, KmsConnection, Reply, SealedRequest, Target};
use crate::wire::bind::{BindAckPacket, ContextResult};
use crate::wire::call::{self, CALL_HEADER_LEN};
use crate::wire::rpc::{HEADER_LEN, flags};
use crate::wire::{Header, Packet, PacketType, Syntax};
use std::net::SocketAddr;
use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;

/// The products asked for: a Windows client (N 25), a server (N 5) and an
/// Office product, so that three ePID slots are read.
pub const PRODUCTS: [&str; 3] = ["Windows 10/11 Enterprise", "Windows Server 2025 Standard", "Office LTSC Professional Plus 2021"];
/// N policies no client sends: vlmcsd's sanity limit and the u16 maximum.
pub const ABSURD_N: [u32; 2] = [1000, 0xFFFF];
/// Request versions no host answers (kms-protocol.md §5.1).
pub const BAD_VERSIONS: [Version; 2] = [Version { major: 6, minor: 1 }, Version { major: 7, minor: 0 }];
/// A context id no bind offers.
pub const UNBOUND_CONTEXT: u16 = 7;
/// The call id of the request on the unbound context.
pub const UNBOUND_CALL_ID: u32 = 0x51;
/// Connections opened, at most: bounded whatever the host does.
pub const MAX_CONNECTIONS: usize = 8;

/// What a bind_ack said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub assoc_group: u32,
    /// Including its terminating NUL.
    pub secondary: Vec<u8>,
    pub results: Vec<ContextResult>,
}

impl Bound {
    pub fn parse(pdu: &[u8]) -> Option<Bound> {
        let p = Packet::new_checked(pdu).ok()?;
        let ack = BindAckPacket::new_checked(p.body()).ok()?;
        Some(Bound {
            assoc_group: ack.assoc_group(),
            secondary: ack.secondary_addr().to_vec(),
            results: ack.results().collect(),
        })
    }
}

/// One ordinary activation request and its reply.
#[derive(Debug, Clone)]
pub struct Answered {
    /// Index of the connection (0-based, in opening order).
    pub conn: usize,
    pub product: &'static str,
    /// The product's KMS counted id: which CSVLKs may answer it.
    pub kms: Guid,
    /// The product's N policy in the catalogue (what its clients send).
    pub n_policy: u32,
    pub reply: Result<Reply, String>,
}

/// A request the host should refuse or answer carefully.
#[derive(Debug, Clone)]
pub struct Odd<T> {
    pub sent: T,
    pub reply: Result<Reply, String>,
}

/// Everything seen, for [`super::checks::judge`].
#[derive(Debug, Clone, Default)]
pub struct Observations {
    pub port: u16,
    /// Every bind_ack of a bind offering NDR32, NDR64 and BTFN.
    pub binds: Vec<Bound>,
    /// The bind offering NDR32 alone (no BTFN).
    pub ndr32_alone: Option<Result<Bound, String>>,
    pub answers: Vec<Answered>,
    /// The reply PDU to a request on [`UNBOUND_CONTEXT`].
    pub unbound: Option<Result<Vec<u8>, String>>,
    pub versions: Vec<Odd<Version>>,
    /// The product for absurd N is the Windows client one ([`PRODUCTS`]\[0\]).
    pub absurd: Vec<Odd<u32>>,
    pub connections: usize,
}

pub fn product(name: &str) -> &'static Sku {
    crate::tools::products::resolve(name).expect("probe products are in the catalogue")
}

fn request(sku: &Sku) -> RequestRepr {
    RequestBuilder::for_sku(sku)
        .random_cmid(rand::random())
        .time(common::now())
        .workstation(&common::random_workstation())
        .repr
}

struct Prober {
    addrs: Vec<SocketAddr>,
    timeout: Duration,
    obs: Observations,
}

impl Prober {
    async fn connect(&mut self, rpc: Options) -> Result<KmsConnection, kms_client::Error> {
        self.obs.connections += 1;
        debug_assert!(self.obs.connections <= MAX_CONNECTIONS);
        let opts = ClientOptions { rpc, timeout: self.timeout, ..ClientOptions::default() };
        let c = KmsConnection::connect(&self.addrs, &opts).await?;
        if rpc.offer_ndr64 && rpc.btfn {
            if let Some(b) = Bound::parse(c.bind_ack()) {
                self.obs.binds.push(b);
            }
        }
        Ok(c)
    }

    async fn activations(&mut self, skus: &[&'static str]) -> Result<(), kms_client::Error> {
        let conn = self.obs.connections;
        let mut c = self.connect(Options::default()).await?;
        for name in skus {
            let sku = product(name);
            let repr = request(sku);
            let reply = c.activate(&repr).await.map_err(|e| e.to_string());
            let stop = reply.is_err();
            self.obs.answers.push(Answered {
                conn,
                product: sku.name,
                kms: sku.kms,
                n_policy: repr.n_policy,
                reply,
            });
            if stop {
                break;
            }
        }
        Ok(())
    }

    /// One request on a connection of its own (the host may close after it).
    async fn single(&mut self, repr: &RequestRepr) -> Result<Reply, String> {
        let mut c = self.connect(Options::default()).await.map_err(|e| e.to_string())?;
        c.activate(repr).await.map_err(|e| e.to_string())
    }

    async fn unbound(&mut self) -> Result<Vec<u8>, String> {
        let mut c = self.connect(Options::default()).await.map_err(|e| e.to_string())?;
        let sealed = SealedRequest::with_random_iv(&request(product(PRODUCTS[0])));
        let pdu = request_pdu(sealed.message(), UNBOUND_CONTEXT, UNBOUND_CALL_ID);
        c.exchange_raw(&pdu).await.map_err(|e| e.to_string())
    }
}

/// A request PDU carrying `msg` on context `ctx` in NDR32, as a client
/// would send it had that context been bound.
pub fn request_pdu(msg: &[u8], ctx: u16, call_id: u32) -> Vec<u8> {
    let mut out = std::vec![0u8; 512];
    let stub_at = HEADER_LEN + CALL_HEADER_LEN;
    let msg_at = stub_at + Syntax::Ndr32.request_prefix_len();
    out[msg_at..msg_at + msg.len()].copy_from_slice(msg);
    let stub = Syntax::Ndr32.encode_request(&mut out[stub_at..], msg.len());
    call::emit_request_header(&mut out[HEADER_LEN..], stub as u32, ctx, 0);
    let len = stub_at + stub;
    Header { ptype: PacketType::Request, flags: flags::WHOLE, frag_len: len as u16, call_id }.emit(&mut out);
    out.truncate(len);
    out
}

/// Runs every conversation. Fails only when the first connection cannot be
/// made (no host to probe); later failures are observations.
pub async fn observe(target: &Target, timeout: Duration) -> Result<Observations, kms_client::Error> {
    let addrs = target.resolve().await?;
    let mut p = Prober { addrs, timeout, obs: Observations { port: target.port, ..Observations::default() } };
    // 1, 2: the ordinary requests, over two connections, the first with one
    // request per product and a second Windows one.
    p.activations(&[PRODUCTS[0], PRODUCTS[0], PRODUCTS[1], PRODUCTS[2]]).await?;
    if let Err(e) = p.activations(&[PRODUCTS[0], PRODUCTS[2]]).await {
        let conn = p.obs.connections - 1;
        let sku = product(PRODUCTS[0]);
        let repr = request(sku);
        p.obs.answers.push(Answered { conn, product: sku.name, kms: sku.kms, n_policy: repr.n_policy, reply: Err(e.to_string()) });
    }
    // 3: NDR32 alone, no BTFN.
    let alone = Options { offer_ndr64: false, use_ndr64: false, btfn: false, multiplex: true };
    p.obs.ndr32_alone = Some(match p.connect(alone).await {
        Ok(c) => Bound::parse(c.bind_ack()).ok_or_else(|| "bind_ack does not parse".to_string()),
        Err(e) => Err(e.to_string()),
    });
    // 4: a request on a context never bound.
    p.obs.unbound = Some(p.unbound().await);
    // 5, 6: versions no host answers.
    for v in BAD_VERSIONS {
        let mut repr = request(product(PRODUCTS[0]));
        repr.version = v;
        let reply = p.single(&repr).await;
        p.obs.versions.push(Odd { sent: v, reply });
    }
    // 7, 8: absurd N policies.
    for n in ABSURD_N {
        let mut repr = request(product(PRODUCTS[0]));
        repr.n_policy = n;
        let reply = p.single(&repr).await;
        p.obs.absurd.push(Odd { sent: n, reply });
    }
    Ok(p.obs)
}
