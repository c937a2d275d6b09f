//! Secure dynamic update, as Active Directory-integrated zones demand:
//! GSS-TSIG (RFC 3645) with a Kerberos context from a keytab, the host's
//! machine account in practice.
//!
//! One round, all on one TCP connection to the zone's primary server:
//! 1. the SOA of the zone names the primary server (its MNAME), whose
//!    Kerberos service is `DNS/<mname>@<realm>` (the name AD DNS servers,
//!    Windows' and Samba's, are keyed under; `nsupdate -g` asks for the
//!    same);
//! 2. TKEY queries in mode 3, "GSS-API negotiation" (RFC 2930 §4.1), carry
//!    the context tokens until `gss_init_sec_context` is complete; the key
//!    name is fresh each round;
//! 3. the UPDATE is signed with a TSIG record of algorithm `gss-tsig` whose
//!    MAC is `gss_get_mic` over the usual TSIG digest input (RFC 8945
//!    §4.3.3), and the reply's MAC is checked with `gss_verify_mic` over the
//!    request MAC, the reply and its TSIG variables.
//!
//! The context is made anew each round (every TTL/2, or after a failure):
//! nothing outlives a round, so an expired ticket or a rekeyed account is
//! simply picked up, and the GSS objects never cross an `.await` (the
//! round runs on a blocking thread; Kerberos itself blocks on the KDC).
//!
//! MIT Kerberos reads the keytab named by `KRB5_CLIENT_KTNAME` to get the
//! initial ticket, into the in-memory cache named by `KRB5CCNAME`:
//! [`GssCredentials::environment`] gives both, and `kmsedge`'s `main`
//! sets them before any thread starts (the library forbids `unsafe`).
use std::prelude::rust_2024::{String, ToString, Vec};
use std::format;
use std::path::{Path, PathBuf};

/// Where the host's Kerberos identity comes from: `--dns-keytab` and
/// `--dns-principal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GssCredentials {
    pub keytab: PathBuf,
    /// `NAME@REALM`, e.g. `KMSHOST$@AD.EXAMPLE.COM`.
    pub principal: String,
}

/// The in-memory credential cache of this process: the tickets got from
/// the keytab never land in a file or in the user's cache.
pub const CCACHE: &str = "MEMORY:kmsedge-dns";

impl GssCredentials {
    /// Checks both values; one-line errors naming their origin.
    pub fn new(keytab: &Path, keytab_origin: &str, principal: &str, principal_origin: &str) -> Result<GssCredentials, String> {
        let principal = principal.trim();
        let Some((name, realm)) = principal.rsplit_once('@') else {
            return Err(format!("{principal_origin}: {principal:?} has no realm; expected NAME@REALM, e.g. KMSHOST$@AD.EXAMPLE.COM"));
        };
        if name.is_empty() || realm.is_empty() || principal.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("{principal_origin}: {principal:?} is not a Kerberos principal NAME@REALM"));
        }
        match std::fs::metadata(keytab) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(format!("{keytab_origin}: {} is not a file", keytab.display())),
            Err(e) => return Err(format!("{keytab_origin}: cannot read the keytab {}: {e}", keytab.display())),
        }
        if let Err(e) = std::fs::File::open(keytab) {
            return Err(format!("{keytab_origin}: cannot read the keytab {}: {e}", keytab.display()));
        }
        Ok(GssCredentials { keytab: keytab.to_path_buf(), principal: principal.to_string() })
    }

    pub fn realm(&self) -> &str {
        self.principal.rsplit_once('@').map_or("", |(_, r)| r)
    }

    /// The environment MIT Kerberos reads: the client keytab, and a
    /// private in-memory ticket cache.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        let keytab = std::path::absolute(&self.keytab).unwrap_or_else(|_| self.keytab.clone());
        std::vec![("KRB5_CLIENT_KTNAME", format!("FILE:{}", keytab.display())), ("KRB5CCNAME", CCACHE.to_string())]
    }
}

#[cfg(feature = "ad-dns")]
pub use session::round;

/// Whether this build can do GSS-TSIG (feature `ad-dns`).
pub const SUPPORTED: bool = cfg!(feature = "ad-dns");

