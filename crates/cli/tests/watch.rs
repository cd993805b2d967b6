//! `trailhound watch`: files arrive in a watched folder while the watcher is killed with SIGKILL
//! at random points and restarted; it must end with exactly the alerts that one `hunt` over all
//! the files gives. (Webhooks and Security Hub: tests/delivery.rs.)

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use trailhound_store::{AlertFilter, AlertStore, Checkpoints, SqliteStore};

#[path = "support/s3.rs"]
mod s3;

#[path = "support/cli.rs"]
mod cli;
use cli::bin;

fn run_ok(args: &[&std::ffi::OsStr]) -> std::process::Output {
    cli::run_ok(Command::new(bin()).args(args))
}

/// A generated scenario set (a few thousand events with every planted attack).
fn generate(dir: &Path) {
    cli::generate(dir, &["--events", "3000", "--keys", "6"]);
}

/// The CloudTrail files of `dir`, in the order AWS delivers them (delivery time in the name).
fn delivery_order(dir: &Path) -> Vec<PathBuf> {
    trailhound_source::discover(&[dir.to_path_buf()])
        .files
        .into_iter()
        .map(|f| f.path)
        .collect()
}

/// Copies `file` (under `from`) to the same place under `to`, atomically: written under a
/// hidden name, then renamed, as a sync tool does.
fn deliver(file: &Path, from: &Path, to: &Path) {
    let dest = to.join(file.strip_prefix(from).unwrap());
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let tmp = dest.with_file_name(format!(
        ".{}.part",
        dest.file_name().unwrap().to_string_lossy()
    ));
    std::fs::copy(file, &tmp).unwrap();
    std::fs::rename(&tmp, &dest).unwrap();
}

/// Runs one `hunt` over `src` into `tmp/hunt.db`; returns the store's path.
fn hunt_into(tmp: &Path, src: &Path) -> PathBuf {
    let store = tmp.join("hunt.db");
    run_ok(&[
        "hunt".as_ref(),
        "--no-progress".as_ref(),
        "--store".as_ref(),
        store.as_os_str(),
        src.as_os_str(),
    ]);
    store
}

/// The alerts of one `hunt` over `src`, ordered by id.
fn hunt_alerts(tmp: &Path, src: &Path) -> Vec<Value> {
    all_alerts(&hunt_into(tmp, src))
}

/// Stops a watcher cleanly (SIGTERM: the end of the data) and checks that it exits with 0.
fn stop(mut child: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
}

fn all_alerts(store: &Path) -> Vec<Value> {
    let s = SqliteStore::open_existing(store).unwrap();
    let mut v: Vec<Value> = s
        .list(&AlertFilter::default())
        .unwrap()
        .into_iter()
        .map(|a| serde_json::to_value(&a.alert).unwrap())
        .collect();
    v.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    v
}

