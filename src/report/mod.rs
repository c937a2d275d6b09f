//! Decoded conversations as one tree of values, rendered as JSON (the page,
//! `kmsedge decode --json`) or as indented text (`kmsedge decode`). Building
//! the tree once keeps the two outputs saying the same things.
//!
//! The core decoder ([`crate::inspect`]) yields borrowed items and never
//! allocates; this std layer owns strings. JSON is written by hand (see
//! [`json`]) so the page's wasm carries no serde.
//!
//! Shape (JSON):
//! ```text
//! { "ok": bool, "source": "hex"|"pcap"|"pcapng"|"binary", "bytes": n,
//!   "error": null | {"offset", "message"},        // input unreadable
//!   "notes": [..],                                 // capture remarks
//!   "conversations": [ { "client", "server", "notes", "errors",
//!                        "items": [ item | {"type": "error", "offset", "message"} ] } ] }
//! ```
//! Each item: `index`, `offset`, `length`, `direction`, `type`, `frame`
//! (captures), `header`, and one object named after the type (`bind`,
//! `bind_ack`, `request`, …) whose keys are documented in the builders below.
pub mod json;
pub mod text;

use crate::capture::{self, Capture};
use crate::catalog;
use crate::epid::{Epid, format_hwid};
use crate::inspect::{
    self, AckResult, BindAckItem, BindItem, Error, Item, ItemKind, KmsRequest, KmsResponse, NamedSyntax,
    RequestIntegrity, ResponseBody, SyntaxKind, Verdict,
};
use crate::kms::request::license_status_name;
use crate::time::FileTime;
use std::borrow::ToOwned;
use std::format;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

/// A JSON-like value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Node>),
    Obj(Vec<(&'static str, Node)>),
}

impl Node {
    pub fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }
    pub fn int(n: impl Into<i64>) -> Node {
        Node::Int(n.into())
    }
    fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Node) -> Node {
        v.map_or(Node::Null, f)
    }
    /// The value under `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Obj(fields) => fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn to_json(&self) -> String {
        json::to_string(self)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex32(v: u32) -> Node {
    Node::str(format!("0x{v:08X}"))
}

/// A decoded input: the tree, plus every error as one line (for the CLI's
/// exit status and stderr).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub root: Node,
    pub errors: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }
    pub fn to_json(&self) -> String {
        self.root.to_json()
    }
    pub fn to_text(&self) -> String {
        text::render(&self.root)
    }
}

fn fatal(source: &'static str, bytes: usize, offset: usize, message: String) -> Report {
    let root = Node::Obj(vec![
        ("ok", Node::Bool(false)),
        ("source", Node::str(source)),
        ("bytes", Node::int(bytes as i64)),
        ("error", Node::Obj(vec![("offset", Node::int(offset as i64)), ("message", Node::str(message.clone()))])),
        ("notes", Node::List(Vec::new())),
        ("conversations", Node::List(Vec::new())),
    ]);
    Report { root, errors: vec![message] }
}

fn report(source: &'static str, bytes: usize, notes: Vec<String>, convs: Vec<(Node, Vec<String>)>) -> Report {
    let errors: Vec<String> = convs.iter().flat_map(|(_, e)| e.iter().cloned()).collect();
    let root = Node::Obj(vec![
        ("ok", Node::Bool(errors.is_empty())),
        ("source", Node::str(source)),
        ("bytes", Node::int(bytes as i64)),
        ("error", Node::Null),
        ("notes", Node::List(notes.into_iter().map(Node::Str).collect())),
        ("conversations", Node::List(convs.into_iter().map(|(n, _)| n).collect())),
    ]);
    Report { root, errors }
}

/// Decodes pasted hex (see [`inspect::hex`] for the accepted forms).
pub fn from_hex(text: &str) -> Report {
    let mut buf = vec![0u8; inspect::hex::max_len(text)];
    match inspect::parse_hex(text, &mut buf) {
        Ok(n) => from_bytes("hex", &buf[..n]),
        Err(e) => fatal("hex", 0, e.offset, e.to_string()),
    }
}

