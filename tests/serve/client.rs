//! A blocking KMS client for the tests, on the core's sans-IO client
//! (`Session`, `RequestBuilder`, `open_response`): bind, requests, and every
//! check a real client makes — independent of the `activate` tool so that
//! the host is tested on its own.
#![allow(dead_code)]
use kmsedge::catalog::{self, Sku};
use kmsedge::client::{Options, RequestBuilder, Session};
use kmsedge::kms::{self, Expect, RequestRepr, Version};
use kmsedge::time::FileTime;
use kmsedge::wire::ndr::ResponseStub;
use kmsedge::{Guid, HResult};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// What the host answered to one request, after every client check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Granted { epid: String, hwid: Option<[u8; 8]>, count: u32, activation_interval: u32, renewal_interval: u32 },
    Refused(HResult),
}

impl Outcome {
    pub fn granted(&self) -> &Self {
        assert!(matches!(self, Outcome::Granted { .. }), "expected a grant, got {self:?}");
        self
    }
    pub fn count(&self) -> u32 {
        match self {
            Outcome::Granted { count, .. } => *count,
            Outcome::Refused(hr) => panic!("refused: {hr}"),
        }
    }
    pub fn epid(&self) -> &str {
        match self {
            Outcome::Granted { epid, .. } => epid,
            Outcome::Refused(hr) => panic!("refused: {hr}"),
        }
    }
}

pub struct Client {
    pub stream: TcpStream,
    session: Session,
}

/// Reads one PDU, framed by its `frag_length`.
pub fn read_pdu(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut hdr = [0u8; 16];
    stream.read_exact(&mut hdr)?;
    let len = u16::from_le_bytes([hdr[8], hdr[9]]) as usize;
    if len < 16 {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frag_length {len}")));
    }
    let mut pdu = hdr.to_vec();
    pdu.resize(len, 0);
    stream.read_exact(&mut pdu[16..])?;
    Ok(pdu)
}

pub fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

impl Client {
    /// Connects and binds (and alter_contexts to NDR32 when the host took
    /// NDR64 only and NDR32 is wanted), like vlmcs.
    pub fn connect(addr: SocketAddr, options: Options) -> Result<Client, String> {
        let stream = connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        Client::over(stream, options)
    }

    /// Binds over a connected stream (one from a chosen source address).
    pub fn over(mut stream: TcpStream, options: Options) -> Result<Client, String> {
        let mut session = Session::new(options, 2);
        let mut out = [0u8; 512];
        let n = session.bind(&mut out);
        stream.write_all(&out[..n]).map_err(|e| e.to_string())?;
        let ack = read_pdu(&mut stream).map_err(|e| format!("bind_ack: {e}"))?;
        session.on_bind_ack(&ack).map_err(|e| format!("bind_ack: {e}"))?;
        if session.needs_alter_context() {
            let n = session.alter_context(&mut out);
            stream.write_all(&out[..n]).map_err(|e| e.to_string())?;
            let resp = read_pdu(&mut stream).map_err(|e| format!("alter_context_resp: {e}"))?;
            session.on_alter_context_resp(&resp).map_err(|e| format!("alter_context_resp: {e}"))?;
        }
        Ok(Client { stream, session })
    }

    pub fn ndr64(addr: SocketAddr) -> Result<Client, String> {
        Client::connect(addr, Options { use_ndr64: true, ..Options::default() })
    }

    pub fn ndr32(addr: SocketAddr) -> Result<Client, String> {
        Client::connect(addr, Options { offer_ndr64: false, ..Options::default() })
    }

    pub fn syntax(&self) -> Option<kmsedge::wire::Syntax> {
        self.session.request_syntax()
    }

    /// Sends `req` and checks the reply like a client, without the final
    /// count-versus-N comparison (so genuine-mode counts can be read).
    pub fn request(&mut self, req: &RequestRepr) -> Result<Outcome, String> {
        let iv: [u8; 16] = rand_block();
        let mut sealed = [0u8; 260];
        let m = kms::seal_request(req, &iv, &mut sealed);
        let mut out = [0u8; 512];
        let n = self.session.request(&sealed[..m], &mut out).map_err(|e| e.to_string())?;
        self.stream.write_all(&out[..n]).map_err(|e| format!("send: {e}"))?;
        let reply = read_pdu(&mut self.stream).map_err(|e| format!("reply: {e}"))?;
        match self.session.on_response(&reply).map_err(|e| e.to_string())? {
            ResponseStub::Refused(hr) => Ok(Outcome::Refused(hr)),
            ResponseStub::Message(msg) => {
                let expect = Expect::for_request(req, &iv);
                let opened = kms::open_response(msg, &expect).map_err(|e| e.to_string())?;
                opened.verify().map_err(|e| e.to_string())?;
                let r = opened.repr;
                Ok(Outcome::Granted {
                    epid: r.epid.to_string(),
                    hwid: opened.hwid,
                    count: r.current_count,
                    activation_interval: r.activation_interval,
                    renewal_interval: r.renewal_interval,
                })
            }
        }
    }
}

pub fn rand_block() -> [u8; 16] {
    use rand::RngExt;
    rand::rng().random()
}

pub fn now() -> FileTime {
    FileTime::from_unix_nanos(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i128)
}

/// The SKU with this exact catalogue name.
pub fn sku(name: &str) -> &'static Sku {
    catalog::SKUS.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no SKU {name:?}"))
}

/// A request for `sku` at protocol `version`, now, from machine `cmid`.
pub fn request(sku: &Sku, version: Version, cmid: Guid, workstation: &str) -> RequestRepr {
    RequestBuilder::for_sku(sku).version(version).cmid(cmid).time(now()).workstation(workstation).build()
}

pub fn random_cmid() -> Guid {
    Guid::from_u128(u128::from_le_bytes(rand_block()))
}
