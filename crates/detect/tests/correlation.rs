//! D5, the higher-order correlation rule, over hand-made open alerts.

use serde_json::json;
use trailhound_detect::correlation::{
    FIRST_SEEN_RULE_ID, GroupBy, HIGHER_ORDER_RULES, Params, RULE_ID, correlate,
};
use trailhound_detect::{Alert, Severity, alert_id};
use trailhound_model::{HOUR, parse_rfc3339};

const D3: &str = "aws-iam-user-agent-new-ip";
const D4: &str = "aws-akia-unauthorized-api-call";
const KEY: &str = "AKIAEXAMPLE000000001";
const OTHER_KEY: &str = "AKIAEXAMPLE000000002";

fn t(hours: i64) -> i64 {
    parse_rfc3339("2026-01-12T10:00:00Z").unwrap() + hours * HOUR
}

fn alert(rule: &str, severity: Severity, key: &str, ip: &str, hours: i64) -> Alert {
    let time = t(hours);
    Alert {
        id: alert_id(rule, &[key, ip, &time.to_string()]),
        rule_id: rule.to_owned(),
        rule_name: format!("name of {rule}"),
        severity,
        risk_score: severity.risk_score(),
        access_key_id: key.to_owned(),
        user_arn: format!("arn:aws:iam::111122223333:user/{key}"),
        time,
        first_seen: time,
        last_seen: time + 60_000_000_000,
        source_ips: vec![ip.to_owned()],
        countries: vec!["US".to_owned()],
        user_agents: vec![format!("ua-{rule}")],
        event_names: vec![format!("Call{hours}")],
        event_ids: vec![format!("ev-{rule}-{hours}")],
        count: 1,
        mitre: vec![],
        remediation: String::new(),
        why: String::new(),
        details: json!({}),
        root_key: String::new(),
        principal: String::new(),
        suppressed_count: 0,
    }
}

fn d2(key: &str, ip: &str, h: i64) -> Alert {
    alert(FIRST_SEEN_RULE_ID, Severity::Medium, key, ip, h)
}

fn d4(key: &str, ip: &str, h: i64) -> Alert {
    alert(D4, Severity::High, key, ip, h)
}

