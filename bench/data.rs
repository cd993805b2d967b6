//! The generated data set the Rust benchmarks read, shared by `crates/source/benches/decode.rs`
//! and `crates/sigma/benches/sigma.rs` (included with `#[path]`), so that both measure the same
//! files.

use std::path::PathBuf;

/// `TRAILHOUND_BENCH_DATA=DIR` if set; else a set of `TRAILHOUND_BENCH_EVENTS` (default 300,000)
/// generated events under `target/bench-data/<events>`, generated on first use.
pub fn data_dir() -> PathBuf {
    if let Ok(d) = std::env::var("TRAILHOUND_BENCH_DATA") {
        return PathBuf::from(d);
    }
    let events: u64 = std::env::var("TRAILHOUND_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000);
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/bench-data"
    ))
    .join(events.to_string());
    if !dir.join("manifest.json").exists() {
        eprintln!("generating {events} events into {} ...", dir.display());
        let cfg = trailhound_generate::GenerateConfig {
            events,
            ..Default::default()
        };
        trailhound_generate::generate(&cfg, &trailhound_geo::GeoIp::embedded(), &dir)
            .expect("generate bench data");
    }
    dir
}
