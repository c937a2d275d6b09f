//! The recorded vlmcs/py-kms ↔ vlmcsd conversations of
//! `tests/fixtures/vectors` (embedded, so the tests also run as wasm where
//! there is no file system), and hex helpers.
use kmsedge::wire::{Packet, Syntax};
use serde_json::Value;

pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

macro_rules! vectors {
    ($($name:literal),* $(,)?) => {
        pub const VECTORS: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../fixtures/vectors/", $name, ".json")))),*
        ];
    };
}

vectors!(
    "err_v6_minor1_unsupported_version",
    "err_v7_unsupported_version",
    "pykms_client_office2013_v5",
    "pykms_client_win10_v6",
    "pykms_client_win7_v4",
    "v4_office2010_proplus_ndr32_nobtfn",
    "v4_win7_professional_ndr32",
    "v4_win7_professional_ndr64",
    "v5_office2013_proplus_ndr64",
    "v5_win8_enterprise_ndr32",
    "v6_office2021_proplus_ndr64",
    "v6_win10_enterprise_ndr32",
    "v6_win10_enterprise_ndr32_nobtfn_nomux",
    "v6_win10_enterprise_ndr64",
    "v6_winserver2022_datacenter_ndr64",
);

pub struct Pdu {
    pub c2s: bool,
    pub ptype: u8,
    pub bytes: Vec<u8>,
}

pub struct Vector {
    pub name: &'static str,
    pub json: Value,
    pub pdus: Vec<Pdu>,
}

impl Vector {
    pub fn expect(&self) -> &Value {
        &self.json["expect"]
    }
    pub fn hresult(&self) -> u32 {
        u32::from_str_radix(self.expect()["hresult"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }
    pub fn port(&self) -> u16 {
        self.json["server_port"].as_u64().unwrap() as u16
    }
    pub fn clock_unix(&self) -> i64 {
        self.json["fixed_clock_unix"].as_i64().unwrap()
    }
    /// vlmcs (not py-kms) produced the client side.
    pub fn from_vlmcs(&self) -> bool {
        self.json["client"]["tool"] == "vlmcs"
    }
}

pub fn vectors() -> Vec<Vector> {
    VECTORS
        .iter()
        .map(|(name, text)| {
            let json: Value = serde_json::from_str(text).unwrap();
            let pdus = json["pdus"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| Pdu {
                    c2s: p["direction"] == "c2s",
                    ptype: p["ptype"].as_u64().unwrap() as u8,
                    bytes: hex(p["hex"].as_str().unwrap()),
                })
                .collect();
            Vector { name, json, pdus }
        })
        .collect()
}

/// The recorded conversation called `name`.
pub fn vector(name: &str) -> Vector {
    vectors().into_iter().find(|v| v.name == name).unwrap_or_else(|| panic!("no vector {name}"))
}

impl Vector {
    /// Every PDU as (client to server, bytes), as the capture builders take them.
    pub fn directed(&self) -> Vec<(bool, Vec<u8>)> {
        self.pdus.iter().map(|p| (p.c2s, p.bytes.clone())).collect()
    }
}

/// The stub of a request or response PDU (after the 24-byte header, up to
/// the fragment length).
pub fn stub(pdu: &[u8]) -> &[u8] {
    let len = Packet::new_checked(pdu).unwrap().frag_len() as usize;
    &pdu[24..len]
}

/// The syntax of a recorded request: context 1 is NDR64 in every recording
/// that offers it.
pub fn request_syntax(pdu: &[u8]) -> Syntax {
    if Packet::new_checked(pdu).unwrap().body()[4] == 1 { Syntax::Ndr64 } else { Syntax::Ndr32 }
}
