//! Sigma benchmark: decode-only against decode + every shipped Sigma rule + D1–D5, on one core.
//!
//! `cargo bench -p trailhound-sigma` generates a data set under `target/bench-data/` the first
//! time (size: `TRAILHOUND_BENCH_EVENTS`, default 300,000 events; the same set as the decode
//! bench), or reads `TRAILHOUND_BENCH_DATA=DIR`, holds the gzipped files in memory and prints,
//! best of `TRAILHOUND_BENCH_ROUNDS` (5) interleaved rounds each:
//! - decode only (gunzip + parse into events, no extra fields): events/s;
//! - decode with the Sigma rules' extra fields + all Sigma rules: events/s;
//! - decode with extra fields + all Sigma rules + D1–D4 over the events and D5 over their
//!   alerts: events/s, and its ratio to decode only (the target is at least 50 %).
//!
//! `TRAILHOUND_BENCH_ONLY=decode|extra|match|sigma|all` runs that one measurement alone, for a
//! profiler (`perf record … sigma-* --bench`). Every phase decodes with one [`Decoder`] built
//! up front, as the reader does.
//!
//! Files are taken in delivery order and their events in file order, without the reader's
//! reordering (which the decode bench measures); the detectors tolerate the small disorder.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use trailhound_decode::Decoder;
use trailhound_detect::{Detector, build_detectors, correlation};
use trailhound_sigma::{DetectorOptions, RuleSet, SigmaDetector, SigmaEngine};
use trailhound_source::discover;

/// The same allocator as the `trailhound` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../../../bench/data.rs"]
mod data;
use data::data_dir;

/// One measurement: a name and what it runs, returning (events, a count it reports).
type Phase<'a> = (&'static str, Box<dyn FnMut() -> (u64, u64) + 'a>);

