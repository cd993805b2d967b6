//! What the headless-browser tests need: Debian's chromium and tests/browser's npm packages.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root, once chromium is there and `tests/browser` has its packages (installed
/// with `npm ci` when missing); `None` when `TRAILHOUND_SKIP_BROWSER` is set.
pub fn ready() -> Option<PathBuf> {
    if std::env::var_os("TRAILHOUND_SKIP_BROWSER").is_some() {
        eprintln!("TRAILHOUND_SKIP_BROWSER is set: browser test skipped");
        return None;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let browser_dir = root.join("tests/browser");
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "no /usr/bin/chromium: apt-get install -y chromium (or TRAILHOUND_SKIP_BROWSER=1)"
    );
    if !browser_dir.join("node_modules/playwright-core").exists() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&browser_dir)
            .status()
            .expect("npm");
        assert!(ok.success(), "npm ci in tests/browser failed");
    }
    Some(root)
}
