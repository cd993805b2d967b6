//! The scale-out path (feature `lake`) against the embedded engine: on the generated scenario
//! set, DataFusion in process over the raw objects, over the converted Parquet lake, and a
//! Ballista scheduler with two executors (separate processes on 127.0.0.1) over the raw objects
//! and over the lake converted to an S3-compatible server all raise exactly the embedded
//! engine's D1–D5 alerts, field for field.

#![cfg(feature = "lake")]

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/cli.rs"]
mod cli;
#[path = "support/s3.rs"]
mod s3;
use cli::{bin, generate, jsonl, run_ok, trailhound};

/// `hunt --no-store --format jsonl` with `args` over `path` (a folder or `s3://` prefix) with
/// `env`; the alerts by id.
fn hunt_in(
    env: &[(&'static str, String)],
    args: &[&str],
    path: impl AsRef<OsStr>,
) -> BTreeMap<String, Value> {
    let out = run_ok(
        trailhound("lake")
            .args(["hunt", "--no-store", "--format", "jsonl", "--no-progress"])
            .args(args)
            .arg(path)
            .envs(env.iter().map(|(k, v)| (k, v))),
    );
    jsonl(&out.stdout)
        .into_iter()
        .map(|a| (a["id"].as_str().unwrap().to_owned(), a))
        .collect()
}

fn hunt(args: &[&str], path: &Path) -> BTreeMap<String, Value> {
    hunt_in(&[], args, path)
}

fn per_rule(alerts: &BTreeMap<String, Value>) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for a in alerts.values() {
        *n.entry(a["rule_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    n
}

fn assert_same(name: &str, expected: &BTreeMap<String, Value>, got: &BTreeMap<String, Value>) {
    let ids = |m: &BTreeMap<String, Value>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(ids(got), ids(expected), "{name}: alert ids");
    for (id, a) in expected {
        assert_eq!(&got[id], a, "{name}: alert {id} ({})", a["rule_id"]);
    }
}

/// A free port on 127.0.0.1 (released for the child to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "nothing listens on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Child processes killed when the test ends, pass or fail.
struct Cluster(Vec<Child>);

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn datafusion_parquet_and_a_two_executor_cluster_match_the_embedded_engine() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    generate(&data, &["--events", "30000", "--seed", "7"]);

    let embedded = hunt(&["--no-sigma"], &data);
    // The scenario set's planted attacks (crates/cli/tests/generated.rs checks them against the
    // manifest): the comparison below is not between two empty sets.
    let expected: BTreeMap<String, usize> = [
        ("aws-akia-correlated-elevated-alerts", 2),
        ("aws-akia-failed-api-spike", 1),
        ("aws-akia-first-seen-source-ip", 4),
        ("aws-akia-unauthorized-api-call", 2),
        ("aws-iam-user-agent-new-ip", 2),
    ]
    .into_iter()
    .map(|(r, n)| (r.to_owned(), n))
    .collect();
    assert_eq!(per_rule(&embedded), expected);

    // DataFusion in process, over the raw objects.
    let raw = hunt(&["--engine", "datafusion"], &data);
    assert_same("datafusion over raw objects", &embedded, &raw);

    // The Parquet lake: one folder per date, then the same hunt over it.
    let lake = tmp.path().join("lake");
    run_ok(
        trailhound("lake")
            .arg("convert")
            .arg(&data)
            .arg("--out")
            .arg(&lake),
    );
    let dates: Vec<String> = std::fs::read_dir(&lake)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        dates.iter().all(|d| d.starts_with("date=2026-01-")) && dates.len() >= 14,
        "{dates:?}"
    );
    let parquet = hunt(&["--parquet"], &lake);
    assert_same("datafusion over the Parquet lake", &embedded, &parquet);

    // The lake again on an S3-compatible server, when one can run (always in CI): executors on
    // other machines would read it there, not from a shared folder.
    let server = s3::S3Server::start();
    let env = server.as_ref().map(|s| s.env()).unwrap_or_default();
    let lake_url: OsString = match &server {
        Some(server) => {
            server.create_bucket("lake");
            let mut convert = trailhound("lake");
            convert
                .arg("convert")
                .arg(&data)
                .args(["--out", "s3://lake/cloudtrail"]);
            run_ok(convert.envs(env.iter().map(|(k, v)| (k, v))));
            "s3://lake/cloudtrail".into()
        }
        None => lake.clone().into_os_string(),
    };

    // A scheduler and two executors, each its own process.
    let scheduler_port = free_port();
    let mut cluster = Cluster(Vec::new());
    cluster.0.push(
        Command::new(bin())
            .args([
                "scheduler",
                "--bind",
                &format!("127.0.0.1:{scheduler_port}"),
            ])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(scheduler_port);
    let mut logs = Vec::new();
    for i in 0..2 {
        let log = tmp.path().join(format!("executor-{i}.log"));
        let (flight, grpc) = (free_port(), free_port());
        cluster.0.push(
            Command::new(bin())
                .args(["executor", "--scheduler"])
                .arg(format!("127.0.0.1:{scheduler_port}"))
                .args([
                    "--port",
                    &flight.to_string(),
                    "--grpc-port",
                    &grpc.to_string(),
                ])
                .args(["--concurrent-tasks", "1"])
                .arg("--work-dir")
                .arg(tmp.path())
                .envs(env.iter().map(|(k, v)| (k, v)))
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap(),
        );
        wait_for_port(grpc);
        logs.push(log);
    }
    let url = format!("df://127.0.0.1:{scheduler_port}");
    let on_cluster = hunt(&["--cluster", &url], &data);
    assert_same(
        "the Ballista cluster over raw objects",
        &embedded,
        &on_cluster,
    );
    let on_cluster = hunt_in(&env, &["--cluster", &url, "--parquet"], &lake_url);
    assert_same("the Ballista cluster over the lake", &embedded, &on_cluster);
    for log in &logs {
        let text = std::fs::read_to_string(log).unwrap();
        assert!(
            text.contains("Finished task"),
            "executor {} ran no task:\n{text}",
            log.display()
        );
    }
}
