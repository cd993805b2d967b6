//! Sigma alerts are siblings for the correlation rule (D5): a first-seen alert (D2) and a medium
//! Sigma alert on the same access key raise D5; a low Sigma alert does not.

use std::sync::Arc;

use serde_json::json;
use trailhound_detect::correlation::{self, Params};
use trailhound_detect::rules::first_seen_source_ip;
use trailhound_detect::{Alert, Detector};
use trailhound_model::{Event, HOUR, SECOND};
use trailhound_sigma::{DetectorOptions, RuleSet, SigmaDetector, SigmaEngine};

const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const T0: i64 = 1_700_000_000 * SECOND;

fn event(t: i64, id: &str, ip: &str, source: &str, name: &str) -> Event {
    let mut e = Event {
        time: T0 + t,
        event_id: id.into(),
        source_ip: ip.into(),
        event_source: source.into(),
        event_name: name.into(),
        user_agent: "aws-cli/2.15.0".into(),
        ..Event::default()
    };
    e.user.access_key_id = KEY.into();
    e.user.kind = "IAMUser".into();
    e.user.arn = "arn:aws:iam::123456789012:user/alice".into();
    e
}

/// The stream: a known address during a one-second warm-up, then calls from a new address an
/// hour later, among them `name` of `source`.
fn alerts(source: &str, name: &str) -> Vec<Alert> {
    let events = [
        event(
            0,
            "e0",
            "198.51.100.1",
            "sts.amazonaws.com",
            "GetCallerIdentity",
        ),
        event(
            HOUR,
            "e1",
            "203.0.113.66",
            "sts.amazonaws.com",
            "GetCallerIdentity",
        ),
        event(HOUR + 5 * SECOND, "e2", "203.0.113.66", source, name),
    ];
    let mut d2 = (first_seen_source_ip::RULE.build)(Some(&json!({"warm_up": "1s"}))).unwrap();
    let set = RuleSet::load(true, &[]);
    let engine = Arc::new(SigmaEngine::from_set(set));
    let mut sigma = SigmaDetector::new(engine, DetectorOptions::default());
    for e in &events {
        d2.observe(e);
        sigma.observe(e);
    }
    let mut out = d2.finish();
    out.extend(sigma.finish());
    out
}

#[test]
fn a_medium_sigma_alert_and_a_first_seen_alert_raise_d5() {
    // SES GetSendQuota with a long-term key: "AWS SES Account Availability Discovery Via
    // Long-Lived Access Key", level medium.
    let alerts = alerts("ses.amazonaws.com", "GetSendQuota");
    let rules: Vec<&str> = alerts.iter().map(|a| a.rule_id.as_str()).collect();
    assert_eq!(
        rules,
        [
            "aws-akia-first-seen-source-ip",
            "sigma-5f75f934-e78a-4653-9d3a-50e799af9edc"
        ]
    );
    let sigma = &alerts[1];
    assert_eq!((sigma.severity.as_str(), sigma.risk_score), ("medium", 47));
    assert_eq!(sigma.access_key_id, KEY);
    assert_eq!(sigma.event_ids, ["e2"]);

    let d5 = correlation::correlate(&Params::default(), &alerts);
    assert_eq!(d5.len(), 1, "{d5:#?}");
    let d5 = &d5[0];
    assert_eq!(d5.rule_id, correlation::RULE_ID);
    assert_eq!(d5.access_key_id, KEY);
    assert_eq!(d5.details["siblings"][0]["id"], sigma.id.as_str());
    assert_eq!(
        d5.details["sibling_rule_names"],
        json!(["AWS SES Account Availability Discovery Via Long-Lived Access Key"])
    );
    assert_eq!(d5.event_ids, ["e1", "e2"]);
    assert!(
        d5.why.contains("AWS SES Account Availability"),
        "{}",
        d5.why
    );
}

#[test]
fn a_low_sigma_alert_is_no_sibling() {
    // S3 ListBuckets by an IAM user: "Potential Bucket Enumeration on AWS", level low.
    let alerts = alerts("s3.amazonaws.com", "ListBuckets");
    assert!(
        alerts.iter().any(
            |a| a.rule_id == "sigma-f305fd62-beca-47da-ad95-7690a0620084" && a.risk_score == 21
        )
    );
    assert!(correlation::correlate(&Params::default(), &alerts).is_empty());
}
