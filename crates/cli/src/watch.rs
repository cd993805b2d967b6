//! `trailhound watch`: follow folders and S3 prefixes as CloudTrail delivers files into them.
//!
//! Every `--interval`, the folders and prefixes are listed (S3 only from the day before the newest
//! processed delivery on, by the date layout); files not yet in the store's checkpoint form a
//! batch, read in delivery order like `hunt` reads. D2–D4 (and Sigma rules) raise their alerts as
//! the batch is read; D1 evaluates each hour once the data has passed it (the seed's hourly
//! schedule, on the data's clock); D5 then correlates the store's open alerts. New alerts go to
//! the store, to standard output as JSON Lines, and to the webhooks.
//!
//! Crash safety: a batch's files are marked in the checkpoint only after its alerts are stored.
//! Killed at any moment (even SIGKILL), a restarted watcher re-reads the files of the last
//! `--replay-days` that it had already processed, to rebuild the rules' state (first-seen
//! histories, hourly series), then the unfinished batch; alert ids are deterministic, so nothing
//! is stored twice. SIGINT/SIGTERM stop it cleanly: the rules are finished (pending alerts
//! flushed) before it exits, like the end of a `hunt`.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use trailhound_detect::allow::AllowList;
use trailhound_detect::{Alert, Detector};
use trailhound_geo::{GeoCache, GeoIp};
use trailhound_model::{DAY, Event, ExtraFields, HOUR, Timestamp};
use trailhound_source::{
    InputFile, Message, Origin, ReadOptions, S3Source, discover, discover_s3, in_reading_order,
    read,
};
use trailhound_store::{Outcome, WatchStore, WatchedFile};

use crate::config::Config;
use crate::triage::Triage;
use crate::webhook::{Notifier, WebhookFormat, WebhookOptions};

/// The checkpoint source of local files (keys are their paths).
const LOCAL_SOURCE: &str = "file";
/// The checkpoint source of S3 objects (keys are their `s3://bucket/key` URLs).
const S3_SOURCE: &str = "s3";

/// How far back the rules look: D1's 14-day series plus its 8-hour gate (D2 and D3 look back 10
/// days). Alerts computed from less history than this are not trusted during a partial replay.
const LOOKBACK: Timestamp = 14 * DAY + 8 * HOUR;

/// Arguments of `trailhound watch`.
#[derive(Args)]
pub struct WatchArgs {
    /// Folders (read recursively) and `s3://bucket/prefix` URLs to follow.
    #[arg(required = true)]
    paths: Vec<String>,
    /// Configuration file (allow-lists, rule parameters); see config/trailhound.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The alert store, which also holds the checkpoint. Default as for `hunt`.
    #[arg(long, value_name = "FILE.db")]
    store: Option<PathBuf>,
    /// A MaxMind-format country or city database to use instead of the embedded DB-IP one.
    #[arg(long, value_name = "FILE.mmdb")]
    geoip: Option<PathBuf>,
    /// Seconds between two listings of the folders.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    interval: f64,
    /// Process what is there, finish the rules and exit (no waiting).
    #[arg(long)]
    once: bool,
    /// On start, re-read the already processed files of this many days before the newest one,
    /// to rebuild the rules' state (D1 looks 14 days back, D2 and D3 10 days).
    #[arg(long, default_value_t = 16, value_name = "DAYS")]
    replay_days: u32,
    /// POST each new alert to this URL (repeatable).
    #[arg(long, value_name = "URL")]
    webhook: Vec<String>,
    /// Body of webhook requests.
    #[arg(long, value_enum, default_value = "json")]
    webhook_format: WebhookFormat,
    /// Seconds a webhook request may take before it counts as failed (and is retried).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    webhook_timeout: f64,
    /// Run no Sigma rule (as `[sigma] enabled = false`).
    #[arg(long)]
    no_sigma: bool,
}

