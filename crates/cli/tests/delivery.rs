//! Delivery of alerts: webhooks at least once across SIGKILL and restarts, never slowing
//! detection; undeliverable alerts counted and shown; Slack and Teams bodies.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use trailhound_store::{AlertFilter, AlertStore, SqliteStore};

#[path = "support/cli.rs"]
mod cli;
use cli::bin;

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Request {
    status: u16,
    idempotency_key: String,
    body: String,
}

/// A loopback webhook receiver that answers 500 while it is down and 200 when it is up.
struct Receiver {
    url: String,
    up: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    fn start(up: bool) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/hook/secret-token",
            listener.local_addr().unwrap()
        );
        let up = Arc::new(AtomicBool::new(up));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (flag, log) = (Arc::clone(&up), Arc::clone(&seen));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let (mut length, mut key, mut complete) = (0, String::new(), false);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if lower.starts_with("idempotency-key:") {
                        key = line["idempotency-key:".len()..].trim().to_owned();
                    }
                    if line == "\r\n" {
                        complete = true;
                        break;
                    }
                }
                // A sender killed in the middle of a request leaves it incomplete: not a request.
                let mut body = vec![0; length];
                if !complete || reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let status = if flag.load(Ordering::SeqCst) {
                    200
                } else {
                    500
                };
                // Recorded before answering: a 2xx the sender may not see still counts here.
                log.lock().unwrap().push(Request {
                    status,
                    idempotency_key: key,
                    body: String::from_utf8(body).unwrap(),
                });
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Receiver { url, up, seen }
    }

    fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }

    /// Per alert id, the 2xx answers given.
    fn accepted(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for r in self.requests().into_iter().filter(|r| r.status == 200) {
            *m.entry(r.idempotency_key).or_default() += 1;
        }
        m
    }
}

fn generate(dir: &Path) {
    cli::generate(dir, &["--events", "3000", "--keys", "6"]);
}

