//! Every shipped Sigma rule has cases in `rules/sigma/tests/<rule file stem>.toml`: events that
//! must raise an alert of the rule (`[[match]]`) and events that must not (`[[no_match]]`).
//!
//! A case is a flat map of CloudTrail paths to values (`"userIdentity.type" = "Root"`), one
//! event; or `events = [{...}, ...]` with an optional `repeat = N`, a sequence of events one
//! second apart (for the aggregation rules). Each case runs alone through a detector holding every
//! shipped rule; the case's paths are written as a CloudTrail record and decoded by the real
//! decoder with the rules' extra fields (`source.geo.country_iso_code`, which enrichment fills
//! in, is set on the decoded event). A new-terms rule alerts only past its warm-up, so its cases
//! say whether its detection selects the event (the new-terms part is tested in
//! `tests/rules_as_data.rs` and `crates/cli/tests/stolen_key_rules.rs`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trailhound_decode::decode_with;
use trailhound_detect::Detector;
use trailhound_model::{Event, FIXED_FIELDS, SECOND, format_rfc3339};
use trailhound_sigma::load::BUILTIN;
use trailhound_sigma::{DetectorOptions, RuleSet, SigmaDetector, SigmaEngine};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/sigma/tests")
}

/// A JSON object being built from dotted paths, keys in the order given.
#[derive(Default)]
struct Object(Vec<(String, Node)>);

enum Node {
    /// JSON text, written as it is.
    Raw(String),
    Object(Object),
}

impl Object {
    fn set(&mut self, path: &str, raw: String) {
        match path.split_once('.') {
            None => self.0.push((path.to_owned(), Node::Raw(raw))),
            Some((head, rest)) => {
                let i = match self.0.iter().position(|(k, _)| k == head) {
                    Some(i) => i,
                    None => {
                        self.0
                            .push((head.to_owned(), Node::Object(Object::default())));
                        self.0.len() - 1
                    }
                };
                match &mut self.0[i].1 {
                    Node::Object(o) => o.set(rest, raw),
                    Node::Raw(_) => panic!("{head} is both a value and an object"),
                }
            }
        }
    }

    fn write(&self, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(k).unwrap());
            out.push(':');
            match v {
                Node::Raw(r) => out.push_str(r),
                Node::Object(o) => o.write(out),
            }
        }
        out.push('}');
    }
}

/// An event from a flat map of paths to values, through the decoder: the map becomes one
/// CloudTrail record (a value that is JSON object or array text is written as that JSON, as
/// CloudTrail writes `requestParameters`; `readOnly` as a boolean; any other value as a string),
/// decoded with the rules' extra fields.
fn event(map: &toml::Table, engine: &SigmaEngine, t: i64, file: &str) -> Event {
    let extra = engine.extra_fields();
    let mut record = Object::default();
    let time = 1_700_000_000 * SECOND + t * SECOND;
    record.set(
        "eventTime",
        serde_json::to_string(&format_rfc3339(time)).unwrap(),
    );
    if !map.contains_key("eventID") {
        record.set("eventID", format!("\"ev-{t}\""));
    }
    let mut country = None;
    for (path, value) in map {
        let v = value
            .as_str()
            .unwrap_or_else(|| panic!("{file}: {path}: values are strings"));
        if path == trailhound_model::SOURCE_COUNTRY_FIELD {
            country = trailhound_model::Country::new(v);
            continue;
        }
        assert!(
            FIXED_FIELDS.contains(&path.as_str()) || extra.id(path).is_some(),
            "{file}: {path} is neither a fixed field nor read by any rule"
        );
        let structured = (v.starts_with('{') || v.starts_with('['))
            && serde_json::from_str::<serde_json::Value>(v).is_ok();
        let raw = if structured || (path == "readOnly" && (v == "true" || v == "false")) {
            v.to_owned()
        } else {
            serde_json::to_string(v).unwrap()
        };
        record.set(path, raw);
    }
    let mut text = String::new();
    record.write(&mut text);
    let mut d = decode_with(text.as_bytes(), 0, &extra);
    assert_eq!(d.events.len(), 1, "{file}: {text}: {:?}", d.issues);
    let mut e = d.events.remove(0);
    e.country = country;
    e
}

