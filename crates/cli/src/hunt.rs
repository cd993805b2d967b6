//! `trailhound hunt`: read everything, enrich, run the detections, report.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use trailhound_detect::Alert;
use trailhound_geo::{AddressKind, GeoCache, GeoIp};
use trailhound_report::{ActivityCollector, ReportInput, render_html};
use trailhound_sigma::{DetectorOptions, SigmaDetector, SigmaEngine};
use trailhound_source::{Message, ReadOptions, Selection, discover_selected, read};
use trailhound_store::{AlertStore, Outcome, Status};

use crate::config::Config;
use crate::output::{Format, write_findings, write_jsonl, write_table};
use crate::stats::RunStats;
use crate::triage::Triage;

/// Arguments of `trailhound hunt`.
#[derive(Args)]
pub struct HuntArgs {
    /// CloudTrail files and folders (read recursively).
    #[arg(required = true)]
    pub(crate) paths: Vec<String>,
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
    /// Only events at or after this time (RFC 3339, or a date: midnight UTC). Folders and S3
    /// prefixes of earlier delivery days are not even listed.
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    since: Option<i64>,
    /// Only events before this time (RFC 3339, or a date: midnight UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    until: Option<i64>,
    /// Only this account (repeatable): other accounts' folders are not listed.
    #[arg(long, value_name = "ACCOUNT_ID")]
    account: Vec<String>,
    /// Only this region (repeatable): other regions' folders are not listed.
    #[arg(long, value_name = "REGION")]
    region: Vec<String>,
    /// Exit with status 3 (after the whole run, alerts stored and written) when some input was
    /// unreadable or bad: empty files, symlink loops, permissions, vanished files, bad gzip or
    /// JSON, bad records.
    #[arg(long)]
    strict: bool,
    /// The alert store to write alerts to (and read open alerts from, for the correlation rule
    /// D5): an SQLite file, or a PostgreSQL URL (postgres://USER@HOST:PORT/DB[?schema=NAME]).
    /// Default: $TRAILHOUND_STORE, else $XDG_DATA_HOME/trailhound/alerts.db, else
    /// ~/.local/share/trailhound/alerts.db.
    #[arg(long, value_name = "FILE.db|URL")]
    store: Option<PathBuf>,
    /// Use no alert store: every alert is reported as open, and D5 correlates only this run's
    /// alerts.
    #[arg(long, conflicts_with = "store")]
    no_store: bool,
    /// Read, decode, order and enrich only; run no detection (to measure the input side).
    #[arg(long)]
    decode_only: bool,
    /// Run no Sigma rule (as `[sigma] enabled = false`).
    #[arg(long)]
    no_sigma: bool,
    /// The engine that runs D1–D4: Trailhound's own streaming engine, or their SQL plans on
    /// DataFusion (needs a build with `--features lake`; no Sigma rules, no allow-list).
    #[arg(long, value_enum, default_value = "embedded")]
    pub(crate) engine: EngineKind,
    /// Run the DataFusion plans on a Ballista cluster: the scheduler's address,
    /// df://HOST:PORT (implies --engine datafusion).
    #[arg(long, value_name = "df://HOST:PORT")]
    pub(crate) cluster: Option<String>,
    /// The paths are a Parquet lake written by `trailhound convert`, not CloudTrail objects
    /// (implies --engine datafusion).
    #[arg(long)]
    pub(crate) parquet: bool,
    /// Threads that read and decode files (default: one per core). The detections see the
    /// same events in the same order whatever the number.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) threads: Option<u16>,
}

/// Which engine runs the detections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineKind {
    /// Trailhound's streaming engine (all rules, Sigma included).
    Embedded,
    /// D1–D4 as SQL on DataFusion, in process or on a Ballista cluster.
    Datafusion,
}

impl HuntArgs {
    /// True when the run goes through DataFusion.
    fn on_datafusion(&self) -> bool {
        self.engine == EngineKind::Datafusion || self.cluster.is_some() || self.parquet
    }
}