/// Runs the phases in `rounds` rounds, each phase once per round, and keeps each phase's best
/// time and its counts. Interleaving the phases exposes all of them to the same slow and fast
/// periods of a shared machine, which matters more for their ratios than a best of consecutive
/// runs. With `TRAILHOUND_BENCH_ONLY=name`, only that phase runs.
fn best_of(rounds: usize, phases: &mut [Phase<'_>]) -> Vec<(f64, u64, u64)> {
    let only = std::env::var("TRAILHOUND_BENCH_ONLY").ok();
    let mut best = vec![(f64::MAX, 0, 0); phases.len()];
    for _ in 0..rounds {
        for (k, (name, f)) in phases.iter_mut().enumerate() {
            if only.as_deref().is_some_and(|o| o != *name) {
                continue;
            }
            let t = Instant::now();
            let (n, c) = f();
            let secs = t.elapsed().as_secs_f64();
            if secs < best[k].0 {
                best[k] = (secs, n, c);
            }
        }
    }
    best
}

fn main() {
    // `cargo test --benches` runs this with --bench absent; keep that cheap.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = data_dir();
    let files = discover(std::slice::from_ref(&dir)).files;
    let raw: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(&f.path).unwrap())
        .collect();
    let set = RuleSet::load(true, &[]);
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let rules = set.rules.len();
    let engine = Arc::new(SigmaEngine::from_set(set));
    let extra = engine.extra_fields();
    println!(
        "data: {} ({} files, {:.1} MB gzip); {rules} Sigma rules reading {} extra fields",
        dir.display(),
        raw.len(),
        raw.iter().map(|r| r.len() as u64).sum::<u64>() as f64 / 1e6,
        extra.paths().len()
    );

    let decoder = Decoder::new(&extra);
    // Matching alone runs over events decoded beforehand.
    let decoded: Vec<_> = raw
        .iter()
        .enumerate()
        .flat_map(|(i, r)| decoder.decode(r, i as u32).events)
        .collect();
    let rounds: usize = std::env::var("TRAILHOUND_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let plain = Decoder::default();
    let mut phases: Vec<Phase<'_>> = vec![
        (
            "decode",
            Box::new(|| {
                let n = raw
                    .iter()
                    .enumerate()
                    .map(|(i, r)| plain.decode(r, i as u32).events.len() as u64)
                    .sum();
                (n, 0)
            }),
        ),
        (
            "extra",
            Box::new(|| {
                let n = raw
                    .iter()
                    .enumerate()
                    .map(|(i, r)| decoder.decode(r, i as u32).events.len() as u64)
                    .sum();
                (n, 0)
            }),
        ),
        (
            "match",
            Box::new(|| {
                let mut out = Vec::new();
                let mut hits = 0;
                for e in &decoded {
                    out.clear();
                    engine.matches(e, &mut out);
                    hits += out.len() as u64;
                }
                (decoded.len() as u64, hits)
            }),
        ),
        (
            "sigma",
            Box::new(|| {
                let mut d = SigmaDetector::new(Arc::clone(&engine), DetectorOptions::default());
                let mut n = 0;
                for (i, r) in raw.iter().enumerate() {
                    for e in &decoder.decode(r, i as u32).events {
                        d.observe(e);
                        n += 1;
                    }
                }
                (n, d.finish().len() as u64)
            }),
        ),
        (
            "all",
            Box::new(|| {
                let mut detectors = build_detectors(&BTreeMap::new()).unwrap();
                detectors.push(Box::new(SigmaDetector::new(
                    Arc::clone(&engine),
                    DetectorOptions::default(),
                )));
                let mut n = 0;
                for (i, r) in raw.iter().enumerate() {
                    for e in &decoder.decode(r, i as u32).events {
                        for d in &mut detectors {
                            d.observe(e);
                        }
                        n += 1;
                    }
                }
                let mut alerts: Vec<_> = detectors.iter_mut().flat_map(|d| d.finish()).collect();
                let d5 = correlation::correlate(&correlation::Params::default(), &alerts);
                alerts.extend(d5);
                (n, alerts.len() as u64)
            }),
        ),
    ];
    let results = best_of(rounds, &mut phases);
    drop(phases);
    let [
        (t_decode, events, _),
        (t_extra, _, _),
        (t_match, _, hits),
        (t_sigma, events2, sigma_alerts),
        (t_all, events3, all_alerts),
    ] = results[..]
    else {
        unreachable!("five phases")
    };
    if let Ok(only) = std::env::var("TRAILHOUND_BENCH_ONLY") {
        let t = [t_decode, t_extra, t_match, t_sigma, t_all]
            .into_iter()
            .filter(|t| *t < f64::MAX)
            .fold(0.0, f64::max);
        println!("{only}: {:.0} events/s", decoded.len() as f64 / t);
        return;
    }
    assert_eq!(events, events2);
    assert_eq!(events, events3);
    let rate = |t: f64| events as f64 / t;
    println!("{events} events, 1 core, best of {rounds} interleaved rounds:");
    println!(
        "  decode only:                           {:9.0} events/s",
        rate(t_decode)
    );
    println!(
        "  decode with the rules' extra fields:   {:9.0} events/s  ({:.0} % of decode only)",
        rate(t_extra),
        100.0 * t_decode / t_extra
    );
    println!(
        "  matching alone (decoded events):       {:9.0} events/s  ({:.2} µs/event, {hits} rule matches)",
        rate(t_match),
        t_match * 1e6 / events as f64
    );
    println!(
        "  decode + {rules} Sigma rules:               {:9.0} events/s  ({:.0} % of decode only; {sigma_alerts} Sigma alerts)",
        rate(t_sigma),
        100.0 * t_decode / t_sigma
    );
    println!(
        "  decode + {rules} Sigma rules + D1-D5:       {:9.0} events/s  ({:.0} % of decode only; {all_alerts} alerts)",
        rate(t_all),
        100.0 * t_decode / t_all
    );
    println!(
        "  Sigma alone: {:.2} µs/event",
        (t_sigma - t_decode).max(0.0) * 1e6 / events as f64
    );
    let ratio = t_decode / t_all;
    println!(
        "  target (full run at least 50 % of decode only): {}",
        if ratio >= 0.5 { "met" } else { "NOT MET" }
    );
}
