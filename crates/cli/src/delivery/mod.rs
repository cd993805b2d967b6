//! At-least-once delivery of new alerts to webhooks and AWS Security Hub, from the outbox in the
//! alert store ([`trailhound_store::outbox`]).
//!
//! One background thread, with its own connection to the store, so that a slow or failing
//! target never slows detection: the detection thread only stores alerts. The thread queues
//! every alert first stored after a target was registered, sends what is due, records each
//! outcome, retries failures with a doubling wait (per alert, and per target so that a target
//! that is down is not hammered), and gives up on an alert only after the maximum age, counting
//! it. Each request carries the alert id as its idempotency key. What is pending when the process
//! stops is sent by the next one.

pub mod securityhub;
pub mod webhook;

use std::ffi::OsString;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};
use trailhound_detect::Span;
use trailhound_store::outbox::{self, Due, Outcome};
use trailhound_store::{AlertStore, StoredAlert};

/// Where alerts go: one webhook URL, or Security Hub in one region.
pub trait Target: Send {
    /// The target as stored in the outbox: the URL, or `aws-securityhub:REGION`.
    fn id(&self) -> &str;

    /// How many alerts one request carries.
    fn batch(&self) -> usize {
        1
    }

    /// Sends `alerts` (at most [`batch`](Target::batch)); one result per alert, in order.
    fn send(&mut self, alerts: &[StoredAlert]) -> Vec<Result<(), String>>;

    /// True for a target that keeps a copy of each alert, updated by id (Security Hub's
    /// findings): an alert whose status or evidence changed after its delivery is sent again.
    /// A chat webhook gets each alert once.
    fn keeps_copies(&self) -> bool {
        false
    }
}

/// Delivery settings.
#[derive(Clone, Debug)]
pub struct DeliveryOptions {
    /// Wait before the first retry of an alert; doubled for each further one.
    pub retry: Duration,
    /// The longest wait between two retries.
    pub max_retry: Duration,
    /// Give up on an alert not delivered this long after it was stored.
    pub max_age: Span,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(300),
            max_age: Span::from_nanos(24 * 3600 * 1_000_000_000),
        }
    }
}

/// Counters of this process's deliveries.
#[derive(Debug, Default)]
pub struct DeliveryCounts {
    /// Alerts a target took.
    pub delivered: AtomicU64,
    /// Requests that failed (each is retried).
    pub failed: AtomicU64,
    /// Alerts given up on after the maximum age.
    pub expired: AtomicU64,
    /// Requests a previous process left without an outcome, sent again.
    pub unconfirmed: AtomicU64,
}

/// The delivery thread.
pub struct Delivery {
    wake: Option<Sender<()>>,
    worker: Option<JoinHandle<()>>,
    counts: Arc<DeliveryCounts>,
}

impl Delivery {
    /// Registers `targets` in the store at `spec` and starts the thread (none when there is no
    /// target).
    pub fn start(
        spec: &OsString,
        targets: Vec<Box<dyn Target>>,
        options: DeliveryOptions,
    ) -> Result<Self> {
        let counts = Arc::new(DeliveryCounts::default());
        if targets.is_empty() {
            return Ok(Self {
                wake: None,
                worker: None,
                counts,
            });
        }
        let mut store = trailhound_store::open_existing_store(spec)
            .with_context(|| format!("opening {} for delivery", spec.to_string_lossy()))?;
        let now = crate::hunt::now();
        let mut lanes = Vec::new();
        for t in targets {
            let since = outbox::register_target(&mut *store, t.id(), now)?;
            lanes.push(Lane {
                target: t,
                since,
                scanned: None,
                requeued: None,
                failures: 0,
                not_before: Instant::now(),
            });
        }
        let ids: Vec<String> = lanes.iter().map(|l| l.target.id().to_owned()).collect();
        let unconfirmed = outbox::recover(&mut *store, &ids)?;
        counts.unconfirmed.store(unconfirmed, Ordering::Relaxed);
        let (wake, rx) = bounded::<()>(1);
        let shared = Arc::clone(&counts);
        let worker = std::thread::Builder::new()
            .name("trailhound-delivery".into())
            .spawn(move || {
                let mut w = Worker {
                    store,
                    lanes,
                    options,
                    counts: shared,
                };
                w.run(&rx);
            })
            .context("starting the delivery thread")?;
        Ok(Self {
            wake: Some(wake),
            worker: Some(worker),
            counts,
        })
    }

    /// Says that new alerts were stored (delivery looks for them now rather than in a second).
    pub fn notify(&self) {
        if let Some(w) = &self.wake {
            let _ = w.try_send(());
        }
    }

    /// This process's counters.
    pub fn counts(&self) -> Arc<DeliveryCounts> {
        Arc::clone(&self.counts)
    }

    /// Stops taking new alerts, sends what is due for at most `grace`, and stops. What is left
    /// stays in the outbox for the next start.
    pub fn close(mut self, grace: Duration) {
        self.wake = None;
        if let Some(worker) = self.worker.take() {
            let deadline = Instant::now() + grace;
            while !worker.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if worker.is_finished() {
                let _ = worker.join();
            }
        }
    }
}

