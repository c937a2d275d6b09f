//! A JSON writer for [`Node`] trees: compact, keys in insertion order,
//! strings escaped per RFC 8259 (quote, backslash and control characters).
use super::Node;
use core::fmt::Write;
use std::string::String;

pub fn to_string(n: &Node) -> String {
    let mut out = String::new();
    write(n, &mut out);
    out
}

fn write(n: &Node, out: &mut String) {
    match n {
        Node::Null => out.push_str("null"),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Node::Str(s) => string(s, out),
        Node::List(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(v, out);
            }
            out.push(']');
        }
        Node::Obj(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(k, out);
                out.push(':');
                write(v, out);
            }
            out.push('}');
        }
    }
}

/// Writes `s` as a JSON string literal.
pub fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    #[test]
    fn escapes_and_structure() {
        let n = Node::Obj(vec![
            ("a", Node::List(vec![Node::Int(-3), Node::Null, Node::Bool(true)])),
            ("s", Node::str("q\"b\\n\nt\tc\u{1}é")),
        ]);
        assert_eq!(to_string(&n), r#"{"a":[-3,null,true],"s":"q\"b\\n\nt\tc\u0001é"}"#);
        let v: serde_json::Value = serde_json::from_str(&to_string(&n)).unwrap();
        assert_eq!(v["s"], "q\"b\\n\nt\tc\u{1}é");
    }
}