fn start_watch(
    watched: &[impl AsRef<std::ffi::OsStr>],
    store: &Path,
    log: &Path,
    env: &[(&'static str, String)],
) -> Child {
    Command::new(bin())
        .arg("watch")
        .args(watched)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .arg("--store")
        .arg(store)
        .args(["--interval", "0.05"])
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap(),
        )
        .spawn()
        .unwrap()
}

/// Files in the watcher's checkpoint.
fn checkpointed(store: &Path, source: &str) -> usize {
    SqliteStore::open_existing(store)
        .and_then(|s| s.watched_files(source))
        .map_or(0, |v| v.len())
}

/// Waits until the checkpoint holds `n` files.
fn wait_for_checkpoint(store: &Path, source: &str, n: usize, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let done = checkpointed(store, source);
        if done >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {n} files after 3 minutes; log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where the test delivers files while the watcher runs.
struct Destination<'a> {
    /// The watcher's arguments: a folder, an `s3://` URL, or `--sqs QUEUE_URL`.
    args: Vec<std::ffi::OsString>,
    /// Delivers one file of the generated set (atomically).
    deliver: Box<dyn Fn(&Path) + 'a>,
    /// Environment of the watcher.
    env: Vec<(&'static str, String)>,
    /// The checkpoint source the watcher records these files under.
    source: &'static str,
}

/// Delivers the generated set to `dest` in delivery order, in random chunks, killing the watcher
/// with SIGKILL at random points and restarting it; then stops it cleanly and compares its
/// alerts with those of one `hunt` over the same files.
fn kill_and_restart(tmp: &Path, src: &Path, dest: Destination<'_>, seed: u64) {
    let files = delivery_order(src);
    watch_equals_hunt(tmp, src, dest, &files, seed, Some(3));
}

/// Delivers the files of `src` to `dest` in the order of `arrival`, in random chunks (with
/// `kills`, killing the watcher with SIGKILL at random points and restarting it); then stops it
/// cleanly and compares its alerts with those of one `hunt` over the same files.
fn watch_equals_hunt(
    tmp: &Path,
    src: &Path,
    dest: Destination<'_>,
    files: &[PathBuf],
    seed: u64,
    min_kills: Option<usize>,
) {
    let kills_wanted = min_kills.is_some();
    assert!(files.len() > 200, "{} files", files.len());
    let expected = hunt_alerts(tmp, src);
    assert!(expected.len() >= 5, "{} alerts", expected.len());

    let store = tmp.join(format!("watch-{}.db", dest.source));
    let log = tmp.join(format!("watch-{}.log", dest.source));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut child = start_watch(&dest.args, &store, &log, &dest.env);
    let mut kills = 0;
    let mut restarts_from_a_checkpoint = 0;
    let mut next = 0;
    while next < files.len() {
        let n = rng
            .random_range(1..=files.len() / 8)
            .min(files.len() - next);
        for f in &files[next..next + n] {
            (dest.deliver)(f);
        }
        next += n;
        if !kills_wanted {
            // Sometimes let the watcher list a part, sometimes several parts at once.
            if rng.random_bool(0.5) {
                wait_for_checkpoint(&store, dest.source, next, &log);
            }
        } else if rng.random_bool(0.6) {
            if rng.random_bool(0.5) {
                // Let it catch up first, so that the next watcher starts from a checkpoint
                // (and must rebuild the rules' state); otherwise kill it mid-work.
                wait_for_checkpoint(&store, dest.source, next, &log);
            }
            // Anywhere: while listing, decoding, storing alerts or marking the checkpoint.
            std::thread::sleep(Duration::from_millis(rng.random_range(0..400)));
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            kills += 1;
            let done = checkpointed(&store, dest.source);
            if done > 0 && done < files.len() {
                restarts_from_a_checkpoint += 1;
            }
            child = start_watch(&dest.args, &store, &log, &dest.env);
        }
    }
    // Wait for the checkpoint to hold every file and for the last watcher to be up, then stop it
    // cleanly (the end of the data).
    wait_for_checkpoint(&store, dest.source, files.len(), &log);
    let started = format!("started (pid {})", child.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains(&started)
    {
        assert!(Instant::now() < deadline, "the last watcher did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    stop(child);
    if let Some(min) = min_kills {
        assert!(kills >= min, "only {kills} kills");
        assert!(
            restarts_from_a_checkpoint >= 2,
            "only {restarts_from_a_checkpoint} restarts from a partial checkpoint"
        );
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!text.contains("late data"), "log:\n{text}");

    let got = all_alerts(&store);
    let ids = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|a| format!("{} {}", a["rule_id"], a["id"]))
            .collect()
    };
    assert_eq!(
        ids(&got),
        ids(&expected),
        "log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(got, expected);
}

#[test]
fn folder_sigkill_at_random_points_then_restart_ends_with_the_alerts_of_one_hunt() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    generate(&src);
    let watched = tmp.path().join("watched");
    std::fs::create_dir_all(&watched).unwrap();
    let dest = Destination {
        args: vec![watched.clone().into_os_string()],
        deliver: Box::new(|f| deliver(f, &src, &watched)),
        env: Vec::new(),
        source: "file",
    };
    kill_and_restart(tmp.path(), &src, dest, 20261123);
}

#[test]
fn s3_sigkill_at_random_points_then_restart_ends_with_the_alerts_of_one_hunt() {
    let Some(server) = s3::S3Server::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    generate(&src);
    server.create_bucket("trail");
    let dest = Destination {
        args: vec!["s3://trail/AWSLogs".into()],
        deliver: Box::new(|f| {
            let key = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            server.put("trail", &key, f);
        }),
        env: server.env(),
        source: "s3",
    };
    kill_and_restart(tmp.path(), &src, dest, 7);
}

/// `watch --sqs`: objects arrive in the bucket with an S3 event notification each in an SQS queue
/// (every fifth wrapped by SNS, as the S3 → SNS → SQS fan-out delivers it), and the watcher,
/// killed with SIGKILL at random points, ends with exactly the alerts of one `hunt`: a message
/// is deleted only after its objects' alerts are stored (the queue's visibility timeout of 2 s
/// brings back what a killed watcher had taken), and the checkpoint makes the second delivery a
/// no-op. At the end the queue is empty.
#[test]
fn sqs_notifications_with_sigkill_at_random_points_end_with_the_alerts_of_one_hunt() {
    let Some(server) = s3::S3Server::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    generate(&src);
    server.create_bucket("trail");
    let queue = server.create_queue("notices", 2);
    let sent = std::cell::Cell::new(0u32);
    let dest = Destination {
        args: vec!["--sqs".into(), queue.clone().into()],
        deliver: Box::new(|f| {
            let key = f.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            server.put("trail", &key, f);
            let size = std::fs::metadata(f).unwrap().len();
            let event = serde_json::json!({"Records": [{
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "trail"}, "object": {"key": key, "size": size}}
            }]})
            .to_string();
            sent.set(sent.get() + 1);
            let body = if sent.get().is_multiple_of(5) {
                serde_json::json!({"Type": "Notification", "MessageId": "m", "Message": event})
                    .to_string()
            } else {
                event
            };
            server.send_message(&queue, &body);
        }),
        env: server.env(),
        source: "s3",
    };
    watch_equals_hunt(tmp.path(), &src, dest, &delivery_order(&src), 5, Some(5));
    assert_eq!(server.queue_length(&queue), 0, "every message deleted");
}

/// The files of `src` in the order they arrive when each region lags by up to `region_lag` and
/// each file by up to `file_jitter` more (uniformly, from `seed`): CloudTrail's real delivery,
/// where each account/region writes its own files and a region can fall behind.
fn arrival_order(
    src: &Path,
    seed: u64,
    region_lag: i64,
    file_jitter: i64,
) -> (Vec<PathBuf>, std::collections::BTreeMap<String, i64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut lags = std::collections::BTreeMap::new();
    let mut files: Vec<(i64, PathBuf)> = trailhound_source::discover(&[src.to_path_buf()])
        .files
        .into_iter()
        .map(|f| {
            let region = trailhound_source::event_time::stream_of(&f.path);
            let lag = *lags
                .entry(region)
                .or_insert_with(|| rng.random_range(0..=region_lag));
            let at = f.delivery_time.unwrap() + lag + rng.random_range(0..=file_jitter);
            (at, f.path)
        })
        .collect();
    files.sort();
    (files.into_iter().map(|(_, p)| p).collect(), lags)
}

/// The property of event time: whatever order files arrive in within the allowed lateness (by
/// region, by file, with and without SIGKILL between batches), `watch` ends with the alerts of
/// one `hunt`: same ids, times and evidence. The generated events lie up to 5 minutes before
/// their file's delivery time, so a lag of up to 20 minutes per region plus 4 per file keeps
/// every file within the default 30 minutes.
#[test]
fn out_of_order_arrival_within_the_lateness_ends_with_the_alerts_of_one_hunt() {
    const MINUTE: i64 = 60_000_000_000;
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    generate(&src);
    let in_order = delivery_order(&src);
    for (k, (seed, region_lag, file_jitter, kills)) in [
        (1, 20 * MINUTE, 4 * MINUTE, false), // by region
        (2, 0, 24 * MINUTE, false),          // by file
        (3, 20 * MINUTE, 4 * MINUTE, true),  // by region, with SIGKILL
    ]
    .into_iter()
    .enumerate()
    {
        let (files, lags) = arrival_order(&src, seed, region_lag, file_jitter);
        assert_ne!(files, in_order, "order {k} is the delivery order");
        if region_lag > 0 {
            assert!(lags.values().any(|l| *l > 10 * MINUTE), "{lags:?}");
        }
        let run = tmp.path().join(format!("order-{k}"));
        let watched = run.join("watched");
        std::fs::create_dir_all(&watched).unwrap();
        let dest = Destination {
            args: vec![watched.clone().into_os_string()],
            deliver: Box::new(|f| deliver(f, &src, &watched)),
            env: Vec::new(),
            source: "file",
        };
        watch_equals_hunt(&run, &src, dest, &files, 100 + seed, kills.then_some(3));
    }
}

/// A region later than the allowed lateness: its files are counted as late data and the rules
/// are re-evaluated from the checkpoint, so the open alerts are exactly those of one `hunt`;
/// alerts raised before the late files came that the re-evaluation no longer raises are closed
/// as superseded, by `trailhound watch`, with the reason.
#[test]
fn a_region_later_than_the_lateness_is_re_evaluated_and_ends_with_the_alerts_of_one_hunt() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    generate(&src);
    let expected = hunt_alerts(tmp.path(), &src);
    // us-east-1 of one account stops delivering on the 13th, then delivers everything at once
    // (the rest follows): its events are days late, and the first-seen alerts raised without
    // them are wrong.
    let (late, on_time): (Vec<PathBuf>, Vec<PathBuf>) =
        delivery_order(&src).into_iter().partition(|f| {
            f.to_string_lossy()
                .contains("438445665889_CloudTrail_us-east-1_")
        });
    assert!(late.len() > 50, "{} late files", late.len());
    let watched = tmp.path().join("watched");
    std::fs::create_dir_all(&watched).unwrap();
    let store = tmp.path().join("watch.db");
    let log = tmp.path().join("watch.log");
    let child = start_watch(&[&watched], &store, &log, &[]);
    let cut = on_time
        .iter()
        .position(|f| f.to_string_lossy().contains("20260113"))
        .unwrap();
    for f in &on_time[..cut] {
        deliver(f, &src, &watched);
    }
    wait_for_checkpoint(&store, "file", cut, &log);
    let before: Vec<Value> = all_alerts(&store);
    for f in &late {
        deliver(f, &src, &watched);
    }
    wait_for_checkpoint(&store, "file", cut + late.len(), &log);
    for f in &on_time[cut..] {
        deliver(f, &src, &watched);
    }
    wait_for_checkpoint(&store, "file", on_time.len() + late.len(), &log);
    stop(child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("late data") && text.contains("438445665889/us-east-1: "),
        "log:\n{text}"
    );

    let s = SqliteStore::open_existing(&store).unwrap();
    let stored = s.list(&AlertFilter::default()).unwrap();
    let mut open: Vec<Value> = stored
        .iter()
        .filter(|a| a.status != trailhound_store::Status::Closed)
        .map(|a| serde_json::to_value(&a.alert).unwrap())
        .collect();
    open.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let ids = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|a| format!("{} {}", a["rule_id"], a["id"]))
            .collect()
    };
    assert_eq!(ids(&open), ids(&expected), "log:\n{text}");
    assert_eq!(open, expected);
    // Every other alert was raised before the late files came, and is closed as superseded.
    let superseded: Vec<_> = stored
        .iter()
        .filter(|a| a.status == trailhound_store::Status::Closed)
        .collect();
    assert!(!superseded.is_empty(), "nothing superseded; log:\n{text}");
    assert!(
        superseded
            .iter()
            .any(|a| before.iter().any(|b| b["id"] == a.alert.id.as_str())),
        "no alert raised before the late files was superseded"
    );
    for a in &superseded {
        assert_eq!(a.status_by.as_deref(), Some("trailhound watch"));
        let why = a.status_reason.as_deref().unwrap();
        assert!(
            why.starts_with("superseded: re-evaluated with late data (")
                && why.contains("438445665889/us-east-1"),
            "{why}"
        );
        assert!(
            !expected.iter().any(|b| b["id"] == a.alert.id.as_str()),
            "{} is one of hunt's alerts",
            a.alert.id
        );
    }
}

