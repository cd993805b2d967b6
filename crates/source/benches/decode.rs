//! Decoding benchmark: gunzip + typed parse of generated S3-layout CloudTrail.
//!
//! `cargo bench -p trailhound-source --bench decode` generates a data set under
//! `target/bench-data/` the first time (size: `TRAILHOUND_BENCH_EVENTS`, default 300,000 events,
//! about 400 MB uncompressed), or reads `TRAILHOUND_BENCH_DATA=DIR`, and prints:
//! - per core: gunzip alone, parse alone and both, in MB/s of uncompressed CloudTrail and events/s;
//! - all cores: the full time-ordered reader from the page cache.
//!
//! Figures are MB = 10^6 bytes. Files are held in memory for the per-core figures, so disk speed
//! does not enter them.

use std::time::Instant;

use std::borrow::Cow;

use serde::Deserialize;
use trailhound_decode::{IssueKind, decode, gunzip_into, inflate_members};
use trailhound_source::{Message, ReadOptions, discover, read};

/// The same allocator as the `trailhound` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../../../bench/data.rs"]
mod data;
use data::data_dir;

/// The generated records regrouped into `{"Records":[...]}` objects of about 1.3 MB, gzipped:
/// the size of a busy account's CloudTrail objects (the generator writes one object per region
/// per 5 minutes, which is small for a synthetic account).
fn repack(plain: &[Vec<u8>]) -> Vec<Vec<u8>> {
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let mut out = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut flush = |cur: &mut Vec<u8>| {
        if cur.is_empty() {
            return;
        }
        cur.extend_from_slice(b"]}");
        let mut e = GzEncoder::new(Vec::new(), Compression::new(6));
        e.write_all(cur).unwrap();
        out.push(e.finish().unwrap());
        cur.clear();
    };
    for p in plain {
        // Each generated document is `{"Records":[...]}`: take what is between the brackets.
        let (Some(a), Some(b)) = (
            p.iter().position(|&c| c == b'['),
            p.iter().rposition(|&c| c == b']'),
        ) else {
            continue;
        };
        let body = &p[a + 1..b];
        if body.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        cur.extend_from_slice(if cur.is_empty() {
            b"{\"Records\":["
        } else {
            b","
        });
        cur.extend_from_slice(body);
        if cur.len() > 1_300_000 {
            flush(&mut cur);
        }
    }
    flush(&mut cur);
    out
}

/// The calibration of ARCHITECTURE.md's "measured here" figures: a typed sonic-rs parse of the
/// same 18 fields, borrowed, into a list of structs, with no validation and no owned event. It is
/// measured on the same data and machine, so our figures can be read against it.
#[derive(Deserialize)]
struct ReferenceDocument<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<ReferenceRecord<'a>>,
}

type B<'a> = Option<Cow<'a, str>>;

#[derive(Deserialize)]
#[allow(dead_code)] // Parsed to be measured, never read.
#[serde(rename_all = "camelCase")]
struct ReferenceRecord<'a> {
    #[serde(borrow)]
    event_time: B<'a>,
    #[serde(borrow)]
    event_source: B<'a>,
    #[serde(borrow)]
    event_name: B<'a>,
    #[serde(borrow)]
    aws_region: B<'a>,
    #[serde(rename = "sourceIPAddress", borrow)]
    source_ip_address: B<'a>,
    #[serde(borrow)]
    user_agent: B<'a>,
    #[serde(borrow)]
    error_code: B<'a>,
    #[serde(borrow)]
    error_message: B<'a>,
    #[serde(rename = "eventID", borrow)]
    event_id: B<'a>,
    read_only: Option<bool>,
    #[serde(borrow)]
    event_type: B<'a>,
    #[serde(borrow)]
    recipient_account_id: B<'a>,
    #[serde(borrow)]
    user_identity: Option<ReferenceIdentity<'a>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
struct ReferenceIdentity<'a> {
    #[serde(rename = "type", borrow)]
    kind: B<'a>,
    #[serde(borrow)]
    principal_id: B<'a>,
    #[serde(borrow)]
    arn: B<'a>,
    #[serde(borrow)]
    account_id: B<'a>,
    #[serde(borrow)]
    access_key_id: B<'a>,
    #[serde(borrow)]
    user_name: B<'a>,
}

