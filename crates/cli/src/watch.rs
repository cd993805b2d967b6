//! `trailhound watch`: follow folders and S3 prefixes as CloudTrail delivers files into them.
//!
//! Every `--interval`, the folders and prefixes are listed (S3 only from the day before the newest
//! processed delivery on, by the date layout); files not yet in the store's checkpoint form a
//! batch. Whatever order files arrive in, the rules see events in event-time order, the order of
//! one `hunt` over the same files: decoded events wait in a reorder buffer until files delivered
//! `[watch] allowed_lateness` after them have arrived ([`trailhound_source::event_time`]). D2–D4
//! (and Sigma rules) raise their alerts as events are released; D1 evaluates each hour once the
//! released data has passed it (the seed's hourly schedule, on the data's clock); D5 then
//! correlates the store's open alerts. New alerts go to the store, to standard output as JSON
//! Lines, and to the webhooks.
//!
//! Late data (a file whose events are older than what was already released: a region that lags
//! more than the allowed lateness) is counted per stream and re-evaluated: the rules start over
//! from the checkpointed files of the last `--replay-days` with the late file in its place, as on
//! a restart, so the alerts are those of one `hunt`; alerts of that period the re-evaluation no
//! longer raises are closed as superseded (by `trailhound watch`, with the reason), and reopened
//! if a later re-evaluation raises them again.
//!
//! Crash safety: a batch's files are marked in the checkpoint only after its alerts are stored.
//! Killed at any moment (even SIGKILL), a restarted watcher re-reads the files of the last
//! `--replay-days` that it had already processed, to rebuild the rules' state (first-seen
//! histories, hourly series) and the reorder buffer (the events not yet released are those of
//! checkpointed files after the release point), then the unfinished batch; alert ids are
//! deterministic, so nothing is stored twice. SIGINT/SIGTERM stop it cleanly: the rules are finished (pending alerts
//! flushed) before it exits, like the end of a `hunt`.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use trailhound_detect::allow::AllowList;
use trailhound_detect::{Alert, Detector};
use trailhound_geo::{GeoCache, GeoIp};
use trailhound_model::{DAY, Event, ExtraFields, HOUR, Timestamp};
use trailhound_source::event_time::{EventTimeBuffer, FileOrder, Late};
use trailhound_source::{
    InputFile, Message, Origin, ReadOptions, S3Source, discover, discover_s3, in_reading_order,
    read,
};
use trailhound_store::{Outcome, WatchStore, WatchedFile};

use crate::config::Config;
use crate::delivery::webhook::{Webhook, WebhookFormat};
use crate::delivery::{Delivery, DeliveryOptions, Target};
use crate::hunt::RuleSet;
use crate::triage::Triage;

/// The checkpoint source of local files (keys are their paths).
const LOCAL_SOURCE: &str = "file";
/// The checkpoint source of S3 objects (keys are their `s3://bucket/key` URLs).
const S3_SOURCE: &str = "s3";

/// How long before a listing a file must have changed for the listing to take it: more than the
/// granularity of file-system clocks (a few milliseconds) and of S3's `LastModified` (a second).
const SETTLE: Duration = Duration::from_secs(2);

/// How far back the rules look: D1's 14-day series plus its 8-hour gate (D2 and D3 look back 10
/// days). Alerts computed from less history than this are not trusted during a partial replay.
const LOOKBACK: Timestamp = 14 * DAY + 8 * HOUR;