fn sibling_ids(a: &Alert) -> Vec<String> {
    a.details["siblings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn fires_when_first_seen_and_elevated_sibling_share_a_key() {
    let first = d2(KEY, "203.0.113.9", 0);
    let denied = d4(KEY, "203.0.113.9", 0);
    let out = correlate(&Params::default(), &[first.clone(), denied.clone()]);
    assert_eq!(out.len(), 1);
    let a = &out[0];
    assert_eq!(a.rule_id, RULE_ID);
    assert_eq!(a.rule_name, "Long-term key correlated with elevated alerts");
    assert_eq!((a.severity, a.risk_score), (Severity::High, 73));
    assert_eq!(a.mitre, ["T1078.004", "T1552"]);
    assert_eq!(a.access_key_id, KEY);
    assert_eq!(a.time, first.time);
    assert_eq!(sibling_ids(a), [denied.id.as_str()]);
    let s = &a.details["siblings"][0];
    assert_eq!(s["rule_id"], D4);
    assert_eq!(s["rule_name"], format!("name of {D4}"));
    assert_eq!(s["risk_score"], 73);
    assert_eq!(s["time"], "2026-01-12T10:00:00Z");
    assert_eq!(a.details["first_seen_alerts"][0]["id"], first.id.as_str());
    assert_eq!(a.details["group_by"], "access_key_id");
    assert_eq!(a.details["group_key"], KEY);
    // Evidence is the union of both alerts.
    assert_eq!(
        a.user_agents,
        [format!("ua-{FIRST_SEEN_RULE_ID}"), format!("ua-{D4}")]
    );
    assert_eq!(a.event_ids.len(), 2);
    assert_eq!(a.count, 2);
    assert_eq!(a.source_ips, ["203.0.113.9"]);
    assert_eq!(
        (a.first_seen, a.last_seen),
        (first.first_seen, denied.last_seen)
    );
    assert!(a.remediation.contains(&format!("--access-key-id {KEY}")));
    assert!(a.why.contains(KEY), "{}", a.why);
}

#[test]
fn another_key_does_not_count() {
    let out = correlate(
        &Params::default(),
        &[d2(KEY, "203.0.113.9", 0), d4(OTHER_KEY, "203.0.113.9", 0)],
    );
    assert!(out.is_empty());
}

#[test]
fn does_not_fire_for_a_low_sibling() {
    let low = alert(D3, Severity::Low, KEY, "203.0.113.9", 1);
    assert!(
        correlate(
            &Params::default(),
            &[d2(KEY, "203.0.113.9", 0), low.clone()]
        )
        .is_empty()
    );
    // A medium one (47) is enough; and the threshold is a parameter.
    let medium = alert(D3, Severity::Medium, KEY, "203.0.113.9", 1);
    assert_eq!(
        correlate(
            &Params::default(),
            &[d2(KEY, "203.0.113.9", 0), medium.clone()]
        )
        .len(),
        1
    );
    let strict = Params {
        min_risk_score: 73,
        ..Params::default()
    };
    assert!(correlate(&strict, &[d2(KEY, "203.0.113.9", 0), medium]).is_empty());
    let lax = Params {
        min_risk_score: 21,
        ..Params::default()
    };
    assert_eq!(correlate(&lax, &[d2(KEY, "203.0.113.9", 0), low]).len(), 1);
}

#[test]
fn window_is_inclusive_and_bounded() {
    let first = d2(KEY, "203.0.113.9", 0);
    for (h, fires) in [
        (-25, false),
        (-24, true),
        (23, true),
        (24, true),
        (25, false),
    ] {
        let out = correlate(
            &Params::default(),
            &[first.clone(), d4(KEY, "198.51.100.1", h)],
        );
        assert_eq!(out.len(), usize::from(fires), "sibling at {h} h");
    }
    let narrow = Params {
        window: "1h".parse().unwrap(),
        ..Params::default()
    };
    assert!(correlate(&narrow, &[first.clone(), d4(KEY, "198.51.100.1", 2)]).is_empty());
}

#[test]
fn only_first_seen_alerts_do_not_fire() {
    let out = correlate(
        &Params::default(),
        &[d2(KEY, "203.0.113.9", 0), d2(KEY, "198.51.100.1", 1)],
    );
    assert!(out.is_empty());
    // Nor siblings without a first-seen alert.
    assert!(correlate(&Params::default(), &[d4(KEY, "203.0.113.9", 0)]).is_empty());
    assert!(correlate(&Params::default(), &[]).is_empty());
}

#[test]
fn higher_order_alerts_are_not_siblings() {
    assert!(HIGHER_ORDER_RULES.contains(&RULE_ID));
    let first = d2(KEY, "203.0.113.9", 0);
    let earlier = correlate(
        &Params::default(),
        &[first.clone(), d4(KEY, "203.0.113.9", 0)],
    );
    assert_eq!(earlier.len(), 1);
    // The D5 alert of an earlier run is open in the store too: alone with the D2 it fires nothing.
    assert!(correlate(&Params::default(), &[first.clone(), earlier[0].clone()]).is_empty());
    // Nor is it listed next to a real sibling, and the result is the same alert.
    let denied = d4(KEY, "203.0.113.9", 0);
    let again = correlate(
        &Params::default(),
        &[first.clone(), denied.clone(), earlier[0].clone()],
    );
    assert_eq!(again, earlier);
    assert_eq!(sibling_ids(&again[0]), [denied.id]);
}

#[test]
fn by_source_ip_groups_across_keys() {
    let first = d2(KEY, "203.0.113.9", 0);
    let other_key_same_ip = d4(OTHER_KEY, "203.0.113.9", 2);
    let same_key_other_ip = d4(KEY, "198.51.100.1", 3);
    let input = [
        first.clone(),
        other_key_same_ip.clone(),
        same_key_other_ip.clone(),
    ];

    let by_key = correlate(&Params::default(), &input);
    assert_eq!(by_key.len(), 1);
    assert_eq!(sibling_ids(&by_key[0]), [same_key_other_ip.id.as_str()]);

    let by_ip = Params {
        group_by: GroupBy::SourceIp,
        ..Params::default()
    };
    let out = correlate(&by_ip, &input);
    assert_eq!(out.len(), 1);
    let a = &out[0];
    assert_eq!(sibling_ids(a), [other_key_same_ip.id.as_str()]);
    assert_eq!(a.details["group_by"], "source_ip");
    assert_eq!(a.details["group_key"], "203.0.113.9");
    assert_eq!(a.access_key_id, KEY);
    assert_eq!(a.details["access_key_ids"], json!([KEY, OTHER_KEY]));
    assert!(a.remediation.contains(KEY) && a.remediation.contains(OTHER_KEY));
    assert_ne!(a.id, by_key[0].id);
    // The option is spelled as in the config file.
    let p: Params = Params::from_json(Some(&json!({"group_by": "source_ip"}))).unwrap();
    assert_eq!(p.group_by, GroupBy::SourceIp);
}

#[test]
fn siblings_are_sorted_and_ids_stable() {
    let first = d2(KEY, "203.0.113.9", 0);
    let s1 = d4(KEY, "203.0.113.9", -3);
    let s2 = alert(D3, Severity::Medium, KEY, "203.0.113.9", 5);
    let s3 = d4(KEY, "203.0.113.9", 5);
    let s4 = alert(
        "aws-akia-failed-api-spike",
        Severity::High,
        KEY,
        "203.0.113.9",
        20,
    );
    let input = vec![
        s4.clone(),
        s3.clone(),
        first.clone(),
        s2.clone(),
        s1.clone(),
    ];
    let out = correlate(&Params::default(), &input);
    assert_eq!(out.len(), 1);
    // Time order, then rule id at equal times (aws-akia-... before aws-iam-...).
    assert_eq!(
        sibling_ids(&out[0]),
        [s1.id.clone(), s3.id.clone(), s2.id.clone(), s4.id.clone()]
    );
    assert_eq!(
        out[0].details["sibling_rule_ids"],
        json!(["aws-akia-failed-api-spike", D4, D3])
    );
    // Any input order, duplicates included, gives the same alert; the id is pinned.
    let mut reversed = input.clone();
    reversed.reverse();
    reversed.push(s3.clone());
    assert_eq!(correlate(&Params::default(), &reversed), out);
    assert_eq!(
        out[0].id,
        alert_id(RULE_ID, &["access_key_id", KEY, "2026-01-12T10:00:00Z"])
    );
    // More siblings later (a new run) keep the id: the anchor did not change.
    let mut more = input.clone();
    more.push(d4(KEY, "203.0.113.9", 21));
    let grown = correlate(&Params::default(), &more);
    assert_eq!(grown[0].id, out[0].id);
    assert_eq!(sibling_ids(&grown[0]).len(), 5);
}

#[test]
fn first_seen_alerts_within_the_window_merge_into_one() {
    // Three new addresses within 24 h of the first, then one two days later.
    let a = d2(KEY, "203.0.113.1", 0);
    let b = d2(KEY, "203.0.113.2", 10);
    let c = d2(KEY, "203.0.113.3", 24);
    let late = d2(KEY, "203.0.113.4", 48);
    // A sibling 40 h after the first alert: within 24 h of `c`, so the cluster counts it.
    let s = d4(KEY, "203.0.113.3", 40);
    let s_late = d4(KEY, "203.0.113.4", 49);
    let out = correlate(
        &Params::default(),
        &[
            a.clone(),
            b.clone(),
            c.clone(),
            late.clone(),
            s.clone(),
            s_late.clone(),
        ],
    );
    assert_eq!(out.len(), 2, "{out:#?}");
    assert_eq!(out[0].time, a.time);
    let firsts: Vec<&str> = out[0].details["first_seen_alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(firsts, [a.id.as_str(), b.id.as_str(), c.id.as_str()]);
    // `s_late` (49 h) is beyond 24 h of `c` (24 h); `s` (40 h) is within 24 h of `late` (48 h):
    // the second cluster lists both.
    assert_eq!(sibling_ids(&out[0]), [s.id.as_str()]);
    assert_eq!(out[1].time, late.time);
    assert_eq!(sibling_ids(&out[1]), [s.id.clone(), s_late.id.clone()]);
    assert_ne!(out[0].id, out[1].id);
    assert!(out[0].why.contains("3 open"), "{}", out[0].why);
}

#[test]
fn evidence_count_counts_shared_events_once() {
    let first = d2(KEY, "203.0.113.9", 0);
    let mut d3 = alert(D3, Severity::Medium, KEY, "203.0.113.9", 0);
    d3.event_ids = first.event_ids.clone();
    let mut big = d4(KEY, "203.0.113.9", 0);
    big.count = 5000;
    big.event_ids = (0..1000).map(|i| format!("d4-{i:04}")).collect();
    let out = correlate(&Params::default(), &[first, d3, big]);
    // 1 shared id + 1000 listed + 4000 unlisted.
    assert_eq!(out[0].count, 5001);
    assert_eq!(out[0].event_ids.len(), 1000);
}

#[test]
fn params_reject_unknown_fields() {
    assert!(Params::from_json(Some(&json!({"windw": "1h"}))).is_err());
    assert!(Params::from_json(Some(&json!({"group_by": "user"}))).is_err());
    let p = Params::from_json(None).unwrap();
    assert_eq!(p, Params::default());
    assert_eq!(p.window, "24h".parse().unwrap());
    assert_eq!(p.min_risk_score, 47);
}
