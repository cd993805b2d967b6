//! The HTML report of the generated scenario set (20,000 events, Sigma rules on), opened in
//! headless Chromium (Debian's `chromium` driven by playwright-core from npm, `tests/browser/`):
//! it is at most 2 MB, every planted attack of the manifest is an incident ranked within the first
//! (planted + 3), the charts render, nothing is loaded from the network, nothing logs an error,
//! and crafted user agents planted in the logs show as text without running. Prints the time to
//! render and saves `target/browser/report.png`.
//!
//! Needs `/usr/bin/chromium` (`apt-get install chromium`) and Node.js; `npm ci` is run in
//! `tests/browser` when its `node_modules` is missing. Set `TRAILHOUND_SKIP_BROWSER=1` to skip on
//! a machine without them (CI installs both and never skips).

#[path = "support/browser.rs"]
mod browser;

use std::process::Command as Process;

use assert_cmd::Command;

/// Two AKIA events denied from a new address with crafted user agents: they raise alerts whose
/// evidence carries the strings into the report.
const CRAFTED: &str = r#"{"Records":[
{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAXSSXSSXSSXSSXSS","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","accessKeyId":"AKIAXSSXSSXSSXSSXSS1","userName":"mallory"},"eventTime":"2026-01-14T12:01:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","sourceIPAddress":"8.8.8.8","userAgent":"<script>window.__xss=1</script>","errorCode":"AccessDenied","errorMessage":"<b>denied</b>","eventID":"xss-1","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"111122223333"},
{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAXSSXSSXSSXSSXSS","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","accessKeyId":"AKIAXSSXSSXSSXSSXSS1","userName":"mallory"},"eventTime":"2026-01-14T12:02:00Z","eventSource":"iam.amazonaws.com","eventName":"ListRoles","awsRegion":"us-east-1","sourceIPAddress":"8.8.8.8","userAgent":"<img src=x onerror=\"window.__xss=1\">","errorCode":"AccessDenied","eventID":"xss-2","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"111122223333"}
]}"#;

#[test]
fn html_report_renders_in_chromium_and_runs_nothing_from_the_logs() {
    let Some(root) = browser::ready() else {
        return;
    };

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let generated = Command::cargo_bin("trailhound")
        .unwrap()
        .arg("generate")
        .arg(&data)
        .args(["--events", "20000"])
        .output()
        .unwrap();
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let crafted = data.join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/14/111122223333_CloudTrail_us-east-1_20260114T1205Z_xss.json");
    std::fs::create_dir_all(crafted.parent().unwrap()).unwrap();
    std::fs::write(&crafted, CRAFTED).unwrap();

    let out_dir = root.join("target/browser");
    std::fs::create_dir_all(&out_dir).unwrap();
    let html = out_dir.join("report.html");
    let hunt = Command::cargo_bin("trailhound")
        .unwrap()
        // Every rule, Sigma's included, with the shipped defaults (suppression, incidents).
        .args(["hunt", "--no-progress", "--format", "html", "--store"])
        .arg(tmp.path().join("alerts.db"))
        .arg("--output")
        .arg(&html)
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        hunt.status.success(),
        "{}",
        String::from_utf8_lossy(&hunt.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    eprintln!("report: {} bytes", page.len());
    assert!(
        page.len() <= 2_000_000,
        "the report is {} bytes",
        page.len()
    );
    // The ranking: the incident rows in page order, and the planted keys among them.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("manifest.json")).unwrap()).unwrap();
    let planted: Vec<String> = manifest["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["access_key_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(planted.len(), 4);
    let ranked: Vec<&str> = page
        .split(r#"data-testid="incident-row" data-rank=""#)
        .skip(1)
        .map(|row| {
            row.split(r#"data-subject=""#)
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
        })
        .collect();
    let max_rank = planted.len() + 3;
    for key in &planted {
        let rank = ranked.iter().position(|s| s == key).map(|i| i + 1);
        assert!(
            rank.is_some_and(|r| r <= max_rank),
            "planted key {key} ranks {rank:?}, not within {max_rank}: {:?}",
            &ranked[..ranked.len().min(12)]
        );
    }
    assert!(
        page.contains("AKIAXSSXSSXSSXSSXSS1"),
        "the crafted key has no section"
    );
    assert!(
        !page.contains("<script>window.__xss"),
        "a crafted user agent was written unescaped"
    );

    let status = Process::new("node")
        .args(["--test", "tests/browser/report.test.mjs"])
        .current_dir(&root)
        .env("REPORT_HTML", &html)
        .env("REPORT_OUT", &out_dir)
        .env("EXPECT_TOP", planted.join(","))
        .env("EXPECT_MAX_RANK", max_rank.to_string())
        .status()
        .expect("node");
    assert!(
        status.success(),
        "the browser test failed (see its output above)"
    );
    assert!(out_dir.join("report.png").exists());
}
