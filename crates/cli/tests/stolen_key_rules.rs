//! Trailhound's own rules for the stolen-key story (`rules/sigma/trailhound/`), shipped as data:
//! each fires on its planted scenario (`generate --scenarios …`) exactly as the manifest says,
//! by rule, key, time and event id, and on nothing else in the set: not on the decoys, not on
//! the background, not on the other scenarios' keys.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

#[path = "support/cli.rs"]
mod cli;
use cli::{bin, scenario};

/// The scenarios of the stolen-key rules, with every default one (so that the decoys are there).
const SCENARIOS: &str = "failed-api-spike,first-seen-ip,new-user-agent-ip,unauthorized-burst,quarantine-policy,session-token-abuse,key-for-another-user,first-caller-identity,console-no-mfa,many-countries";

/// The alert rule ids of Trailhound's shipped rules (the stolen-key story, then the attack
/// techniques).
const RULES: [&str; 14] = [
    "sigma-aws-compromised-key-quarantine-policy",
    "sigma-aws-iam-calls-with-user-session-token",
    "sigma-aws-temporary-token-several-addresses",
    "sigma-aws-iam-access-key-created-for-another-user",
    "sigma-aws-new-access-key-used-within-a-day",
    "sigma-aws-akia-first-get-caller-identity",
    "sigma-aws-console-login-without-mfa-new-user",
    "sigma-aws-akia-many-countries-in-a-day",
    "sigma-aws-ssm-send-command-shell",
    "sigma-aws-iam-login-profile-for-another-user",
    "sigma-aws-ec2-get-password-data",
    "sigma-aws-lambda-function-public-permission",
    "sigma-aws-sts-federation-token",
    "sigma-aws-ec2-user-data-modified",
];

/// Correlation rules: their evidence is every counted event of the group in the window, so the
/// planted events are a subset of it.
const WINDOWED: [&str; 3] = [
    "sigma-aws-temporary-token-several-addresses",
    "sigma-aws-new-access-key-used-within-a-day",
    "sigma-aws-akia-many-countries-in-a-day",
];

/// The alerts of a hunt of `src` with the shipped defaults, no store.
fn hunt(src: &std::path::Path) -> Vec<Value> {
    let out = cli::run_ok(
        Command::new(bin())
            .args(["hunt", "--no-progress", "--no-store", "--format", "jsonl"])
            .arg(src),
    );
    cli::jsonl(&out.stdout)
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect()
}