/// Decodes raw bytes of PDUs or a KMS message; `source` names where they came from.
pub fn from_bytes(source: &'static str, bytes: &[u8]) -> Report {
    let conv = conversation(bytes, None, None, &[]);
    report(source, bytes.len(), Vec::new(), vec![conv])
}

/// Decodes every KMS conversation of a pcap/pcapng capture.
pub fn from_capture(bytes: &[u8]) -> Report {
    let source = capture::Format::sniff(bytes).map_or("capture", |f| f.name());
    let cap: Capture = match capture::read(bytes) {
        Ok(c) => c,
        Err(e) => return fatal(source, bytes.len(), e.offset, e.to_string()),
    };
    if cap.conversations.is_empty() {
        let mut msg = format!(
            "no KMS conversation in the capture's {} packets: expected TCP traffic to or from port {} (or starting with a DCE/RPC bind to the KMS interface)",
            cap.packets,
            capture::KMS_PORT
        );
        for n in &cap.notes {
            msg.push_str("; ");
            msg.push_str(n);
        }
        return fatal(source, bytes.len(), 0, msg);
    }
    let convs = cap
        .conversations
        .iter()
        .map(|c| conversation(&c.stream, Some(c), Some((capture::addr_text(&c.client), capture::addr_text(&c.server))), &c.notes))
        .collect();
    report(source, bytes.len(), cap.notes.clone(), convs)
}

/// Decodes whatever a user handed over: a capture (by magic number), else
/// hex text, else raw bytes.
pub fn from_input(bytes: &[u8]) -> Report {
    if capture::Format::sniff(bytes).is_some() {
        return from_capture(bytes);
    }
    match core::str::from_utf8(bytes) {
        Ok(text) => from_hex(text),
        Err(_) => from_bytes("binary", bytes),
    }
}

fn conversation(
    bytes: &[u8],
    cap: Option<&capture::Conversation>,
    ends: Option<(String, String)>,
    notes: &[String],
) -> (Node, Vec<String>) {
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for r in inspect::decode(bytes) {
        match r {
            Ok(item) => {
                let frame = cap.and_then(|c| c.frame_at(item.offset));
                let (node, errs) = item_node(&item, frame);
                errors.extend(errs);
                items.push(node);
            }
            Err(e) => {
                errors.push(e.to_string());
                items.push(error_item(&e, cap.and_then(|c| c.frame_at(e.offset.saturating_sub(1)))));
            }
        }
    }
    let (client, server) = match ends {
        Some((c, s)) => (Node::Str(c), Node::Str(s)),
        None => (Node::Null, Node::Null),
    };
    let node = Node::Obj(vec![
        ("client", client),
        ("server", server),
        ("bytes", Node::int(bytes.len() as i64)),
        ("notes", Node::List(notes.iter().cloned().map(Node::Str).collect())),
        ("errors", Node::int(errors.len() as i64)),
        ("items", Node::List(items)),
    ]);
    (node, errors)
}

fn error_node(e: &Error) -> Node {
    Node::Obj(vec![("offset", Node::int(e.offset as i64)), ("message", Node::str(e.to_string()))])
}

fn error_item(e: &Error, frame: Option<usize>) -> Node {
    Node::Obj(vec![
        ("type", Node::str("error")),
        ("offset", Node::int(e.offset as i64)),
        ("frame", Node::opt(frame, |f| Node::int(f as i64))),
        ("message", Node::str(e.to_string())),
    ])
}

fn syntax_node(s: &NamedSyntax) -> Node {
    let (major, minor) = s.version();
    let version = if s.kind == SyntaxKind::KmsInterface {
        format!("{major}.{minor}")
    } else {
        s.id.version.to_string()
    };
    let mut f = vec![("name", Node::str(s.name())), ("uuid", Node::str(s.id.uuid.to_string())), ("version", Node::Str(version))];
    if let Some(bits) = s.btfn_features() {
        f.push(("btfn_features", btfn_node(bits)));
    }
    Node::Obj(f)
}

