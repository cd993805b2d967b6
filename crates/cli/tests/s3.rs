//! `hunt s3://bucket/prefix` against a local S3-compatible server finds exactly what `hunt` finds
//! in the same files on disk, and counts a bad object like a bad file.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[path = "support/s3.rs"]
mod s3;

#[path = "support/cli.rs"]
mod cli;
use cli::{generate, jsonl, run_ok};

fn hunt(target: &std::ffi::OsStr, env: &[(&'static str, String)], stats: &Path) -> Vec<Value> {
    let out = run_ok(
        Command::new(cli::bin())
            .args([
                "hunt",
                "--no-store",
                "--no-progress",
                "--format",
                "jsonl",
                "--stats",
            ])
            .arg(stats)
            .arg(target)
            .envs(env.iter().map(|(k, v)| (k, v))),
    );
    jsonl(&out.stdout)
}

#[test]
fn hunting_an_s3_prefix_equals_hunting_the_same_files_on_disk() {
    let Some(server) = s3::S3Server::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    generate(&src, &["--events", "3000", "--keys", "6"]);
    // A cut object beside the good ones, and a file that is not CloudTrail by name.
    let good = trailhound_source::discover(std::slice::from_ref(&src)).files;
    let cut = src.join("AWSLogs/cut_CloudTrail_us-east-1_20260105T0000Z_x.json.gz");
    let bytes = std::fs::read(&good[0].path).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    server.create_bucket("trail");
    for f in trailhound_source::discover(std::slice::from_ref(&src)).files {
        let key = f
            .path
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        server.put("trail", &key, &f.path);
    }
    server.put("trail", "AWSLogs/README.txt", &good[0].path);

    let local_stats = tmp.path().join("local.json");
    let s3_stats = tmp.path().join("s3.json");
    let local = hunt(src.join("AWSLogs").as_os_str(), &[], &local_stats);
    let remote = hunt("s3://trail/AWSLogs".as_ref(), &server.env(), &s3_stats);
    assert!(local.len() >= 5);
    assert_eq!(remote, local);
    let stats = |p: &Path| -> Value { serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap() };
    let (l, r) = (stats(&local_stats), stats(&s3_stats));
    for k in [
        "files",
        "events",
        "bytes",
        "decompressed_bytes",
        "issues_by_kind",
    ] {
        assert_eq!(r[k], l[k], "{k}");
    }
    assert_eq!(r["events"], l["events"]);
    assert!(
        r["issues_by_kind"]["truncated_gzip"].as_u64() == Some(1),
        "{r}"
    );
    assert_eq!(r["other_files_skipped"], 1);
}
