//! The text form of a report, for terminals: one heading line per PDU,
//! then its fields indented. Small objects that have a natural one-line
//! form (a syntax, a named id, a check) are written on one line.
use super::Node;
use core::fmt::Write;
use std::string::{String, ToString};
use std::vec::Vec;

pub fn render(root: &Node) -> String {
    let mut out = String::new();
    let get = |k| root.get(k);
    let _ = write!(out, "source: {}", scalar(get("source").unwrap_or(&Node::Null)));
    if let Some(Node::Int(n)) = get("bytes") {
        let _ = write!(out, ", {n} bytes");
    }
    out.push('\n');
    if let Some(e @ Node::Obj(_)) = get("error") {
        let _ = writeln!(out, "error: {}", scalar(e.get("message").unwrap_or(&Node::Null)));
    }
    for n in list(get("notes")) {
        let _ = writeln!(out, "note: {}", scalar(n));
    }
    let convs = list(get("conversations"));
    for (i, c) in convs.iter().enumerate() {
        if let (Some(Node::Str(cl)), Some(Node::Str(sv))) = (c.get("client"), c.get("server")) {
            let _ = writeln!(out, "\nconversation {}: client {cl} → host {sv}", i + 1);
        }
        for n in list(c.get("notes")) {
            let _ = writeln!(out, "note: {}", scalar(n));
        }
        for item in list(c.get("items")) {
            self::item(item, &mut out);
        }
    }
    out
}

fn list(n: Option<&Node>) -> &[Node] {
    match n {
        Some(Node::List(v)) => v,
        _ => &[],
    }
}

fn scalar(n: &Node) -> String {
    match n {
        Node::Null => String::from("-"),
        Node::Bool(b) => String::from(if *b { "yes" } else { "no" }),
        Node::Int(i) => i.to_string(),
        Node::Str(s) => s.clone(),
        other => one_line(other).unwrap_or_default(),
    }
}

fn item(n: &Node, out: &mut String) {
    let s = |k| n.get(k).map(scalar).unwrap_or_default();
    if s("type") == "error" {
        let _ = writeln!(out, "error: {}", s("message"));
        return;
    }
    let _ = write!(out, "#{}  {}  {}  @{}, {} bytes", s("index"), s("direction"), s("type"), s("offset"), s("length"));
    if let Some(h @ Node::Obj(_)) = n.get("header") {
        let g = |k| h.get(k).map(scalar).unwrap_or_default();
        let _ = write!(out, ", call_id {}, flags {} ({})", g("call_id"), g("flags"), g("flag_names"));
    }
    if let Some(Node::Int(f)) = n.get("frame") {
        let _ = write!(out, ", packet {f}");
    }
    out.push('\n');
    if let Node::Obj(fields) = n {
        for (k, v) in fields {
            if !matches!(*k, "index" | "offset" | "length" | "direction" | "type" | "frame" | "header") {
                // The body object's own fields, one level up.
                if let Node::Obj(inner) = v {
                    fields_of(inner, 1, out);
                }
            }
        }
    }
}

fn label(k: &str) -> String {
    k.replace('_', " ")
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("    ");
    }
}