fn btfn_node(bits: u64) -> Node {
    Node::Obj(vec![
        ("bits", Node::str(format!("0x{bits:X}"))),
        ("names", Node::List(inspect::btfn_feature_names(bits).map(Node::str).collect())),
    ])
}

fn item_node(item: &Item<'_>, frame: Option<usize>) -> (Node, Vec<String>) {
    let mut errors = Vec::new();
    let mut f = vec![
        ("index", Node::int(item.index as i64)),
        ("offset", Node::int(item.offset as i64)),
        ("length", Node::int(item.bytes.len() as i64)),
        ("direction", Node::str(item.direction().short())),
        ("type", Node::str(item.type_name())),
        ("frame", Node::opt(frame, |n| Node::int(n as i64))),
        (
            "header",
            Node::opt(item.header, |h| {
                Node::Obj(vec![
                    ("rpc_version", Node::str(format!("{}.{}", h.rpc_vers, h.rpc_vers_minor))),
                    ("ptype", Node::int(u8::from(h.ptype))),
                    ("flags", Node::str(format!("0x{:02X}", h.flags))),
                    ("flag_names", Node::List(inspect::flag_names(h.flags).map(Node::str).collect())),
                    ("drep", Node::str(hex(&h.drep))),
                    ("frag_len", Node::int(h.frag_len)),
                    ("auth_len", Node::int(h.auth_len)),
                    ("call_id", Node::int(h.call_id)),
                ])
            }),
        ),
    ];
    let mut kms_err = |e: &Error| {
        errors.push(e.to_string());
        error_node(e)
    };
    match &item.kind {
        ItemKind::Bind(b) => f.push(("bind", bind_node(b))),
        ItemKind::BindAck(a) => f.push(("bind_ack", ack_node(a))),
        ItemKind::BindNak(n) => f.push((
            "bind_nak",
            Node::Obj(vec![("reason", Node::int(n.reason)), ("reason_name", Node::str(n.reason_name()))]),
        )),
        ItemKind::Request(r) => {
            let (kms, err) = match &r.kms {
                Ok(k) => (request_node(k), Node::Null),
                Err(e) => (Node::Null, kms_err(e)),
            };
            f.push((
                "request",
                Node::Obj(vec![
                    ("alloc_hint", Node::int(r.alloc_hint)),
                    ("context_id", Node::int(r.context_id)),
                    ("opnum", Node::int(r.opnum)),
                    ("object_uuid", Node::opt(r.object_uuid, |g| Node::str(g.to_string()))),
                    ("syntax", Node::str(r.syntax.name())),
                    ("syntax_source", Node::str(r.syntax_source.name())),
                    ("stub_length", Node::int(r.stub.len() as i64)),
                    ("kms", kms),
                    ("kms_error", err),
                ]),
            ));
        }
        ItemKind::Response(r) => {
            let (refusal, kms, err) = match &r.kms {
                Ok(ResponseBody::Refused(hr)) => (refusal_node(*hr), Node::Null, Node::Null),
                Ok(ResponseBody::Message(m)) => (Node::Null, response_node(m), Node::Null),
                Err(e) => (Node::Null, Node::Null, kms_err(e)),
            };
            f.push((
                "response",
                Node::Obj(vec![
                    ("alloc_hint", Node::int(r.alloc_hint)),
                    ("context_id", Node::int(r.context_id)),
                    ("cancel_count", Node::int(r.cancel_count)),
                    ("syntax", Node::str(r.syntax.name())),
                    ("syntax_source", Node::str(r.syntax_source.name())),
                    ("stub_length", Node::int(r.stub.len() as i64)),
                    ("refusal", refusal),
                    ("kms", kms),
                    ("kms_error", err),
                ]),
            ));
        }
        ItemKind::Fault(x) => f.push((
            "fault",
            Node::Obj(vec![
                ("alloc_hint", Node::int(x.alloc_hint)),
                ("context_id", Node::int(x.context_id)),
                ("cancel_count", Node::int(x.cancel_count)),
                ("status", hex32(x.status)),
                ("status_name", Node::str(x.status_name())),
            ]),
        )),
        ItemKind::OtherPdu => {}
        ItemKind::KmsRequest(k) => f.push(("kms_request", request_node(k))),
        ItemKind::KmsResponse(k) => f.push(("kms_response", response_node(k))),
    }
    (Node::Obj(f), errors)
}

