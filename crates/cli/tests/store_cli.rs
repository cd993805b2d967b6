//! `hunt` with the alert store and `alerts list|show|ack|close`: idempotent re-runs, statuses that
//! survive re-runs, audit fields, and the correlation rule D5 over the store's open alerts.
//!
//! The data: one long-term key used every day for 11 days from one address (history, and D2's
//! warm-up), then on day 12 in the same hour a successful call from a new address (D2, medium)
//! and a denied call (D4, high). Folder `a` holds the history and the denied call; folder `b`
//! holds only the successful call from the new address, so that a run over `a` alone raises D4
//! without D2.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};

const KEY: &str = "AKIAEXAMPLE0000000D5";
const OLD_IP: &str = "198.51.100.7";
const NEW_IP: &str = "203.0.113.9";
const D2: &str = "aws-akia-first-seen-source-ip";
const D4: &str = "aws-akia-unauthorized-api-call";
const D5: &str = "aws-akia-correlated-elevated-alerts";

struct Data {
    dir: tempfile::TempDir,
}

impl Data {
    fn a(&self) -> PathBuf {
        self.dir.path().join("a")
    }
    fn b(&self) -> PathBuf {
        self.dir.path().join("b")
    }
    /// A store file that does not exist yet.
    fn store(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}.db"))
    }
}

fn record(day: u32, minute: u32, ip: &str, event: &str, error: Option<&str>, n: u32) -> Value {
    let mut r = json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": "arn:aws:iam::111122223333:user/alice",
            "accountId": "111122223333",
            "accessKeyId": KEY,
            "userName": "alice"
        },
        "eventTime": format!("2026-01-{day:02}T10:{minute:02}:00Z"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": event,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.0",
        "eventID": format!("ev-{day:02}-{minute:02}-{n}"),
        "eventType": "AwsApiCall",
        "readOnly": true,
        "recipientAccountId": "111122223333"
    });
    if let Some(code) = error {
        r["errorCode"] = json!(code);
        r["errorMessage"] = json!("You are not authorized to perform this operation.");
    }
    r
}

