//! Profiling aid: decodes the uncompressed files given on the command line over and over.
//! `cargo run --release -p trailhound-decode --example parse_profile -- FILE...`
use std::io::Read;

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
    let t = std::time::Instant::now();
    let mut n = 0;
    let mut bytes = 0;
    while t.elapsed().as_secs_f64() < 5.0 {
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
