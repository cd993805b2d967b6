//! `trailhound generate`: deterministic synthetic CloudTrail with planted attacks.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use trailhound_generate::{GenerateConfig, Progress, Scenario, generate_with_progress};
use trailhound_geo::GeoIp;

/// Arguments of `trailhound generate`.
#[derive(Args)]
pub struct GenerateArgs {
    /// Folder to write into (created; must be empty). The data goes to OUT_DIR/AWSLogs/... and
    /// the list of planted attacks to OUT_DIR/manifest.json.
    out_dir: PathBuf,
    /// Approximate number of events (about 1.2 KB each uncompressed).
    #[arg(long, default_value_t = GenerateConfig::default().events)]
    events: u64,
    /// Background IAM users, one AKIA key each.
    #[arg(long, default_value_t = GenerateConfig::default().keys)]
    keys: u32,
    /// Length of the period in days.
    #[arg(long, default_value_t = GenerateConfig::default().days)]
    days: u32,
    /// Seed: the same arguments give byte-identical output.
    #[arg(long, default_value_t = GenerateConfig::default().seed)]
    seed: u64,
    /// First day of the period (RFC 3339).
    #[arg(long, default_value = "2026-01-01T00:00:00Z")]
    start: String,
    /// Attack scenarios to plant, comma-separated (`none` for a clean background). Default: all of
    /// failed-api-spike, first-seen-ip, new-user-agent-ip, unauthorized-burst.
    #[arg(long, value_delimiter = ',')]
    scenarios: Option<Vec<String>>,
    /// Gzip level, 0 to 9.
    #[arg(long, default_value_t = 6)]
    compression_level: u32,
    /// A MaxMind-format database to pick addresses by country from, instead of the embedded one.
    #[arg(long, value_name = "FILE.mmdb")]
    geoip: Option<PathBuf>,
}

/// Runs `generate`.
pub fn run(args: GenerateArgs) -> Result<()> {
    let started = Instant::now();
    let scenarios = match &args.scenarios {
        None => Scenario::ALL.to_vec(),
        Some(list) if list.iter().any(|s| s == "none") => Vec::new(),
        Some(list) => list
            .iter()
            .map(|s| s.parse::<Scenario>())
            .collect::<Result<_, _>>()?,
    };
    let start = trailhound_model::parse_rfc3339(&args.start)
        .map_err(|e| anyhow::anyhow!("--start {:?}: {e:?}", args.start))?;
    let cfg = GenerateConfig {
        events: args.events,
        keys: args.keys,
        days: args.days,
        seed: args.seed,
        start,
        scenarios,
        compression_level: args.compression_level,
    };
    let geo = match &args.geoip {
        Some(p) => GeoIp::open(p)?,
        None => GeoIp::embedded(),
    };
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(u64::from(cfg.days) * 24);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} hours, {msg}",
            )
            .expect("valid template"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let done = AtomicU64::new(0);
    let on_progress = |p: Progress| {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        bar.set_position(n.min(p.hours_total));
        bar.set_message(format!("{} events", p.events));
    };
    let manifest = generate_with_progress(&cfg, &geo, &args.out_dir, &on_progress)
        .with_context(|| format!("generating into {}", args.out_dir.display()))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let (events, bytes) = (manifest.events, manifest.uncompressed_bytes);
    for w in &manifest.warnings {
        eprintln!("trailhound: warning: {w}");
    }
    eprintln!(
        "wrote {events} events ({:.1} MB uncompressed) in {secs:.1}s ({:.0} MB/s) to {}; planted: {}; manifest: {}",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / secs.max(1e-9),
        args.out_dir.display(),
        if cfg.scenarios.is_empty() {
            "nothing".to_owned()
        } else {
            cfg.scenarios
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        },
        args.out_dir.join("manifest.json").display(),
    );
    Ok(())
}