/// Runs `hunt`.
pub fn run(args: HuntArgs) -> Result<()> {
    let started = Instant::now();
    set_threads(args.threads)?;
    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let allow = config.allow_list()?;
    let (mut detectors, extra) = if args.decode_only {
        (Vec::new(), std::sync::Arc::default())
    } else {
        let rules = RuleSet::load(&config, args.no_sigma)?;
        (rules.detectors(&config)?, rules.extra)
    };
    let mut triage = Triage::from_config(std::sync::Arc::clone(&extra), &config)?;
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
    // Open the store before the long read, so that an unusable store fails the run at once.
    let store = if args.no_store {
        None
    } else {
        let spec = crate::alerts_cmd::store_path(args.store.as_ref())?;
        Some(trailhound_store::open_store(&spec).with_context(|| {
            format!(
                "opening the alert store {}",
                trailhound_store::describe_store(&spec)
            )
        })?)
    };
    let geo = match &args.geoip {
        Some(p) => GeoIp::open(p)?,
        None => GeoIp::embedded(),
    };
    if args.on_datafusion() {
        if !allow.is_empty() {
            bail!("the DataFusion engine has no allow-list yet: use the embedded engine");
        }
        if args.cutoff.is_some() || args.decode_only {
            bail!("--cutoff and --decode-only need the embedded engine");
        }
        if args.since.is_some()
            || args.until.is_some()
            || !args.account.is_empty()
            || !args.region.is_empty()
        {
            bail!("--since, --until, --account and --region need the embedded engine");
        }
        let (alerts, stats) = crate::lake_cmd::hunt(&args, &config, geo)?;
        let prepared = triage.prepare(alerts);
        return conclude(&args, store, &triage, prepared, stats, None, started);
    }
    let selection = Selection {
        since: args.since,
        until: args.until,
        accounts: args.account.clone(),
        regions: args.region.clone(),
    };
    let found = discover_selected(&crate::input_paths(&args.paths), &selection);
    for u in &found.unreadable {
        eprintln!("trailhound: cannot read {}: {}", u.path.display(), u.why);
    }
    if found.files.is_empty() {
        if found.unreadable.is_empty() {
            bail!("no CloudTrail files found in {}", args.paths.join(", "));
        }
        let mut counts = std::collections::BTreeMap::new();
        for u in &found.unreadable {
            *counts.entry(u.problem.name()).or_insert(0) += 1;
        }
        bail!(
            "no input could be read: {} (of {})",
            kind_counts(&counts),
            args.paths.join(", ")
        );
    }
    let mut stats = RunStats {
        skipped_by_kind: found.skipped.iter().map(|(k, n)| (k.name(), *n)).collect(),
        s3_list_requests: found.list_requests,
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
    for u in &found.unreadable {
        stats.add_input_problem(&u.path.display().to_string(), u.problem, &u.why);
    }
    let progress = progress_bar(found.total_bytes(), args.no_progress);
    let geo = std::sync::Arc::new(geo);
    let mut countries = HashSet::new();
    // Counted in an array on the per-event path, named once at the end.
    let mut address_kinds = [0u64; AddressKind::ALL.len()];
    let mut activity =
        (args.format == Format::Html && !args.decode_only).then(ActivityCollector::new);

    // Alerts of the detectors that hand them on as they become final, folded as they come.
    let mut folding: Vec<Option<Folding>> = detectors
        .iter()
        .map(|d| d.drain_delay().map(|delay| Folding::new(delay, &triage)))
        .collect();
    // The detectors on threads of their own, unless everything is to take one core.
    let mut rules = if args.threads == Some(1) || detectors.is_empty() {
        Rules::Here {
            detectors,
            seen: trailhound_model::Timestamp::MIN,
        }
    } else {
        Rules::OnThreads(trailhound_detect::threads::DetectorThreads::start(
            detectors,
        ))
    };
    let options = ReadOptions {
        extra,
        prepare: Some(SelectAndLocate::factory(&geo, &selection)),
        ..ReadOptions::default()
    };
    for message in read(found.files, options) {
        match message {
            Message::Files(reports) => {
                for report in &reports {
                    count_file(&mut stats, &mut address_kinds, report);
                    progress.inc(report.bytes);
                }
            }
            Message::Late(n) => stats.late_events += n,
            Message::Events(events) => {
                stats.events += events.len() as u64;
                for c in events.iter().filter_map(|e| e.country) {
                    stats.events_with_country += 1;
                    countries.insert(c);
                }
                if !args.decode_only {
                    for e in &events {
                        triage.observe(e);
                    }
                }
                let events = if allow.is_empty() {
                    events
                } else {
                    events.into_iter().filter(|e| !allow.ignores(e)).collect()
                };
                let events = rules.observe(events);
                for (i, f) in folding.iter_mut().enumerate() {
                    if let Some(f) = f
                        && let Some((alerts, seen)) = rules.drained(i)
                    {
                        f.add(alerts, seen, &triage);
                    }
                }
                for e in events.iter() {
                    if let Some(a) = &mut activity {
                        // A session key a long-term key minted counts in that key's charts.
                        let root = (e.key_kind() == trailhound_model::AccessKeyKind::Temporary)
                            .then(|| triage.lineage().origin(&e.user.access_key_id))
                            .flatten()
                            .filter(|o| !o.root_key.is_empty());
                        match root {
                            Some(o) => a.observe_as(e, &o.root_key),
                            None => a.observe(e),
                        }
                    }
                }
            }
        }
    }
    progress.finish_and_clear();
    for (kind, &n) in AddressKind::ALL.iter().zip(&address_kinds) {
        if n > 0 {
            stats.source_address_kinds.insert(kind.name(), n);
        }
    }
    // Each detector's alerts attributed and suppressed on their own (a suppression group never
    // spans two rules), in the detectors' order: what preparing all of them at once gives.
    let (mut alerts, mut members) = (Vec::new(), Vec::new());
    for ((mut d, handed_on), f) in rules.join().into_iter().zip(folding) {
        let (a, m) = match f {
            Some(f) => f.finish(handed_on.into_iter().chain(d.finish()).collect(), &triage),
            None => triage.prepare(d.finish()),
        };
        alerts.extend(a);
        members.extend(m);
        stats.blind_periods.extend(d.blind());
        stats.sigma_matched_events.extend(d.matched_events());
    }
    trailhound_detect::suppression::sort_members(&mut members);
    stats.countries = countries.len() as u64;
    if stats.readable_files == 0 {
        bail!(
            "no input could be read: {} in {}",
            kind_counts(&stats.input_problems),
            args.paths.join(", ")
        );
    }
    conclude(
        &args,
        store,
        &triage,
        (alerts, members),
        stats,
        activity,
        started,
    )
}

/// The alerts of a detector that hands them on as they become final ([`drain_delay`]), between
/// the hand-over and the end of the run: held until no earlier alert of the detector can still
/// come, then attributed and folded by suppression in time order, as [`Triage::prepare`] would
/// have done with all of them at the end. Alerts that suppression folds are thus never all in
/// memory at once (on the 10 GB set the Sigma rules raise about 70,000, folded into 2,300).
///
/// [`drain_delay`]: trailhound_detect::Detector::drain_delay
struct Folding {
    delay: trailhound_model::Timestamp,
    held: Vec<Alert>,
    folded: trailhound_detect::suppression::Suppressor,
}

impl Folding {
    fn new(delay: trailhound_model::Timestamp, triage: &Triage) -> Self {
        Self {
            delay,
            held: Vec::new(),
            folded: trailhound_detect::suppression::Suppressor::new(triage.policies.clone()),
        }
    }

    /// Takes the alerts the detector handed on after seeing events up to `seen`; folds those
    /// that no later hand-over can precede.
    fn add(&mut self, alerts: Vec<Alert>, seen: trailhound_model::Timestamp, triage: &Triage) {
        self.held.extend(alerts);
        let cutoff = seen.saturating_sub(self.delay);
        if !self.held.iter().any(|a| a.time < cutoff) {
            return;
        }
        let (ready, held) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|a| a.time < cutoff);
        self.held = held;
        self.fold(ready, triage);
    }

    /// Folds `alerts` in the order of the detector's `finish` (time, rule, id).
    fn fold(&mut self, mut alerts: Vec<Alert>, triage: &Triage) {
        alerts.sort_by(|a, b| a.report_order().cmp(&b.report_order()));
        for mut a in alerts {
            triage.lineage().attribute(&mut a);
            self.folded.push(a);
        }
    }

    /// Alerts folded so far.
    #[cfg(test)]
    fn folded_count(&self) -> usize {
        self.folded.len()
    }

    /// Folds the rest (the detector's `finish`) and returns the suppressed alerts and members.
    fn finish(mut self, rest: Vec<Alert>, triage: &Triage) -> crate::triage::Prepared {
        let mut last = std::mem::take(&mut self.held);
        last.extend(rest);
        self.fold(last, triage);
        self.folded.finish()
    }
}

