//! `trailhound hunt`: read everything, enrich, run the detections, report.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use trailhound_geo::{GeoCache, GeoIp};
use trailhound_source::{Message, ReadOptions, discover, read};

use crate::stats::RunStats;

/// Arguments of `trailhound hunt`.
#[derive(Args)]
pub struct HuntArgs {
    /// CloudTrail files and folders (read recursively).
    #[arg(required = true)]
    paths: Vec<String>,
    /// A MaxMind-format country or city database to use instead of the embedded DB-IP one.
    #[arg(long, value_name = "FILE.mmdb")]
    geoip: Option<PathBuf>,
    /// Write the run statistics (counts, bad input with locations, speed) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    stats: Option<PathBuf>,
    /// Print every bad-input item, not only the first 20.
    #[arg(long, short)]
    verbose: bool,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
}

/// Runs `hunt`.
pub fn run(args: HuntArgs) -> Result<()> {
    let started = Instant::now();
    let geo = match &args.geoip {
        Some(p) => GeoIp::open(p)?,
        None => GeoIp::embedded(),
    };
    let found = discover(&crate::input_paths(&args.paths));
    for (path, why) in &found.unreadable {
        eprintln!("trailhound: cannot read {}: {why}", path.display());
    }
    if found.files.is_empty() {
        bail!("no CloudTrail files found in {}", args.paths.join(", "));
    }
    let mut stats = RunStats {
        digest_files_skipped: found.digests.len() as u64,
        other_files_skipped: found.other.len() as u64,
        other_files: found
            .other
            .iter()
            .take(1000)
            .map(|p| p.display().to_string())
            .collect(),
        geoip: geo.description().to_owned(),
        ..RunStats::default()
    };
    let progress = progress_bar(found.total_bytes(), args.no_progress);
    let names: Vec<String> = found
        .files
        .iter()
        .map(|f| f.path.display().to_string())
        .collect();
    let mut cache = GeoCache::new(&geo);
    let mut countries = HashSet::new();

    for message in read(found.files, ReadOptions::default()) {
        match message {
            Message::File(report) => {
                let name = &names[report.file as usize];
                stats.files += 1;
                stats.bytes += report.bytes;
                stats.decompressed_bytes += report.decompressed_bytes;
                stats.digest_files_skipped += u64::from(report.digest);
                if !report.issues.is_empty() {
                    stats.files_with_issues += 1;
                }
                for issue in &report.issues {
                    stats.add_issue(name, issue.kind, issue.record, &issue.detail);
                }
                progress.inc(report.bytes);
            }
            Message::Late(n) => stats.late_events += n,
            Message::Events(mut events) => {
                stats.events += events.len() as u64;
                for e in &mut events {
                    let (kind, country) = cache.resolve(&e.source_ip);
                    *stats.source_address_kinds.entry(kind.name()).or_default() += 1;
                    e.country = country;
                    if let Some(c) = country {
                        stats.events_with_country += 1;
                        countries.insert(c);
                    }
                }
            }
        }
    }
    progress.finish_and_clear();
    stats.countries = countries.len() as u64;
    stats.finish(started.elapsed().as_secs_f64());
    eprint!(
        "{}",
        stats.summary(if args.verbose { usize::MAX } else { 20 })
    );
    if let Some(path) = &args.stats {
        let json = serde_json::to_string_pretty(&stats)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// A byte-based progress bar on a terminal, nothing otherwise.
fn progress_bar(total_bytes: u64, disabled: bool) -> ProgressBar {
    if disabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total_bytes);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )
        .expect("valid template"),
    );
    bar
}
