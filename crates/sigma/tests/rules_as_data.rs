//! Rules as data: Sigma correlation rules (`value_count`, `temporal_ordered`, `event_count`) and
//! new-terms rules fire exactly on the events that meet them, the rules they count raise no
//! alert of their own, and a broken file is named with its line and field.

use std::sync::Arc;

use trailhound_detect::{Alert, Detector};
use trailhound_model::{DAY, Event, SECOND};

const MINUTE: i64 = 60 * SECOND;
use trailhound_sigma::{DetectorOptions, RuleSet, SigmaDetector, SigmaEngine};

const T0: i64 = 1_700_000_000 / 3600 * 3600 * SECOND;
const K1: &str = "AKIAAAAAAAAAAAAAAAA1";
const K2: &str = "AKIAAAAAAAAAAAAAAAA2";

const HEAD: &str = "logsource:\n  product: aws\n  service: cloudtrail\n";

fn event(t: i64, id: &str, key: &str, name: &str, error: &str, ip: &str) -> Event {
    let mut e = Event {
        time: T0 + t,
        event_id: id.into(),
        event_name: name.into(),
        event_source: "iam.amazonaws.com".into(),
        error_code: error.into(),
        source_ip: ip.into(),
        user_agent: "aws-cli/2.15.0".into(),
        ..Event::default()
    };
    e.user.access_key_id = key.into();
    e.user.kind = "IAMUser".into();
    e.user.arn = format!("arn:aws:iam::123456789012:user/{key}").into();
    e
}

fn set(text: &str) -> RuleSet {
    let mut set = RuleSet::default();
    set.add("rules.yml", text);
    set.check_references();
    set
}

fn run(text: &str, events: &[Event]) -> Vec<Alert> {
    let set = set(text);
    assert!(set.errors.is_empty(), "{:?}", set.errors);
    let mut d = SigmaDetector::new(
        Arc::new(SigmaEngine::from_set(set)),
        DetectorOptions::default(),
    );
    for e in events {
        d.observe(e);
    }
    d.finish()
}

fn ids(a: &Alert) -> Vec<&str> {
    a.event_ids.iter().map(String::as_str).collect()
}

fn denied_rule() -> String {
    format!(
        "title: Denied IAM call\nid: denied\nname: denied_iam_call\nlevel: low\n{HEAD}detection:\n  s:\n    eventSource: iam.amazonaws.com\n    errorCode: AccessDenied\n  condition: s\n"
    )
}

#[test]
fn value_count_fires_on_the_key_with_enough_distinct_denied_calls() {
    let text = format!(
        "{}---\ntitle: Many different denied IAM calls\nid: many-denied\nlevel: high\ntags:\n  - attack.discovery\n  - attack.t1087.004\ncorrelation:\n  type: value_count\n  rules:\n    - denied_iam_call\n  group-by:\n    - userIdentity.accessKeyId\n  timespan: 1h\n  condition:\n    gte: 3\n    field: eventName\n",
        denied_rule()
    );
    let m = MINUTE;
    let events = [
        event(0, "a1", K1, "ListUsers", "AccessDenied", "203.0.113.1"),
        event(m, "b1", K2, "ListUsers", "AccessDenied", "198.51.100.2"),
        event(2 * m, "a2", K1, "CreateUser", "AccessDenied", "203.0.113.1"),
        event(3 * m, "b2", K2, "ListUsers", "AccessDenied", "198.51.100.2"),
        event(4 * m, "a3", K1, "ListUsers", "", "203.0.113.1"),
        event(5 * m, "a4", K1, "GetUser", "AccessDenied", "203.0.113.1"),
        event(6 * m, "b3", K2, "ListUsers", "AccessDenied", "198.51.100.2"),
        event(7 * m, "b4", K2, "ListUsers", "AccessDenied", "198.51.100.2"),
    ];
    let alerts = run(&text, &events);
    // One alert, for K1 (three distinct denied names), none for K2 (one name, four times), and
    // none of the counted rule itself (generate defaults to false).
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let a = &alerts[0];
    assert_eq!(a.rule_id, "sigma-many-denied");
    assert_eq!(a.access_key_id, K1);
    assert_eq!(ids(a), ["a1", "a2", "a4"]);
    assert_eq!(a.count, 3);
    assert_eq!(a.mitre, ["T1087.004"]);
    assert_eq!(a.details["aggregated_value"], 3.0);
    assert_eq!(a.details["group"], format!("userIdentity.accessKeyId={K1}"));
    assert_eq!(a.severity, trailhound_detect::Severity::High);
}

#[test]
fn temporal_ordered_fires_only_in_the_given_order() {
    let text = format!(
        "title: Identity check\nid: whoami\nlevel: low\n{HEAD}detection:\n  s:\n    eventName: GetCallerIdentity\n  condition: s\n---\n{}---\ntitle: Identity check then a denied IAM call\nid: whoami-then-denied\nlevel: medium\ncorrelation:\n  type: temporal_ordered\n  rules:\n    - whoami\n    - denied\n  group-by:\n    - userIdentity.accessKeyId\n  timespan: 10m\n",
        denied_rule()
    );
    let m = MINUTE;
    let events = [
        // K1: identity check, then a denied call 2 minutes later: fires.
        event(0, "a1", K1, "GetCallerIdentity", "", "203.0.113.1"),
        event(2 * m, "a2", K1, "ListUsers", "AccessDenied", "203.0.113.1"),
        // K2: the other order: does not fire.
        event(3 * m, "b1", K2, "ListUsers", "AccessDenied", "198.51.100.2"),
        event(4 * m, "b2", K2, "GetCallerIdentity", "", "198.51.100.2"),
        // K1 again, too far apart (an hour later, 20 minutes between): does not fire again.
        event(60 * m, "a3", K1, "GetCallerIdentity", "", "203.0.113.1"),
        event(80 * m, "a4", K1, "ListUsers", "AccessDenied", "203.0.113.1"),
    ];
    let alerts = run(&text, &events);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].rule_id, "sigma-whoami-then-denied");
    assert_eq!(ids(&alerts[0]), ["a1", "a2"]);
}