fn per_core(label: &str, raw: &[Vec<u8>]) {
    let plain = gunzip_all(raw);
    let bytes: u64 = plain.iter().map(|p| p.len() as u64).sum();
    let mb = bytes as f64 / 1e6;
    let t_gunzip = time_inflate(raw, gunzip_into, 0);
    // The streaming inflater grows its output as it goes: give it room, as the decoder does.
    let t_zlib = time_inflate(raw, inflate_members, 8);
    let (t_reference, reference_events) = best_of(3, || {
        plain
            .iter()
            .map(|p| {
                sonic_rs::from_slice::<ReferenceDocument>(p).map_or(0, |d| d.records.len() as u64)
            })
            .sum()
    });
    let (t_parse, events) = best_of(3, || {
        plain
            .iter()
            .enumerate()
            .map(|(i, p)| decode(p, i as u32).events.len() as u64)
            .sum()
    });
    let (t_both, events2) = best_of(3, || {
        raw.iter()
            .enumerate()
            .map(|(i, r)| decode(r, i as u32).events.len() as u64)
            .sum()
    });
    assert_eq!(events, events2);
    assert_eq!(events, reference_events);
    println!(
        "{label}: {} objects, {:.0} KB uncompressed each on average, {events} events",
        raw.len(),
        mb * 1e3 / raw.len() as f64
    );
    println!(
        "  1 core, gunzip only:    {:7.0} MB/s  (libdeflate one-shot; zlib-rs streaming: {:.0} MB/s)",
        mb / t_gunzip,
        mb / t_zlib
    );
    println!(
        "  1 core, reference parse:{:7.0} MB/s  {:9.0} events/s  (sonic-rs typed, borrowed, no event built)",
        mb / t_reference,
        events as f64 / t_reference
    );
    println!(
        "  1 core, parse only:     {:7.0} MB/s  {:9.0} events/s",
        mb / t_parse,
        events as f64 / t_parse
    );
    println!(
        "  1 core, gunzip + parse: {:7.0} MB/s  {:9.0} events/s",
        mb / t_both,
        events as f64 / t_both
    );
}

/// Every object inflated with the decoder's own gunzip.
fn gunzip_all(raw: &[Vec<u8>]) -> Vec<Vec<u8>> {
    raw.iter().map(|r| inflate(r, gunzip_into, 0)).collect()
}

/// A gunzip function of the decoder.
type Inflate = fn(&[u8], &mut Vec<u8>) -> Result<(), (IssueKind, String)>;

/// One object inflated by `f` into a buffer with `reserve` times its compressed size reserved.
fn inflate(raw: &[u8], f: Inflate, reserve: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(raw.len() * reserve);
    f(raw, &mut v).unwrap();
    v
}

/// Seconds to inflate every object with `f`, best of three.
fn time_inflate(raw: &[Vec<u8>], f: Inflate, reserve: usize) -> f64 {
    best_of(3, || {
        raw.iter()
            .map(|r| inflate(r, f, reserve).len() as u64)
            .sum()
    })
    .0
}

fn best_of<F: FnMut() -> u64>(runs: usize, mut f: F) -> (f64, u64) {
    let mut best = f64::MAX;
    let mut out = 0;
    for _ in 0..runs {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, out)
}

fn main() {
    // `cargo test --benches` runs this with --bench absent; keep that cheap.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = data_dir();
    let found = discover(std::slice::from_ref(&dir));
    let raw: Vec<Vec<u8>> = found
        .files
        .iter()
        .map(|f| std::fs::read(&f.path).unwrap())
        .collect();
    let compressed: u64 = raw.iter().map(|r| r.len() as u64).sum();
    let plain = gunzip_all(&raw);
    let bytes: u64 = plain.iter().map(|p| p.len() as u64).sum();
    let mb = bytes as f64 / 1e6;
    println!(
        "data: {} ({} files, {:.1} MB gzip, {:.1} MB uncompressed)",
        dir.display(),
        raw.len(),
        compressed as f64 / 1e6,
        mb
    );

    per_core("generated S3 layout", &raw);
    per_core("repacked to ~1.3 MB objects", &repack(&plain));
    let events: u64 = raw
        .iter()
        .enumerate()
        .map(|(i, r)| decode(r, i as u32).events.len() as u64)
        .sum();

    let threads = rayon::current_num_threads();
    for (label, ordered) in [("unordered", false), ("time-ordered", true)] {
        let (t, n) = best_of(3, || {
            let files = discover(std::slice::from_ref(&dir)).files;
            let options = ReadOptions {
                ordered,
                ..ReadOptions::default()
            };
            let mut n = 0u64;
            for m in read(files, options) {
                if let Message::Events(es) = m {
                    n += es.len() as u64;
                }
            }
            n
        });
        assert_eq!(n, events);
        println!(
            "{threads} cores, reader ({label}): {:7.0} MB/s  {:9.0} events/s  ({:.0} MB/s per core)",
            mb / t,
            n as f64 / t,
            mb / t / threads as f64
        );
    }
}