/// An alert's identity: rule, key (else principal ARN) and time.
fn id(a: &Value) -> (String, String, String) {
    let subject = match a["access_key_id"].as_str() {
        Some(k) if !k.is_empty() => k.to_owned(),
        _ => a["user_arn"].as_str().unwrap().to_owned(),
    };
    (
        a["rule_id"].as_str().unwrap().to_owned(),
        subject,
        a["time"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn each_stolen_key_rule_fires_on_its_scenario_and_nowhere_else() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let manifest = cli::generate(
        &src,
        &["--events", "3000", "--keys", "6", "--scenarios", SCENARIOS],
    );
    let alerts = hunt(&src);
    let got: BTreeMap<_, &Value> = alerts.iter().map(|a| (id(a), a)).collect();

    // Every scenario of a stolen-key rule: its alerts of these rules and of D1–D5, exactly.
    let mut wanted = BTreeSet::new();
    for name in [
        "quarantine-policy",
        "session-token-abuse",
        "key-for-another-user",
        "first-caller-identity",
        "console-no-mfa",
        "many-countries",
    ] {
        let sc = scenario(&manifest, name);
        assert!(
            sc["expected_alerts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["rule_id"] == sc["rule_id"]),
            "{name}: the rule it is built for is expected"
        );
        let mut subjects = BTreeSet::new();
        for e in sc["expected_alerts"].as_array().unwrap() {
            let key = id(e);
            subjects.insert(key.1.clone());
            wanted.insert(key.clone());
            let a = got
                .get(&key)
                .unwrap_or_else(|| panic!("{name}: no alert {key:?}"));
            let planted = strings(&e["event_ids"]);
            let evidence = strings(&a["event_ids"]);
            if WINDOWED.contains(&key.0.as_str()) {
                assert!(
                    planted.is_subset(&evidence),
                    "{name}: {key:?} evidence {evidence:?} lacks planted {planted:?}"
                );
            } else if key.0 == "aws-akia-correlated-elevated-alerts" {
                assert!(planted.is_subset(&evidence), "{name}: {key:?}");
                let siblings = strings(&a["details"]["sibling_rule_ids"]);
                for r in e["details"]["correlated_rules"].as_array().unwrap() {
                    assert!(
                        siblings.contains(r.as_str().unwrap()),
                        "{name}: D5 {key:?} lists {r} among {siblings:?}"
                    );
                }
            } else {
                assert_eq!(evidence, planted, "{name}: {key:?} evidence");
            }
        }
        // Nothing else of these rules and of D1–D5 on the scenario's keys and principals.
        let on_subjects: BTreeSet<_> = got
            .keys()
            .filter(|k| subjects.contains(&k.1))
            .filter(|k| RULES.contains(&k.0.as_str()) || !k.0.starts_with("sigma-"))
            .cloned()
            .collect();
        let expected: BTreeSet<_> = sc["expected_alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .collect();
        assert_eq!(on_subjects, expected, "{name}: alerts on its keys");
    }

    // Across the whole set, the stolen-key rules raise only the expected alerts, plus one true
    // positive on the D1 scenario: the attacker's first call is GetCallerIdentity.
    let spike = scenario(&manifest, "failed-api-spike");
    let attack_hour = spike["expected_alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["rule_id"] == "aws-akia-failed-api-spike")
        .unwrap()["time"]
        .as_str()
        .unwrap()
        .to_owned();
    wanted.insert((
        "sigma-aws-akia-first-get-caller-identity".to_owned(),
        spike["access_key_id"].as_str().unwrap().to_owned(),
        attack_hour,
    ));
    let fired: BTreeSet<_> = got
        .keys()
        .filter(|k| RULES.contains(&k.0.as_str()))
        .cloned()
        .collect();
    let wanted: BTreeSet<_> = wanted
        .into_iter()
        .filter(|k| RULES.contains(&k.0.as_str()))
        .collect();
    assert_eq!(fired, wanted);

    // And none on a decoy's key.
    let decoy_keys: BTreeSet<&str> = manifest["decoys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["access_key_id"].as_str().unwrap())
        .collect();
    assert!(
        !fired.iter().any(|k| decoy_keys.contains(k.1.as_str())),
        "{fired:?}"
    );
}

/// The `attack-techniques` scenario: every technique of the generator's list raises the rule
/// that names it, on the stolen key, in the technique's hour, with the technique's events as
/// evidence; Trailhound's technique rules fire nowhere else (and on nothing in the default
/// scenarios and decoys: the test above).
#[test]
fn every_claimed_attack_technique_raises_the_rule_that_names_it() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let manifest = cli::generate(
        &src,
        &[
            "--events",
            "3000",
            "--keys",
            "6",
            "--scenarios",
            "failed-api-spike,first-seen-ip,new-user-agent-ip,unauthorized-burst,attack-techniques",
        ],
    );
    let alerts = hunt(&src);
    let sc = scenario(&manifest, "attack-techniques");
    let key = sc["access_key_id"].as_str().unwrap();
    let expected = sc["expected_alerts"].as_array().unwrap();
    // The 16 techniques, each once, with its own planted events (the step names the technique).
    let techniques: BTreeSet<&str> = expected
        .iter()
        .map(|e| e["details"]["technique"].as_str().unwrap())
        .collect();
    assert_eq!(techniques.len(), 16, "{techniques:?}");
    for e in expected {
        let technique = e["details"]["technique"].as_str().unwrap();
        let planted: BTreeSet<String> = sc["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["step"] == technique)
            .map(|p| p["event_id"].as_str().unwrap().to_owned())
            .collect();
        let evidence = strings(&e["event_ids"]);
        assert!(
            evidence.is_subset(&planted) && !evidence.is_empty(),
            "{technique}"
        );
        let a = alerts
            .iter()
            .find(|a| {
                a["rule_id"] == e["rule_id"] && a["access_key_id"] == key && a["time"] == e["time"]
            })
            .unwrap_or_else(|| panic!("{technique}: no {} alert at {}", e["rule_id"], e["time"]));
        assert_eq!(strings(&a["event_ids"]), evidence, "{technique}");
        assert!(!a["rule_name"].as_str().unwrap().is_empty());
    }
    // Trailhound's rules raise nothing on any other key or principal of the set, except the
    // D1 attacker's first GetCallerIdentity (the test above).
    for a in &alerts {
        let rule = a["rule_id"].as_str().unwrap();
        if RULES.contains(&rule) && rule != "sigma-aws-akia-first-get-caller-identity" {
            assert_eq!(a["access_key_id"], key, "{rule} fired elsewhere: {a}");
        }
    }
}

#[test]
fn the_stolen_key_rules_are_shipped_and_listed_with_their_kind() {
    let out = cli::run_ok(Command::new(bin()).args(["rules", "list", "--format", "jsonl"]));
    let rows = cli::jsonl(&out.stdout);
    let kind = |id: &str| -> String {
        rows.iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id} is listed"))["kind"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(kind("aws-compromised-key-quarantine-policy"), "sigma");
    assert_eq!(kind("aws-akia-first-get-caller-identity"), "new terms");
    assert_eq!(kind("aws-console-login-without-mfa-new-user"), "new terms");
    assert_eq!(
        kind("aws-akia-many-countries-in-a-day"),
        "sigma correlation (value_count)"
    );
    assert_eq!(
        kind("aws-new-access-key-used-within-a-day"),
        "sigma correlation (temporal_ordered)"
    );
    // SigmaHQ's per-event rule is off by default: the new-terms rule replaces it.
    assert!(
        !rows
            .iter()
            .any(|r| r["id"] == "77caf516-34e5-4df9-b4db-20744fea0a60")
    );
}