/// Where the detectors run: on the thread that reads the stream (`--threads 1`), or each on its
/// own thread.
enum Rules {
    /// The detectors, and the time of the last event they saw.
    Here {
        detectors: Vec<Box<dyn trailhound_detect::Detector>>,
        seen: trailhound_model::Timestamp,
    },
    OnThreads(trailhound_detect::threads::DetectorThreads),
}

impl Rules {
    /// Hands a batch of events to every detector; returns it, shared.
    fn observe(
        &mut self,
        events: Vec<trailhound_model::Event>,
    ) -> std::sync::Arc<Vec<trailhound_model::Event>> {
        let events = std::sync::Arc::new(events);
        match self {
            Rules::Here { detectors, seen } => {
                for e in events.iter() {
                    for d in detectors.iter_mut() {
                        d.observe(e);
                    }
                }
                *seen = events.last().map_or(*seen, |e| e.time);
            }
            Rules::OnThreads(threads) => threads.observe(std::sync::Arc::clone(&events)),
        }
        events
    }

    /// What the `i`th detector handed on ([`Detector::drain`]) since the last call, and the time
    /// of the last event it had seen then (see [`DetectorThreads::drained`]).
    ///
    /// [`Detector::drain`]: trailhound_detect::Detector::drain
    /// [`DetectorThreads::drained`]: trailhound_detect::threads::DetectorThreads::drained
    fn drained(&mut self, i: usize) -> Option<(Vec<Alert>, trailhound_model::Timestamp)> {
        match self {
            Rules::Here { detectors, seen } => Some((detectors.get_mut(i)?.drain(), *seen)),
            Rules::OnThreads(threads) => threads.drained(i),
        }
    }

