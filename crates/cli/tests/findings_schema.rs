//! `--format ocsf` and `--format ecs` produce records that validate against the published
//! schemas: OCSF 1.5.0 Detection Finding (py-ocsf-models, from PyPI) and the Elastic Common
//! Schema's field definitions (@elastic/ecs, from npm), by the validators in tests/schemas/.
//! The validators are shown to reject a broken record, so a pass means something.
//!
//! Skipped (with a message) when the schema packages are not installed, unless
//! `TRAILHOUND_REQUIRE_SCHEMAS` is set, as `.ci/run` does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

#[path = "support/cli.rs"]
mod cli;
use cli::bin;

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/schemas")
}

fn available(check: &mut Command, what: &str) -> bool {
    let ok = check
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("TRAILHOUND_REQUIRE_SCHEMAS").is_none(),
            "TRAILHOUND_REQUIRE_SCHEMAS is set but {what} is missing"
        );
        eprintln!("skipped: {what} is missing");
    }
    ok
}

/// Runs a validator over `lines`; its success and output.
fn validate(cmd: &mut Command, lines: &[String]) -> (bool, String) {
    let mut child = cmd
        .current_dir(schemas_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = lines.join("\n");
    input.push('\n');
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Hunts the scenario set in `format`; returns the lines and the alerts (JSON Lines).
fn hunt(tmp: &Path, format: &str) -> (Vec<String>, Vec<Value>) {
    let src = tmp.join("src");
    if !src.exists() {
        cli::generate(&src, &["--events", "3000", "--keys", "6"]);
    }
    let run = |f: &str| {
        let out = cli::run_ok(
            Command::new(bin())
                .args(["hunt", "--no-progress", "--no-store", "--format", f])
                .arg(&src),
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let alerts = run("jsonl")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (run(format), alerts)
}

fn mutate(line: &str, f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(line).unwrap();
    f(&mut v);
    v.to_string()
}

#[test]
fn ocsf_findings_validate_against_ocsf_1_5_detection_finding() {
    if !available(
        Command::new("python3").args(["-c", "import py_ocsf_models"]),
        "py-ocsf-models (pip install -r tests/schemas/requirements.txt)",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (lines, alerts) = hunt(tmp.path(), "ocsf");
    assert_eq!(lines.len(), alerts.len());
    assert!(lines.len() >= 5);
    let mut python = Command::new("python3");
    python.arg("validate_ocsf.py");
    let (ok, out) = validate(&mut python, &lines);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), format!("ok {}", lines.len()));

    // The mapping, checked on every alert.
    for (line, a) in lines.iter().zip(&alerts) {
        let f: Value = serde_json::from_str(line).unwrap();
        assert_eq!(f["class_uid"], 2004);
        assert_eq!(f["finding_info"]["uid"], a["id"]);
        assert_eq!(f["finding_info"]["analytic"]["uid"], a["rule_id"]);
        assert_eq!(f["resources"][0]["uid"], a["access_key_id"]);
        assert_eq!(f["risk_score"], a["risk_score"]);
        let severity_id = match a["severity"].as_str().unwrap() {
            "low" => 2,
            "medium" => 3,
            "high" => 4,
            _ => 5,
        };
        assert_eq!(f["severity_id"], severity_id);
        assert_eq!(f["status_id"], 1);
        assert_eq!(f["unmapped"]["trailhound"]["source_ips"], a["source_ips"]);
    }

    // The validator rejects an attribute OCSF lacks, a missing required one, and a bad id.
    let first = &lines[0];
    for (broken, why) in [
        (
            mutate(first, |v| v["severity_level"] = 4.into()),
            "severity_level",
        ),
        (
            mutate(first, |v| {
                v["finding_info"].as_object_mut().unwrap().remove("uid");
            }),
            "finding_info.uid",
        ),
        (
            mutate(first, |v| v["severity_id"] = 42.into()),
            "severity_id",
        ),
    ] {
        let (ok, out) = validate(&mut python, &[broken]);
        assert!(!ok && out.contains(why), "{why}: {out}");
    }
}

#[test]
fn ecs_documents_validate_against_the_elastic_common_schema() {
    if !available(
        Command::new("node").args([
            "-e",
            "require(require('path').join(process.argv[1], 'node_modules/@elastic/ecs'))",
            schemas_dir().to_str().unwrap(),
        ]),
        "@elastic/ecs (cd tests/schemas && npm ci)",
    ) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (lines, alerts) = hunt(tmp.path(), "ecs");
    assert_eq!(lines.len(), alerts.len());
    let mut node = Command::new("node");
    node.arg("validate_ecs.mjs");
    let (ok, out) = validate(&mut node, &lines);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), format!("ok {}", lines.len()));

    for (line, a) in lines.iter().zip(&alerts) {
        let d: Value = serde_json::from_str(line).unwrap();
        assert_eq!(d["event"]["kind"], "alert");
        assert_eq!(d["event"]["id"], a["id"]);
        assert_eq!(d["rule"]["id"], a["rule_id"]);
        assert_eq!(d["@timestamp"], a["time"]);
        assert_eq!(
            d["aws"]["cloudtrail"]["user_identity"]["access_key_id"],
            a["access_key_id"]
        );
        assert_eq!(d["event"]["risk_score"], a["risk_score"].as_f64().unwrap());
    }

    let first = &lines[0];
    for (broken, why) in [
        (
            mutate(first, |v| v["event"]["kind"] = "incident".into()),
            "event.kind",
        ),
        (
            mutate(first, |v| v["event"]["bogus"] = "x".into()),
            "event.bogus",
        ),
        (
            mutate(first, |v| {
                v["source"] = serde_json::json!({"ip": "not-an-ip"})
            }),
            "source.ip",
        ),
        (
            mutate(first, |v| {
                v.as_object_mut().unwrap().remove("@timestamp");
            }),
            "@timestamp",
        ),
    ] {
        let (ok, out) = validate(&mut node, &[broken]);
        assert!(!ok && out.contains(why), "{why}: {out}");
    }
}