#[cfg(feature = "ad-dns")]
mod session {
    use super::GssCredentials;
    use crate::native::dns::publish::UpdateError;
    use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::rdata::NULL;
    use hickory_proto::rr::rdata::tsig::{TSIG, TsigAlgorithm, make_tsig_record, message_tbs, signed_bitmessage_to_buf};
    use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
    use libgssapi::context::{ClientCtx, CtxFlags, SecurityContext};
    use libgssapi::credential::{Cred, CredUsage};
    use libgssapi::name::Name as GssName;
    use libgssapi::oid::{GSS_MECH_KRB5, GSS_NT_KRB5_PRINCIPAL, OidSet};
    use std::format;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::prelude::rust_2024::{String, ToString, Vec};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    /// RR type TKEY (RFC 2930 §2); hickory has no RDATA type for it.
    const TKEY: RecordType = RecordType::Unknown(249);
    /// TKEY mode 3: GSS-API negotiation.
    const MODE_GSSAPI: u16 = 3;
    /// Lifetime asked for the negotiated key; the round uses it at once.
    const KEY_LIFETIME: u32 = 3600;
    /// Seconds of clock difference allowed (RFC 8945 recommends 300).
    const FUDGE: u16 = 300;
    /// A Kerberos exchange needs one or two tokens; more means a broken peer.
    const MAX_LEGS: usize = 4;