    /// The detectors, in order, each with what it handed on and was not taken yet.
    fn join(self) -> Vec<(Box<dyn trailhound_detect::Detector>, Vec<Alert>)> {
        match self {
            Rules::Here { detectors, .. } => {
                detectors.into_iter().map(|d| (d, Vec::new())).collect()
            }
            Rules::OnThreads(threads) => threads.join(),
        }
    }
}

/// Counts a decoded file into the run's statistics, naming it only when something in it was
/// bad.
fn count_file(
    stats: &mut RunStats,
    address_kinds: &mut [u64],
    report: &trailhound_source::FileReport,
) {
    let name = || report.path.display().to_string();
    stats.files += 1;
    stats.bytes += report.bytes;
    stats.decompressed_bytes += report.decompressed_bytes;
    stats.digest_files_skipped += u64::from(report.digest);
    if let Some((&not_selected, kinds)) = report.prepared.split_first() {
        stats.events_not_selected += not_selected;
        for (total, n) in address_kinds.iter_mut().zip(kinds) {
            *total += n;
        }
    }
    if let Some(f) = report.format {
        *stats.files_by_format.entry(f.name()).or_default() += 1;
    }
    match report.problem {
        // Nothing to decode: counted once, under the problem's own kind (an I/O error says
        // which: vanished, permission_denied, ...).
        Some(p) => {
            let detail = report
                .issues
                .first()
                .map_or("0 bytes", |i| i.detail.as_str());
            stats.add_input_problem(&name(), p, detail);
        }
        None => {
            if report.issue_counts.iter().any(|&n| n > 0) {
                stats.files_with_issues += 1;
                stats.add_issues(&name(), &report.issue_counts, &report.issues);
            }
            stats.readable_files += 1;
        }
    }
}

/// The decoding threads' work on each file's events: drop those outside `--since`/`--until`,
/// then look up each address's country (a memo per thread). Counts, in [`FileReport::prepared`]:
/// the events not selected, then the events per [`AddressKind`].
///
/// [`FileReport::prepared`]: trailhound_source::FileReport::prepared
struct SelectAndLocate {
    selection: Selection,
    cache: GeoCache<std::sync::Arc<GeoIp>>,
}

