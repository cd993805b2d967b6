//! Generates a data set and prints the throughput.
//!
//! `cargo run --release -p trailhound-generate --example generate -- OUT_DIR [EVENTS] [DAYS] [SEED] [LEVEL]`

use std::time::Instant;

use trailhound_generate::{GenerateConfig, generate};
use trailhound_geo::GeoIp;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .expect("usage: generate OUT_DIR [EVENTS] [DAYS] [SEED] [LEVEL]");
    let mut cfg = GenerateConfig::default();
    if let Some(n) = args.next() {
        cfg.events = n.parse().expect("EVENTS is a number");
    }
    if let Some(d) = args.next() {
        cfg.days = d.parse().expect("DAYS is a number");
    }
    if let Some(s) = args.next() {
        cfg.seed = s.parse().expect("SEED is a number");
    }
    if let Some(l) = args.next() {
        cfg.compression_level = l.parse().expect("LEVEL is 0 to 9");
    }
    let geo = GeoIp::embedded();
    let t = Instant::now();
    let m = generate(&cfg, &geo, std::path::Path::new(&out))?;
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "{} events, {} files, {:.1} MB JSON ({:.0} B/event), {:.1} MB gzip in {secs:.2} s: {:.0} events/s, {:.1} MB/s uncompressed, {} threads",
        m.events,
        m.files,
        m.uncompressed_bytes as f64 / 1e6,
        m.uncompressed_bytes as f64 / m.events.max(1) as f64,
        m.compressed_bytes as f64 / 1e6,
        m.events as f64 / secs,
        m.uncompressed_bytes as f64 / 1e6 / secs,
        rayon::current_num_threads(),
    );
    Ok(())
}
