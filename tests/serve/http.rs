//! The HTTP side: admin token, the JSON API's shapes, paging and filters,
//! the page, products, metrics and health.
use crate::client::{Client, random_cmid, request, sku};
use crate::support::serve::{Serve, get, get_json};
use kmsedge::api::{Activity, ClientPage, Status};
use kmsedge::kms::Version;

const TOKEN: &str = "test-admin-token-0123456789";

#[test]
fn admin_token_guards_the_data_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &["--admin-token", TOKEN]);
    for path in ["/api/status", "/api/clients", "/api/activity", "/metrics"] {
        let (code, body) = get(&host.url(path), None);
        assert_eq!(code, 401, "{path} without a token: {body}");
        assert!(body.contains("admin token"), "{body}");
        let (code, body) = get(&host.url(path), Some("wrong-token-wrong-token"));
        assert_eq!(code, 401, "{path} with a wrong token");
        assert!(body.contains("wrong admin token"), "{body}");
        assert!(!body.contains("epid"), "no data leaks: {body}");
        assert_eq!(get(&host.url(path), Some(TOKEN)).0, 200, "{path} with the token");
    }
    for path in ["/healthz", "/api/products", "/"] {
        assert_eq!(get(&host.url(path), None).0, 200, "{path} is public");
    }
    // The token can also come from a file.
    let tok = tmp.path().join("token");
    std::fs::write(&tok, format!("{TOKEN}\n")).unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let other = Serve::start(other_dir.path(), &["--admin-token-file", tok.to_str().unwrap()]);
    assert_eq!(get(&other.url("/api/status"), None).0, 401);
    assert_eq!(get(&other.url("/api/status"), Some(TOKEN)).0, 200);
}

#[test]
fn without_a_token_loopback_reads_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &[]);
    assert_eq!(get(&host.url("/api/status"), None).0, 200);
    assert_eq!(get(&host.url("/metrics"), None).0, 200);
}

#[test]
fn api_shapes_paging_filters_and_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Serve::start(tmp.path(), &["--admin-token", TOKEN]);
    let t = Some(TOKEN);
    let mut c = Client::ndr64(host.kms).unwrap();
    for i in 0..25 {
        let product = if i < 20 { "Windows 10/11 Enterprise" } else { "Office LTSC Professional Plus 2021" };
        c.request(&request(sku(product), Version::V6, random_cmid(), &format!("WS-{i:02}"))).unwrap().granted();
    }
    // The shared JSON shapes parse as the API module defines them.
    let status: Status = serde_json::from_value(get_json(&host.url("/api/status"), t)).unwrap();
    assert_eq!(status.runtime, "native");
    assert_eq!(status.listen, vec![host.kms.to_string()]);
    assert_eq!(status.counters.total, 25);
    assert_eq!(status.identity.epids.len(), kmsedge::catalog::HELD_BY_DEFAULT.len());
    assert_eq!(status.identity.hwid.len(), 16);
    assert_eq!(status.policy.count_mode, "sufficient");
    assert!(status.uptime_secs >= 0);

    let page: ClientPage = serde_json::from_value(get_json(&host.url("/api/clients?limit=10&offset=20&sort=workstation&order=asc"), t)).unwrap();
    assert_eq!((page.total, page.offset, page.limit, page.clients.len()), (25, 20, 10, 5));
    assert_eq!(page.clients[0].workstation, "WS-20");
    assert_eq!(page.clients[0].product, "Office 2021");
    let office_kms = sku("Office LTSC Professional Plus 2021").kms.to_string();
    let by_id: ClientPage = serde_json::from_value(get_json(&host.url(&format!("/api/clients?kms_id={office_kms}")), t)).unwrap();
    assert_eq!(by_id.total, 5);
    let by_text: ClientPage = serde_json::from_value(get_json(&host.url("/api/clients?q=ws-1"), t)).unwrap();
    assert_eq!(by_text.total, 10, "WS-10 … WS-19");
    for bad in ["?sort=password", "?limit=0", "?limit=5000", "?order=up", "?kms_id=xyz", "?offset=-1"] {
        let (code, body) = get(&host.url(&format!("/api/clients{bad}")), t);
        assert_eq!(code, 400, "{bad}: {body}");
        assert!(body.starts_with("{\"error\":"), "{body}");
    }

    let activity: Activity = serde_json::from_value(get_json(&host.url("/api/activity"), t)).unwrap();
    assert_eq!((activity.hourly.len(), activity.daily.len()), (48, 30));
    assert_eq!(activity.hourly.last().unwrap().ok, 25);

    let products = get_json(&host.url("/api/products?q=ltsc%202021%20professional%20plus"), None);
    let list = products.as_array().unwrap();
    assert!(list.iter().any(|p| p["name"] == "Office LTSC Professional Plus 2021" && p["gvlk"].is_string()), "{products}");
    assert_eq!(get_json(&host.url("/api/products"), None).as_array().unwrap().len(), kmsedge::catalog::SKUS.len());

    let (code, metrics) = get(&host.url("/metrics"), t);
    assert_eq!(code, 200);
    assert!(metrics.contains("kmsedge_requests_total{version=\"6\",result=\"granted\"} 25"), "{metrics}");
    assert!(metrics.contains("kmsedge_genuine_count{application=\"Windows\"} 20"), "{metrics}");
    assert!(metrics.contains("kmsedge_registry_commit_seconds_count"), "{metrics}");
    assert!(metrics.ends_with("# EOF\n"));

    assert_eq!(get(&host.url("/healthz"), None), (200, "ok\n".into()));
    let (code, body) = get(&host.url("/api/nothing"), t);
    assert_eq!((code, body.as_str()), (404, "{\"error\":\"no such API endpoint\"}"));
    let (code, page) = get(&host.url("/"), None);
    assert_eq!(code, 200);
    assert!(page.to_lowercase().contains("<html") || page.contains("<!doctype"), "{page}");
}