impl SelectAndLocate {
    /// One per decoding thread, each with its own memo.
    fn factory(
        geo: &std::sync::Arc<GeoIp>,
        selection: &Selection,
    ) -> trailhound_source::PrepareFactory {
        let (geo, selection) = (std::sync::Arc::clone(geo), selection.clone());
        std::sync::Arc::new(move || {
            Box::new(SelectAndLocate {
                selection: selection.clone(),
                cache: GeoCache::new(std::sync::Arc::clone(&geo)),
            })
        })
    }
}

impl trailhound_source::Prepare for SelectAndLocate {
    fn prepare(&mut self, events: &mut Vec<trailhound_model::Event>, counts: &mut Vec<u64>) {
        counts.resize(1 + AddressKind::ALL.len(), 0);
        if !self.selection.is_all() {
            let before = events.len();
            events.retain(|e| self.selection.keeps_event(e));
            counts[0] += (before - events.len()) as u64;
        }
        for e in events {
            let (kind, country) = self.cache.resolve(&e.source_ip);
            counts[1 + kind as usize] += 1;
            e.country = country;
        }
    }
}

/// Sizes rayon's global pool, whose size is also the number of decoding threads
/// ([`ReadOptions::threads`] by default; the pool itself lists and sorts the files): `n`
/// threads, else one per core. Once per process, before any file is listed.
pub(crate) fn set_threads(n: Option<u16>) -> Result<()> {
    if let Some(n) = n {
        rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(n))
            .thread_name(|i| format!("trailhound-decode-{i}"))
            .build_global()
            .context("--threads: the decoding pool was already started")?;
    }
    Ok(())
}

/// Stores and correlates a run's alerts, prints the summary and writes the alerts (and the
/// statistics): the end of every hunt, whichever engine found the alerts.
fn conclude(
    args: &HuntArgs,
    mut store: Option<Box<dyn AlertStore + Send>>,
    triage: &Triage,
    alerts: crate::triage::Prepared,
    mut stats: RunStats,
    activity: Option<ActivityCollector>,
    started: Instant,
) -> Result<()> {
    let (mut alerts, store_summary) = match &mut store {
        Some(store) => {
            let (alerts, line) = store_run(&mut **store, triage, alerts)?;
            store
                .record_blind_periods(&stats.blind_periods)
                .context("recording the rules' blind periods")?;
            stats.deliveries = trailhound_store::outbox::summary(&**store)?;
            (alerts, Some(line))
        }
        None => (
            crate::triage::without_store(triage, alerts)
                .into_iter()
                .map(|a| (a, Status::Open.as_str().to_owned()))
                .collect(),
            None,
        ),
    };
    // Registered rules in their order, then Sigma rules, then the higher-order rule.
    let order = |id: &str| {
        let rules = trailhound_detect::rules();
        rules.iter().position(|r| r.id == id).unwrap_or(
            if id.starts_with(trailhound_sigma::RULE_ID_PREFIX) {
                rules.len()
            } else {
                usize::MAX
            },
        )
    };
    alerts.sort_by(|(a, _), (b, _)| {
        (a.time, order(&a.rule_id), &a.access_key_id, &a.id).cmp(&(
            b.time,
            order(&b.rule_id),
            &b.access_key_id,
            &b.id,
        ))
    });
    for (a, _) in &alerts {
        *stats.alerts_by_rule.entry(a.rule_id.clone()).or_default() += 1;
        stats
            .rule_titles
            .entry(a.rule_id.clone())
            .or_insert_with(|| a.rule_name.clone());
    }
    stats.finish(started.elapsed().as_secs_f64());
    if let Some(store) = &mut store {
        // For the web UI: what the alerts were computed from, and what could not be read.
        trailhound_store::runs::record(&mut **store, "hunt", &serde_json::to_value(&stats)?)
            .context("recording the run's summary")?;
    }
    eprint!(
        "{}",
        stats.summary(if args.verbose { usize::MAX } else { 20 })
    );
    if let Some(line) = store_summary {
        eprintln!("{line}");
    }
    let html = match activity {
        Some(activity) if args.format == Format::Html => Some(render_html(&ReportInput {
            title: format!("Hunt over {}", args.paths.join(", ")),
            generated_at: now(),
            alerts: alerts.clone(),
            activity: activity.finish(),
            run_summary: Some(serde_json::to_value(&stats)?),
        })),
        _ => None,
    };
    write_alerts(args, &alerts, html.as_deref())?;
    if let Some(path) = &args.stats {
        let json = serde_json::to_string_pretty(&stats)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.strict && stats.any_bad_input() {
        return Err(StrictFailure(kind_counts(&stats.issues_by_kind)).into());
    }
    Ok(())
}

/// `--strict` and some input was unreadable or bad: exit status 3.
#[derive(Debug)]
pub struct StrictFailure(String);

impl std::fmt::Display for StrictFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "--strict: some input was unreadable or bad ({})", self.0)
    }
}