fn bind_node(b: &BindItem<'_>) -> Node {
    let contexts = b
        .contexts()
        .map(|c| {
            Node::Obj(vec![
                ("context_id", Node::int(c.context_id)),
                ("abstract_syntax", syntax_node(&c.abstract_syntax)),
                ("transfer_syntaxes", Node::List(c.transfer_syntaxes().map(|t| syntax_node(&t)).collect())),
            ])
        })
        .collect();
    Node::Obj(vec![
        ("alter_context", Node::Bool(b.alter)),
        ("max_xmit_frag", Node::int(b.max_xmit_frag)),
        ("max_recv_frag", Node::int(b.max_recv_frag)),
        ("assoc_group", hex32(b.assoc_group)),
        ("contexts", Node::List(contexts)),
    ])
}

fn ack_node(a: &BindAckItem<'_>) -> Node {
    let results = a.results().map(|r| result_node(&r)).collect();
    Node::Obj(vec![
        ("alter_context", Node::Bool(a.alter)),
        ("max_xmit_frag", Node::int(a.max_xmit_frag)),
        ("max_recv_frag", Node::int(a.max_recv_frag)),
        ("assoc_group", hex32(a.assoc_group)),
        // A port number in ASCII; anything else is shown as U+FFFD.
        (
            "secondary_address",
            Node::Str(a.secondary_addr().iter().map(|&b| if b.is_ascii() { char::from(b) } else { '\u{FFFD}' }).collect()),
        ),
        ("results", Node::List(results)),
    ])
}

fn result_node(r: &AckResult) -> Node {
    Node::Obj(vec![
        ("index", Node::int(r.index as i64)),
        ("context_id", Node::opt(r.offer, |o| Node::int(o.context_id))),
        ("offered", Node::opt(r.offer, |o| syntax_node(&o.transfer))),
        ("result", Node::int(r.result)),
        ("result_name", Node::str(r.result_name())),
        ("reason", Node::int(r.reason)),
        ("reason_name", Node::opt(r.reason_name(), Node::str)),
        ("accepted", Node::Bool(r.accepted())),
        ("syntax", syntax_node(&r.syntax)),
        ("btfn_ack", Node::opt(r.btfn_ack(), |b| btfn_node(u64::from(b)))),
    ])
}

fn refusal_node(hr: crate::HResult) -> Node {
    Node::Obj(vec![("hresult", hex32(hr.0)), ("name", Node::opt(hr.name(), Node::str))])
}

fn time_nodes(t: FileTime) -> (Node, Node) {
    // FILETIMEs exceed JavaScript's exact integers: a string.
    (Node::str(format!("{} UTC", t)), Node::str(t.0.to_string()))
}

fn guid_named(id: crate::Guid, name: Option<&'static str>) -> Node {
    Node::Obj(vec![("id", Node::str(id.to_string())), ("name", Node::opt(name, Node::str))])
}

