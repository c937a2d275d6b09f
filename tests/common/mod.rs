//! Shared by the integration tests: the recorded vectors (embedded, so the
//! tests also run as wasm where there is no file system) and hex helpers.
#![allow(dead_code)]
use serde_json::Value;

#[cfg(not(target_arch = "wasm32"))]
pub mod counting;

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

/// A small deterministic RNG (splitmix64) for tests that need repeatable
/// "randomness" through the `rand_core` traits the core takes.
pub struct TestRng(pub u64);

impl rand_core::TryRng for TestRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}
