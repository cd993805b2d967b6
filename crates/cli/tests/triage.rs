//! Triage end to end (issue #16): key lineage, suppression, incidents and the timeline pivot, on
//! generated data with the attacks planted where the manifest says.
//!
//! * A stolen `AKIA` key mints a session key with `GetSessionToken`, and the session key is used
//!   from another country: the session key's alert sits in the `AKIA` key's incident, D5 fires on
//!   the `AKIA` key, and the containment revokes the sessions.
//! * The same hunt twice leaves every alert's `suppressed_count`, the alert count and the
//!   incident count unchanged, on SQLite and (with `TRAILHOUND_TEST_POSTGRES`) on PostgreSQL.
//! * `trailhound timeline --key` lists exactly the manifest's events of the planted key in the
//!   attack's window, session events included.

#[path = "support/cli.rs"]
mod cli;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cli::{generate, jsonl, run_ok, scenario, trailhound};
use serde_json::Value;

const MASS_SECRETS: &str = "sigma-45251c1d-3fda-47d4-a990-b7ce4d635fc0";
const D2: &str = "aws-akia-first-seen-source-ip";
const D5: &str = "aws-akia-correlated-elevated-alerts";

/// The stolen-key-session scenario (and the default ones), 12,000 events.
fn lineage_set(dir: &Path) -> Value {
    generate(
        dir,
        &[
            "--events",
            "12000",
            "--seed",
            "5",
            "--scenarios",
            "stolen-key-session,first-seen-ip",
        ],
    )
}

fn hunt(data: &Path, store: &str) -> String {
    let out = run_ok(
        trailhound("triage")
            .args([
                "hunt",
                "--no-progress",
                "--format",
                "jsonl",
                "--store",
                store,
            ])
            .arg(data),
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn alerts(store: &str) -> Vec<Value> {
    jsonl(
        &run_ok(
            trailhound("triage").args(["alerts", "list", "--format", "jsonl", "--store", store]),
        )
        .stdout,
    )
}

fn incidents(store: &str) -> Vec<Value> {
    jsonl(
        &run_ok(trailhound("triage").args([
            "incidents",
            "list",
            "--all",
            "--format",
            "jsonl",
            "--store",
            store,
        ]))
        .stdout,
    )
}

#[test]
fn a_session_minted_by_a_stolen_key_is_the_keys_incident() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let manifest = lineage_set(&data);
    let sc = scenario(&manifest, "stolen-key-session");
    let akia = sc["access_key_id"].as_str().unwrap();
    let user = sc["user_arn"].as_str().unwrap();
    let asia = sc["expected_alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["rule_id"] == MASS_SECRETS)
        .unwrap()["access_key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(asia.starts_with("ASIA"), "{asia}");
    let db = tmp.path().join("alerts.db");
    let store = db.to_str().unwrap();
    hunt(&data, store);
    let all = alerts(store);

    // The session key's alert: signed by the ASIA key, rooted in the AKIA key.
    let session: Vec<&Value> = all
        .iter()
        .filter(|a| a["access_key_id"] == asia.as_str())
        .collect();
    assert_eq!(session.len(), 1, "{session:#?}");
    let s = session[0];
    assert_eq!(s["rule_id"], MASS_SECRETS);
    assert_eq!(s["root_key"], akia);
    assert_eq!(s["principal"], user);
    assert_eq!(s["count"], 24);
    assert_eq!(s["countries"], serde_json::json!(["NL"]));

    // D2 on the AKIA key at the minting call, and D5 on the AKIA key with the session's alert
    // as its sibling (without lineage it would have none).
    let mint = &sc["events"][0];
    assert_eq!(mint["event_name"], "GetSessionToken");
    let d2: Vec<&Value> = all
        .iter()
        .filter(|a| a["rule_id"] == D2 && a["access_key_id"] == akia)
        .collect();
    assert_eq!(d2.len(), 1);
    assert_eq!(d2[0]["time"], mint["time"]);
    assert_eq!(d2[0]["event_ids"], serde_json::json!([mint["event_id"]]));
    let d5: Vec<&Value> = all
        .iter()
        .filter(|a| a["rule_id"] == D5 && a["access_key_id"] == akia)
        .collect();
    assert_eq!(d5.len(), 1, "D5 fires on the AKIA key");
    assert_eq!(d5[0]["time"], mint["time"]);
    let siblings: Vec<&str> = d5[0]["details"]["siblings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert!(
        siblings.contains(&s["id"].as_str().unwrap()),
        "{siblings:?}"
    );

    // One incident for the key, holding the session's alert, D2 and D5.
    let incs = incidents(store);
    let mine: Vec<&Value> = incs.iter().filter(|i| i["subject"] == akia).collect();
    assert_eq!(mine.len(), 1);
    let inc = mine[0];
    assert_eq!(inc["root_key"], akia);
    assert!(inc["correlated"].as_bool().unwrap());
    assert_eq!(
        inc["access_key_ids"],
        serde_json::json!([akia, asia.as_str()])
    );
    let id = inc["id"].as_str().unwrap();
    for a in [s, d2[0], d5[0]] {
        assert_eq!(a["incident_id"], id, "{}", a["rule_id"]);
    }
    assert_eq!(incs[0]["subject"], akia, "the stolen key ranks first");

    // Containment: deactivate the key, then deny the sessions it minted.
    let shown = run_ok(trailhound("triage").args(["incidents", "show", id, "--store", store]));
    let text = String::from_utf8(shown.stdout).unwrap();
    let name = user.rsplit('/').next().unwrap();
    assert!(text.contains(&format!(
        "  aws iam update-access-key --access-key-id {akia} --status Inactive --user-name {name}\n"
    )));
    assert!(
        text.contains(&format!(
            "  aws iam put-user-policy --user-name {name} --policy-name TrailhoundRevokeOlderSessions --policy-document \"{{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[{{\\\"Effect\\\":\\\"Deny\\\",\\\"Action\\\":\\\"*\\\",\\\"Resource\\\":\\\"*\\\",\\\"Condition\\\":{{\\\"DateLessThan\\\":{{\\\"aws:TokenIssueTime\\\":\\\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\\\"}}}}}}]}}\"\n"
        )),
        "{text}"
    );
    let lineage = &s["details"]["lineage"]["sessions"][0];
    assert_eq!(lineage["access_key_id"], asia.as_str());
    assert_eq!(lineage["minted_by"], "GetSessionToken");
    assert_eq!(lineage["minted_at"], mint["time"]);

    // Closing the incident closes its alerts.
    run_ok(trailhound("triage").args([
        "incidents",
        "close",
        id,
        "--reason",
        "key rotated",
        "--by",
        "alice",
        "--store",
        store,
    ]));
    for a in alerts(store).iter().filter(|a| a["incident_id"] == id) {
        assert_eq!(a["status"], "closed", "{}", a["id"]);
        assert_eq!(a["status_reason"], "key rotated");
    }
}

/// What a re-run must not change: per alert id its suppressed count, count and incident.
fn fingerprint(store: &str) -> (BTreeMap<String, (u64, u64, String)>, usize) {
    let a = alerts(store)
        .into_iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_owned(),
                (
                    a["suppressed_count"].as_u64().unwrap(),
                    a["count"].as_u64().unwrap(),
                    a["incident_id"].as_str().unwrap_or("").to_owned(),
                ),
            )
        })
        .collect();
    (a, incidents(store).len())
}