/// One target and its pacing.
struct Lane {
    target: Box<dyn Target>,
    /// When the target was registered: it receives alerts stored since.
    since: i64,
    /// Where the last look for new alerts started (a margin is read again each time).
    scanned: Option<i64>,
    /// When changed alerts were last queued again (targets that keep copies).
    requeued: Option<Instant>,
    /// Failed requests in a row.
    failures: u32,
    /// No request before this (after a failure).
    not_before: Instant,
}

struct Worker {
    store: Box<dyn AlertStore + Send>,
    lanes: Vec<Lane>,
    options: DeliveryOptions,
    counts: Arc<DeliveryCounts>,
}

/// How often a target that keeps copies looks for alerts changed since their delivery.
const REQUEUE_EVERY: Duration = Duration::from_secs(10);

/// How far back each look for new alerts reads again: an alert's first-stored time is taken
/// when its transaction starts, and it becomes visible at the commit.
const SCAN_MARGIN: i64 = 600 * 1_000_000_000;

impl Worker {
    fn run(&mut self, wake: &Receiver<()>) {
        let mut closing = false;
        loop {
            let sent = match self.round() {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("trailhound: delivery: {e:#}");
                    0
                }
            };
            if closing && sent == 0 {
                return;
            }
            if sent > 0 {
                continue;
            }
            match wake.recv_timeout(Duration::from_millis(500)) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => closing = true,
            }
        }
    }

    /// Queues new alerts, expires old ones, and sends one batch per target that is due.
    /// Returns the requests made.
    fn round(&mut self) -> Result<usize> {
        let now = crate::hunt::now();
        let ids: Vec<String> = self
            .lanes
            .iter()
            .map(|l| l.target.id().to_owned())
            .collect();
        for lane in &mut self.lanes {
            let from = lane.scanned.map_or(lane.since, |s| s - SCAN_MARGIN);
            outbox::enqueue_new(&mut *self.store, lane.target.id(), lane.since, from)?;
            lane.scanned = Some(now);
            if lane.target.keeps_copies()
                && lane.requeued.is_none_or(|t| t.elapsed() >= REQUEUE_EVERY)
            {
                outbox::requeue_changed(&mut *self.store, lane.target.id())?;
                lane.requeued = Some(Instant::now());
            }
        }
        let expired = outbox::expire(&mut *self.store, &ids, now - self.options.max_age.nanos())?;
        if expired > 0 {
            self.counts.expired.fetch_add(expired, Ordering::Relaxed);
            eprintln!(
                "trailhound: delivery: gave up on {expired} alert deliveries older than {}",
                self.options.max_age
            );
        }
        let mut requests = 0;
        for lane in &mut self.lanes {
            if Instant::now() < lane.not_before {
                continue;
            }
            let id = [lane.target.id().to_owned()];
            let due = outbox::due(&*self.store, &id, now, lane.target.batch() as i64)?;
            if due.is_empty() {
                continue;
            }
            requests += 1;
            outbox::begin(&mut *self.store, &due)?;
            let alerts = due
                .iter()
                .map(|d| self.store.get(&d.alert_id))
                .collect::<Result<Option<Vec<_>>, _>>()?;
            let results = match alerts {
                Some(alerts) => lane.target.send(&alerts),
                None => vec![Err("the alert is no longer stored".to_owned()); due.len()],
            };
            let finished: Vec<(Due, Outcome)> = due
                .into_iter()
                .zip(results)
                .map(|(d, r)| {
                    let outcome = match r {
                        Ok(()) => Outcome::Delivered,
                        Err(error) => Outcome::Retry {
                            at: crate::hunt::now() + nanos(self.options.wait(d.attempts + 1)),
                            error,
                        },
                    };
                    (d, outcome)
                })
                .collect();
            let ok = finished
                .iter()
                .filter(|(_, o)| *o == Outcome::Delivered)
                .count() as u64;
            let failed = finished.len() as u64 - ok;
            self.counts.delivered.fetch_add(ok, Ordering::Relaxed);
            self.counts.failed.fetch_add(failed, Ordering::Relaxed);
            if failed > 0 {
                lane.failures += 1;
                lane.not_before = Instant::now() + self.options.wait(i64::from(lane.failures));
                if let Some((d, Outcome::Retry { error, .. })) =
                    finished.iter().find(|(_, o)| *o != Outcome::Delivered)
                {
                    eprintln!(
                        "trailhound: delivery to {}: alert {}: {error} (will retry)",
                        outbox::display_target(&d.target),
                        d.alert_id
                    );
                }
            } else {
                lane.failures = 0;
            }
            outbox::finish(&mut *self.store, &finished)?;
        }
        Ok(requests)
    }
}

impl DeliveryOptions {
    /// The wait after the `n`th failed request (1 for the first).
    fn wait(&self, n: i64) -> Duration {
        let doublings = n.clamp(1, 20) - 1;
        (self.retry * (1u32 << doublings)).min(self.max_retry)
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap() {
        let o = DeliveryOptions {
            retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(5),
            ..DeliveryOptions::default()
        };
        let waits: Vec<u64> = (1..=5).map(|n| o.wait(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        assert_eq!(o.wait(1000).as_secs(), 5);
    }
}
