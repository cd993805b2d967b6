//! The command-line contract, on real third-party data and on a folder of bad input.

use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;

fn shared_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(name)
}

fn hunt_stats(paths: &[&Path]) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let stats = dir.path().join("stats.json");
    let out = Command::cargo_bin("trailhound")
        .unwrap()
        .args(["hunt", "--no-store"])
        .args(paths)
        .arg("--stats")
        .arg(&stats)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "hunt failed: {stderr}");
    (
        serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap(),
        stderr,
    )
}

#[test]
fn invictus_ir_dataset_has_2900_events() {
    let (s, stderr) = hunt_stats(&[&shared_data("invictus-ir-aws-dataset")]);
    assert_eq!(s["events"], 2900);
    assert_eq!(s["files"], 55);
    assert_eq!(s["other_files_skipped"], 2); // README.md, LICENSE
    assert_eq!(s["issues_by_kind"], serde_json::json!({}));
    assert!(stderr.contains("2900 events"), "{stderr}");
}

#[test]
fn flaws2_dataset_has_37_events() {
    let (s, _) = hunt_stats(&[&shared_data("flaws2-cloud")]);
    assert_eq!(s["events"], 37);
    assert_eq!(s["files"], 8);
    assert_eq!(s["source_address_kinds"]["public_ipv4"], 32);
    assert_eq!(s["source_address_kinds"]["aws_service"], 5);
}