fn fields_of(fields: &[(&'static str, Node)], depth: usize, out: &mut String) {
    for (k, v) in fields {
        if *v == Node::Null {
            continue;
        }
        indent(out, depth);
        let _ = write!(out, "{}:", label(k));
        value(v, depth, out);
    }
}

/// Writes a value after its `key:` (a space and the value, or a newline
/// and an indented block).
fn value(v: &Node, depth: usize, out: &mut String) {
    if let Some(line) = one_line(v) {
        let _ = writeln!(out, " {line}");
        return;
    }
    match v {
        Node::Obj(inner) => {
            out.push('\n');
            fields_of(inner, depth + 1, out);
        }
        Node::List(items) => {
            out.push('\n');
            for it in items {
                indent(out, depth + 1);
                match it {
                    Node::Obj(inner) if one_line(it).is_none() => {
                        out.push_str("-\n");
                        fields_of(inner, depth + 2, out);
                    }
                    other => {
                        let _ = writeln!(out, "- {}", scalar(other));
                    }
                }
            }
        }
        other => {
            let _ = writeln!(out, " {}", scalar(other));
        }
    }
}

/// The one-line form of a value, if it has one.
fn one_line(v: &Node) -> Option<String> {
    match v {
        Node::Null | Node::Bool(_) | Node::Int(_) | Node::Str(_) => Some(scalar(v)),
        Node::List(items) if items.iter().all(|i| matches!(i, Node::Str(_) | Node::Int(_))) => {
            Some(items.iter().map(scalar).collect::<Vec<_>>().join(", "))
        }
        Node::List(_) => None,
        Node::Obj(fields) => {
            let keys: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
            let g = |k| v.get(k).map(scalar).unwrap_or_default();
            let named = |a: String, b: Option<&Node>| match b {
                Some(Node::Null) | None => a,
                Some(n) => {
                    let mut s = a;
                    let _ = write!(s, " ({})", scalar(n));
                    s
                }
            };
            match keys.as_slice() {
                ["name", "uuid", "version"] => Some(format_syntax(&g("name"), &g("version"), &g("uuid"), None)),
                ["name", "uuid", "version", "btfn_features"] => {
                    Some(format_syntax(&g("name"), &g("version"), &g("uuid"), v.get("btfn_features").and_then(one_line)))
                }
                ["bits", "names"] => Some(named(g("bits"), v.get("names").filter(|n| !list(Some(n)).is_empty()))),
                ["id", "name"] => Some(named(g("id"), v.get("name"))),
                ["value", "name"] => Some(named(g("value"), v.get("name"))),
                ["hresult", "name"] => Some(named(g("hresult"), v.get("name"))),
                ["offset", "message"] => Some(g("message")),
                ["check", "valid"] => {
                    Some(if v.get("valid") == Some(&Node::Bool(true)) { g("check") + " valid" } else { g("check") + " INVALID" })
                }
                ["id", "what", "outcome"] => Some(g("outcome") + ": " + &g("what")),
                ["context_id", "abstract_syntax", "transfer_syntaxes"] => {
                    let offers: Vec<String> = list(v.get("transfer_syntaxes")).iter().map(short_syntax).collect();
                    Some(std::format!(
                        "context {}: {} offering {}",
                        g("context_id"),
                        v.get("abstract_syntax").map(short_syntax).unwrap_or_default(),
                        offers.join(" or ")
                    ))
                }
                ["index", "context_id", "offered", "result", "result_name", ..] => {
                    let mut s = String::new();
                    let _ = write!(s, "context {}", g("context_id"));
                    if let Some(o @ Node::Obj(_)) = v.get("offered") {
                        let _ = write!(s, " ({})", short_syntax(o));
                    }
                    let _ = write!(s, ": {}", g("result_name"));
                    if let Some(Node::Str(r)) = v.get("reason_name") {
                        let _ = write!(s, ", {r}");
                    }
                    if v.get("accepted") == Some(&Node::Bool(true)) {
                        let _ = write!(s, ", {}", v.get("syntax").map(short_syntax).unwrap_or_default());
                    }
                    if let Some(b @ Node::Obj(_)) = v.get("btfn_ack") {
                        let _ = write!(s, ", features {}", one_line(b).unwrap_or_default());
                    }
                    Some(s)
                }
                _ => None,
            }
        }
    }
}

/// `NDR64 v1`, `KMS interface v1.0`, `BTFN v1 [0x3]`.
fn short_syntax(n: &Node) -> String {
    let g = |k| n.get(k).map(scalar).unwrap_or_default();
    let mut s = g("name") + " v" + &g("version");
    if let Some(b) = n.get("btfn_features").and_then(|b| b.get("bits")) {
        let _ = write!(s, " [{}]", scalar(b));
    }
    s
}

fn format_syntax(name: &str, version: &str, uuid: &str, btfn: Option<String>) -> String {
    let mut s = String::new();
    let _ = write!(s, "{name} v{version} ({uuid})");
    if let Some(b) = btfn {
        let _ = write!(s, ", features {b}");
    }
    s
}