/// Runs `watch` until SIGINT/SIGTERM (or, with `--once`, until the files present are done).
pub fn run(args: WatchArgs) -> Result<()> {
    // First, so that a stop request during the start-up is a clean stop too.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
            .context("installing the SIGINT/SIGTERM handler")?;
    }
    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    check_interval(args.interval)?;
    let (detectors, extra) = crate::hunt::detection(&config, args.no_sigma)?;
    let spec = crate::alerts_cmd::store_path(args.store.as_ref())?;
    let store = trailhound_store::open_watch_store(&spec).with_context(|| {
        format!(
            "opening the alert store {}",
            trailhound_store::describe_store(&spec)
        )
    })?;
    let geo = match &args.geoip {
        Some(p) => GeoIp::open(p)?,
        None => GeoIp::embedded(),
    };
    check_interval(args.webhook_timeout)?;
    let notifier = Notifier::start(
        args.webhook.clone(),
        args.webhook_format,
        WebhookOptions {
            timeout: Duration::from_secs_f64(args.webhook_timeout),
            ..WebhookOptions::default()
        },
    );
    let (s3_urls, local): (Vec<String>, Vec<String>) = args
        .paths
        .iter()
        .cloned()
        .partition(|p| p.starts_with("s3://"));
    let s3 = s3_urls
        .iter()
        .map(|u| S3Source::open(u).map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    let mut w = Watcher {
        roots: crate::input_paths(&local),
        s3,
        detectors,
        allow: config.allow_list()?,
        triage: Triage::from_config(Arc::clone(&extra), &config)?,
        extra,
        store,
        geo: &geo,
        notifier: &notifier,
        done: HashMap::new(),
        held: Vec::new(),
    };
    log(&format!(
        "started (pid {}): {}",
        std::process::id(),
        args.paths.join(", ")
    ));
    w.replay(i64::from(args.replay_days) * DAY)?;
    loop {
        let new = w.pending();
        if !new.is_empty() {
            w.batch(new)?;
        }
        if args.once || stop.load(Ordering::SeqCst) {
            break;
        }
        let until = Instant::now() + Duration::from_secs_f64(args.interval);
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
        }
    }
    w.finish()?;
    let c = notifier.counts();
    notifier.close(Duration::from_secs_f64(2.0 * args.webhook_timeout));
    if !args.webhook.is_empty() {
        log(&format!(
            "webhooks: {} delivered, {} retries, {} dropped",
            c.delivered.load(Ordering::Relaxed),
            c.retried.load(Ordering::Relaxed),
            c.dropped.load(Ordering::Relaxed)
        ));
    }
    Ok(())
}

/// The state of a running watcher.
struct Watcher<'a> {
    roots: Vec<PathBuf>,
    s3: Vec<Arc<S3Source>>,
    detectors: Vec<Box<dyn Detector>>,
    allow: AllowList,
    triage: Triage,
    extra: Arc<ExtraFields>,
    store: Box<dyn WatchStore>,
    geo: &'a GeoIp,
    notifier: &'a Notifier,
    /// Files already processed (from the checkpoint), by path.
    done: HashMap<String, WatchedFile>,
    /// Decoded events not yet handed to the rules: those within the reading slack of the newest
    /// delivery time, which a file delivered next may still precede (as `hunt` orders them).
    held: Vec<Event>,
}

