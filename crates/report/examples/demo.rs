//! Renders a realistic demo report from synthetic CloudTrail events run through the real
//! detections: `cargo run -p trailhound-report --example demo -- out.html`.
//!
//! Fourteen days of three long-term keys: `alice` (CI deploy, US) is taken over on day 12 from a
//! Russian address that probes IAM (D1 spike, D2, D3, D4, and a D5 correlation
//! built here as the spec describes it) with the user agent `<script>window.__xss=1</script>`;
//! `bob` (data pipeline, IE) moves to a new address (D2 only); `carol` (backup service) is used
//! from Brazil and the Netherlands with the user agent `<img src=x onerror="window.__xss=1">`.
//! Both crafted user agents must show as text in the report and never run.

use std::collections::BTreeMap;

use serde_json::json;
use trailhound_detect::{Alert, Severity, alert_id, build_detectors, remediation};
use trailhound_model::{Country, DAY, Event, HOUR, SECOND, Timestamp, UserIdentity};
use trailhound_report::{ActivityCollector, ReportInput, render_html};

const XSS_SCRIPT: &str = "<script>window.__xss=1</script>";
const XSS_IMG: &str = r#"<img src=x onerror="window.__xss=1">"#;
const START: Timestamp = 1_714_953_600 * SECOND; // 2024-05-06T00:00:00Z
const DAYS: i64 = 14;

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

struct Key {
    id: &'static str,
    user: &'static str,
}

impl Key {
    fn arn(&self) -> String {
        format!("arn:aws:iam::123456789012:user/{}", self.user)
    }
}

#[allow(clippy::too_many_arguments)]
fn event(
    rng: &mut Rng,
    key: &Key,
    t: Timestamp,
    name: &str,
    code: &str,
    ip: &str,
    country: &str,
    agent: &str,
) -> Event {
    let source = match name {
        "ListUsers" | "CreateUser" | "AttachUserPolicy" | "CreateAccessKey" | "ListRoles"
        | "GetUser" => "iam.amazonaws.com",
        "GetCallerIdentity" => "sts.amazonaws.com",
        "StopLogging" | "DeleteTrail" => "cloudtrail.amazonaws.com",
        "GetSecretValue" | "ListSecrets" => "secretsmanager.amazonaws.com",
        "ListBuckets" | "PutObject" | "GetObject" | "DeleteObject" => "s3.amazonaws.com",
        _ => "ec2.amazonaws.com",
    };
    Event {
        time: t,
        event_source: source.into(),
        event_name: name.into(),
        aws_region: "us-east-1".into(),
        source_ip: ip.into(),
        user_agent: agent.into(),
        error_code: code.into(),
        error_message: if code.is_empty() {
            "".into()
        } else {
            format!("User: {} is not authorized to perform: {name}", key.arn()).into()
        },
        event_id: format!("{:016x}-{:08x}", rng.next(), rng.next() as u32).into(),
        read_only: Some(name.starts_with("List") || name.starts_with("Describe")),
        event_type: "AwsApiCall".into(),
        recipient_account_id: "123456789012".into(),
        user: UserIdentity {
            kind: "IAMUser".into(),
            principal_id: "AIDAEXAMPLE".into(),
            arn: key.arn().into(),
            account_id: "123456789012".into(),
            access_key_id: key.id.into(),
            user_name: key.user.into(),
        },
        country: Country::new(country),
        ..Event::default()
    }
}