/// The events of one case.
fn case_events(case: &toml::Table, engine: &SigmaEngine, file: &str) -> Vec<Event> {
    let Some(seq) = case.get("events") else {
        return vec![event(case, engine, 0, file)];
    };
    let repeat = case
        .get("repeat")
        .map_or(1, |r| r.as_integer().expect("repeat is a count") as usize);
    let seq = seq.as_array().expect("events is an array");
    let mut out = Vec::new();
    for _ in 0..repeat {
        for ev in seq {
            let t = out.len() as i64;
            out.push(event(
                ev.as_table().expect("an event is a table"),
                engine,
                t,
                file,
            ));
        }
    }
    out
}

#[test]
fn every_shipped_rule_has_cases_and_passes_them() {
    let set = RuleSet::load(true, &[]);
    assert!(set.errors.is_empty(), "{:#?}", set.errors);
    let engine = Arc::new(SigmaEngine::new(set.rules));
    let mut missing = Vec::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    for rule in engine.rules() {
        let stem = Path::new(&rule.file).file_stem().unwrap().to_string_lossy();
        let path = cases_dir().join(format!("{stem}.toml"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            missing.push(path.display().to_string());
            continue;
        };
        let file = path.display().to_string();
        let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let list = |k: &str| {
            doc.get(k)
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default()
        };
        let (matches, no_matches) = (list("match"), list("no_match"));
        if matches.is_empty() || no_matches.is_empty() {
            failures.push(format!(
                "{file}: needs at least one match and one no_match case"
            ));
        }
        for (want, cases) in [(true, matches), (false, no_matches)] {
            for (i, case) in cases.iter().enumerate() {
                let events = case_events(case.as_table().unwrap(), &engine, &file);
                let mut d = SigmaDetector::new(Arc::clone(&engine), DetectorOptions::default());
                for e in &events {
                    d.observe(e);
                }
                let alerts = d.finish();
                let fired = if rule.new_terms.is_some() {
                    let index = engine.rules().iter().position(|r| r.id == rule.id).unwrap();
                    events.iter().any(|e| {
                        let mut hits = Vec::new();
                        engine.matches(e, &mut hits);
                        hits.contains(&index)
                    })
                } else {
                    alerts.iter().any(|a| a.rule_id == rule.alert_rule_id())
                };
                if fired != want {
                    let kind = if want { "match" } else { "no_match" };
                    failures.push(format!(
                        "{file}: {kind} case {} ({} event(s)) {}",
                        i + 1,
                        events.len(),
                        if want {
                            "raised no alert"
                        } else {
                            "raised an alert"
                        }
                    ));
                }
                if want && fired && rule.new_terms.is_none() {
                    let a = alerts
                        .iter()
                        .find(|a| a.rule_id == rule.alert_rule_id())
                        .unwrap();
                    assert_eq!(a.rule_name, rule.title);
                    assert_eq!(a.severity, rule.level.severity());
                    assert_eq!(a.details["sigma"]["author"], rule.author.as_str());
                    assert!(a.why.contains(&rule.author), "{}", a.why);
                }
                checked += 1;
            }
        }
    }
    assert!(
        missing.is_empty(),
        "shipped rules without cases: {missing:#?}"
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(checked >= 2 * BUILTIN.len(), "{checked}");
}

#[test]
fn no_case_file_is_left_without_a_rule() {
    let stems: Vec<String> = BUILTIN
        .iter()
        .map(|(name, _)| {
            Path::new(name)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for entry in std::fs::read_dir(cases_dir()).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(stems.contains(&stem), "{} has no rule", path.display());
    }
}