impl Watcher<'_> {
    /// Loads the checkpoint and re-reads the processed files of the last `window` before the
    /// newest one, so that the rules start from the state they had.
    fn replay(&mut self, window: i64) -> Result<()> {
        self.done = [LOCAL_SOURCE, S3_SOURCE]
            .into_iter()
            .map(|source| self.store.watched_files(source))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .map(|f| (f.key.clone(), f))
            .collect();
        let newest = self.done.values().filter_map(|f| f.delivery_time).max();
        let again: Vec<InputFile> = self
            .list(newest.map(|t| t - window))
            .into_iter()
            .filter(|f| {
                self.done.contains_key(&key(f))
                    && match (f.delivery_time, newest) {
                        (Some(t), Some(n)) => t >= n - window,
                        _ => true,
                    }
            })
            .collect();
        if !again.is_empty() {
            let n = again.len();
            // When older files were left out, the rules' look-back is only complete LOOKBACK
            // after the first replayed delivery: alerts about earlier times are discarded.
            let trust_from = (n < self.done.len())
                .then(|| again.iter().filter_map(|f| f.delivery_time).min())
                .flatten()
                .map(|t| t + LOOKBACK);
            // Only the records processed before: a file that grew since is read on from there
            // by the next batch.
            let ranges: Vec<(u64, u64)> = again
                .iter()
                .map(|f| {
                    let done = self.done.get(&key(f)).map_or(0, |w| w.records);
                    (0, if done == 0 { u64::MAX } else { done })
                })
                .collect();
            let (events, mut alerts, _) = self.read_and_detect(again, &ranges);
            if let Some(from) = trust_from {
                alerts.retain(|a| a.time >= from);
            }
            let new = self.store_alerts(alerts)?;
            log(&format!(
                "replayed {n} processed files ({events} events) to rebuild the rules' state; {new} new alerts"
            ));
        }
        Ok(())
    }

    /// Files under the roots that are not in the checkpoint, in reading order. S3 prefixes are
    /// listed from the day before the newest processed delivery on (late deliveries included).
    fn pending(&self) -> Vec<InputFile> {
        let newest = self.done.values().filter_map(|f| f.delivery_time).max();
        self.list(newest.map(|t| t - DAY))
            .into_iter()
            .filter(|f| match self.done.get(&key(f)) {
                None => true,
                // A local file that changed size since it was read (written in place, or
                // appended to) is read again, from the first record not yet processed. S3
                // objects are immutable: a re-uploaded key is listed as a new object.
                Some(w) => matches!(f.origin, Origin::Local) && w.size != f.size,
            })
            .collect()
    }

    /// The files of every root, in reading order; S3 date folders before `from` are not listed.
    fn list(&self, from: Option<Timestamp>) -> Vec<InputFile> {
        let mut found = discover(&self.roots);
        for source in &self.s3 {
            let more = discover_s3(source, from);
            found.files.extend(more.files);
            found.unreadable.extend(more.unreadable);
        }
        for u in &found.unreadable {
            eprintln!("trailhound: cannot read {}: {}", u.path.display(), u.why);
        }
        in_reading_order(&mut found.files);
        found.files
    }

    /// Reads, detects, stores and checkpoints one batch of new files.
    fn batch(&mut self, files: Vec<InputFile>) -> Result<()> {
        let n = files.len();
        let mut marks: Vec<(bool, WatchedFile)> = files
            .iter()
            .map(|f| {
                let mark = WatchedFile {
                    key: key(f),
                    size: f.size,
                    delivery_time: f.delivery_time,
                    records: 0,
                };
                (matches!(f.origin, Origin::S3 { .. }), mark)
            })
            .collect();
        // A file read before starts after the records already processed.
        let ranges: Vec<(u64, u64)> = marks
            .iter()
            .map(|(_, m)| (self.done.get(&m.key).map_or(0, |w| w.records), u64::MAX))
            .collect();
        let (events, alerts, records) = self.read_and_detect(files, &ranges);
        for ((_, m), (r, (from, _))) in marks.iter_mut().zip(records.iter().zip(&ranges)) {
            m.records = (*r).max(*from);
        }
        let (s3_marks, marks): (Vec<_>, Vec<_>) = marks.into_iter().partition(|(s3, _)| *s3);
        let new = self.store_alerts(alerts)?;
        // Only now, with the alerts stored, are the files done.
        for (source, marks) in [(LOCAL_SOURCE, marks), (S3_SOURCE, s3_marks)] {
            let marks: Vec<WatchedFile> = marks.into_iter().map(|(_, m)| m).collect();
            self.store.mark_watched(source, &marks)?;
            for m in marks {
                self.done.insert(m.key.clone(), m);
            }
        }
        log(&format!("{n} new files, {events} events, {new} new alerts"));
        Ok(())
    }

    /// Ends the stream: the rules hand out what they still hold.
    fn finish(&mut self) -> Result<()> {
        let held = std::mem::take(&mut self.held);
        self.observe(&held);
        let mut alerts = Vec::new();
        for d in &mut self.detectors {
            alerts.extend(d.finish());
        }
        let new = self.store_alerts(alerts)?;
        log(&format!("stopped; {new} new alerts at the end of the data"));
        Ok(())
    }

    /// Decodes and enriches `files` (of each, only the records numbered within its `range`,
    /// `[from, to)`), then feeds the rules every held event that no later file can precede;
    /// returns the number of events decoded, the alerts that became final, and per file how far
    /// its records go (one past the last record that became an event).
    fn read_and_detect(
        &mut self,
        files: Vec<InputFile>,
        ranges: &[(u64, u64)],
    ) -> (u64, Vec<Alert>, Vec<u64>) {
        let mut records = vec![0u64; files.len()];
        let names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
        // Events older than the newest delivery time minus the slack are final (files arrive in
        // delivery order); a file without a delivery time in its name releases everything.
        let newest = files
            .iter()
            .map(|f| f.delivery_time)
            .try_fold(Timestamp::MIN, |m, t| t.map(|t| m.max(t)));
        let slack = ReadOptions::default().slack;
        let watermark = newest.map_or(Timestamp::MAX, |t| t.saturating_sub(slack));
        let options = ReadOptions {
            extra: Arc::clone(&self.extra),
            ordered: false,
            ..ReadOptions::default()
        };
        let mut cache = GeoCache::new(self.geo);
        let mut decoded = 0;
        for message in read(files, options) {
            match message {
                Message::File(report) => {
                    let bad: u64 = report.issue_counts.iter().sum();
                    if bad > 0 {
                        let first = report.issues.first().map_or(String::new(), |i| {
                            format!(
                                " (first: {} at record {:?}: {})",
                                i.kind.name(),
                                i.record,
                                i.detail
                            )
                        });
                        eprintln!(
                            "trailhound: {}: {bad} bad input items{first}",
                            names[report.file as usize]
                        );
                    }
                }
                Message::Late(_) => {}
                Message::Events(mut events) => {
                    for e in &events {
                        let f = e.provenance.file as usize;
                        records[f] = records[f].max(u64::from(e.provenance.record) + 1);
                    }
                    events.retain(|e| {
                        let (from, to) = ranges[e.provenance.file as usize];
                        (from..to).contains(&u64::from(e.provenance.record))
                    });
                    decoded += events.len() as u64;
                    for e in &mut events {
                        e.country = cache.resolve(&e.source_ip).1;
                    }
                    self.held.extend(events);
                }
            }
        }
        // Stable: events of the same time keep their file and record order, as in `hunt`.
        self.held.sort_by_key(|e| e.time);
        let cut = self.held.partition_point(|e| e.time < watermark);
        let rest = self.held.split_off(cut);
        let ready = std::mem::replace(&mut self.held, rest);
        self.observe(&ready);
        let mut alerts = Vec::new();
        for d in &mut self.detectors {
            alerts.extend(d.drain());
        }
        (decoded, alerts, records)
    }

    /// Feeds events, in time order, to the rules (allow-listed ones excepted).
    fn observe(&mut self, events: &[Event]) {
        for e in events {
            self.triage.observe(e);
        }
        for e in events.iter().filter(|e| !self.allow.ignores(e)) {
            for d in &mut self.detectors {
                d.observe(e);
            }
        }
    }

    /// Stores `alerts`, runs D5 over the open alerts, and reports what is new (standard output
    /// as JSON Lines, webhooks). Returns the number of new alerts.
    fn store_alerts(&mut self, alerts: Vec<Alert>) -> Result<usize> {
        if alerts.is_empty() {
            return Ok(0);
        }
        let (stored, incidents) =
            crate::triage::store_and_correlate(&mut *self.store, &self.triage, alerts)?;
        if incidents.opened > 0 {
            log(&format!(
                "{} new incident{} ({} open or acknowledged)",
                incidents.opened,
                if incidents.opened == 1 { "" } else { "s" },
                incidents.active
            ));
        }
        let mut out = std::io::stdout().lock();
        let mut new = 0;
        for (alert, item) in &stored {
            if item.outcome == Outcome::Inserted {
                new += 1;
                self.notifier.send(alert);
                serde_json::to_writer(&mut out, alert)?;
                writeln!(out)?;
            }
        }
        out.flush()?;
        Ok(new)
    }
}

/// A file's checkpoint key: its path as given by the listing.
fn key(f: &InputFile) -> String {
    f.path.display().to_string()
}

/// One progress line on standard error, with the wall-clock time.
fn log(line: &str) {
    let now = trailhound_model::format_rfc3339(crate::hunt::now());
    eprintln!("{now} watch: {line}");
}

/// Refuses an interval that is not a positive number of seconds.
fn check_interval(s: f64) -> Result<()> {
    if !(s.is_finite() && s > 0.0) {
        bail!("--interval and --webhook-timeout must be positive numbers of seconds");
    }
    Ok(())
}