fn events() -> Vec<Event> {
    let mut rng = Rng(7);
    let alice = Key {
        id: "AKIA2ALICEDEPLOY7Q4X",
        user: "ci-deploy",
    };
    let bob = Key {
        id: "AKIA5BOBPIPELINE3ZK2",
        user: "data-pipeline",
    };
    let carol = Key {
        id: "AKIA7CAROLBACKUP9WQ1",
        user: "svc-backup",
    };
    let normal = [
        "PutObject",
        "DescribeStacks",
        "GetParameter",
        "DescribeVolumes",
        "ListFunctions",
        "GetMetricData",
        "DescribeLogGroups",
    ];
    let mut out = Vec::new();
    for h in 0..DAYS * 24 {
        let t = START + h * HOUR;
        let hod = h % 24;
        let day = h / 24;
        // alice: CI deploys in US working hours from two runner addresses.
        if (13..=23).contains(&hod) {
            let ip = rng.pick(&["54.210.17.33", "3.91.144.12"]);
            let dt = rng.below(600) as i64 * SECOND;
            out.push(event(
                &mut rng,
                &alice,
                t + dt,
                "GetCallerIdentity",
                "",
                ip,
                "US",
                "aws-cli/2.15.30 Python/3.11.8",
            ));
            for _ in 0..(6 + rng.below(14)) {
                let ip = rng.pick(&["54.210.17.33", "3.91.144.12"]);
                let name = rng.pick(&normal);
                let dt = rng.below(3600) as i64 * SECOND;
                out.push(event(
                    &mut rng,
                    &alice,
                    t + dt,
                    name,
                    "",
                    ip,
                    "US",
                    "aws-cli/2.15.30 Python/3.11.8",
                ));
            }
            if rng.below(60) == 0 {
                let dt = rng.below(3600) as i64 * SECOND;
                out.push(event(
                    &mut rng,
                    &alice,
                    t + dt,
                    "DescribeLogGroups",
                    "AccessDenied",
                    "54.210.17.33",
                    "US",
                    "aws-cli/2.15.30 Python/3.11.8",
                ));
            }
        }
        // bob: a pipeline around the clock from Ireland; moves to a new NAT address on day 11.
        for _ in 0..(2 + rng.below(5)) {
            let ip = if day >= 11 && hod >= 9 {
                "34.243.8.201"
            } else {
                "52.17.92.140"
            };
            let name = rng.pick(&["PutObject", "GetParameter", "DescribeStacks"]);
            let dt = rng.below(3600) as i64 * SECOND;
            out.push(event(
                &mut rng,
                &bob,
                t + dt,
                name,
                "",
                ip,
                "IE",
                "Boto3/1.34.69 Python/3.12.2",
            ));
        }
        // carol: nightly backups from a private address (no country).
        if hod == 2 {
            for _ in 0..(20 + rng.below(10)) {
                let dt = rng.below(1800) as i64 * SECOND;
                out.push(event(
                    &mut rng,
                    &carol,
                    t + dt,
                    "PutObject",
                    "",
                    "10.20.3.14",
                    "",
                    "aws-sdk-go-v2/1.26.0",
                ));
            }
        }
    }
    // Day 12: alice's key used from Russia, 14:00-17:00 UTC.
    let attack = START + 12 * DAY + 14 * HOUR;
    let attacker = "5.188.10.76";
    for (i, (name, code)) in [
        ("GetCallerIdentity", ""),
        ("ListBuckets", ""),
        ("ListUsers", ""),
        ("ListRoles", "AccessDenied"),
        ("DescribeRegions", ""),
    ]
    .iter()
    .enumerate()
    {
        out.push(event(
            &mut rng,
            &alice,
            attack + (3 + i as i64 * 4) * 60 * SECOND,
            name,
            code,
            attacker,
            "RU",
            XSS_SCRIPT,
        ));
    }
    // The spike: 15:00-16:00, denied calls to three critical APIs (and some others).
    let spike = attack + HOUR;
    for i in 0..46 {
        let name = rng.pick(&[
            "CreateUser",
            "AttachUserPolicy",
            "CreateAccessKey",
            "ListAttachedUserPolicies",
            "ListRoles",
            "GetUser",
        ]);
        out.push(event(
            &mut rng,
            &alice,
            spike + i * 75 * SECOND,
            name,
            "AccessDenied",
            attacker,
            "RU",
            XSS_SCRIPT,
        ));
    }
    for i in 0..6 {
        out.push(event(
            &mut rng,
            &alice,
            spike + HOUR + i * 300 * SECOND,
            "RunInstances",
            "Client.UnauthorizedOperation",
            attacker,
            "RU",
            XSS_SCRIPT,
        ));
    }
    // Day 13: carol's key from Brazil then the Netherlands.
    let leak = START + 13 * DAY + 4 * HOUR;
    for (i, (ip, cc)) in [("177.54.148.22", "BR"), ("185.220.101.45", "NL")]
        .iter()
        .enumerate()
    {
        let t = leak + i as i64 * 3 * HOUR;
        for j in 0..9 {
            let (name, code) = match j % 3 {
                0 => ("ListSecrets", ""),
                1 => ("GetSecretValue", "AccessDeniedException"),
                _ => ("ListBuckets", ""),
            };
            out.push(event(
                &mut rng,
                &carol,
                t + j * 140 * SECOND,
                name,
                code,
                ip,
                cc,
                XSS_IMG,
            ));
        }
    }
    out.sort_by_key(|e| e.time);
    out
}