fn stored_ids(store: &Path) -> Vec<String> {
    let Ok(s) = SqliteStore::open_existing(store) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = s
        .list(&AlertFilter::default())
        .map(|v| v.into_iter().map(|a| a.alert.id).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

/// The ids of the alerts one `hunt` over `src` stores.
fn hunt_ids(tmp: &Path, src: &Path) -> Vec<String> {
    let store = tmp.join("hunt.db");
    cli::run_ok(
        Command::new(bin())
            .args(["hunt", "--no-progress", "--store"])
            .arg(&store)
            .arg(src),
    );
    stored_ids(&store)
}

fn watch(src: &Path, store: &Path, hook: &str, more: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.arg("watch")
        .arg(src)
        .arg("--store")
        .arg(store)
        .args(["--interval", "0.05", "--delivery-retry", "50ms"])
        .args(["--webhook", hook])
        .args(more);
    c
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sigkill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn every_alert_is_delivered_at_least_once_across_sigkill_and_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    generate(&src);
    let expected = hunt_ids(tmp.path(), &src);
    assert!(expected.len() >= 5, "{expected:?}");
    let store = tmp.path().join("w.db");
    let hook = Receiver::start(false);

    // 1. The webhook is down: every alert is still stored (detection does not wait for it).
    cli::run_ok(&mut watch(&src, &store, &hook.url, &["--once"]));
    assert_eq!(stored_ids(&store), expected);
    assert!(!hook.requests().is_empty());
    assert!(hook.accepted().is_empty());

    // 2. Restarted while still down: the outbox is read back and retried; killed.
    let before = hook.requests().len();
    let child = watch(&src, &store, &hook.url, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("retries after the restart", Duration::from_secs(60), || {
        hook.requests().len() >= before + 2
    });
    sigkill(child);
    assert!(hook.accepted().is_empty());

    // 3. Restarted, the webhook comes back, and the watcher is killed while delivering.
    let child = watch(&src, &store, &hook.url, &[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    hook.up.store(true, Ordering::SeqCst);
    wait_until("a first delivery", Duration::from_secs(60), || {
        !hook.accepted().is_empty()
    });
    sigkill(child);

    // 4. One more run delivers the rest and exits.
    let out = cli::run_ok(&mut watch(&src, &store, &hook.url, &["--once"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "outbox {}: {} delivered, 0 pending, 0 undeliverable",
            hook.url.trim_end_matches("/hook/secret-token"),
            expected.len()
        )),
        "{stderr}"
    );
    // The secret path of the URL is never printed.
    assert!(!stderr.contains("secret-token"), "{stderr}");

    // Every alert reached the receiver, each exactly as many times as the store says it was
    // delivered. The one exception is at-least-once itself: a request in flight when the
    // watcher was killed in step 3 has no recorded outcome (`unconfirmed`) and was sent again,
    // so the receiver may have taken it once more than recorded.
    let accepted = hook.accepted();
    assert_eq!(accepted.keys().cloned().collect::<Vec<_>>(), expected);
    let s = SqliteStore::open_existing(&store).unwrap();
    let records = trailhound_store::outbox::records(&s).unwrap();
    assert_eq!(records.len(), expected.len());
    for r in &records {
        let got = accepted[&r.alert_id];
        assert!(r.delivered >= 1, "{r:?}");
        if r.unconfirmed == 0 {
            assert_eq!(got, r.delivered, "{r:?}");
        } else {
            assert!(
                got >= r.delivered && got <= r.delivered + r.unconfirmed,
                "{r:?}: {got}"
            );
        }
    }
    assert!(records.iter().filter(|r| r.unconfirmed > 0).count() <= 1);
    // Each body is the stored alert, with the id of its idempotency key.
    for r in hook.requests() {
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["id"], r.idempotency_key.as_str());
        assert!(v["status"].is_string());
    }

    // A fourth run sends nothing: every alert is delivered.
    let n = hook.requests().len();
    cli::run_ok(&mut watch(&src, &store, &hook.url, &["--once"]));
    assert_eq!(hook.requests().len(), n);
}

#[test]
fn undeliverable_alerts_past_the_maximum_age_are_counted_and_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    generate(&src);
    let store = tmp.path().join("w.db");
    let hook = Receiver::start(false);
    cli::run_ok(&mut watch(&src, &store, &hook.url, &["--once"]));
    let n = stored_ids(&store).len();
    assert!(n >= 5);
    std::thread::sleep(Duration::from_millis(1200));
    let stats = tmp.path().join("watch-stats.json");
    let out = cli::run_ok(&mut watch(
        &src,
        &store,
        &hook.url,
        &[
            "--once",
            "--delivery-max-age",
            "1s",
            "--stats",
            stats.to_str().unwrap(),
        ],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{n} given up after 1s")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("0 delivered, 0 pending, {n} undeliverable")),
        "{stderr}"
    );
    // `--stats` counts them, and so does a later hunt's summary and `--stats`.
    let v: Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    assert_eq!(v["deliveries"]["expired"], n as u64);
    assert_eq!(v["outbox"][0]["expired"], n as u64);
    let hunt_stats = tmp.path().join("hunt-stats.json");
    let out = cli::run_ok(
        Command::new(bin())
            .args(["hunt", "--no-progress", "--format", "jsonl", "--store"])
            .arg(&store)
            .arg("--stats")
            .arg(&hunt_stats)
            .arg(&src),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{n} undeliverable (past the maximum age), 0 pending, 0 delivered"
        )),
        "{stderr}"
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&hunt_stats).unwrap()).unwrap();
    assert_eq!(v["deliveries"][0]["expired"], n as u64);
    // `alerts deliveries` lists them.
    let out = cli::run_ok(
        Command::new(bin())
            .args(["alerts", "deliveries", "--format", "jsonl", "--store"])
            .arg(&store),
    );
    let rows = cli::jsonl(&out.stdout);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["expired"], n as u64);
    assert_eq!(rows[0]["pending"], 0);
    assert_eq!(rows[0]["delivered"], 0);
    assert!(!rows[0]["target"].as_str().unwrap().contains("secret"));

    // The web UI's first page says so.
    let (mut child, addr) = serve(&store);
    let page = http_get(&addr, "/");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        page.contains(&format!(r#"data-undeliverable="{n}" data-pending="0""#)),
        "{page}"
    );
}

#[test]
fn slack_and_teams_get_chat_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    generate(&src);
    let slack = Receiver::start(true);
    let teams = Receiver::start(true);
    for (hook, format) in [(&slack, "slack"), (&teams, "teams")] {
        let store = tmp.path().join(format!("{format}.db"));
        cli::run_ok(&mut watch(
            &src,
            &store,
            &hook.url,
            &["--once", "--webhook-format", format],
        ));
        let ids = stored_ids(&store);
        let mut got: Vec<String> = hook
            .requests()
            .iter()
            .map(|r| r.idempotency_key.clone())
            .collect();
        got.sort();
        assert_eq!(got, ids);
        for r in hook.requests() {
            let v: Value = serde_json::from_str(&r.body).unwrap();
            let text = if format == "slack" {
                v["text"].as_str().unwrap().to_owned()
            } else {
                let card = &v["attachments"][0];
                assert_eq!(
                    card["contentType"],
                    "application/vnd.microsoft.card.adaptive"
                );
                assert_eq!(card["content"]["type"], "AdaptiveCard");
                card["content"]["body"].to_string()
            };
            assert!(text.contains(&r.idempotency_key), "{text}");
        }
    }
}

/// Starts `serve` on a free loopback port; returns the process and `HOST:PORT` (the caller
/// kills and waits for it; a test that fails first leaves it to the harness's exit).
#[allow(clippy::zombie_processes)]
fn serve(store: &Path) -> (Child, String) {
    let mut child = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--store"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(i) = line.find("http://") {
            let addr = line[i + "http://".len()..]
                .trim()
                .trim_end_matches('/')
                .to_owned();
            std::thread::spawn(move || for _ in lines {});
            return (child, addr);
        }
    }
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
