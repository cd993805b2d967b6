//! The generator's manifest is the oracle: on the generated scenario set every planted attack is
//! found by the rules the manifest names, and nothing else fires (not on the clean background,
//! not on the decoys).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

#[path = "support/cli.rs"]
mod cli;
use cli::{generate, jsonl, run_ok, trailhound};

/// A hunt with the built-in rules D1–D5 only (`--no-sigma`): the manifest is their oracle.
/// Sigma alerts on the same set are counted per rule in crates/cli/tests/sigma.rs.
fn hunt(dir: &Path, store: &Path) -> Vec<Value> {
    let out = run_ok(
        trailhound("generated")
            .args([
                "hunt",
                "--no-sigma",
                "--format",
                "jsonl",
                "--no-progress",
                "--store",
            ])
            .arg(store)
            .arg(dir),
    );
    jsonl(&out.stdout)
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_planted_attack_is_found_and_nothing_else_fires() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let m = generate(&data, &["--events", "30000", "--seed", "7"]);
    let alerts = hunt(&data, &tmp.path().join("alerts.db"));

    let mut expected = Vec::new();
    for entry in m["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .chain(m["decoys"].as_array().unwrap())
    {
        expected.extend(entry["expected_alerts"].as_array().unwrap().iter().cloned());
    }
    assert!(
        expected.len() >= 10,
        "the manifest plants too little: {}",
        expected.len()
    );
    let key = |a: &Value| {
        (
            a["rule_id"].as_str().unwrap().to_owned(),
            a["access_key_id"].as_str().unwrap().to_owned(),
            a["time"].as_str().unwrap().to_owned(),
        )
    };

    // Every expected alert is raised, with its evidence.
    for want in &expected {
        let got = alerts
            .iter()
            .find(|a| key(a) == key(want))
            .unwrap_or_else(|| panic!("missing alert {want:#}\ngot: {alerts:#?}"));
        let want_ids = strings(&want["event_ids"]);
        let got_ids = strings(&got["event_ids"]);
        assert!(
            want_ids.is_subset(&got_ids),
            "{:?}: event ids {want_ids:?} not all in {got_ids:?}",
            key(want)
        );
        assert_eq!(
            strings(&got["source_ips"]),
            strings(&want["source_ips"]),
            "{:?}",
            key(want)
        );
        assert_eq!(
            strings(&got["countries"]),
            strings(&want["countries"]),
            "{:?}",
            key(want)
        );
        // D1's evidence is every critical call of the matched hour (the manifest counts the denied
        // ones); D5's is the union of its sibling alerts' events.
        if want["rule_id"] != "aws-akia-failed-api-spike"
            && want["rule_id"] != "aws-akia-correlated-elevated-alerts"
        {
            assert_eq!(got["count"], want["count"], "{:?}", key(want));
        }
    }
    // Nothing else fires: not on the background, not on the decoys.
    for got in &alerts {
        assert!(
            expected.iter().any(|w| key(w) == key(got)),
            "unexpected alert {got:#}"
        );
    }
    assert_eq!(alerts.len(), expected.len());
    // The rules a scenario names as not expected stay quiet on its key.
    for entry in m["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .chain(m["decoys"].as_array().unwrap())
    {
        for rule in entry["not_expected"].as_array().unwrap() {
            assert!(
                !alerts
                    .iter()
                    .any(|a| a["rule_id"] == *rule && a["access_key_id"] == entry["access_key_id"]),
                "{rule} fired on {}",
                entry["access_key_id"]
            );
        }
    }
    // D1's alert carries the seed's columns.
    let d1 = alerts
        .iter()
        .find(|a| a["rule_id"] == "aws-akia-failed-api-spike")
        .unwrap();
    assert!(d1["details"]["ZScore"].as_f64().unwrap() > 2.0, "{d1:#}");
}

#[test]
fn a_clean_background_raises_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let m = generate(
        &data,
        &["--events", "20000", "--seed", "11", "--scenarios", "none"],
    );
    assert_eq!(m["scenarios"].as_array().unwrap().len(), 0);
    let alerts = hunt(&data, &tmp.path().join("alerts.db"));
    assert!(alerts.is_empty(), "{alerts:#?}");
}

#[test]
fn generation_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let a = generate(&tmp.path().join("a"), &["--events", "3000", "--days", "14"]);
    let b = generate(&tmp.path().join("b"), &["--events", "3000", "--days", "14"]);
    assert_eq!(a, b);
}