/// D5 as the spec describes it (its rule is being built elsewhere): per D2 alert, the other
/// open alerts of the key with risk ≥ 47 within ±24 h, with `details` shaped like the rule's.
fn correlations(alerts: &[Alert]) -> Vec<Alert> {
    let mut out = Vec::new();
    for d2 in alerts
        .iter()
        .filter(|a| a.rule_id == "aws-akia-first-seen-source-ip")
    {
        let siblings: Vec<&Alert> = alerts
            .iter()
            .filter(|a| {
                a.access_key_id == d2.access_key_id
                    && a.rule_id != d2.rule_id
                    && a.risk_score >= 47
                    && (a.time - d2.time).abs() <= DAY
            })
            .collect();
        if siblings.is_empty() {
            continue;
        }
        let time = trailhound_model::format_rfc3339;
        let sibling_json: Vec<_> = siblings
            .iter()
            .map(|s| {
                json!({"rule_id": s.rule_id, "rule_name": s.rule_name, "id": s.id,
                       "severity": s.severity, "risk_score": s.risk_score,
                       "time": time(s.time), "access_key_id": s.access_key_id})
            })
            .collect();
        let all = || std::iter::once(d2).chain(siblings.iter().copied());
        out.push(Alert {
            id: alert_id(
                "aws-akia-correlated-elevated-alerts",
                &["access_key_id", &d2.access_key_id, &time(d2.time)],
            ),
            rule_id: "aws-akia-correlated-elevated-alerts".into(),
            rule_name: "Long-term key correlated with elevated alerts".into(),
            severity: Severity::High,
            risk_score: 73,
            access_key_id: d2.access_key_id.clone(),
            user_arn: d2.user_arn.clone(),
            time: d2.time,
            first_seen: all().map(|a| a.first_seen).min().unwrap_or(d2.time),
            last_seen: all().map(|a| a.last_seen).max().unwrap_or(d2.time),
            source_ips: d2.source_ips.clone(),
            countries: d2.countries.clone(),
            user_agents: d2.user_agents.clone(),
            event_names: vec![],
            event_ids: vec![],
            count: all().map(|a| a.count).sum(),
            mitre: vec!["T1078.004".into(), "T1552".into()],
            remediation: remediation(&d2.access_key_id, &d2.user_arn),
            why: format!(
                "Access key {} has 1 open \"first seen from a source IP\" alert (from {} at {}) and {} other open alert(s) with risk score ≥ 47 within ±24h of it.",
                d2.access_key_id,
                d2.source_ips.join(", "),
                time(d2.time),
                siblings.len()
            ),
            details: json!({
                "group_by": "access_key_id",
                "group_key": d2.access_key_id,
                "window": "24h",
                "min_risk_score": 47,
                "first_seen_alerts": [{"id": d2.id, "time": time(d2.time),
                    "access_key_id": d2.access_key_id, "source_ips": d2.source_ips,
                    "risk_score": d2.risk_score}],
                "siblings": sibling_json,
                "access_key_ids": [d2.access_key_id],
            }),
            root_key: d2.access_key_id.clone(),
            principal: d2.user_arn.clone(),
            suppressed_count: 0,
        });
    }
    out
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/report-demo.html".to_owned());
    let events = events();
    let mut detectors = build_detectors(&BTreeMap::new()).expect("default rules");
    let mut collector = ActivityCollector::new();
    for e in &events {
        collector.observe(e);
        for d in &mut detectors {
            d.observe(e);
        }
    }
    let mut alerts: Vec<Alert> = detectors.iter_mut().flat_map(|d| d.finish()).collect();
    alerts.extend(correlations(&alerts));
    alerts.sort_by_key(|a| a.time);
    let statuses = |a: &Alert| {
        if a.access_key_id.starts_with("AKIA5BOB") {
            "acknowledged"
        } else {
            "open"
        }
    };
    let n_events = events.len() as u64;
    let input = ReportInput {
        title: "Hunt over s3://example-cloudtrail/AWSLogs/123456789012/".to_owned(),
        generated_at: START + DAYS * DAY + 9 * HOUR,
        alerts: alerts
            .into_iter()
            .map(|a| {
                let s = statuses(&a).to_owned();
                (a, s)
            })
            .collect(),
        activity: collector.finish(),
        run_summary: Some(json!({
            "files": 4032,
            "digest_files_skipped": 336,
            "events": n_events,
            "issues_by_kind": {"truncated_gzip": 1, "bad_event_time": 3},
            "events_with_country": n_events * 9 / 10,
            "countries": 5,
            "geoip": "DB-IP IP to Country Lite (embedded)",
            "elapsed_seconds": 0.84,
            "events_per_second": n_events as f64 / 0.84,
        })),
    };
    let html = render_html(&input);
    std::fs::write(&path, &html).expect("write the report");
    eprintln!(
        "wrote {path}: {} alerts, {} bytes",
        input.alerts.len(),
        html.len()
    );
    for (a, _) in &input.alerts {
        eprintln!(
            "  {} {:<40} {}",
            trailhound_model::format_rfc3339(a.time),
            a.rule_id,
            a.access_key_id
        );
    }
}
