//! Sigma rules end to end: `trailhound rules list|lint`, and the alerts per rule of a hunt over
//! the bundled sample and over the generated scenario set, as recorded and explained in
//! `docs/sigma.md` (a change of a count there must change here, and the other way round).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

#[path = "support/cli.rs"]
mod cli;
use cli::{generate, jsonl, run_ok};

/// The binary with a default store of this test binary's own.
fn trailhound() -> std::process::Command {
    cli::trailhound("sigma")
}

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Alerts per rule id of `trailhound hunt --no-store` over `paths`.
fn counts(paths: &[&Path]) -> (BTreeMap<String, u64>, Vec<Value>) {
    let out = run_ok(
        trailhound()
            .args(["hunt", "--format", "jsonl", "--no-progress", "--no-store"])
            .args(paths),
    );
    let alerts = jsonl(&out.stdout);
    let mut by_rule = BTreeMap::new();
    for a in &alerts {
        *by_rule
            .entry(a["rule_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    (by_rule, alerts)
}

fn table(rows: &[(&str, u64)]) -> BTreeMap<String, u64> {
    rows.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// Every Sigma alert names its rule's author (DRL 1.1) and carries the rule's metadata; those of
/// new-terms and correlation rules carry theirs under `new_terms` and `sigma_correlation`.
fn check_sigma_alerts(alerts: &[Value]) {
    for a in alerts
        .iter()
        .filter(|a| a["rule_id"].as_str().unwrap().starts_with("sigma-"))
    {
        let details = &a["details"];
        if let Some(rule) = ["new_terms", "sigma_correlation"]
            .iter()
            .map(|k| &details[*k])
            .find(|r| r.is_object())
        {
            assert_eq!(
                a["rule_id"],
                format!("sigma-{}", rule["id"].as_str().unwrap())
            );
            assert_eq!(a["rule_name"], rule["title"]);
            continue;
        }
        let sigma = &details["sigma"];
        let author = sigma["author"].as_str().unwrap();
        assert!(
            !author.is_empty() && a["why"].as_str().unwrap().contains(author),
            "{a:#}"
        );
        assert_eq!(
            a["rule_id"],
            format!("sigma-{}", sigma["id"].as_str().unwrap())
        );
        assert_eq!(a["rule_name"], sigma["title"]);
        assert!(sigma["references"].is_array() && sigma["tags"].is_array());
        let want = match sigma["level"].as_str().unwrap() {
            "informational" | "low" => 21,
            "medium" => 47,
            "high" => 73,
            _ => 99,
        };
        assert_eq!(a["risk_score"], want);
    }
}

#[test]
fn rules_list_shows_every_shipped_rule() {
    let out = trailhound().args(["rules", "list"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ID") && lines[0].contains("KIND") && lines[0].contains("SOURCE"));
    // The four built-in detections and D5; the 84 shipped SigmaHQ rules but two off by default
    // (the Organizations management account rule, and the per-event console sign-in without
    // MFA that a new-terms rule replaces), two of them aggregations; and Trailhound's 19 rule
    // documents (5 new terms, 3 correlations, 11 detections: 4 of them only counted by the
    // correlations).
    assert_eq!(
        *lines.last().unwrap(),
        "105 rules: 4 built-in, 1 built-in correlation, 5 new terms, 90 sigma, 2 sigma aggregation, 1 sigma correlation (temporal_ordered), 2 sigma correlation (value_count)"
    );
    assert!(
        lines[1].starts_with("aws-akia-failed-api-spike"),
        "{}",
        lines[1]
    );
    // Columns line up: the header's KIND starts where every row's kind starts.
    let kind_at = lines[0].find("KIND").unwrap();
    let root = lines
        .iter()
        .find(|l| l.starts_with("8ad1600d-e9dc-4251-b0ee-a65268f29add "))
        .unwrap();
    assert!(root[kind_at..].starts_with("sigma "), "{root}");
    let words: Vec<&str> = root.split_whitespace().collect();
    assert_eq!(&words[1..5], ["sigma", "medium", "AWS", "Root"], "{root}");
    assert!(
        lines[1..lines.len() - 1]
            .iter()
            .all(|l| l.as_bytes()[kind_at - 1] == b' ' && l.as_bytes()[kind_at] != b' ')
    );
    assert!(text.contains("rules/sigma/aws/cloudtrail/aws_root_account_usage.yml"));
    let out = trailhound()
        .args(["rules", "list", "--format", "jsonl"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 105);
}

#[test]
fn rules_lint_refuses_broken_rules_with_file_and_reason() {
    let out = trailhound().args(["rules", "lint"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("99 rules valid, 0 files refused"));

    let tmp = tempfile::tempdir().unwrap();
    let head = "title: t\nlogsource:\n  product: aws\n  service: cloudtrail\nlevel: low\n";
    let write = |name: &str, text: String| std::fs::write(tmp.path().join(name), text).unwrap();
    write("broken.yml", "title: [unclosed\n".to_owned());
    write(
        "modifier.yml",
        format!("{head}id: m\ndetection:\n  s:\n    eventName|sounds_like: x\n  condition: s\n"),
    );
    write(
        "missing.yml",
        format!("{head}id: n\ndetection:\n  s:\n    eventName: x\n  condition: s and filter\n"),
    );
    write(
        "good.yml",
        format!("{head}id: g\ndetection:\n  s:\n    eventName: x\n  condition: s\n"),
    );
    write("notes.txt", "not a rule".to_owned());
    let out = trailhound()
        .args(["rules", "lint"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let p = |n: &str| tmp.path().join(n).display().to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("{}: line 2: YAML:", p("broken.yml"))),
        "{text}"
    );
    assert_eq!(
        lines[1],
        format!("{}: unknown detection identifier: filter", p("missing.yml"))
    );
    assert_eq!(
        lines[2],
        format!("{}: Unknown modifier 'sounds_like'", p("modifier.yml"))
    );
    assert_eq!(lines[3], "1 rule valid, 3 files refused");

    // A hunt reports refused rules and runs the others.
    let config = tmp.path().join("c.toml");
    std::fs::write(&config, "[sigma]\nbuiltin = false\nfolders = [\".\"]\n").unwrap();
    let out = trailhound()
        .args(["hunt", "--no-store", "--no-progress", "--config"])
        .arg(&config)
        .arg(repo().join("sample/scenarios"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "sigma rule refused: {}: Unknown modifier",
            p("modifier.yml")
        )),
        "{err}"
    );
}

#[test]
fn alerts_per_rule_on_the_bundled_sample() {
    let (by_rule, alerts) = counts(&[&repo().join("sample")]);
    check_sigma_alerts(&alerts);
    // Explained in docs/sigma.md, "What fires on the bundled sample".
    let want = table(SAMPLE);
    assert_eq!(by_rule, want);
}

#[test]
fn alerts_per_rule_on_the_generated_scenario_set() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    generate(&data, &["--events", "30000", "--seed", "7"]);
    let (by_rule, alerts) = counts(&[&data]);
    check_sigma_alerts(&alerts);
    // Explained in docs/sigma.md, "What fires on the generated scenario set".
    assert_eq!(by_rule, table(GENERATED));
}

/// Alerts per rule on `sample/` (docs/sigma.md), after suppression (Sigma: one alert per rule,
/// root key or principal and UTC day).
const SAMPLE: &[(&str, u64)] = &[
    ("aws-akia-correlated-elevated-alerts", 2), // Long-term key correlated with elevated alerts
    ("aws-akia-failed-api-spike", 1),           // Spike in failed API calls by a long-term key
    ("aws-akia-first-seen-source-ip", 4),       // Long-term access key first seen from a source IP
    ("aws-akia-unauthorized-api-call", 4),      // Unauthorized API call with an IAM access key
    ("aws-iam-user-agent-new-ip", 2),           // IAM user agent from a new IP address
    ("sigma-0a5177f4-6ca9-44c2-aacf-d3f3d8b6e4d2", 5), // AWS IAM Backdoor Users Keys
    ("sigma-39c9f26d-6e3b-4dbb-9c7a-4154b0281112", 1), // AWS Bucket Deleted
    ("sigma-45251c1d-3fda-47d4-a990-b7ce4d635fc0", 1), // AWS Secrets Manager Mass Secret Retrieval
    ("sigma-4db60cc0-36fb-42b7-9b58-a5b53019fb74", 1), // AWS CloudTrail Important Change
    ("sigma-52a27427-d366-4152-b728-f0157aa2ba64", 2), // AWS CloudTrail General Discovery and Reconnaissance API Calls
    ("sigma-6fb77778-040f-4015-9440-572aa9b6b580", 4), // Ingress/Egress Security Group Modification
    ("sigma-843688ba-bbe9-44ca-8986-183a24c9f734", 1), // AWS IAM Role Trust Policy Modified
    ("sigma-905d389b-b853-46d0-9d3d-dea0d3a3cd49", 97), // AWS STS AssumeRole Misuse
    ("sigma-97c282d9-e48d-4121-bb95-490a42325706", 1), // AWS RDS Snapshot Shared with External Account
    ("sigma-abae8fec-57bd-4f87-aff6-6e3db989843d", 1), // AWS Snapshot Backup Exfiltration
    ("sigma-aws-akia-first-get-caller-identity", 1), // First GetCallerIdentity of a long-term key in 30 days
    ("sigma-aws-console-login-without-mfa-new-user", 1), // Console sign-in without MFA, first for the user in 7 days
    ("sigma-aws-ec2-get-password-data", 1), // EC2 Windows administrator password requested
    ("sigma-aws-iam-login-profile-for-another-user", 1), // Console password created for another IAM user
    ("sigma-aws-lambda-function-public-permission", 1), // Lambda function opened to everyone by its resource policy
    ("sigma-aws-ssm-send-command-shell", 1), // SSM SendCommand runs a shell script on instances
    ("sigma-aws-temporary-token-several-addresses", 1), // One session token of an IAM user used from several addresses
    ("sigma-c65918ba-4482-4236-9064-b720e0776518", 1), // AWS IAM Critical Managed Policy Attachment
    ("sigma-c803b2ce-c4a2-4836-beae-b112010390b1", 1), // New Network Route Added
    ("sigma-d4a3c2b1-1e2f-4a5b-8c9d-0e1f2a3b4c5d", 1), // AWS IAM Privileged Inline Policy Creation
    ("sigma-e386b9b5-af12-450e-afff-761730fb8a98", 1), // AWS VPC Flow Logs Deleted
    ("sigma-f305fd62-beca-47da-ad95-7690a0620084", 34), // Potential Bucket Enumeration on AWS
];

/// Alerts per rule on `trailhound generate --events 30000 --seed 7` (docs/sigma.md), after
/// suppression.
const GENERATED: &[(&str, u64)] = &[
    ("aws-akia-correlated-elevated-alerts", 2), // Long-term key correlated with elevated alerts
    ("aws-akia-failed-api-spike", 1),           // Spike in failed API calls by a long-term key
    ("aws-akia-first-seen-source-ip", 4),       // Long-term access key first seen from a source IP
    ("aws-akia-unauthorized-api-call", 2),      // Unauthorized API call with an IAM access key
    ("aws-iam-user-agent-new-ip", 2),           // IAM user agent from a new IP address
    ("sigma-0a5177f4-6ca9-44c2-aacf-d3f3d8b6e4d2", 12), // AWS IAM Backdoor Users Keys
    ("sigma-6fb77778-040f-4015-9440-572aa9b6b580", 27), // Ingress/Egress Security Group Modification
    ("sigma-905d389b-b853-46d0-9d3d-dea0d3a3cd49", 120), // AWS STS AssumeRole Misuse
    ("sigma-aws-akia-first-get-caller-identity", 1), // First GetCallerIdentity of a long-term key in 30 days
    ("sigma-f305fd62-beca-47da-ad95-7690a0620084", 131), // Potential Bucket Enumeration on AWS
];

/// `hunt --stats` counts, per Sigma rule, the events its detection matched before grouping
/// (`sigma_matched_events`), on the real data in `../shared/data/`. For every rule Suzaku 0.2.1
/// also runs, these are Suzaku's counts on the same files (`bench/peers.sh real`); the rules it
/// cannot run (legacy aggregations, multi-document files) are explained in docs/sigma.md, "Side
/// by side with Suzaku".
#[test]
fn matched_events_per_rule_on_the_real_data() {
    let shared = repo().join("../shared/data");
    if !shared.is_dir() {
        eprintln!("skipped: no {}", shared.display());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let stats = tmp.path().join("stats.json");
    run_ok(
        trailhound()
            .args(["hunt", "--format", "jsonl", "--no-progress", "--no-store"])
            .arg("--stats")
            .arg(&stats)
            .arg(&shared),
    );
    let stats: Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    let got: BTreeMap<String, u64> =
        serde_json::from_value(stats["sigma_matched_events"].clone()).unwrap();
    let want = table(&[
        // Base rules of correlations, in multi-document files Suzaku does not read.
        ("aws-long-term-key-call", 1944),
        ("aws-user-session-token-call", 61),
        ("aws-access-key-created", 2),
        // Legacy aggregations (`| count() by ...`), which Suzaku refuses.
        ("52a27427-d366-4152-b728-f0157aa2ba64", 582),
        ("45251c1d-3fda-47d4-a990-b7ce4d635fc0", 60),
        // `errorCode: null` (absent): Suzaku matches none of these.
        ("39c9f26d-6e3b-4dbb-9c7a-4154b0281112", 5),
        ("e386b9b5-af12-450e-afff-761730fb8a98", 1),
        // The same as Suzaku's.
        ("905d389b-b853-46d0-9d3d-dea0d3a3cd49", 86),
        ("aws-ec2-get-password-data", 29),
        ("aws-akia-first-get-caller-identity", 14),
        ("4db60cc0-36fb-42b7-9b58-a5b53019fb74", 6),
        ("6fb77778-040f-4015-9440-572aa9b6b580", 6),
        ("c803b2ce-c4a2-4836-beae-b112010390b1", 6),
        ("f305fd62-beca-47da-ad95-7690a0620084", 3),
        ("0a5177f4-6ca9-44c2-aacf-d3f3d8b6e4d2", 2),
        ("843688ba-bbe9-44ca-8986-183a24c9f734", 2),
        ("97c282d9-e48d-4121-bb95-490a42325706", 2),
        ("abae8fec-57bd-4f87-aff6-6e3db989843d", 2),
        ("aws-iam-access-key-created-for-another-user", 2),
        ("aws-iam-login-profile-for-another-user", 2),
        ("c65918ba-4482-4236-9064-b720e0776518", 2),
        ("aws-console-login-without-mfa-new-user", 1),
        ("aws-lambda-function-public-permission", 1),
        ("aws-ssm-send-command-shell", 1),
        ("d4a3c2b1-1e2f-4a5b-8c9d-0e1f2a3b4c5d", 1),
    ]);
    assert_eq!(got, want);
}
