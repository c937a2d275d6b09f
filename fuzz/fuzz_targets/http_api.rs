//! Arbitrary bytes as an HTTP request to a running `kmsedge serve`'s HTTP
//! side (hyper, the axum router, the admin check, the `/api` query parsers
//! and the registry views), from loopback so the admin endpoints answer:
//! paths, query strings, headers and bodies. One host serves every input,
//! with a few registry rows so the views have something to page through.
//! Nothing may panic (libFuzzer's hook aborts, whichever thread), every
//! answer must be an HTTP response, and none a 500: bad input is a 4xx.
#![no_main]

use kmsedge::native::serve::Args;
use kmsedge::native::serve::server::Server;
use kmsedge::native::serve::settings::Settings;
use libfuzzer_sys::fuzz_target;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

struct World {
    http: SocketAddr,
    _server: Server,
    _rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let args = Args {
            listen: vec!["127.0.0.1:0".into()],
            http: Some("127.0.0.1:0".into()),
            data: Some(dir.path().to_owned()),
            log_level: Some("off".into()),
            ..Args::default()
        };
        let settings = Settings::load(&args).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let server = rt.block_on(async {
            let server = Server::start(settings).await.unwrap();
            seed_registry(&server).await;
            server
        });
        World { http: server.http_addr.unwrap(), _server: server, _rt: rt, _dir: dir }
    })
}

/// A few activations, so `/api/clients` and `/api/events` have rows.
async fn seed_registry(server: &Server) {
    use kmsedge::client::RequestBuilder;
    let sku = kmsedge::catalog::SKUS.iter().find(|s| s.name == "Windows 10/11 Enterprise").unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    for i in 0..5u128 {
        let request = RequestBuilder::for_sku(sku)
            .cmid(kmsedge::Guid::from_u128(0x1000 + i))
            .time(kmsedge::time::FileTime::from_unix_nanos(now.as_nanos() as i128))
            .build();
        let a = kmsedge::host::Activation { request, version: kmsedge::kms::Version::V6, syntax: kmsedge::wire::Syntax::Ndr32, call_id: 2 };
        server.host.activate(&a, "192.0.2.1".parse().unwrap()).await.unwrap();
    }
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let mut s = TcpStream::connect(w.http).expect("the host accepts");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(data);
    let _ = s.shutdown(Shutdown::Write);
    let mut reply = Vec::new();
    if let Err(e) = s.read_to_end(&mut reply) {
        assert!(e.kind() == std::io::ErrorKind::ConnectionReset, "no answer within 10 s: {e}");
    }
    // Answers to pipelined requests follow one another; check each status line.
    let text = String::from_utf8_lossy(&reply);
    for status in text.match_indices("HTTP/1.1 ").map(|(at, _)| &text[at + 9..(at + 12).min(text.len())]) {
        assert_ne!(status, "500", "a request made the host fail:\n{text}");
    }
    if !reply.is_empty() {
        assert!(reply.starts_with(b"HTTP/1."), "not an HTTP response: {text:?}");
    }
});
