//! The `www/` page, embedded in the binary by rust-embed (read from disk in
//! debug builds, so the page can be edited without rebuilding). When the
//! page was not there at build time the host still runs and says so at `/`.
use std::prelude::rust_2024::{String, ToOwned};
use std::format;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "www/"]
#[allow_missing = true]
struct Www;

const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>kmsedge</title>\
<h1>kmsedge host</h1><p>The web page was not built into this binary (no <code>www/</code> at build time). \
The API is here: <a href=/api/status>/api/status</a>, <a href=/api/clients>/api/clients</a>, \
<a href=/api/products>/api/products</a>, <a href=/metrics>/metrics</a>, <a href=/healthz>/healthz</a>.</p>";

/// Serves a file of the page, `index.html` for directories.
pub async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let mut path = uri.path().trim_start_matches('/').to_owned();
    if path.is_empty() || path.ends_with('/') {
        path.push_str("index.html");
    }
    let Some(file) = Www::get(&path) else {
        if path == "index.html" {
            return (StatusCode::OK, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], NOT_BUILT).into_response();
        }
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "not found\n").into_response();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let mime = file.metadata.mimetype().to_owned();
    let mut r = (StatusCode::OK, file.data.into_owned()).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // Revalidate every time: the page changes with the binary.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
