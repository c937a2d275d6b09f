//! `kmsedge decode` as a user runs it: hex on the command line or stdin,
//! captures and hex files with `--file`, `--json`, and one-line errors.
#![cfg(feature = "native")]

mod support;

use std::process::Output;
use support::bin::{run, run_with_input};
use support::capture;
use support::vectors::{Vector, vector};

fn kmsedge(args: &[&str], stdin: Option<&str>) -> Output {
    match stdin {
        Some(input) => run_with_input(args, input.as_bytes()),
        None => run(args),
    }
}

fn out(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn hex_of(v: &Vector) -> String {
    v.pdus.iter().map(|p| p.bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()).collect::<Vec<_>>().join(" ")
}

fn temp_file(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kmsedge-decode-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn hex_argument_prints_the_conversation() {
    let v = vector("v5_office2013_proplus_ndr64");
    let o = kmsedge(&["decode", &hex_of(&v)], None);
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(stdout.contains("#0  c2s  bind"), "{stdout}");
    assert!(stdout.contains("sku:") && stdout.contains("Office Professional Plus 2013"), "{stdout}");
    assert!(stdout.contains("epid: 03612-00206-234-333333-03-1033-20348.0000-1522024"));
    assert_eq!(stdout.matches("verdict: verified").count(), 2);
    assert!(stdout.contains("syntax: NDR64"));
}

#[test]
fn stdin_and_json() {
    let v = vector("v6_winserver2022_datacenter_ndr64");
    let o = kmsedge(&["decode", "--json", "-"], Some(&hex_of(&v)));
    let (stdout, stderr) = out(&o);
    assert!(o.status.success(), "{stderr}");
    let j: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let items = j["conversations"][0]["items"].as_array().unwrap();
    assert_eq!(items.len(), v.pdus.len());
    assert_eq!(items[4]["request"]["kms"]["sku"]["id"], "ef6cfc9f-8c5d-44ac-9aad-de6a2ea0ae03");
    assert_eq!(items[7]["response"]["kms"]["verdict"], "verified");
}

#[test]
fn capture_files() {
    let v = vector("v6_win10_enterprise_ndr32");
    let frames = capture::conversation_frames(&v.directed(), 49_700, 1688);
    for (name, bytes) in [("c.pcap", capture::pcap(&frames)), ("c.pcapng", capture::pcapng(&frames))] {
        let path = temp_file(name, &bytes);
        let o = kmsedge(&["decode", "--file", path.to_str().unwrap()], None);
        let (stdout, stderr) = out(&o);
        assert!(o.status.success(), "{name}: {stderr}");
        assert!(stdout.starts_with(&format!("source: {}", name.rsplit('.').next().unwrap())), "{stdout}");
        assert!(stdout.contains("conversation 1: client 10.0.0.2:49700 → host 10.0.0.1:1688"), "{stdout}");
        assert!(stdout.contains("hwid: 0123456789ABCDEF"));
        assert!(stdout.contains("verdict: verified"));
        assert!(stdout.contains(", packet "), "packet numbers shown: {stdout}");
    }
    // A hex text file works too.
    let path = temp_file("c.txt", hex_of(&v).as_bytes());
    let o = kmsedge(&["decode", "-f", path.to_str().unwrap()], None);
    assert!(o.status.success());
    assert!(out(&o).0.contains("verdict: verified"));
}

#[test]
fn bad_input_is_one_line_naming_the_problem() {
    let o = kmsedge(&["decode", "05 00 0b 0g"], None);
    let (stdout, stderr) = out(&o);
    assert!(!o.status.success());
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("line 1 column 11 (character offset 10)") && stderr.contains("unexpected 'g'"), "{stderr}");

    // Decodes what it can, then names the offset where the input ends.
    let v = vector("v4_win7_professional_ndr32");
    let hex = hex_of(&v);
    let o = kmsedge(&["decode", &hex[..hex.len() - 20]], None);
    let (stdout, stderr) = out(&o);
    assert!(!o.status.success());
    assert!(stdout.contains("#2  c2s  request"), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("input ends inside the response PDU that starts at byte"), "{stderr}");

    let path = temp_file("junk.pcap", &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]);
    let o = kmsedge(&["decode", "--file", path.to_str().unwrap()], None);
    let (_, stderr) = out(&o);
    assert!(!o.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("capture file, byte 0: pcap file header"), "{stderr}");

    let o = kmsedge(&["decode", "--file", "/nonexistent/x.pcap"], None);
    assert!(out(&o).1.contains("cannot read /nonexistent/x.pcap"));
    let o = kmsedge(&["decode"], None);
    assert!(!o.status.success());
}