fn record(i: usize, ip: &str) -> String {
    format!(
        r#"{{"userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u","accessKeyId":"AKIAEXAMPLE000000001"}},"eventTime":"2026-01-01T10:{m:02}:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","sourceIPAddress":"{ip}","eventID":"e{i}"}}"#,
        m = i % 60
    )
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A gzipped `{"Records":[...]}` of `n` records, cut right after record `keep` (a sync flush there
/// makes exactly the first `keep` records recoverable).
fn truncated_gzip(n: usize, keep: usize) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(b"{\"Records\":[").unwrap();
    let mut cut = 0;
    for i in 0..n {
        if i > 0 {
            e.write_all(b",").unwrap();
        }
        e.write_all(record(i, "8.8.8.8").as_bytes()).unwrap();
        if i + 1 == keep {
            e.flush().unwrap();
            cut = e.get_ref().len();
        }
    }
    e.write_all(b"]}").unwrap();
    let full = e.finish().unwrap();
    full[..cut].to_vec()
}

#[test]
fn bad_input_is_counted_by_kind_and_good_records_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir
        .path()
        .join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/01");
    let recs = |ips: &[&str]| -> String {
        let v: Vec<String> = ips
            .iter()
            .enumerate()
            .map(|(i, ip)| record(i, ip))
            .collect();
        format!(r#"{{"Records":[{}]}}"#, v.join(","))
    };
    // 4 good records with every kind of source address.
    write(
        &root.join("111122223333_CloudTrail_us-east-1_20260101T1005Z_aaaa.json"),
        recs(&[
            "8.8.8.8",
            "2a03:2880:f12c:83:face:b00c::25de",
            "ec2.amazonaws.com",
            "1.2.3.4, 8.8.4.4",
        ])
        .as_bytes(),
    );
    // 3 good records, gzipped.
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(recs(&["10.0.0.1", "192.168.1.1", "not an ip"]).as_bytes())
        .unwrap();
    write(
        &root.join("111122223333_CloudTrail_us-east-1_20260101T1010Z_bbbb.json.gz"),
        &e.finish().unwrap(),
    );
    // A truncated gzip whose first 7 of 40 records survive.
    write(
        &root.join("111122223333_CloudTrail_us-east-1_20260101T1015Z_cccc.json.gz"),
        &truncated_gzip(40, 7),
    );
    // A text file with a CloudTrail name, and one without.
    write(
        &root.join("111122223333_CloudTrail_us-east-1_20260101T1020Z_dddd.json"),
        b"<html>not json</html>\n",
    );
    write(&dir.path().join("notes.txt"), b"just notes\n");
    // A record without eventTime and one without userIdentity among 2 good ones.
    let mixed = format!(
        r#"{{"Records":[{},{{"eventName":"X","userIdentity":{{}}}},{{"eventTime":"2026-01-01T10:30:00Z","eventName":"NoIdentity"}},{}]}}"#,
        record(0, "8.8.8.8"),
        record(1, "8.8.8.8")
    );
    write(
        &root.join("111122223333_CloudTrail_us-east-1_20260101T1030Z_eeee.json"),
        mixed.as_bytes(),
    );
    // JSON Lines with one bad line, and a digest file.
    let jsonl = format!(
        "{}\n{{oops\n{}\n",
        record(0, "8.8.8.8"),
        record(1, "8.8.8.8")
    );
    write(&dir.path().join("export/events.jsonl"), jsonl.as_bytes());
    write(
        &dir.path().join("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/01/01/111122223333_CloudTrail-Digest_us-east-1_x_us-east-1_20260101T1100Z.json.gz"),
        b"digest",
    );

    let (s, stderr) = hunt_stats(&[dir.path()]);
    assert_eq!(s["files"], 6, "{s}");
    assert_eq!(s["digest_files_skipped"], 1);
    assert_eq!(s["other_files_skipped"], 1);
    assert_eq!(s["events"], 4 + 3 + 7 + 3 + 2, "{s}");
    assert_eq!(
        s["issues_by_kind"],
        serde_json::json!({
            "truncated_gzip": 1, "truncated_json": 1, "not_json": 2,
            "missing_event_time": 1, "missing_user_identity": 1
        })
    );
    assert_eq!(s["files_with_issues"], 4);
    assert_eq!(
        s["source_address_kinds"],
        serde_json::json!({
            // first file 1, truncated 7, mixed 2, JSON Lines 2
            "public_ipv4": 1 + 7 + 2 + 2, "public_ipv6": 1, "aws_service": 1, "address_list": 1,
            "private_or_reserved": 2, "not_an_address": 1, "empty": 1
        })
    );
    // Each located issue names its file, and record-level ones their record index.
    let issues = s["issues"].as_array().unwrap();
    let find = |kind: &str| issues.iter().find(|i| i["kind"] == kind).unwrap().clone();
    assert!(
        find("truncated_gzip")["file"]
            .as_str()
            .unwrap()
            .ends_with("cccc.json.gz")
    );
    assert_eq!(find("truncated_json")["record"], 7);
    assert_eq!(find("missing_event_time")["record"], 1);
    assert!(
        find("missing_event_time")["file"]
            .as_str()
            .unwrap()
            .ends_with("eeee.json")
    );
    assert_eq!(find("missing_user_identity")["record"], 2);
    let not_json: Vec<_> = issues.iter().filter(|i| i["kind"] == "not_json").collect();
    assert!(
        not_json
            .iter()
            .any(|i| i["file"].as_str().unwrap().ends_with("dddd.json") && i["record"].is_null())
    );
    assert!(
        not_json
            .iter()
            .any(|i| i["file"].as_str().unwrap().ends_with("events.jsonl") && i["record"] == 1)
    );
    assert!(stderr.contains("bad input in 4 files"), "{stderr}");
}

#[test]
fn no_input_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("trailhound")
        .unwrap()
        .args(["hunt", "--no-store"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no CloudTrail files found"));
}

/// Inputs that give nothing to decode are counted by kind, never skipped silently: only such
/// inputs is exit status 2; some of them with `--strict` is 3 (after the whole run).
#[cfg(unix)]
#[test]
fn unreadable_inputs_are_counted_and_fail_the_run_when_nothing_could_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(logs.join("sub")).unwrap();
    write(&logs.join("empty.json"), b"");
    std::os::unix::fs::symlink("..", logs.join("sub/loop")).unwrap();
    let run = |strict: bool| {
        let mut c = Command::cargo_bin("trailhound").unwrap();
        c.args(["hunt", "--no-store", "--no-progress", "--stats"])
            .arg(dir.path().join("stats.json"))
            .arg(&logs);
        if strict {
            c.arg("--strict");
        }
        c.output().unwrap()
    };
    let out = run(false);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: no input could be read: 1 empty_file, 1 symlink_loop in "),
        "{err}"
    );
    // With one readable file beside them: the run goes on, and counts them.
    write(
        &logs.join("real.json"),
        format!("{}\n{}\n", record(0, "8.8.8.8"), record(1, "8.8.8.8")).as_bytes(),
    );
    let out = run(false);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("stats.json")).unwrap()).unwrap();
    assert_eq!(s["events"], 2);
    assert_eq!(
        s["input_problems"],
        serde_json::json!({"empty_file": 1, "symlink_loop": 1})
    );
    assert_eq!(s["issues_by_kind"]["empty_file"], 1);
    assert_eq!(s["issues_by_kind"]["symlink_loop"], 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad input in 2 files: empty_file 1, symlink_loop 1"),
        "{err}"
    );
    // Into a store, the run's summary is kept for the web UI's first page.
    let db = dir.path().join("alerts.db");
    let out = Command::cargo_bin("trailhound")
        .unwrap()
        .args(["hunt", "--no-progress", "--store"])
        .arg(&db)
        .arg(&logs)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let store = trailhound_store::SqliteStore::open_existing(&db).unwrap();
    let (_, last) = trailhound_store::runs::last(&store, "hunt")
        .unwrap()
        .unwrap();
    assert_eq!(
        last["input_problems"],
        serde_json::json!({"empty_file": 1, "symlink_loop": 1})
    );
    // --strict: the same run, then exit status 3.
    let out = run(true);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--strict: some input was unreadable or bad (1 empty_file, 1 symlink_loop)")
    );
}

