//! Profiling aid: decodes the uncompressed files given on the command line over and over.
//! `cargo run --release -p trailhound-decode --example parse_profile -- FILE...`
//! `PROFILE_PASSES=1` makes exactly one pass (for `valgrind --tool=callgrind`).
use std::io::Read;

/// The same allocator as the `trailhound` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let plain: Vec<Vec<u8>> = std::env::args()
        .skip(1)
        .map(|p| {
            let raw = std::fs::read(p).unwrap();
            let mut v = Vec::new();
            flate2::read::MultiGzDecoder::new(&raw[..])
                .read_to_end(&mut v)
                .unwrap();
            v
        })
        .collect();
    let passes: Option<u32> = std::env::var("PROFILE_PASSES")
        .ok()
        .and_then(|v| v.parse().ok());
    let t = std::time::Instant::now();
    let mut n = 0;
    let mut bytes = 0;
    let mut pass = 0;
    while passes.map_or(t.elapsed().as_secs_f64() < 5.0, |p| pass < p) {
        pass += 1;
        for (i, p) in plain.iter().enumerate() {
            n += trailhound_decode::decode(p, i as u32).events.len();
            bytes += p.len();
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{n} events, {:.0} MB/s, {:.0} events/s",
        bytes as f64 / 1e6 / s,
        n as f64 / s
    );
}
