//! Fuzz target for the configuration file: `trailhound_config::Config::parse` (TOML) and
//! everything built from it — the allow-list, the rules with their parameters, D5's and the
//! suppression and incident settings. Bad input must be an error naming the file, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailhound_config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(text, "fuzz.toml") {
        Ok(c) => {
            let _ = c.allow_list();
            let _ = c.detectors();
            let _ = c.correlation_params();
            let _ = c.suppression();
        }
        Err(e) => assert!(e.to_string().starts_with("fuzz.toml"), "{e}"),
    }
});
