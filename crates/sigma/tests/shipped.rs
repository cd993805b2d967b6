//! Every shipped Sigma rule has cases in `rules/sigma/tests/<rule file stem>.toml`: events that
//! must raise an alert of the rule (`[[match]]`) and events that must not (`[[no_match]]`).
//!
//! A case is a flat map of CloudTrail paths to values (`"userIdentity.type" = "Root"`), one
//! event; or `events = [{...}, ...]` with an optional `repeat = N`, a sequence of events one
//! second apart (for the aggregation rules). Each case runs alone through a detector holding every
//! shipped rule; fixed-schema paths fill the event's fields, the others its captured extra fields,
//! exactly as the decoder would.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trailhound_detect::Detector;
use trailhound_model::{Event, SECOND};
use trailhound_sigma::load::BUILTIN;
use trailhound_sigma::{DetectorOptions, RuleSet, SigmaDetector, SigmaEngine};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/sigma/tests")
}

/// An event from a flat map of paths to values.
fn event(map: &toml::Table, engine: &SigmaEngine, t: i64, file: &str) -> Event {
    let mut e = Event {
        time: 1_700_000_000 * SECOND + t * SECOND,
        event_id: format!("ev-{t}").into(),
        ..Event::default()
    };
    let extra = engine.extra_fields();
    for (path, value) in map {
        let v = value
            .as_str()
            .unwrap_or_else(|| panic!("{file}: {path}: values are strings"));
        let f = v.into();
        match path.as_str() {
            "eventSource" => e.event_source = f,
            "eventName" => e.event_name = f,
            "awsRegion" => e.aws_region = f,
            "sourceIPAddress" => e.source_ip = f,
            "userAgent" => e.user_agent = f,
            "errorCode" => e.error_code = f,
            "errorMessage" => e.error_message = f,
            "eventID" => e.event_id = f,
            "eventType" => e.event_type = f,
            "readOnly" => e.read_only = Some(v == "true"),
            "recipientAccountId" => e.recipient_account_id = f,
            "userIdentity.type" => e.user.kind = f,
            "userIdentity.principalId" => e.user.principal_id = f,
            "userIdentity.arn" => e.user.arn = f,
            "userIdentity.accountId" => e.user.account_id = f,
            "userIdentity.accessKeyId" => e.user.access_key_id = f,
            "userIdentity.userName" => e.user.user_name = f,
            other => {
                let id = extra.id(other).unwrap_or_else(|| {
                    panic!("{file}: {other} is neither a fixed field nor read by any rule")
                });
                e.extra.push((id, f));
            }
        }
    }
    e.extra.sort_by_key(|(id, _)| *id);
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
                let fired = alerts.iter().any(|a| a.rule_id == rule.alert_rule_id());
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
                if want && fired {
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