/// With a PostgreSQL store (when `TRAILHOUND_TEST_POSTGRES` names a server, as in CI): two
/// `--once` runs over a folder that grows in between end with the alerts of one `hunt`.
#[test]
fn watch_resumes_from_a_postgres_checkpoint() {
    let Some(url) = std::env::var("TRAILHOUND_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.trim().is_empty())
    else {
        eprintln!("skipped: set TRAILHOUND_TEST_POSTGRES");
        return;
    };
    // A schema of its own, dropped with `keep` at the end.
    let keep = trailhound_store::PostgresStore::open_temporary(url.trim()).unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let spec = format!("{}{sep}schema={}", url.trim(), keep.schema());
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    generate(&src);
    let hunt_store = hunt_into(tmp.path(), &src);
    let files = delivery_order(&src);
    let watched = tmp.path().join("watched");
    let once = || {
        run_ok(&[
            "watch".as_ref(),
            "--once".as_ref(),
            "--store".as_ref(),
            spec.as_ref(),
            watched.as_os_str(),
        ])
    };
    for f in &files[..files.len() / 2] {
        deliver(f, &src, &watched);
    }
    once();
    for f in &files[files.len() / 2..] {
        deliver(f, &src, &watched);
    }
    let second = once();
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("replayed"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let pg = trailhound_store::open_existing_store(&spec).unwrap();
    let mut got: Vec<String> = pg
        .list(&AlertFilter::default())
        .unwrap()
        .into_iter()
        .map(|a| a.alert.id)
        .collect();
    got.sort();
    let mut want: Vec<String> = all_alerts(&hunt_store)
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    want.sort();
    assert_eq!(got, want);
    drop(pg);
    drop(keep);
}

/// A file written in place in two halves (as a log shipper appends) while one watcher runs: it
/// reads the first half (the last line cut mid-record), then, when the file grows, reads on from
/// the first record not yet processed. Every event counts exactly once: the D4 alert of the hour
/// counts all six denied calls, not three (the rest never read) nor nine (the first half twice).
/// The same across a restart (`--once`, which replays only the records processed).
#[test]
fn a_file_written_in_two_halves_counts_every_event_once() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let store = tmp.path().join("alerts.db");
    let log = tmp.path().join("watch.log");
    let record = |i: u32| {
        format!(
            r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","principalId":"AIDAX","arn":"arn:aws:iam::111122223333:user/u","accountId":"111122223333","accessKeyId":"AKIAGROWGROWGROWGROW","userName":"u"}},"eventTime":"2026-02-01T10:0{i}:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2","errorCode":"AccessDenied","eventID":"grow-{i}","eventType":"AwsApiCall","recipientAccountId":"111122223333"}}"#
        )
    };
    let all: String = (0..6).map(|i| record(i) + "\n").collect();
    let file = logs.join("shipper.jsonl");
    // The first half: three whole records and half of the fourth.
    let cut = (0..3).map(|i| record(i).len() + 1).sum::<usize>() + 40;
    std::fs::write(&file, &all[..cut]).unwrap();
    let checkpoint = || {
        SqliteStore::open_existing(&store)
            .and_then(|s| s.watched_files("file"))
            .unwrap_or_default()
    };
    let wait_for = |size: usize| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !checkpoint().iter().any(|w| w.size == size as u64) {
            assert!(
                Instant::now() < deadline,
                "the watcher did not read {size} bytes; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let child = start_watch(&[&logs], &store, &log, &[]);
    wait_for(cut);
    assert_eq!(checkpoint()[0].records, 3);
    // The rest of the file arrives, written in place.
    std::fs::write(&file, &all).unwrap();
    wait_for(all.len());
    stop(child);
    let d4 = |alerts: &[Value]| -> Vec<(u64, Vec<String>)> {
        alerts
            .iter()
            .filter(|a| a["rule_id"] == "aws-akia-unauthorized-api-call")
            .map(|a| {
                let ids = a["event_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect();
                (a["count"].as_u64().unwrap(), ids)
            })
            .collect()
    };
    let want: Vec<String> = (0..6).map(|i| format!("grow-{i}")).collect();
    assert_eq!(d4(&all_alerts(&store)), [(6, want.clone())]);
    let w = checkpoint();
    assert_eq!((w[0].size, w[0].records), (all.len() as u64, 6));
    // A restart replays only the processed records and changes nothing.
    run_ok(&[
        "watch".as_ref(),
        logs.as_os_str(),
        "--store".as_ref(),
        store.as_os_str(),
        "--once".as_ref(),
    ]);
    assert_eq!(d4(&all_alerts(&store)), [(6, want)]);
}