fn rerun_is_idempotent(store: &str, data: &Path) {
    let first = hunt(data, store);
    let (alerts1, incidents1) = fingerprint(store);
    assert!(
        first.contains(&format!("incidents: {incidents1} opened")),
        "{first}"
    );
    let suppressed: u64 = alerts1.values().map(|v| v.0).sum();
    assert!(suppressed > 100, "suppression folded alerts: {suppressed}");
    let second = hunt(data, store);
    assert!(
        second.contains(&format!(
            ": 0 new, {} already known (0 with new evidence)",
            alerts1.len()
        )),
        "{second}"
    );
    assert!(
        second.contains("incidents: 0 opened, 0 updated"),
        "{second}"
    );
    let (alerts2, incidents2) = fingerprint(store);
    assert_eq!(alerts1, alerts2);
    assert_eq!(incidents1, incidents2);
}

#[test]
fn the_same_hunt_twice_changes_nothing_on_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    lineage_set(&data);
    let db = tmp.path().join("alerts.db");
    rerun_is_idempotent(db.to_str().unwrap(), &data);
}

#[test]
fn the_same_hunt_twice_changes_nothing_on_postgres() {
    let Ok(url) = std::env::var("TRAILHOUND_TEST_POSTGRES") else {
        eprintln!("PostgreSQL triage test skipped: set TRAILHOUND_TEST_POSTGRES");
        return;
    };
    let (url, _) = trailhound_store::postgres::split_schema(&url).unwrap();
    let schema = trailhound_store::PostgresStore::open_temporary(&url).unwrap();
    let store = format!("{url}?schema={}", schema.schema());
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    lineage_set(&data);
    rerun_is_idempotent(&store, &data);
}