#[test]
fn generate_true_keeps_the_counted_rules_alerts() {
    let text = format!(
        "{}---\ntitle: Repeated denials\nid: repeated\nlevel: medium\ncorrelation:\n  type: event_count\n  rules: [denied]\n  group-by: [userIdentity.accessKeyId]\n  timespan: 1h\n  generate: true\n  condition:\n    gt: 3\n",
        denied_rule()
    );
    let events: Vec<Event> = (0..4)
        .map(|i| {
            event(
                i * MINUTE,
                &format!("b{i}"),
                K2,
                "ListUsers",
                "AccessDenied",
                "198.51.100.2",
            )
        })
        .collect();
    let alerts = run(&text, &events);
    let rules: Vec<&str> = alerts.iter().map(|a| a.rule_id.as_str()).collect();
    assert_eq!(rules, ["sigma-denied", "sigma-repeated"]);
    assert_eq!(alerts[1].count, 4);
}

#[test]
fn new_terms_fire_on_a_combination_first_seen_in_the_history_window() {
    let text = format!(
        "title: Key from a new address\nid: key-new-address\nlevel: medium\n{HEAD}detection:\n  s:\n    eventSource: iam.amazonaws.com\n    errorCode: null\n  condition: s\nnew_terms:\n  fields: [userIdentity.accessKeyId, sourceIPAddress]\n  history_window: 10d\n  warm_up: 1d\nremediation: Ask the owner of {{userIdentity.arn}} about {{sourceIPAddress}}.\n"
    );
    let (ip1, ip2) = ("203.0.113.1", "198.51.100.9");
    let events = [
        event(0, "w1", K1, "ListUsers", "", ip1), // warm-up: history only
        event(2 * DAY, "k1", K1, "ListUsers", "", ip1), // known
        event(2 * DAY + MINUTE, "n1", K1, "ListUsers", "", ip2), // new
        event(2 * DAY + 2 * MINUTE, "n2", K1, "GetUser", "", ip2), // same hour: evidence
        event(
            2 * DAY + 3 * MINUTE,
            "d1",
            K1,
            "GetUser",
            "AccessDenied",
            ip2,
        ), // filtered out
        event(3 * DAY, "n3", K1, "GetUser", "", ip2), // known now
        event(13 * DAY, "n4", K1, "GetUser", "", ip1), // 11 days after: new again
    ];
    let alerts = run(&text, &events);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    assert_eq!(ids(&alerts[0]), ["n1", "n2"]);
    assert_eq!(alerts[0].source_ips, [ip2]);
    assert_eq!(
        alerts[0].remediation,
        format!("Ask the owner of arn:aws:iam::123456789012:user/{K1} about {ip2}.")
    );
    assert_eq!(alerts[0].details["terms"]["sourceIPAddress"], ip2);
    assert_eq!(ids(&alerts[1]), ["n4"]);
    assert_eq!(alerts[1].rule_id, "sigma-key-new-address");
}

#[test]
fn broken_files_name_the_line_and_the_field() {
    let bad_span = "title: T\nid: c1\nlevel: high\ncorrelation:\n  type: event_count\n  rules: [x]\n  timespan: soon\n  condition:\n    gte: 2\n";
    let s = set(bad_span);
    assert_eq!(s.errors.len(), 1);
    assert!(
        s.errors[0]
            .to_string()
            .starts_with("rules.yml: line 7: field `timespan`"),
        "{}",
        s.errors[0]
    );
    let bad_type = "title: T\nid: c1\nlevel: high\ncorrelation:\n  type: sometimes\n  rules: [x]\n  timespan: 1h\n";
    assert!(
        set(bad_type).errors[0]
            .to_string()
            .starts_with("rules.yml: line 5: field `type`: \"sometimes\" is not one of"),
    );
    let no_field = "title: T\nid: c1\nlevel: high\ncorrelation:\n  type: value_count\n  rules: [x]\n  timespan: 1h\n  condition:\n    gte: 2\n";
    assert!(
        set(no_field).errors[0]
            .to_string()
            .contains("line 8: field `condition`: value_count needs `field:`"),
    );
    let unknown_rule = format!(
        "{}---\ntitle: T\nid: c1\nlevel: high\ncorrelation:\n  type: event_count\n  rules: [nope]\n  timespan: 1h\n  condition:\n    gte: 2\n",
        denied_rule()
    );
    let s = set(&unknown_rule);
    assert_eq!(s.correlations.len(), 0);
    assert!(
        s.errors[0]
            .to_string()
            .contains("no loaded detection rule has the id or name \"nope\""),
        "{}",
        s.errors[0]
    );
    let bad_terms = format!(
        "title: T\nid: n1\nlevel: low\n{HEAD}detection:\n  s:\n    eventName: X\n  condition: s\nnew_terms:\n  fields: [a, b, c, d]\n  history_window: 10d\n"
    );
    assert!(
        set(&bad_terms).errors[0]
            .to_string()
            .starts_with("rules.yml: line 12: field `fields`: 4 fields: one to 3 are allowed"),
        "{}",
        set(&bad_terms).errors[0]
    );
    let bad_yaml = "title: T\nid: [\n";
    assert!(set(bad_yaml).errors[0].to_string().contains("line "));
}