/// Arguments of `trailhound watch`.
#[derive(Args)]
pub struct WatchArgs {
    /// Folders (read recursively) and `s3://bucket/prefix` URLs to follow.
    #[arg(required_unless_present = "sqs")]
    paths: Vec<String>,
    /// Take new objects from the S3 event notifications of this SQS queue (raw, or wrapped by
    /// SNS) instead of, or besides, listing: a message is deleted only once its objects' alerts
    /// are stored.
    #[arg(long, value_name = "QUEUE_URL")]
    sqs: Option<String>,
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
    /// POST each new alert to this URL (repeatable), at least once: alerts wait in the alert
    /// store's outbox until delivered, across restarts.
    #[arg(long, value_name = "URL")]
    webhook: Vec<String>,
    /// Body of webhook requests.
    #[arg(long, value_enum, default_value = "json")]
    webhook_format: WebhookFormat,
    /// Seconds a webhook request may take before it counts as failed (and is retried).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    webhook_timeout: f64,
    /// Import each new alert into AWS Security Hub as a finding (ASFF), at least once.
    #[arg(long)]
    securityhub: bool,
    /// The Security Hub region (default: the AWS configuration's).
    #[arg(long, value_name = "REGION")]
    securityhub_region: Option<String>,
    /// Give up on delivering an alert this long after it was stored (counted, and shown by
    /// `trailhound alerts deliveries` and the web UI).
    #[arg(long, default_value = "24h", value_name = "DURATION")]
    delivery_max_age: trailhound_detect::Span,
    /// Wait before the first retry of a failed delivery; doubled for each further one (up to
    /// 5 minutes).
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    delivery_retry: trailhound_detect::Span,
    /// At exit, write what this run delivered and the outbox per target as JSON to this file.
    #[arg(long, value_name = "FILE")]
    stats: Option<PathBuf>,
    /// Run no Sigma rule (as `[sigma] enabled = false`).
    #[arg(long)]
    no_sigma: bool,
    /// How long events wait for files of lagging streams, e.g. `30m` (overrides
    /// `[watch] allowed_lateness`).
    #[arg(long, value_name = "DURATION")]
    allowed_lateness: Option<trailhound_detect::Span>,
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
    let rules = RuleSet::load(&config, args.no_sigma)?;
    let lateness = args
        .allowed_lateness
        .unwrap_or(config.watch.allowed_lateness)
        .nanos();
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
    let delivery = start_delivery(&args, &spec)?;
    let (s3_urls, local): (Vec<String>, Vec<String>) = args
        .paths
        .iter()
        .cloned()
        .partition(|p| p.starts_with("s3://"));
    let s3 = s3_urls
        .iter()
        .map(|u| S3Source::open(u).map_err(|e| anyhow::anyhow!("{u}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let sqs = args
        .sqs
        .as_deref()
        .map(trailhound_source::sqs::SqsQueue::open)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let mut w = Watcher {
        roots: crate::input_paths(&local),
        s3,
        sqs,
        buckets: HashMap::new(),
        detectors: rules.detectors(&config)?,
        allow: config.allow_list()?,
        triage: Triage::from_config(Arc::clone(&rules.extra), &config)?,
        extra: Arc::clone(&rules.extra),
        rules,
        config,
        store,
        geo: &geo,
        delivery: Some(delivery),
        done: HashMap::new(),
        clock: EventTimeBuffer::new(lateness),
        lateness,
        window: i64::from(args.replay_days) * DAY,
    };
    log(&format!(
        "started (pid {}): {}",
        std::process::id(),
        args.paths
            .iter()
            .map(String::as_str)
            .chain(args.sqs.as_deref())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    w.replay()?;
    loop {
        let new = w.pending(args.once);
        if !new.is_empty() {
            w.batch(new)?;
        }
        if w.sqs.is_some() {
            let wait = if args.once {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(args.interval)
            };
            while w.notifications(wait)? > 0 && !stop.load(Ordering::SeqCst) {}
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
    let delivery = w.delivery.take().expect("delivery is taken once");
    let c = delivery.counts();
    delivery.close(Duration::from_secs_f64(2.0 * args.webhook_timeout));
    let outbox = trailhound_store::outbox::summary(&*w.store)?;
    if let Some(path) = &args.stats {
        let json = serde_json::json!({
            "deliveries": {
                "delivered": c.delivered.load(Ordering::Relaxed),
                "failed_requests": c.failed.load(Ordering::Relaxed),
                "expired": c.expired.load(Ordering::Relaxed),
                "unconfirmed": c.unconfirmed.load(Ordering::Relaxed),
            },
            "outbox": outbox,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if !args.webhook.is_empty() || args.securityhub {
        log(&format!(
            "deliveries: {} delivered, {} failed requests (retried), {} given up after {}, {} resent after an unknown outcome",
            c.delivered.load(Ordering::Relaxed),
            c.failed.load(Ordering::Relaxed),
            c.expired.load(Ordering::Relaxed),
            args.delivery_max_age,
            c.unconfirmed.load(Ordering::Relaxed)
        ));
        for t in outbox {
            log(&format!(
                "outbox {}: {} delivered, {} pending, {} undeliverable (older than the maximum age){}",
                t.target,
                t.delivered,
                t.pending,
                t.expired,
                t.last_error
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// The delivery thread for the webhooks and Security Hub, if any is configured.
fn start_delivery(args: &WatchArgs, spec: &std::path::Path) -> Result<Delivery> {
    let mut targets: Vec<Box<dyn Target>> = args
        .webhook
        .iter()
        .map(|url| {
            Box::new(Webhook::new(
                url.clone(),
                args.webhook_format,
                Duration::from_secs_f64(args.webhook_timeout),
            )) as Box<dyn Target>
        })
        .collect();
    if args.securityhub {
        targets.push(Box::new(crate::delivery::securityhub::SecurityHub::open(
            args.securityhub_region.as_deref(),
        )?));
    }
    let retry = Duration::from_nanos(args.delivery_retry.nanos().max(1) as u64);
    Delivery::start(
        &spec.as_os_str().to_owned(),
        targets,
        DeliveryOptions {
            retry,
            max_age: args.delivery_max_age,
            ..DeliveryOptions::default()
        },
    )
}

/// The state of a running watcher.
struct Watcher<'a> {
    roots: Vec<PathBuf>,
    s3: Vec<Arc<S3Source>>,
    /// The queue of S3 event notifications, with `--sqs`.
    sqs: Option<trailhound_source::sqs::SqsQueue>,
    /// A client per bucket, for objects named by notifications and checkpointed S3 keys.
    buckets: HashMap<String, Arc<S3Source>>,
    /// The configured rules, from which the detectors are built (afresh on late data).
    rules: RuleSet,
    config: Config,
    detectors: Vec<Box<dyn Detector>>,
    allow: AllowList,
    triage: Triage,
    extra: Arc<ExtraFields>,
    store: Box<dyn WatchStore>,
    geo: &'a GeoIp,
    /// Delivery of new alerts to webhooks and Security Hub (taken when the watch ends).
    delivery: Option<Delivery>,
    /// Files already processed (from the checkpoint), by path.
    done: HashMap<String, WatchedFile>,
    /// Decoded events not yet handed to the rules, in event time.
    clock: EventTimeBuffer,
    /// `[watch] allowed_lateness`, in nanoseconds.
    lateness: Timestamp,
    /// `--replay-days`, in nanoseconds.
    window: Timestamp,
}

/// What reading a batch gave.
struct Read {
    /// Events decoded.
    events: u64,
    /// Alerts that became final.
    alerts: Vec<Alert>,
    /// Per file, one past its last record that became an event.
    records: Vec<u64>,
    /// Events older than what had already been handed to the rules.
    late: Late,
}

impl Watcher<'_> {
    /// Loads the checkpoint and re-reads the processed files of the last `--replay-days` before
    /// the newest one, so that the rules and the reorder buffer start from the state they had.
    fn replay(&mut self) -> Result<()> {
        self.done = [LOCAL_SOURCE, S3_SOURCE]
            .into_iter()
            .map(|source| self.store.watched_files(source))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .map(|f| (f.key.clone(), f))
            .collect();
        if !self.done.is_empty() {
            let (n, events, new, _) = self.rebuild(Vec::new(), None)?;
            log(&format!(
                "replayed {n} processed files ({events} events) to rebuild the rules' state; {new} new alerts"
            ));
        }
        Ok(())
    }

    /// Starts the rules over and reads again the processed files of the last `--replay-days`
    /// before the newest delivery (only their records processed before), then `new` files
    /// whole, so that the rules reach the state of one `hunt` over them. With `superseded`
    /// (late data), the alerts of the re-read period that the rules no longer raise are closed
    /// with that reason. Stores the alerts and checkpoints `new`; returns the number of files
    /// and events read, of new alerts, and of superseded ones.
    fn rebuild(
        &mut self,
        new: Vec<InputFile>,
        superseded: Option<&str>,
    ) -> Result<(usize, u64, usize, usize)> {
        self.detectors = self.rules.detectors(&self.config)?;
        self.triage = Triage::from_config(Arc::clone(&self.extra), &self.config)?;
        self.clock = EventTimeBuffer::new(self.lateness);
        for f in self.done.values() {
            self.clock
                .note_file(&FileOrder::new(Path::new(&f.key), f.delivery_time));
        }
        let newest = self
            .done
            .values()
            .filter_map(|f| f.delivery_time)
            .chain(new.iter().filter_map(|f| f.delivery_time))
            .max();
        let window = self.window;
        let fresh: HashSet<String> = new.iter().map(key).collect();
        // The processed files of the window, from the checkpoint itself (no listing: S3 objects
        // named by notifications are under no listed prefix); local files since deleted are
        // left out.
        let mut marks: Vec<WatchedFile> = self
            .done
            .values()
            .filter(|w| {
                !fresh.contains(&w.key)
                    && match (w.delivery_time, newest) {
                        (Some(t), Some(n)) => t >= n - window,
                        _ => true,
                    }
            })
            .cloned()
            .collect();
        marks.sort_by(|a, b| a.key.cmp(&b.key));
        let again: Vec<InputFile> = marks
            .iter()
            .filter_map(|w| self.input_of(w).transpose())
            .collect::<Result<_>>()?;
        // When older files were left out, the rules' look-back is only complete LOOKBACK after
        // the first file read: alerts about earlier times are discarded.
        let left_out = self.done.keys().filter(|k| !fresh.contains(*k)).count() > again.len();
        let trust_from = left_out
            .then(|| {
                again
                    .iter()
                    .chain(&new)
                    .filter_map(|f| f.delivery_time)
                    .min()
            })
            .flatten()
            .map(|t| t + LOOKBACK);
        // Only the records processed before: a file that grew since is read on from there by
        // the next batch.
        let ranges: Vec<(u64, u64)> = again
            .iter()
            .map(|f| {
                let done = self.done.get(&key(f)).map_or(0, |w| w.records);
                (0, if done == 0 { u64::MAX } else { done })
            })
            .chain(new.iter().map(|_| (0, u64::MAX)))
            .collect();
        let n = again.len() + new.len();
        let files: Vec<InputFile> = again.into_iter().chain(new.iter().cloned()).collect();
        let mut read = self.read_and_detect(files, &ranges);
        if let Some(from) = trust_from {
            read.alerts.retain(|a| a.time >= from);
        }
        // The period re-evaluated: from the trusted start to what the rules have seen.
        let period = (trust_from, self.clock.released());
        let mut closed = match superseded {
            Some(reason) => crate::triage::supersede(
                &mut *self.store,
                &self.triage,
                &read.alerts,
                period,
                reason,
            )?,
            None => 0,
        };
        let stored = self.store_alerts(read.alerts)?;
        if let Some(reason) = superseded {
            closed += crate::triage::supersede_correlated(
                &mut *self.store,
                &self.triage,
                period,
                reason,
            )?;
        }
        let records = read.records.split_off(read.records.len() - new.len());
        self.mark(&new, &records, &vec![(0, u64::MAX); new.len()])?;
        Ok((n, read.events, stored, closed))
    }

    /// The file a checkpoint entry names: a local path that still exists, or an S3 object.
    fn input_of(&mut self, w: &WatchedFile) -> Result<Option<InputFile>> {
        let origin = match trailhound_source::s3::parse_s3_url(&w.key) {
            Some((bucket, key)) => Origin::S3 {
                source: self.bucket(&bucket)?,
                key,
            },
            None if Path::new(&w.key).exists() => Origin::Local,
            None => return Ok(None),
        };
        Ok(Some(InputFile {
            path: PathBuf::from(&w.key),
            size: w.size,
            delivery_time: w.delivery_time,
            origin,
            changed: None,
        }))
    }

    /// The client of a bucket (opened once).
    fn bucket(&mut self, bucket: &str) -> Result<Arc<S3Source>> {
        if let Some(s) = self.buckets.get(bucket) {
            return Ok(Arc::clone(s));
        }
        let s = S3Source::open(&format!("s3://{bucket}"))
            .map_err(|e| anyhow::anyhow!("s3://{bucket}: {e}"))?;
        self.buckets.insert(bucket.to_owned(), Arc::clone(&s));
        Ok(s)
    }

    /// Takes one round of S3 event notifications (waiting up to `wait` for the first): reads
    /// the objects they name that the checkpoint does not hold, as one batch, and only then
    /// deletes the messages. Returns the number of messages taken.
    fn notifications(&mut self, wait: Duration) -> Result<usize> {
        let Some(queue) = &self.sqs else {
            return Ok(0);
        };
        let queue_url = queue.url().to_owned();
        let notices = queue.receive(wait, 100).map_err(anyhow::Error::msg)?;
        if notices.is_empty() {
            return Ok(0);
        }
        let mut files = Vec::new();
        let mut skipped = 0;
        for n in &notices {
            if let Some(why) = &n.not_an_s3_event {
                eprintln!(
                    "trailhound: {queue_url}: a message that is not an S3 event ({why}); deleted"
                );
            }
            for o in &n.objects {
                let url = format!("s3://{}/{}", o.bucket, o.key);
                let name = o.key.rsplit('/').next().unwrap_or_default();
                let wanted = trailhound_source::Selection::default()
                    .skip_reason(Path::new(&o.key), name)
                    .is_none();
                if !wanted
                    || self.done.contains_key(&url)
                    || files.iter().any(|f: &InputFile| key(f) == url)
                {
                    skipped += 1;
                    continue;
                }
                let origin = Origin::S3 {
                    source: self.bucket(&o.bucket)?,
                    key: o.key.clone(),
                };
                files.push(InputFile::new(PathBuf::from(&url), o.size, origin, None));
            }
        }
        in_reading_order(&mut files);
        let n = notices.len();
        if !files.is_empty() {
            self.batch(files)?;
        }
        // Only now, with the alerts stored and the objects checkpointed.
        let receipts: Vec<String> = notices.into_iter().map(|n| n.receipt).collect();
        if let Some(queue) = &self.sqs
            && let Err(e) = queue.delete(&receipts)
        {
            // Not fatal: an undeleted message comes back, and the checkpoint makes it a no-op.
            eprintln!("trailhound: {e}");
        }
        if skipped > 0 {
            log(&format!(
                "{n} notifications: {skipped} objects already read or not CloudTrail"
            ));
        }
        Ok(n)
    }

    /// Files under the roots that are not in the checkpoint, in reading order. S3 prefixes are
    /// listed from the day before the newest processed delivery on (late deliveries included).
    ///
    /// A listing walks folders (or S3 keys) in name order while files keep arriving, so it may
    /// see a file that arrived during the walk and miss one that arrived before it, in a folder
    /// already walked. Taking only the files that changed [`SETTLE`] before the listing started
    /// makes it a snapshot of that moment: every file that arrived before one it takes is taken
    /// too. The others come with the next listing. With `--once` there is no next listing:
    /// everything listed is taken.
    fn pending(&self, once: bool) -> Vec<InputFile> {
        let newest = self.done.values().filter_map(|f| f.delivery_time).max();
        let started = std::time::SystemTime::now();
        self.list(newest.map(|t| t - DAY))
            .into_iter()
            .filter(|f| once || f.changed.is_none_or(|c| c + SETTLE <= started))
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
            // From the start of `from`'s day: the whole date folder is listed.
            let since = trailhound_source::Selection {
                since: from.map(|t| t - t.rem_euclid(DAY)),
                ..Default::default()
            };
            let more = discover_s3(source, &since);
            found.files.extend(more.files);
            found.unreadable.extend(more.unreadable);
        }
        for u in &found.unreadable {
            eprintln!("trailhound: cannot read {}: {}", u.path.display(), u.why);
        }
        in_reading_order(&mut found.files);
        found.files
    }

    /// Reads, detects, stores and checkpoints one batch of new files. A batch with late data
    /// is re-evaluated from the checkpoint instead (see the module documentation).
    fn batch(&mut self, files: Vec<InputFile>) -> Result<()> {
        let n = files.len();
        // A file read before starts after the records already processed.
        let ranges: Vec<(u64, u64)> = files
            .iter()
            .map(|f| (self.done.get(&key(f)).map_or(0, |w| w.records), u64::MAX))
            .collect();
        let read = self.read_and_detect(files.clone(), &ranges);
        if read.late.events() > 0 {
            let streams: Vec<String> = read
                .late
                .streams
                .iter()
                .map(|(s, l)| {
                    format!(
                        "{s}: {} events from {} in {}",
                        l.events,
                        trailhound_model::format_rfc3339(l.oldest),
                        l.file.display()
                    )
                })
                .collect();
            log(&format!(
                "late data, {} events older than the {} already released ({}); re-evaluating from the checkpoint",
                read.late.events(),
                self.clock
                    .released()
                    .map_or_else(String::new, trailhound_model::format_rfc3339),
                streams.join("; ")
            ));
            let reason = format!(
                "superseded: re-evaluated with late data ({} events of {})",
                read.late.events(),
                read.late
                    .streams
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let (files, events, new, closed) = self.rebuild(files, Some(&reason))?;
            log(&format!(
                "re-evaluated {files} files ({events} events): {new} new alerts, {closed} superseded"
            ));
            return Ok(());
        }
        let new = self.store_alerts(read.alerts)?;
        // Only now, with the alerts stored, are the files done.
        self.mark(&files, &read.records, &ranges)?;
        log(&format!(
            "{n} new files, {} events, {new} new alerts",
            read.events
        ));
        Ok(())
    }

    /// Marks `files` done in the checkpoint: each up to `records` (or where it started from).
    fn mark(&mut self, files: &[InputFile], records: &[u64], ranges: &[(u64, u64)]) -> Result<()> {
        let mut marks: [Vec<WatchedFile>; 2] = Default::default();
        for ((f, r), (from, _)) in files.iter().zip(records).zip(ranges) {
            marks[usize::from(matches!(f.origin, Origin::S3 { .. }))].push(WatchedFile {
                key: key(f),
                size: f.size,
                delivery_time: f.delivery_time,
                records: (*r).max(*from),
            });
        }
        for (source, marks) in [LOCAL_SOURCE, S3_SOURCE].into_iter().zip(marks) {
            if marks.is_empty() {
                continue;
            }
            self.store.mark_watched(source, &marks)?;
            for m in marks {
                self.done.insert(m.key.clone(), m);
            }
        }
        Ok(())
    }

    /// Ends the stream: the rules hand out what they still hold.
    fn finish(&mut self) -> Result<()> {
        let held = self.clock.release_all();
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
    /// `[from, to)`), then feeds the rules, in event-time order, every held event that no file
    /// still to come can precede. Late events are counted, not fed.
    fn read_and_detect(&mut self, files: Vec<InputFile>, ranges: &[(u64, u64)]) -> Read {
        let mut records = vec![0u64; files.len()];
        let names: Vec<String> = files.iter().map(|f| f.path.display().to_string()).collect();
        let order: Vec<Arc<FileOrder>> = files
            .iter()
            .map(|f| Arc::new(FileOrder::new(&f.path, f.delivery_time)))
            .collect();
        for o in &order {
            self.clock.note_file(o);
        }
        let options = ReadOptions {
            extra: Arc::clone(&self.extra),
            ordered: false,
            ..ReadOptions::default()
        };
        let mut cache = GeoCache::new(self.geo);
        let mut decoded = 0;
        let mut late = Late::default();
        for message in read(files, options) {
            match message {
                Message::Files(reports) => {
                    for report in reports {
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
                    // One message holds events of several files (unordered reading).
                    let mut by_file: HashMap<u32, Vec<Event>> = HashMap::new();
                    for e in events {
                        by_file.entry(e.provenance.file).or_default().push(e);
                    }
                    for (f, events) in by_file {
                        let file = &order[f as usize];
                        let l = self.clock.push(file, events);
                        late.count(file, &l);
                    }
                }
            }
        }
        let ready = self.clock.release();
        self.observe(&ready);
        let mut alerts = Vec::new();
        for d in &mut self.detectors {
            alerts.extend(d.drain());
        }
        Read {
            events: decoded,
            alerts,
            records,
            late,
        }
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
        crate::triage::reopen_raised_again(&mut *self.store, &stored)?;
        let mut out = std::io::stdout().lock();
        let mut new = 0;
        for (alert, item) in &stored {
            if item.outcome == Outcome::Inserted {
                new += 1;
                serde_json::to_writer(&mut out, alert)?;
                writeln!(out)?;
            }
        }
        out.flush()?;
        if let Some(d) = self.delivery.as_ref().filter(|_| new > 0) {
            d.notify();
        }
        let respond_to: Vec<&trailhound_detect::Alert> = stored
            .iter()
            .filter(|(a, item)| {
                item.outcome == Outcome::Inserted && self.config.response.applies_to(a)
            })
            .map(|(a, _)| a)
            .collect();
        if !respond_to.is_empty() {
            self.respond(respond_to)?;
        }
        Ok(new)
    }
}

impl Watcher<'_> {
    /// `[response]`: responds to the keys of `alerts` not yet responded to (a dry run unless
    /// `act`), as `trailhound watch`.
    fn respond(&mut self, alerts: Vec<&trailhound_detect::Alert>) -> Result<()> {
        let r = &self.config.response;
        if !r.enabled {
            return Ok(());
        }
        let plan = crate::respond::Plan {
            deactivate_key: r.deactivate_key,
            revoke_sessions: r.revoke_sessions,
            dry_run: !r.act,
        };
        let done: &[&str] = if plan.dry_run {
            &["planned", "done"]
        } else {
            &["done"]
        };
        let mut subjects = crate::respond::subjects(alerts);
        let mut fresh = Vec::new();
        for s in subjects.drain(..) {
            if !trailhound_store::outbox::responded(
                &*self.store,
                "deactivate-key",
                &s.access_key_id,
                done,
            )? && !trailhound_store::outbox::responded(
                &*self.store,
                "revoke-sessions",
                &s.user_name,
                done,
            )? {
                fresh.push(s);
            }
        }
        if fresh.is_empty() {
            return Ok(());
        }
        let mut lines = Vec::new();
        let failures = crate::respond::respond(
            &mut *self.store,
            &fresh,
            plan,
            "trailhound watch",
            &mut lines,
        )?;
        for line in String::from_utf8_lossy(&lines).lines() {
            log(&format!(
                "response{}: {line}",
                if plan.dry_run { " (dry run)" } else { "" }
            ));
        }
        if failures > 0 {
            log(&format!(
                "response: {failures} action(s) failed (recorded on the alerts)"
            ));
        }
        Ok(())
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