impl std::error::Error for StrictFailure {}

/// Alerts to report, each with its status.
type Reported = Vec<(Alert, String)>;

/// "1 empty_file, 2 symlink_loop": counts by kind, in name order.
fn kind_counts(counts: &std::collections::BTreeMap<&'static str, u64>) -> String {
    counts
        .iter()
        .map(|(k, n)| format!("{n} {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Stores the run's prepared alerts through [`crate::triage::store_prepared`]. Returns the alerts to
/// report with their statuses in the store — the run's alerts and the D5 alerts that involve at
/// least one of them (D5 alerts made only of older alerts were reported by the run that stored
/// those) — and a summary line.
fn store_run(
    store: &mut dyn AlertStore,
    triage: &Triage,
    alerts: crate::triage::Prepared,
) -> Result<(Reported, String)> {
    let (stored, incidents) = crate::triage::store_prepared(store, triage, alerts)?;
    let (mut new, mut known, mut updated) = (0, 0, 0);
    let mut by_status = [0u64; 3];
    for (_, item) in &stored {
        match item.outcome {
            Outcome::Inserted => new += 1,
            Outcome::Updated => {
                known += 1;
                updated += 1;
            }
            Outcome::Unchanged => known += 1,
        }
        by_status[Status::ALL
            .iter()
            .position(|s| *s == item.status)
            .unwrap_or(0)] += 1;
    }
    let mut line = format!(
        "store {}: {new} new, {known} already known ({updated} with new evidence); {} open, {} acknowledged, {} closed; incidents: {} opened, {} updated, {} active",
        store.location(),
        by_status[0],
        by_status[1],
        by_status[2],
        incidents.opened,
        incidents.updated,
        incidents.active,
    );
    // The incidents to look at first (`trailhound incidents list` has them all).
    let top = store.incidents(&trailhound_store::IncidentFilter {
        statuses: vec![Status::Open, Status::Acknowledged],
        limit: Some(5),
        ..Default::default()
    })?;
    for (i, inc) in top.iter().enumerate() {
        let s = &inc.summary;
        line.push_str(&format!(
            "\n  {}. risk {} {} {}: {}",
            i + 1,
            s.risk_score,
            s.severity.as_str(),
            inc.id.get(..16).unwrap_or(&inc.id),
            s.story
        ));
    }
    let out = stored
        .into_iter()
        .map(|(a, item)| (a, item.status.as_str().to_owned()))
        .collect();
    Ok((out, line))
}

/// Now, as a timestamp.
pub(crate) fn now() -> trailhound_model::Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn write_alerts(args: &HuntArgs, alerts: &[(Alert, String)], html: Option<&str>) -> Result<()> {
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
        Format::Html => out.write_all(html.unwrap_or_default().as_bytes())?,
        Format::Ocsf | Format::Ecs => write_findings(&mut out, alerts, args.format)?,
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

/// The configured rules, loaded once: detectors can be built from them afresh (`watch` starts
/// its rules over when late data arrives).
pub(crate) struct RuleSet {
    /// The compiled Sigma rules, unless Sigma is off.
    sigma: Option<std::sync::Arc<SigmaEngine>>,
    /// The extra record fields the rules and the lineage need from the decoder.
    pub extra: std::sync::Arc<trailhound_model::ExtraFields>,
}

impl RuleSet {
    /// Loads the rules of `config`, Sigma rules included unless `no_sigma`. Refused Sigma rule
    /// files are reported and left out.
    pub fn load(config: &Config, no_sigma: bool) -> Result<Self> {
        let mut extra =
            crate::triage::with_lineage_fields(&trailhound_model::ExtraFields::default());
        let mut sigma = None;
        if let Some(set) = (!no_sigma)
            .then(|| config.sigma_rules())
            .transpose()?
            .flatten()
        {
            for e in &set.errors {
                eprintln!("trailhound: sigma rule refused: {e}");
            }
            let engine = std::sync::Arc::new(SigmaEngine::from_set(set));
            extra = crate::triage::with_lineage_fields(&engine.extra_fields());
            sigma = Some(engine);
        }
        Ok(Self { sigma, extra })
    }

    /// Fresh detectors of every configured rule, with empty state.
    pub fn detectors(&self, config: &Config) -> Result<Vec<Box<dyn trailhound_detect::Detector>>> {
        let mut detectors = config.detectors()?;
        if let Some(engine) = &self.sigma {
            detectors.push(Box::new(SigmaDetector::new(
                std::sync::Arc::clone(engine),
                DetectorOptions {
                    bucket: config.sigma.bucket,
                    ..DetectorOptions::default()
                },
            )));
        }
        Ok(detectors)
    }
}

/// A `--since`/`--until` value: RFC 3339, or a date (midnight UTC).
fn parse_time_arg(s: &str) -> Result<i64, String> {
    trailhound_model::parse_rfc3339(s)
        .or_else(|_| trailhound_model::parse_rfc3339(&format!("{s}T00:00:00Z")))
        .map_err(|_| format!("{s:?} is not a time (2026-01-28T10:00:00Z) or a date (2026-01-28)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Folding alerts as the Sigma detector hands them on gives what preparing them all at the
    /// end gives: the same suppressed alerts (ids, times, evidence samples, totals) and members,
    /// on the bundled sample (real background and the planted scenarios), for any batch size.
    #[test]
    fn folding_as_alerts_come_equals_preparing_them_at_the_end() {
        let config = Config::default();
        let rules = RuleSet::load(&config, false).unwrap();
        let geo = std::sync::Arc::new(GeoIp::embedded());
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample");
        let files = trailhound_source::discover(&[dir]).files;
        let options = ReadOptions {
            extra: std::sync::Arc::clone(&rules.extra),
            prepare: Some(SelectAndLocate::factory(&geo, &Selection::default())),
            ..ReadOptions::default()
        };
        let events: Vec<trailhound_model::Event> = read(files, options)
            .into_iter()
            .flat_map(|m| match m {
                Message::Events(e) => e,
                _ => Vec::new(),
            })
            .collect();
        assert!(events.len() > 5000, "{}", events.len());
        let sigma = |rules: &RuleSet| {
            rules
                .detectors(&config)
                .unwrap()
                .into_iter()
                .find(|d| d.drain_delay().is_some())
                .expect("the Sigma detector hands alerts on as they become final")
        };
        let json = |(alerts, members): crate::triage::Prepared| {
            serde_json::to_string(&(alerts, members)).unwrap()
        };
        // All at the end.
        let mut triage = Triage::from_config(std::sync::Arc::clone(&rules.extra), &config).unwrap();
        let mut d = sigma(&rules);
        for e in &events {
            triage.observe(e);
            d.observe(e);
        }
        let at_the_end = json(triage.prepare(d.finish()));
        for batch in [1, 97, 5000] {
            let mut triage =
                Triage::from_config(std::sync::Arc::clone(&rules.extra), &config).unwrap();
            let mut d = sigma(&rules);
            let mut folding = Folding::new(d.drain_delay().unwrap(), &triage);
            let mut folded_early = 0;
            for chunk in events.chunks(batch) {
                for e in chunk {
                    triage.observe(e);
                    d.observe(e);
                }
                folding.add(d.drain(), chunk.last().unwrap().time, &triage);
                folded_early = folded_early.max(folding.folded_count());
            }
            assert!(
                folded_early > 10,
                "batch {batch}: {folded_early} folded early"
            );
            assert_eq!(
                json(folding.finish(d.finish(), &triage)),
                at_the_end,
                "batch {batch}"
            );
        }
    }
}