/// Writes one CloudTrail delivery file per day under `root` in the S3 layout.
fn write_day(root: &Path, day: u32, records: Vec<Value>) {
    let dir = root.join(format!(
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/{day:02}"
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!("111122223333_CloudTrail_us-east-1_202601{day:02}T1015Z_{day:02}x.json");
    let body = json!({ "Records": records });
    std::fs::write(dir.join(name), serde_json::to_vec(&body).unwrap()).unwrap();
}

fn data() -> Data {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    for day in 1..=11 {
        write_day(
            &a,
            day,
            vec![record(day, 0, OLD_IP, "DescribeRegions", None, 0)],
        );
    }
    // Day 12, 10:10: a denied call from the new address (D4).
    write_day(
        &a,
        12,
        vec![record(
            12,
            10,
            NEW_IP,
            "DescribeInstances",
            Some("Client.UnauthorizedOperation"),
            0,
        )],
    );
    // Day 12, 10:05: a successful call from the new address (D2).
    write_day(
        &b,
        12,
        vec![record(12, 5, NEW_IP, "DescribeRegions", None, 1)],
    );
    Data { dir }
}

/// The binary, with the default store pointed into the test's folder (so that nothing here ever
/// writes to the user's data dir).
fn trailhound(data: &Data) -> Command {
    let mut c = Command::cargo_bin("trailhound").unwrap();
    c.env("TRAILHOUND_STORE", data.store("default"));
    c
}

struct Run {
    alerts: Vec<Value>,
    stderr: String,
}

impl Run {
    fn of_rule(&self, rule: &str) -> Vec<&Value> {
        self.alerts
            .iter()
            .filter(|a| a["rule_id"] == rule)
            .collect()
    }
    fn one(&self, rule: &str) -> &Value {
        let v = self.of_rule(rule);
        assert_eq!(
            v.len(),
            1,
            "expected one {rule} alert in {:#?}",
            self.alerts
        );
        v[0]
    }
    fn ids(&self) -> Vec<String> {
        self.alerts
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn jsonl(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A hunt with the built-in rules only (`--no-sigma`): these tests are about the store and D5's
/// lifecycle over a known set of alerts; crates/cli/tests/sigma.rs covers Sigma alerts.
fn hunt(data: &Data, store: &Path, paths: &[PathBuf], extra: &[&str]) -> Run {
    let out = trailhound(data)
        .args([
            "hunt",
            "--no-sigma",
            "--format",
            "jsonl",
            "--no-progress",
            "--store",
        ])
        .arg(store)
        .args(extra)
        .args(paths)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "hunt failed: {stderr}");
    Run {
        alerts: jsonl(&out.stdout),
        stderr,
    }
}

/// `trailhound alerts ARGS... --store STORE --format jsonl`, which must succeed.
fn alerts(data: &Data, store: &Path, args: &[&str]) -> Vec<Value> {
    let out = trailhound(data)
        .arg("alerts")
        .args(args)
        .arg("--store")
        .arg(store)
        .args(["--format", "jsonl"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "alerts {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    jsonl(&out.stdout)
}

fn sibling_ids(d5: &Value) -> Vec<&str> {
    d5["details"]["siblings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect()
}

#[test]
fn hunting_twice_creates_no_duplicates() {
    let d = data();
    let store = d.store("s");
    let first = hunt(&d, &store, &[d.a(), d.b()], &[]);
    let rules: BTreeSet<&str> = first
        .alerts
        .iter()
        .map(|a| a["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, BTreeSet::from([D2, D4, D5]), "{:#?}", first.alerts);
    assert!(
        first.stderr.contains(": 3 new, 0 already known"),
        "{}",
        first.stderr
    );

    let second = hunt(&d, &store, &[d.a(), d.b()], &[]);
    assert_eq!(second.ids(), first.ids());
    assert!(
        second
            .stderr
            .contains(": 0 new, 3 already known (0 with new evidence)"),
        "{}",
        second.stderr
    );
    let stored = alerts(&d, &store, &["list"]);
    assert_eq!(stored.len(), 3);
    let distinct: BTreeSet<&str> = stored.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(distinct.len(), 3);
    assert!(stored.iter().all(|a| a["status"] == "open"));
}

#[test]
fn closed_alert_stays_closed_when_hunting_again() {
    let d = data();
    let store = d.store("s");
    let first = hunt(&d, &store, &[d.a(), d.b()], &[]);
    let d4 = first.one(D4)["id"].as_str().unwrap().to_owned();
    // Close by a unique prefix of the id.
    let closed = alerts(
        &d,
        &store,
        &[
            "close",
            &d4[..10],
            "--reason",
            "pentest, agreed",
            "--by",
            "alice",
        ],
    );
    assert_eq!(closed[0]["id"], d4.as_str());
    assert_eq!(closed[0]["status"], "closed");

    let again = hunt(&d, &store, &[d.a(), d.b()], &[]);
    assert_eq!(again.one(D4)["status"], "closed");
    assert_eq!(again.one(D2)["status"], "open");
    let shown = alerts(&d, &store, &["show", &d4]);
    assert_eq!(shown[0]["status"], "closed");
    assert_eq!(shown[0]["status_by"], "alice");
    assert_eq!(shown[0]["status_reason"], "pentest, agreed");
    assert_eq!(alerts(&d, &store, &["list"]).len(), 3);
    assert_eq!(alerts(&d, &store, &["list", "--status", "closed"]).len(), 1);
    // Closing twice is refused with a clear message.
    let out = trailhound(&d)
        .args(["alerts", "close", &d4, "--store"])
        .arg(&store)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already closed"));
}

#[test]
fn ack_and_show_carry_the_audit_fields() {
    let d = data();
    let store = d.store("s");
    let run = hunt(&d, &store, &[d.a(), d.b()], &[]);
    let d2 = run.one(D2)["id"].as_str().unwrap().to_owned();
    let before = alerts(&d, &store, &["show", &d2]);
    assert_eq!(before[0]["status"], "open");
    assert!(before[0]["status_by"].is_null() && before[0]["status_at"].is_null());
    assert_eq!(before[0]["history"], json!([]));

    let acked = alerts(
        &d,
        &store,
        &["ack", &d2, "--reason", "calling alice", "--by", "bob"],
    );
    assert_eq!(acked[0]["status"], "acknowledged");
    let shown = &alerts(&d, &store, &["show", &d2])[0];
    assert_eq!(shown["status"], "acknowledged");
    assert_eq!(shown["status_by"], "bob");
    assert_eq!(shown["status_reason"], "calling alice");
    let at = shown["status_at"].as_str().unwrap();
    assert!(at.starts_with("20") && at.ends_with('Z'), "{at}");
    assert!(shown["created_at"].is_string() && shown["updated_at"].is_string());
    assert_eq!(shown["access_key_id"], KEY);
    assert_eq!(shown["source_ips"], json!([NEW_IP]));
    let h = shown["history"].as_array().unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(
        (&h[0]["from"], &h[0]["to"], &h[0]["by"], &h[0]["reason"]),
        (
            &json!("open"),
            &json!("acknowledged"),
            &json!("bob"),
            &json!("calling alice")
        )
    );
    // Then closed: the trail has both changes, the alert the latest.
    alerts(
        &d,
        &store,
        &["close", &d2, "--reason", "key rotated", "--by", "carol"],
    );
    let shown = &alerts(&d, &store, &["show", &d2])[0];
    assert_eq!(
        (&shown["status"], &shown["status_by"]),
        (&json!("closed"), &json!("carol"))
    );
    assert_eq!(shown["history"].as_array().unwrap().len(), 2);
    // The table form shows the same.
    let out = trailhound(&d)
        .args(["alerts", "show", &d2, "--store"])
        .arg(&store)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("carol")
            && text.contains("key rotated")
            && text.contains("acknowledged -> closed"),
        "{text}"
    );
}

#[test]
fn d5_fires_when_first_seen_and_elevated_alert_share_the_key() {
    let d = data();
    let store = d.store("s");
    let run = hunt(&d, &store, &[d.a(), d.b()], &[]);
    let d2 = run.one(D2);
    let d4 = run.one(D4);
    let d5 = run.one(D5);
    assert_eq!(d5["severity"], "high");
    assert_eq!(d5["risk_score"], 73);
    assert_eq!(d5["status"], "open");
    assert_eq!(d5["access_key_id"], KEY);
    assert_eq!(d5["time"], d2["time"]);
    assert_eq!(sibling_ids(d5), [d4["id"].as_str().unwrap()]);
    let sib = &d5["details"]["siblings"][0];
    assert_eq!(sib["rule_id"], D4);
    assert_eq!(sib["risk_score"], 73);
    assert_eq!(sib["time"], "2026-01-12T10:00:00Z");
    assert_eq!(d5["details"]["first_seen_alerts"][0]["id"], d2["id"]);
    assert_eq!(d5["mitre"], json!(["T1078.004", "T1552"]));
    // Evidence is the union: both events of day 12.
    assert_eq!(d5["count"], 2);
    assert_eq!(
        d5["event_names"],
        json!(["DescribeInstances", "DescribeRegions"])
    );
    assert!(
        run.stderr
            .contains("Long-term key correlated with elevated alerts 1"),
        "{}",
        run.stderr
    );
    let listed = alerts(&d, &store, &["list", "--rule", D5]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], d5["id"]);
}

/// Runs `a` alone (D4, no D2 yet), optionally changes the D4 alert's status, then runs `a` and
/// `b` (now D2 fires and D5 correlates the store's open alerts).
fn two_step(d: &Data, store: &Path, change: Option<&str>) -> Run {
    let first = hunt(d, store, &[d.a()], &[]);
    assert!(first.of_rule(D2).is_empty() && first.of_rule(D5).is_empty());
    let d4 = first.one(D4)["id"].as_str().unwrap().to_owned();
    if let Some(verb) = change {
        alerts(
            d,
            store,
            &[verb, &d4, "--reason", "expected", "--by", "alice"],
        );
    }
    let second = hunt(d, store, &[d.a(), d.b()], &[]);
    second.one(D2);
    assert_eq!(second.one(D4)["id"], d4.as_str());
    second
}

#[test]
fn d5_does_not_count_a_sibling_closed_or_acknowledged_before_correlation() {
    let d = data();
    // Control: the same two runs with the sibling left open do raise D5.
    let open = two_step(&d, &d.store("open"), None);
    assert_eq!(open.one(D5)["status"], "open");

    let closed_store = d.store("closed");
    let closed = two_step(&d, &closed_store, Some("close"));
    assert!(closed.of_rule(D5).is_empty(), "{:#?}", closed.alerts);
    assert_eq!(closed.one(D4)["status"], "closed");
    assert!(alerts(&d, &closed_store, &["list", "--rule", D5]).is_empty());

    let acked = two_step(&d, &d.store("acked"), Some("ack"));
    assert!(acked.of_rule(D5).is_empty(), "{:#?}", acked.alerts);
}

#[test]
fn d5_groups_by_source_ip_as_an_option() {
    let d = data();
    let config = d.dir.path().join("by-ip.toml");
    std::fs::write(
        &config,
        "[rules.aws-akia-correlated-elevated-alerts]\ngroup_by = \"source_ip\"\nwindow = \"2h\"\n",
    )
    .unwrap();
    let run = hunt(
        &d,
        &d.store("s"),
        &[d.a(), d.b()],
        &["--config", config.to_str().unwrap()],
    );
    let d5 = run.one(D5);
    assert_eq!(d5["details"]["group_by"], "source_ip");
    assert_eq!(d5["details"]["group_key"], NEW_IP);
    assert_eq!(d5["details"]["window"], "2h");
    let by_key = hunt(&d, &d.store("t"), &[d.a(), d.b()], &[]);
    assert_ne!(d5["id"], by_key.one(D5)["id"]);

    // Unknown parameters of D5 are configuration errors.
    std::fs::write(
        &config,
        "[rules.aws-akia-correlated-elevated-alerts]\ngroupby = \"x\"\n",
    )
    .unwrap();
    let out = trailhound(&d)
        .args(["hunt", "--no-store", "--config"])
        .arg(&config)
        .arg(d.a())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("groupby"));
}

#[test]
fn no_store_reports_open_alerts_and_writes_nothing() {
    let d = data();
    let out = trailhound(&d)
        .args([
            "hunt",
            "--no-sigma",
            "--format",
            "jsonl",
            "--no-progress",
            "--no-store",
        ])
        .arg(d.a())
        .arg(d.b())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = jsonl(&out.stdout);
    assert_eq!(run.len(), 3);
    assert!(run.iter().all(|a| a["status"] == "open"));
    // D5 still correlates the run's own alerts.
    assert_eq!(run.iter().filter(|a| a["rule_id"] == D5).count(), 1);
    assert!(!d.store("default").exists());
}

#[test]
fn default_store_comes_from_the_environment() {
    let d = data();
    // $TRAILHOUND_STORE first.
    let out = trailhound(&d)
        .args(["hunt", "--no-progress"])
        .arg(d.a())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.store("default").exists());
    // Else $XDG_DATA_HOME/trailhound/alerts.db.
    let xdg = d.dir.path().join("xdg");
    let out = Command::cargo_bin("trailhound")
        .unwrap()
        .env_remove("TRAILHOUND_STORE")
        .env("XDG_DATA_HOME", &xdg)
        .args(["hunt", "--no-progress"])
        .arg(d.a())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(xdg.join("trailhound/alerts.db").exists());
    let listed = Command::cargo_bin("trailhound")
        .unwrap()
        .env_remove("TRAILHOUND_STORE")
        .env("XDG_DATA_HOME", &xdg)
        .args(["alerts", "list", "--format", "jsonl"])
        .output()
        .unwrap();
    assert_eq!(jsonl(&listed.stdout).len(), 1);
}
