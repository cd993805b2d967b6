//! Embeds the shipped rules (SigmaHQ's `rules/sigma/aws/cloudtrail/*.yml` and Trailhound's own
//! `rules/sigma/trailhound/*.yml`) and Trailhound's corrections of some of SigmaHQ's
//! (`rules/sigma/overrides/*.yml`) in the library, so that
//! the binary carries them wherever it runs. Hand-written rather than a crate such as
//! `include_dir`: it is a dozen lines of `include_str!` generation and needs no dependency.

use std::fmt::Write;
use std::path::Path;

fn main() {
    embed(&["aws/cloudtrail", "trailhound"], "builtin_rules.rs");
    embed(&["overrides"], "override_rules.rs");
}

/// Writes `OUT_DIR/<out>`: the `(path, text)` of every rule file in each `rules/sigma/<folder>`.
fn embed(folders: &[&str], out_name: &str) {
    let mut out = String::from("&[\n");
    for folder in folders {
        embed_folder(folder, &mut out);
    }
    out.push_str("]\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join(out_name);
    std::fs::write(dest, out).unwrap();
}

fn embed_folder(folder: &str, out: &mut String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../rules/sigma")
        .join(folder);
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".yml") || n.ends_with(".yaml"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    for n in &names {
        let path = dir.join(n);
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(
            out,
            "    ({:?}, include_str!({:?})),",
            format!("rules/sigma/{folder}/{n}"),
            path.display().to_string()
        )
        .unwrap();
    }
}