fn request_node(k: &KmsRequest) -> Node {
    let (check, valid) = match k.integrity {
        RequestIntegrity::Mac(v) => ("mac", v),
        RequestIntegrity::Padding(v) => ("padding", v),
    };
    let mut f = vec![
        ("offset", Node::int(k.offset as i64)),
        ("length", Node::int(k.len as i64)),
        ("version", Node::str(k.version.to_string())),
        ("supported", Node::Bool(k.is_supported())),
        ("integrity", Node::Obj(vec![("check", Node::str(check)), ("valid", Node::Bool(valid))])),
        ("iv", Node::opt(k.iv, |iv| Node::str(hex(&iv)))),
        ("trailing_bytes", Node::int(k.trailing as i64)),
        ("decrypted", Node::Bool(k.repr.is_some())),
    ];
    if let Some(r) = k.repr {
        let (time, ft) = time_nodes(r.request_time);
        let sku = catalog::sku_names(&r.sku);
        f.extend([
            ("protocol_version", Node::str(r.version.to_string())),
            ("application", guid_named(r.application, k.application().map(|a| a.name))),
            (
                "sku",
                Node::Obj(vec![
                    ("id", Node::str(r.sku.to_string())),
                    ("name", Node::opt(sku, |s| Node::str(s.to_string()))),
                    ("family", Node::opt(sku, |s| Node::str(s.family))),
                    ("edition", Node::opt(sku, |s| Node::str(s.edition))),
                ]),
            ),
            ("kms_id", guid_named(r.kms_id, catalog::kms_id_name(&r.kms_id))),
            ("cmid", Node::str(r.cmid.to_string())),
            ("previous_cmid", Node::str(r.previous_cmid.to_string())),
            ("workstation", Node::str(r.workstation.to_string())),
            (
                "license_status",
                Node::Obj(vec![("value", Node::int(r.license_status)), ("name", Node::str(license_status_name(r.license_status)))]),
            ),
            ("binding_expiration_minutes", Node::int(r.binding_expiration)),
            ("n_policy", Node::int(r.n_policy)),
            ("request_time", time),
            ("request_time_filetime", ft),
            ("vm", Node::Bool(r.is_vm())),
            ("vm_info", Node::int(r.vm_info)),
        ]);
    }
    Node::Obj(f)
}

fn epid_parts_node(e: &Epid) -> Node {
    Node::opt(e.parts(), |p| {
        let csvlk = catalog::csvlk_for(p.group_id, p.key_id).map(|s| catalog::slot(s).csvlk_name);
        Node::Obj(vec![
            ("platform_id", Node::int(p.platform_id)),
            ("group_id", Node::int(p.group_id)),
            ("csvlk", Node::opt(csvlk, Node::str)),
            ("key_id", Node::int(p.key_id)),
            ("channel", Node::int(p.channel)),
            ("lcid", Node::int(p.lcid)),
            ("host_build", Node::int(p.build)),
            ("host_os", Node::opt(catalog::host_build(p.build), |b| Node::str(b.name))),
            ("activation_date", Node::opt(p.activation_date(), |d| Node::str(d.to_string()))),
        ])
    })
}

fn response_node(k: &KmsResponse) -> Node {
    let r = &k.opened.repr;
    let (time, ft) = time_nodes(r.request_time);
    let checks = k
        .checks()
        .map(|c| {
            Node::Obj(vec![("id", Node::str(c.id)), ("what", Node::str(c.what)), ("outcome", Node::str(c.outcome.name()))])
        })
        .collect();
    let (verdict, failed) = match k.verdict() {
        Verdict::Verified => ("verified", None),
        Verdict::Failed(id) => ("failed", Some(id)),
        Verdict::Incomplete => ("incomplete", None),
    };
    Node::Obj(vec![
        ("offset", Node::int(k.offset as i64)),
        ("length", Node::int(k.len as i64)),
        ("version", Node::str(r.version.to_string())),
        ("epid", Node::str(r.epid.as_str().to_owned())),
        ("epid_parts", epid_parts_node(&r.epid)),
        ("hwid", Node::opt(k.opened.hwid, |h| Node::str(format_hwid(&h).to_string()))),
        ("cmid", Node::str(r.cmid.to_string())),
        ("request_time", time),
        ("request_time_filetime", ft),
        ("current_count", Node::int(r.current_count)),
        ("activation_interval_minutes", Node::int(r.activation_interval)),
        ("renewal_interval_minutes", Node::int(r.renewal_interval)),
        ("response_iv", Node::opt(k.opened.response_iv, |iv| Node::str(hex(&iv)))),
        ("checks", Node::List(checks)),
        ("hmac_time_slot", Node::opt(k.hmac_slot(), Node::int)),
        ("verdict", Node::str(verdict)),
        ("failed_check", Node::opt(failed, Node::str)),
        ("count_sufficient", Node::opt(k.count_sufficient(), Node::Bool)),
        ("request_item", Node::opt(k.request, |q| Node::int(q.item as i64))),
    ])
}
