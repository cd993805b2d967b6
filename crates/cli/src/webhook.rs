//! Webhook delivery of new alerts: a bounded queue drained by one background thread, so that a
//! slow or failing endpoint never blocks detection.
//!
//! Each new alert is POSTed to every URL as JSON: the alert itself (spec §6 fields), or with
//! `--webhook-format slack` a Slack incoming-webhook message (`{"text": ...}`). A failed delivery
//! (connection error, timeout, or a non-2xx status) is retried with exponential backoff; an alert
//! that still fails, or that finds the queue full, is dropped and counted. Delivery is at most
//! once: the queue is in memory, so alerts queued when the process dies are not sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use clap::ValueEnum;
use crossbeam_channel::{Sender, TrySendError, bounded};
use trailhound_detect::Alert;
use trailhound_model::format_rfc3339;

/// The body format of webhook requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WebhookFormat {
    /// The alert as JSON (the same object as `--format jsonl` prints).
    Json,
    /// A Slack-compatible incoming-webhook message.
    Slack,
}

/// Delivery settings.
#[derive(Clone, Debug)]
pub struct WebhookOptions {
    /// Alerts waiting beyond this many are dropped (and counted).
    pub queue: usize,
    /// Attempts per alert and URL, the first included.
    pub attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            queue: 1000,
            attempts: 4,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Counters of a notifier, shared with its thread.
#[derive(Debug, Default)]
pub struct WebhookCounts {
    /// Requests answered with a 2xx status.
    pub delivered: AtomicU64,
    /// Retries made.
    pub retried: AtomicU64,
    /// Alerts dropped: queue full, or every attempt failed.
    pub dropped: AtomicU64,
}

/// Sends new alerts to webhooks in the background.
pub struct Notifier {
    tx: Option<Sender<Alert>>,
    worker: Option<JoinHandle<()>>,
    counts: Arc<WebhookCounts>,
}

impl Notifier {
    /// Starts the delivery thread (none when `urls` is empty).
    pub fn start(urls: Vec<String>, format: WebhookFormat, options: WebhookOptions) -> Self {
        let counts = Arc::new(WebhookCounts::default());
        if urls.is_empty() {
            return Self {
                tx: None,
                worker: None,
                counts,
            };
        }
        let (tx, rx) = bounded::<Alert>(options.queue.max(1));
        let shared = Arc::clone(&counts);
        let worker = std::thread::Builder::new()
            .name("trailhound-webhook".into())
            .spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .timeout_global(Some(options.timeout))
                    .build()
                    .into();
                for alert in rx {
                    let body = body(&alert, format);
                    for url in &urls {
                        deliver(&agent, url, &body, &options, &shared);
                    }
                }
            })
            .expect("spawn webhook thread");
        Self {
            tx: Some(tx),
            worker: Some(worker),
            counts,
        }
    }

    /// Queues an alert without waiting; a full queue drops it (counted).
    pub fn send(&self, alert: &Alert) {
        if let Some(tx) = &self.tx {
            match tx.try_send(alert.clone()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                    eprintln!("trailhound: webhook queue full; alert {} dropped", alert.id);
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// The delivery counters (they keep counting until [`close`](Notifier::close) returns).
    pub fn counts(&self) -> Arc<WebhookCounts> {
        Arc::clone(&self.counts)
    }

    /// Stops taking alerts and waits at most `grace` for the queue to drain.
    pub fn close(mut self, grace: Duration) {
        self.tx = None;
        if let Some(worker) = self.worker.take() {
            let deadline = std::time::Instant::now() + grace;
            while !worker.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if worker.is_finished() {
                let _ = worker.join();
            }
        }
    }
}

/// The request body for one alert.
fn body(alert: &Alert, format: WebhookFormat) -> String {
    match format {
        WebhookFormat::Json => serde_json::to_string(alert).unwrap_or_default(),
        WebhookFormat::Slack => {
            let text = format!(
                "*{}* [{}] {}\nkey `{}` ({}), {} to {}\nalert id `{}`",
                alert.rule_name,
                alert.severity.as_str(),
                alert.why,
                alert.access_key_id,
                alert.user_arn,
                format_rfc3339(alert.first_seen),
                format_rfc3339(alert.last_seen),
                alert.id
            );
            serde_json::json!({ "text": text }).to_string()
        }
    }
}

/// Posts `body` to `url`, retrying with backoff; counts the outcome.
fn deliver(
    agent: &ureq::Agent,
    url: &str,
    body: &str,
    options: &WebhookOptions,
    counts: &WebhookCounts,
) {
    let mut wait = options.backoff;
    for attempt in 1..=options.attempts.max(1) {
        let result = agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body);
        match result {
            Ok(_) => {
                counts.delivered.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(e) if attempt == options.attempts.max(1) => {
                counts.dropped.fetch_add(1, Ordering::Relaxed);
                eprintln!("trailhound: webhook {url}: {e}; alert dropped after {attempt} attempts");
                return;
            }
            Err(_) => {
                counts.retried.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(wait);
                wait *= 2;
            }
        }
    }
}
