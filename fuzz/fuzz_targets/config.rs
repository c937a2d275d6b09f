//! Arbitrary text as `kmsedge serve`'s TOML configuration file, merged over
//! empty flags the way `--config` is. Parsing and checking must never
//! panic, and every refusal must be the one line the CLI prints.
#![no_main]

use kmsedge::native::serve::Args;
use kmsedge::native::serve::file::FileConfig;
use kmsedge::native::serve::settings::Settings;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else { return };
    match FileConfig::parse(text) {
        Err(m) => assert!(!m.contains('\n'), "parse error spans lines: {m:?}"),
        Ok(file) => {
            if let Err(e) = Settings::merge(&Args::default(), &file, "fuzz.toml".into()) {
                let m = format!("{e:#}");
                assert!(!m.contains('\n'), "settings error spans lines: {m:?}");
            }
        }
    }
});
