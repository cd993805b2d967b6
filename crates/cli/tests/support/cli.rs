//! Running the `trailhound` binary from the end-to-end tests: one way to start it, check that it
//! succeeded, and read its JSON Lines.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The built binary.
pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("trailhound")
}

/// A command for the binary with a default alert store of its own (`TRAILHOUND_STORE` in the
/// temporary folder, named after `tag` and this process), so that no test writes the user's.
pub fn trailhound(tag: &str) -> Command {
    let mut c = Command::new(bin());
    c.env(
        "TRAILHOUND_STORE",
        std::env::temp_dir().join(format!("trailhound-{tag}-{}.db", std::process::id())),
    );
    c
}

/// Runs `cmd`, failing the test with its standard error unless it succeeded.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd.get_args().collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The objects of JSON Lines output.
pub fn jsonl(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `trailhound generate DIR ARGS...`; returns the manifest.
pub fn generate(dir: &Path, args: &[&str]) -> Value {
    run_ok(trailhound("generate").arg("generate").arg(dir).args(args));
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

/// The manifest's entry of scenario `name`.
pub fn scenario<'a>(manifest: &'a Value, name: &str) -> &'a Value {
    manifest["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} is listed in the manifest"))
}
