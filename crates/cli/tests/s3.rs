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

/// `hunt ARGS...` (options, then the targets) without a store, writing `--stats` to `stats`;
/// returns the alerts.
fn hunt(args: &[&std::ffi::OsStr], env: &[(&'static str, String)], stats: &Path) -> Vec<Value> {
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
            .args(args)
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
    let local = hunt(&[src.join("AWSLogs").as_os_str()], &[], &local_stats);
    let remote = hunt(&["s3://trail/AWSLogs".as_ref()], &server.env(), &s3_stats);
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

/// An organization trail's bucket: 2 accounts × 3 regions × 30 days under
/// `logs/AWSLogs/o-…/<account>/CloudTrail/<region>/2026/01/DD/`, with digest, Insights and AWS
/// Config files beside them. `hunt --since 2026-01-28` lists only the folders of days 28–30
/// (every list request is counted), reads exactly the events from the 28th on, and counts what
/// it skipped by kind; `--account` and `--region` prune the same way.
#[test]
fn an_organization_trail_is_pruned_to_the_selected_days_accounts_and_regions() {
    let Some(server) = s3::S3Server::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    server.create_bucket("org");
    let accounts = ["111111111111", "222222222222"];
    let regions = ["us-east-1", "eu-west-1", "ap-southeast-2"];
    let record = |account: &str, region: &str, day: u32, n: u32| {
        format!(
            r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::{account}:user/u","accountId":"{account}","accessKeyId":"AKIAORGTRAIL0000{n:04}"}},"eventTime":"2026-01-{day:02}T10:{m:02}:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"{region}","sourceIPAddress":"8.8.8.8","eventID":"{account}-{region}-{day}-{n}","recipientAccountId":"{account}"}}"#,
            m = n % 60
        )
    };
    let file = tmp.path().join("object");
    let put = |key: &str, body: &str| {
        std::fs::write(&file, body).unwrap();
        server.put("org", key, &file);
    };
    for (a, account) in accounts.iter().enumerate() {
        for region in regions {
            for day in 1..=30u32 {
                let base = format!("logs/AWSLogs/o-abc123/{account}");
                let records: Vec<String> = (0..2)
                    .map(|n| record(account, region, day, n + a as u32 * 10))
                    .collect();
                put(
                    &format!(
                        "{base}/CloudTrail/{region}/2026/01/{day:02}/{account}_CloudTrail_{region}_202601{day:02}T1105Z_x.json"
                    ),
                    &format!(r#"{{"Records":[{}]}}"#, records.join(",")),
                );
                put(
                    &format!(
                        "{base}/CloudTrail-Digest/{region}/2026/01/{day:02}/{account}_CloudTrail-Digest_{region}_trail_{region}_202601{day:02}T1200Z.json.gz"
                    ),
                    r#"{"awsAccountId":"x","digestStartTime":"2026-01-01T00:00:00Z","logFiles":[]}"#,
                );
                put(
                    &format!(
                        "{base}/CloudTrail-Insight/{region}/2026/01/{day:02}/{account}_CloudTrail-Insight_{region}_202601{day:02}T1105Z_x.json"
                    ),
                    r#"{"Records":[{"eventVersion":"1.08","eventTime":"2026-01-01T10:00:00Z","eventType":"AwsCloudTrailInsight","insightDetails":{}}]}"#,
                );
                put(
                    &format!(
                        "{base}/Config/{region}/2026/1/{day}/ConfigHistory/{account}_Config_{region}_ConfigHistory_x.json.gz"
                    ),
                    r#"{"fileVersion":"1.0","configurationItems":[]}"#,
                );
            }
        }
    }
    let hunt_stats = |args: &[&str]| -> Value {
        let stats = tmp.path().join("stats.json");
        let mut args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        args.push("s3://org/logs/".as_ref());
        hunt(&args, &server.env(), &stats);
        serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap()
    };

    // Everything: one flat listing, 360 trail files read, the rest skipped by kind.
    let all = hunt_stats(&[]);
    assert_eq!(all["events"], 2 * 3 * 30 * 2);
    assert_eq!(all["files"], 2 * 3 * 30);
    assert_eq!(
        all["skipped_by_kind"],
        serde_json::json!({"digest": 180, "insight": 180, "other_service": 180})
    );
    assert_eq!(all["issues_by_kind"], serde_json::json!({}));

    // From the 28th: days 28–30 only.
    let since = hunt_stats(&["--since", "2026-01-28"]);
    assert_eq!(since["events"], 2 * 3 * 3 * 2);
    assert_eq!(since["files"], 2 * 3 * 3);
    assert_eq!(
        since["skipped_by_kind"],
        serde_json::json!({"digest": 18, "insight": 18, "other_service": 18})
    );
    // The list requests: logs/, AWSLogs/, o-abc123/, 2 accounts, 4 services each, 3 regions
    // each, the year and month folders of each (Config's month "1" too), the 3 selected days of
    // each, and Config's ConfigHistory folder below each of its days. Days 1–27 are never listed.
    let per_region = 1 + 1 + 1 + 3; // the region, 2026, 01, days 28–30
    let expected = 1 + 1 + 1 + 2 + 2 * 4 + 2 * 4 * 3 * per_region + 2 * 3 * 3;
    assert_eq!(since["s3_list_requests"], expected);
    assert!(
        expected < 2 * 4 * 3 * 30,
        "a walk of every day would send more"
    );

    // One account and one region of those days.
    let narrow = hunt_stats(&[
        "--since",
        "2026-01-28",
        "--account",
        "222222222222",
        "--region",
        "eu-west-1",
    ]);
    assert_eq!(narrow["events"], 3 * 2);
    assert_eq!(narrow["files"], 3);
    // Until the 2nd (exclusive): days 1 and 2 are listed (the 2nd may hold the 1st's late files).
    let until = hunt_stats(&["--until", "2026-01-02"]);
    assert_eq!(until["events"], 2 * 3 * 2);
}

/// The AWS CLI's credential chain: with only `AWS_PROFILE` naming a profile that assumes a role
/// (`role_arn` + `source_profile`, through the local server's STS) in a temporary `HOME`, and no
/// key variables, `hunt` reads the bucket; a profile that does not exist is exit status 2 with a
/// message naming it, and no secret is printed.
#[test]
fn an_assume_role_profile_reads_the_bucket_and_a_broken_one_is_named() {
    let Some(server) = s3::S3Server::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    generate(&src, &["--events", "1000", "--keys", "4"]);
    server.create_bucket("trail");
    let files = trailhound_source::discover(std::slice::from_ref(&src)).files;
    for f in &files {
        let key = f
            .path
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        server.put("trail", &key, &f.path);
    }
    let home = tmp.path().join("home");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/config"),
        "[profile auditor]\nrole_arn = arn:aws:iam::123456789012:role/trailhound-read\nsource_profile = base\nregion = us-east-1\n",
    )
    .unwrap();
    let secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETKEY1";
    std::fs::write(
        home.join(".aws/credentials"),
        format!(
            "[base]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = {secret}\n"
        ),
    )
    .unwrap();
    let endpoint = server
        .env()
        .into_iter()
        .find(|(k, _)| *k == "AWS_ENDPOINT")
        .unwrap()
        .1;
    let hunt = |profile: &str| {
        Command::new(cli::bin())
            .args([
                "hunt",
                "--no-store",
                "--no-progress",
                "--format",
                "jsonl",
                "--stats",
            ])
            .arg(tmp.path().join("stats.json"))
            .arg("s3://trail/AWSLogs/")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_CONFIG_FILE")
            .env_remove("AWS_SHARED_CREDENTIALS_FILE")
            .env("HOME", &home)
            .env("AWS_PROFILE", profile)
            .env("AWS_ENDPOINT", &endpoint)
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap()
    };
    let out = hunt("auditor");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("stats.json")).unwrap()).unwrap();
    assert_eq!(stats["files"], files.len());
    assert!(stats["events"].as_u64().unwrap() > 900, "{stats}");

    let out = hunt("nobody-here");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("profile \"nobody-here\""), "{err}");
    assert!(!err.contains(secret), "{err}");
}
