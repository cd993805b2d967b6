//! Scenario tests as data: `tests/scenarios/<rule id>/<case>.toml`, events in, exact alerts out.
//! See `tests/scenarios/README.md` for the format.

use std::path::Path;

use serde::Deserialize;
use trailhound_detect::allow::{AllowList, AllowListConfig};
use trailhound_detect::{Alert, rules};
use trailhound_model::{Country, Event, parse_rfc3339};

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct EventSpec {
    time: Option<String>,
    key: Option<String>,
    arn: Option<String>,
    ip: Option<String>,
    name: Option<String>,
    error: Option<String>,
    ua: Option<String>,
    country: Option<String>,
    id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    #[allow(dead_code)]
    description: String,
    params: Option<toml::Value>,
    allow: Option<AllowListConfig>,
    #[serde(default)]
    defaults: EventSpec,
    events: Vec<EventSpec>,
    #[serde(default)]
    expected: Vec<toml::Table>,
}

fn event(spec: &EventSpec, d: &EventSpec, record: u32) -> Event {
    let pick = |a: &Option<String>, b: &Option<String>| {
        a.clone().or_else(|| b.clone()).unwrap_or_default()
    };
    let mut e = Event {
        time: parse_rfc3339(&pick(&spec.time, &d.time)).expect("event time"),
        source_ip: pick(&spec.ip, &d.ip).into(),
        event_name: pick(&spec.name, &d.name).into(),
        error_code: pick(&spec.error, &d.error).into(),
        user_agent: pick(&spec.ua, &d.ua).into(),
        country: Country::new(&pick(&spec.country, &d.country)),
        event_id: pick(&spec.id, &d.id).into(),
        ..Event::default()
    };
    e.user.access_key_id = pick(&spec.key, &d.key).into();
    e.user.arn = pick(&spec.arn, &d.arn).into();
    e.provenance.record = record;
    e
}

fn run(rule_id: &str, path: &Path) -> Vec<Alert> {
    let text = std::fs::read_to_string(path).unwrap();
    let s: Scenario = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let info = rules()
        .iter()
        .find(|r| r.id == rule_id)
        .unwrap_or_else(|| panic!("no rule {rule_id}"));
    let params = s.params.as_ref().map(|p| serde_json::to_value(p).unwrap());
    let mut detector = (info.build)(params.as_ref()).unwrap();
    let allow = AllowList::new(&s.allow.unwrap_or_default()).unwrap();
    for (i, spec) in s.events.iter().enumerate() {
        let e = event(spec, &s.defaults, i as u32);
        if !allow.ignores(&e) {
            detector.observe(&e);
        }
    }
    let mut alerts = detector.finish();
    alerts.sort_by(|a, b| (a.time, &a.access_key_id).cmp(&(b.time, &b.access_key_id)));
    let got = serde_json::to_value(&alerts).unwrap();
    let n = s.expected.len();
    assert_eq!(
        alerts.len(),
        n,
        "{}: expected {n} alerts, got {:#}",
        path.display(),
        got
    );
    for (i, want) in s.expected.iter().enumerate() {
        for (field, value) in want {
            let field = if field == "key" {
                "access_key_id"
            } else {
                field.as_str()
            };
            let want = serde_json::to_value(value).unwrap();
            assert_eq!(
                got[i][field],
                want,
                "{}: alert {i}, field {field}: {:#}",
                path.display(),
                got[i]
            );
        }
        assert_eq!(got[i]["rule_id"], rule_id);
    }
    alerts
}

#[test]
fn every_scenario_gives_exactly_its_expected_alerts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut cases = 0;
    let mut rules_seen = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let rule_id = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|f| f.unwrap().path())
            .collect();
        files.sort();
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|x| x == "toml"))
        {
            let alerts = run(&rule_id, f);
            for a in &alerts {
                assert_eq!(a.risk_score, a.severity.risk_score());
                assert!(a.remediation.contains(&a.access_key_id));
                assert!(!a.why.is_empty() && !a.mitre.is_empty());
            }
            cases += 1;
        }
        rules_seen.push(rule_id);
    }
    rules_seen.sort();
    assert_eq!(
        rules_seen,
        [
            "aws-akia-first-seen-source-ip",
            "aws-akia-unauthorized-api-call",
            "aws-iam-user-agent-new-ip"
        ]
    );
    assert!(cases >= 7, "only {cases} scenario files");
}