#[test]
fn timeline_lists_exactly_the_planted_events_of_the_key_and_its_session() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let manifest = lineage_set(&data);
    let sc = scenario(&manifest, "stolen-key-session");
    let akia = sc["access_key_id"].as_str().unwrap();
    let events = sc["events"].as_array().unwrap();
    let want: BTreeSet<&str> = events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    let first = events.first().unwrap()["time"].as_str().unwrap();
    let last = events.last().unwrap()["time"].as_str().unwrap();
    let until = trailhound_model::format_rfc3339(
        trailhound_model::parse_rfc3339(last).unwrap() + trailhound_model::SECOND,
    );
    let out = run_ok(
        trailhound("triage")
            .args([
                "timeline", "--key", akia, "--since", first, "--until", &until,
            ])
            .args(["--format", "jsonl"])
            .arg(&data),
    );
    let rows = jsonl(&out.stdout);
    let got: BTreeSet<&str> = rows
        .iter()
        .map(|r| r["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, want);
    assert_eq!(rows.len(), want.len());
    // In time order, with the session's key on its events.
    let times: Vec<&str> = rows.iter().map(|r| r["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(rows[0]["access_key_id"], akia);
    assert_eq!(rows[0]["event_name"], "GetSessionToken");
    assert!(
        rows[1..]
            .iter()
            .all(|r| r["access_key_id"].as_str().unwrap().starts_with("ASIA")
                && r["country"] == "NL")
    );

    // The other formats hold the same events.
    let csv = run_ok(
        trailhound("triage")
            .args([
                "timeline", "--key", akia, "--since", first, "--until", &until,
            ])
            .args(["--format", "csv"])
            .arg(&data),
    );
    let csv = String::from_utf8(csv.stdout).unwrap();
    assert_eq!(csv.lines().count(), want.len() + 1);
    assert!(csv.starts_with("time,event_id,event_source,event_name,source_ip,country,"));
    let table = run_ok(
        trailhound("triage")
            .args([
                "timeline", "--key", akia, "--since", first, "--until", &until,
            ])
            .arg(&data),
    );
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains("\nby country\n      25  NL\n       1  US\n"),
        "{table}"
    );
    let html = run_ok(
        trailhound("triage")
            .args(["timeline", "--key", akia, "--format", "html"])
            .arg(&data),
    );
    let html = String::from_utf8(html.stdout).unwrap();
    assert!(html.contains(r#"data-testid="timeline-chart""#));
    for id in &want {
        assert!(html.contains(id), "{id}");
    }
}

/// Records spread over time: the summary, the stats and the report say when D2 and D3 were blind
/// (the warm-up at the start, and again after a gap longer than their history window), and which
/// option changes it; addresses written two ways are one address.
#[test]
fn blind_periods_are_reported_and_addresses_are_canonical() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("logs");
    std::fs::create_dir_all(&dir).unwrap();
    let record = |t: &str, ip: &str, id: &str| {
        format!(
            r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","principalId":"AIDAX","arn":"arn:aws:iam::111122223333:user/u","accountId":"111122223333","accessKeyId":"AKIAAAAAAAAAAAAAAAAA","userName":"u"}},"eventTime":"{t}","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","sourceIPAddress":"{ip}","userAgent":"aws-cli/2","eventID":"{id}","eventType":"AwsApiCall","recipientAccountId":"111122223333"}}"#
        )
    };
    // Days 0 and 5 (warm-up), day 10 + 1 h (the same address written otherwise: no alert), then
    // 45 days later (a gap longer than 10 days: warm-up again, so no alert either).
    let records = [
        record("2026-03-01T00:00:00Z", "2001:db8::1", "e1"),
        record("2026-03-06T00:00:00Z", "2001:db8::1", "e2"),
        record("2026-03-11T01:00:00Z", "2001:DB8:0:0:0:0:0:1", "e3"),
        record("2026-04-25T00:00:00Z", "192.0.2.1", "e4"),
        record("2026-04-25T01:00:00Z", "192.0.2.2", "e5"),
    ];
    std::fs::write(
        dir.join("111122223333_CloudTrail_us-east-1_20260301T0000Z_a.json"),
        format!(r#"{{"Records":[{}]}}"#, records.join(",")),
    )
    .unwrap();
    let stats = tmp.path().join("stats.json");
    let html = tmp.path().join("report.html");
    let out = run_ok(
        trailhound("triage")
            .args(["hunt", "--no-store", "--no-progress", "--format", "html"])
            .arg("--stats")
            .arg(&stats)
            .arg("--output")
            .arg(&html)
            .arg(&dir),
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("alerts: 0\n"), "{err}");
    assert!(err.contains(
        "blind: Long-term access key first seen from a source IP raised no alert from 2026-03-01T00:00:00Z to 2026-03-06T00:00:00Z: warm-up: the first 10d of the data only build the history of addresses. Option: [rules.aws-akia-first-seen-source-ip] warm_up (now 10d)"
    ), "{err}");
    assert!(err.contains(
        "blind: Long-term access key first seen from a source IP raised no alert from 2026-04-25T00:00:00Z to 2026-04-25T01:00:00Z: warm-up again after a gap in the data longer than the history window (10d)"
    ), "{err}");
    let s: Value = serde_json::from_slice(&std::fs::read(&stats).unwrap()).unwrap();
    let blind = s["blind_periods"].as_array().unwrap();
    assert_eq!(blind.len(), 4, "D2 and D3, twice each: {blind:#?}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(r#"data-testid="blind-periods""#));
    assert!(page.contains("warm-up again after a gap in the data longer than the history window"));
}