#[test]
fn an_explicit_file_is_read_whatever_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("export.txt");
    write(
        &f,
        format!("{}\n{}\n", record(0, "8.8.8.8"), record(1, "8.8.8.8")).as_bytes(),
    );
    let (s, _) = hunt_stats(&[&f]);
    assert_eq!(s["events"], 2);
}

/// A folder mixing every form AWS hands CloudTrail over in yields the same events as the same
/// records in the delivery format, counted per form in the summary and `--stats`.
#[test]
fn a_folder_mixing_every_form_reads_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let recs: Vec<String> = (0..8).map(|i| record(i, &format!("8.8.8.{i}"))).collect();
    let eventbridge = |r: &str| {
        format!(
            r#"{{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","detail":{r}}}"#
        )
    };
    let lookup = |r: &str| {
        format!(
            r#"{{"EventId":"x","CloudTrailEvent":{}}}"#,
            serde_json::to_string(r).unwrap()
        )
    };
    let mixed = dir.path().join("mixed");
    write(
        &mixed.join("delivery.json"),
        format!(r#"{{"Records":[{},{}]}}"#, recs[0], recs[1]).as_bytes(),
    );
    write(
        &mixed.join("array.json"),
        format!("[{},{}]", recs[2], recs[3]).as_bytes(),
    );
    write(
        &mixed.join("lookup-events.json"),
        format!(
            "{{\"Events\":[{},{}],\"NextToken\":null}}",
            lookup(&recs[4]),
            lookup(&recs[5])
        )
        .as_bytes(),
    );
    write(
        &mixed.join("eventbridge.jsonl"),
        format!("{}\n{}\n", eventbridge(&recs[6]), eventbridge(&recs[7])).as_bytes(),
    );
    let one = dir.path().join("one/all.json");
    write(
        &one,
        format!(r#"{{"Records":[{}]}}"#, recs.join(",")).as_bytes(),
    );
    let (s, err) = hunt_stats(&[&mixed]);
    let (want, _) = hunt_stats(&[&one]);
    assert_eq!(s["events"], 8);
    assert_eq!(s["issues_by_kind"], serde_json::json!({}));
    assert_eq!(s["alerts_by_rule"], want["alerts_by_rule"]);
    assert_eq!(
        s["files_by_format"],
        serde_json::json!({"array": 1, "eventbridge": 1, "lookup_events": 1, "records": 1})
    );
    assert!(
        err.contains("files by form: array 1, eventbridge 1, lookup_events 1, records 1"),
        "{err}"
    );
}