    fn now() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }

    fn gss(what: &str, creds: &GssCredentials, e: impl std::fmt::Display) -> UpdateError {
        let detail = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
        UpdateError::Gss(format!("{what} for {} (keytab {}): {detail}", creds.principal, creds.keytab.display()))
    }

    /// One DNS exchange over the round's TCP connection (RFC 1035 §4.2.2
    /// framing); the reply's bytes, for MAC checks.
    struct Tcp {
        stream: TcpStream,
        server: SocketAddr,
        timeout: Duration,
    }

    impl Tcp {
        fn open(server: SocketAddr, timeout: Duration) -> Result<Tcp, UpdateError> {
            let net = |e: std::io::Error| UpdateError::Network { server, detail: e.to_string() };
            let stream = TcpStream::connect_timeout(&server, timeout).map_err(|e| match e.kind() {
                std::io::ErrorKind::TimedOut => UpdateError::Timeout { server, after: timeout },
                _ => net(e),
            })?;
            stream.set_read_timeout(Some(timeout)).map_err(net)?;
            stream.set_write_timeout(Some(timeout)).map_err(net)?;
            Ok(Tcp { stream, server, timeout })
        }

        fn exchange(&mut self, msg: &Message) -> Result<(Message, Vec<u8>), UpdateError> {
            let (server, timeout) = (self.server, self.timeout);
            let io = |e: std::io::Error| match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => UpdateError::Timeout { server, after: timeout },
                _ => UpdateError::Network { server, detail: e.to_string() },
            };
            let bytes = msg.to_vec().map_err(|e| UpdateError::Sign(e.to_string()))?;
            let len = u16::try_from(bytes.len()).map_err(|_| UpdateError::Sign("message over 65535 bytes".into()))?;
            let mut out = Vec::with_capacity(bytes.len() + 2);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&bytes);
            self.stream.write_all(&out).map_err(io)?;
            let mut len = [0u8; 2];
            self.stream.read_exact(&mut len).map_err(io)?;
            let mut reply = std::vec![0u8; usize::from(u16::from_be_bytes(len))];
            self.stream.read_exact(&mut reply).map_err(io)?;
            let parsed = Message::from_vec(&reply)
                .map_err(|e| UpdateError::Network { server, detail: format!("unreadable reply: {e}") })?;
            if parsed.metadata.id != msg.metadata.id || parsed.metadata.message_type != MessageType::Response {
                return Err(UpdateError::Network { server, detail: "the reply does not answer the request".into() });
            }
            Ok((parsed, reply))
        }
    }

    fn fresh_id() -> u16 {
        rand::random()
    }

    /// The zone's primary server name (SOA MNAME).
    fn primary(tcp: &mut Tcp, zone: &Name) -> Result<Name, UpdateError> {
        let mut m = Message::query();
        m.metadata.id = fresh_id();
        m.metadata.recursion_desired = false;
        m.add_query(Query::query(zone.clone(), RecordType::SOA));
        let (reply, _) = tcp.exchange(&m)?;
        if reply.metadata.response_code != ResponseCode::NoError {
            return Err(UpdateError::Rcode { code: reply.metadata.response_code });
        }
        reply
            .answers
            .iter()
            .find_map(|r| match &r.data {
                RData::SOA(soa) => Some(soa.mname.clone()),
                _ => None,
            })
            .ok_or_else(|| UpdateError::NotZone { zone: zone.to_string() })
    }

    /// TKEY RDATA (RFC 2930 §2): algorithm, inception, expiration, mode,
    /// error, key (here the GSS token), other data.
    pub(super) fn tkey_rdata(token: &[u8], inception: u32) -> Vec<u8> {
        let mut v = Vec::with_capacity(token.len() + 32);
        // The algorithm name `gss-tsig.`, uncompressed.
        v.extend_from_slice(b"\x08gss-tsig\x00");
        v.extend_from_slice(&inception.to_be_bytes());
        v.extend_from_slice(&inception.wrapping_add(KEY_LIFETIME).to_be_bytes());
        v.extend_from_slice(&MODE_GSSAPI.to_be_bytes());
        v.extend_from_slice(&0u16.to_be_bytes());
        v.extend_from_slice(&(token.len() as u16).to_be_bytes());
        v.extend_from_slice(token);
        v.extend_from_slice(&0u16.to_be_bytes());
        v
    }

    /// The answer's TKEY RDATA → (error, key data). The algorithm name
    /// must be written out (a compression pointer here would be unusual).
    pub(super) fn parse_tkey(rdata: &[u8]) -> Result<(u16, Vec<u8>), String> {
        let mut i = 0;
        loop {
            let len = *rdata.get(i).ok_or("TKEY RDATA ends in the algorithm name")? as usize;
            if len & 0xC0 != 0 {
                return Err("TKEY algorithm name is compressed".into());
            }
            i += 1 + len;
            if len == 0 {
                break;
            }
        }
        let u16_at = |at: usize| rdata.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or("TKEY RDATA too short");
        // inception (4), expiration (4), mode (2), then error and key size
        let error = u16_at(i + 10)?;
        let size = usize::from(u16_at(i + 12)?);
        let key = rdata.get(i + 14..i + 14 + size).ok_or("TKEY key data runs past the RDATA")?;
        Ok((error, key.to_vec()))
    }

    fn tkey_query(key_name: &Name, token: &[u8]) -> Message {
        let mut m = Message::query();
        m.metadata.id = fresh_id();
        m.metadata.recursion_desired = false;
        let mut q = Query::query(key_name.clone(), TKEY);
        q.set_query_class(DNSClass::ANY);
        m.add_query(q);
        let mut rr = Record::from_rdata(key_name.clone(), 0, RData::Unknown { code: TKEY, rdata: NULL::with(tkey_rdata(token, now() as u32)) });
        rr.dns_class = DNSClass::ANY;
        m.add_additional(rr);
        m
    }

    /// A negotiated context and the TSIG key name the server knows it by.
    struct Session {
        ctx: ClientCtx,
        key_name: Name,
    }

    fn negotiate(tcp: &mut Tcp, creds: &GssCredentials, server_name: &Name) -> Result<Session, UpdateError> {
        let mechs = OidSet::singleton(GSS_MECH_KRB5).map_err(|e| gss("no Kerberos mechanism", creds, e))?;
        let me = GssName::new(creds.principal.as_bytes(), Some(GSS_NT_KRB5_PRINCIPAL)).map_err(|e| gss("bad principal", creds, e))?;
        let cred = Cred::acquire(Some(&me), None, CredUsage::Initiate, Some(&mechs))
            .map_err(|e| gss("cannot get Kerberos credentials", creds, e))?;
        let host = server_name.to_ascii();
        let spn = format!("DNS/{}@{}", host.trim_end_matches('.'), creds.realm());
        let target = GssName::new(spn.as_bytes(), Some(GSS_NT_KRB5_PRINCIPAL)).map_err(|e| gss("bad service name", creds, e))?;
        let flags = CtxFlags::GSS_C_MUTUAL_FLAG | CtxFlags::GSS_C_REPLAY_FLAG | CtxFlags::GSS_C_INTEG_FLAG;
        let mut ctx = ClientCtx::new(Some(cred), target, flags, Some(GSS_MECH_KRB5));
        // A name sharing no suffix with the zone: a server that re-encodes
        // our TSIG record to find where it starts (Samba does) encodes it
        // uncompressed, so ours must be uncompressed too.
        let key_name = Name::from_ascii(format!("{:016x}.kmsedge-gss-tsig.", rand::random::<u64>())).map_err(|e| UpdateError::Sign(e.to_string()))?;
        let mut input: Option<Vec<u8>> = None;
        for _ in 0..MAX_LEGS {
            let out = ctx
                .step(input.as_deref(), None)
                .map_err(|e| gss(&format!("Kerberos context with {spn} failed"), creds, e))?;
            let Some(token) = out else {
                return Ok(Session { ctx, key_name });
            };
            let (reply, _) = tcp.exchange(&tkey_query(&key_name, &token))?;
            match reply.metadata.response_code {
                ResponseCode::NoError => {}
                ResponseCode::Refused => return Err(UpdateError::Refused { zone: host.clone() }),
                ResponseCode::NotAuth => return Err(UpdateError::Tkey(format!("the server did not accept the GSS token (NOTAUTH) for {spn}"))),
                code => return Err(UpdateError::Rcode { code }),
            }
            let Some(rdata) = reply.answers.iter().find_map(|r| match &r.data {
                RData::Unknown { code, rdata } if *code == TKEY => Some(rdata.anything.clone()),
                _ => None,
            }) else {
                return Err(UpdateError::Tkey("the TKEY reply has no TKEY answer".into()));
            };
            let (error, token) = parse_tkey(&rdata).map_err(UpdateError::Tkey)?;
            if error != 0 {
                return Err(UpdateError::Tkey(format!("the server refused the GSS negotiation with {spn} (TKEY error {error}{})", tkey_error_name(error))));
            }
            if ctx.is_complete() {
                return Ok(Session { ctx, key_name });
            }
            input = Some(token);
        }
        Err(UpdateError::Tkey(format!("the GSS negotiation with {spn} did not finish in {MAX_LEGS} exchanges")))
    }

    fn tkey_error_name(e: u16) -> &'static str {
        match e {
            16 => ", BADSIG",
            17 => ", BADKEY: the server cannot accept this ticket",
            18 => ", BADTIME: the clocks differ",
            20 => ", BADNAME",
            _ => "",
        }
    }

    /// Negotiates, then sends `update` signed with GSS-TSIG and checks the
    /// reply (its TSIG error, RCODE, then its MAC).
    pub fn round(server: SocketAddr, timeout: Duration, zone: &Name, creds: &GssCredentials, mut update: Message) -> Result<(), UpdateError> {
        let mut tcp = Tcp::open(server, timeout)?;
        let mname = primary(&mut tcp, zone)?;
        let mut s = negotiate(&mut tcp, creds, &mname)?;

        update.metadata.id = fresh_id();
        debug_assert_eq!(update.metadata.op_code, OpCode::Update);
        let pre = TSIG::new(TsigAlgorithm::Gss, now(), FUDGE, Vec::new(), update.metadata.id, None, Vec::new());
        let tbs = message_tbs(&update, &pre, &s.key_name).map_err(|e| UpdateError::Sign(e.to_string()))?;
        let mic = s.ctx.get_mic(&tbs).map_err(|e| gss("cannot sign the update", creds, e))?.to_vec();
        update.set_signature(std::boxed::Box::new(make_tsig_record(s.key_name.clone(), pre.set_mac(mic.clone()))));
        let (reply, bytes) = tcp.exchange(&update)?;

        let key = s.key_name.to_ascii();
        if let Some(error) = reply.signature().and_then(|sig| sig.data.error) {
            return Err(UpdateError::Tsig { key, error });
        }
        let zone_text = zone.to_ascii().trim_end_matches('.').to_string();
        match reply.metadata.response_code {
            ResponseCode::NoError => {}
            ResponseCode::Refused => return Err(UpdateError::Refused { zone: zone_text }),
            ResponseCode::NotAuth => return Err(UpdateError::NotAuth { zone: zone_text }),
            ResponseCode::NotZone => return Err(UpdateError::NotZone { zone: zone_text }),
            code => return Err(UpdateError::Rcode { code }),
        }
        if reply.signature().is_none() {
            return Err(UpdateError::UnsignedReply);
        }
        // RFC 8945 §4.3.1 puts the request MAC's length before it; Samba's
        // DNS server signs the request MAC without it (source4/dns_server/
        // dns_crypto.c, dns_tsig_compute_mac). Either way the MIC covers
        // this reply and our request's MAC.
        let (digest, tsig) = signed_bitmessage_to_buf(&bytes, Some(&mic), true).map_err(|e| UpdateError::BadReplySignature(e.to_string()))?;
        let rfc = s.ctx.verify_mic(&digest, &tsig.data.mac);
        if let Err(e) = rfc {
            s.ctx.verify_mic(&digest[2..], &tsig.data.mac).map_err(|_| {
                UpdateError::BadReplySignature(format!("gss_verify_mic: {}", e.to_string().split_whitespace().collect::<Vec<_>>().join(" ")))
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_checked_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let kt = dir.path().join("host.keytab");
        std::fs::write(&kt, [5u8, 2]).unwrap();
        let c = GssCredentials::new(&kt, "--dns-keytab", "KMSHOST$@AD.KMS.TEST", "--dns-principal").unwrap();
        assert_eq!(c.realm(), "AD.KMS.TEST");
        let env = c.environment();
        assert_eq!(env[0], ("KRB5_CLIENT_KTNAME", format!("FILE:{}", kt.display())));
        assert_eq!(env[1], ("KRB5CCNAME", CCACHE.to_string()));
        for (p, want) in [("KMSHOST$", "has no realm"), ("@AD", "not a Kerberos principal"), ("a b@R", "not a Kerberos principal")] {
            let e = GssCredentials::new(&kt, "--dns-keytab", p, "--dns-principal").unwrap_err();
            assert!(e.starts_with("--dns-principal: ") && e.contains(want), "{e}");
        }
        let e = GssCredentials::new(&dir.path().join("none"), "dns.keytab in f", "H$@R", "p").unwrap_err();
        assert!(e.starts_with("dns.keytab in f: cannot read the keytab") && !e.contains('\n'), "{e}");
        let e = GssCredentials::new(dir.path(), "--dns-keytab", "H$@R", "p").unwrap_err();
        assert!(e.contains("is not a file"), "{e}");
    }

    #[cfg(feature = "ad-dns")]
    #[test]
    fn tkey_rdata_round_trips() {
        let r = session::tkey_rdata(b"token", 1_000);
        // gss-tsig. | inception | expiration | mode 3 | error 0 | size | key | other size 0
        assert_eq!(&r[..10], b"\x08gss-tsig\x00");
        assert_eq!(&r[10..14], &1_000u32.to_be_bytes());
        assert_eq!(&r[14..18], &4_600u32.to_be_bytes());
        assert_eq!(&r[18..24], &[0, 3, 0, 0, 0, 5]);
        assert_eq!(&r[24..29], b"token");
        assert_eq!(&r[29..], &[0, 0]);
        assert_eq!(session::parse_tkey(&r).unwrap(), (0, b"token".to_vec()));
        let mut bad = r.clone();
        bad[21] = 17;
        assert_eq!(session::parse_tkey(&bad).unwrap().0, 17);
        assert!(session::parse_tkey(&r[..26]).unwrap_err().contains("past the RDATA"));
        assert!(session::parse_tkey(&[0xC0, 0x0C]).unwrap_err().contains("compressed"));
    }
}
