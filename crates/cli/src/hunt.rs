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

use crate::config::Config;
use crate::output::{Format, write_jsonl, write_table};
use crate::stats::RunStats;

/// Arguments of `trailhound hunt`.
#[derive(Args)]
pub struct HuntArgs {
    /// CloudTrail files and folders (read recursively).
    #[arg(required = true)]
    paths: Vec<String>,
    /// Configuration file (allow-lists, rule parameters); see config/trailhound.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Output format of the alerts.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Write the alerts to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Evaluate the failed-API-spike rule (D1) once, as a scheduled run at this time (RFC 3339),
    /// instead of replaying it at every hour of the data.
    #[arg(long, value_name = "TIME")]
    cutoff: Option<String>,
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
    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let allow = config.allow_list()?;
    let mut detectors = config.detectors()?;
    if let Some(cutoff) = &args.cutoff {
        let t = trailhound_model::parse_rfc3339(cutoff)
            .map_err(|e| anyhow::anyhow!("--cutoff {cutoff:?}: {e:?}"))?;
        let d1 = config.failed_api_spike_at(t)?;
        for d in &mut detectors {
            if d.id() == d1.id() {
                *d = d1;
                break;
            }
        }
    }
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
                if report.issue_counts.iter().any(|&n| n > 0) {
                    stats.files_with_issues += 1;
                }
                stats.add_issues(name, &report.issue_counts, &report.issues);
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
                for e in events.iter().filter(|e| !allow.ignores(e)) {
                    for d in &mut detectors {
                        d.observe(e);
                    }
                }
            }
        }
    }
    progress.finish_and_clear();
    let mut alerts = Vec::new();
    for d in &mut detectors {
        alerts.extend(d.finish());
    }
    let order = |id: &str| trailhound_detect::rules().iter().position(|r| r.id == id);
    alerts.sort_by(|a, b| {
        (a.time, order(&a.rule_id), &a.access_key_id).cmp(&(
            b.time,
            order(&b.rule_id),
            &b.access_key_id,
        ))
    });
    for a in &alerts {
        *stats.alerts_by_rule.entry(a.rule_id.clone()).or_default() += 1;
    }
    let alerts: Vec<_> = alerts.into_iter().map(|a| (a, "open".to_owned())).collect();
    stats.countries = countries.len() as u64;
    stats.finish(started.elapsed().as_secs_f64());
    eprint!(
        "{}",
        stats.summary(if args.verbose { usize::MAX } else { 20 })
    );
    write_alerts(&args, &alerts)?;
    if let Some(path) = &args.stats {
        let json = serde_json::to_string_pretty(&stats)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn write_alerts(args: &HuntArgs, alerts: &[(trailhound_detect::Alert, String)]) -> Result<()> {
    let (mut out, terminal): (Box<dyn std::io::Write>, bool) = match &args.output {
        Some(p) => (
            Box::new(std::io::BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
            )),
            false,
        ),
        None => (
            Box::new(std::io::stdout().lock()),
            std::io::stdout().is_terminal(),
        ),
    };
    match args.format {
        Format::Jsonl => write_jsonl(&mut out, alerts)?,
        Format::Table => write_table(&mut out, alerts, 100, terminal)?,
    }
    out.flush()?;
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
