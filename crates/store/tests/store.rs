//! The SQLite alert store: idempotence, lifecycle, audit trail, filters, files.

use std::time::Instant;

use serde_json::json;
use trailhound_detect::{Alert, Severity, alert_id};
use trailhound_model::{HOUR, parse_rfc3339};
use trailhound_store::{
    AlertFilter, AlertStore, Outcome, SqliteStore, Status, StoreError, StoredAlert,
};

const T0: &str = "2026-01-12T10:00:00Z";

fn alert(rule: &str, severity: Severity, key: &str, hour: i64) -> Alert {
    let time = parse_rfc3339(T0).unwrap() + hour * HOUR;
    Alert {
        id: alert_id(rule, &[key, &time.to_string()]),
        rule_id: rule.to_owned(),
        rule_name: format!("rule {rule}"),
        severity,
        risk_score: severity.risk_score(),
        access_key_id: key.to_owned(),
        user_arn: "arn:aws:iam::111122223333:user/u".to_owned(),
        time,
        first_seen: time,
        last_seen: time,
        source_ips: vec!["203.0.113.9".to_owned()],
        countries: vec![],
        user_agents: vec!["aws-cli/2".to_owned()],
        event_names: vec!["ListUsers".to_owned()],
        event_ids: vec![format!("e-{rule}-{hour}")],
        count: 1,
        mitre: vec!["T1078".to_owned()],
        remediation: "aws iam update-access-key ...".to_owned(),
        why: "because".to_owned(),
        details: json!({"n": 1}),
    }
}

fn sample() -> Vec<Alert> {
    vec![
        alert("d2", Severity::Medium, "AKIA1", 0),
        alert("d4", Severity::High, "AKIA1", 0),
        alert("d4", Severity::High, "AKIA2", 5),
        alert("d3", Severity::Low, "AKIA2", 30),
    ]
}

fn ids(v: &[StoredAlert]) -> Vec<&str> {
    v.iter().map(|s| s.alert.id.as_str()).collect()
}

#[test]
fn re_upsert_is_idempotent() {
    let mut s = SqliteStore::open_in_memory().unwrap();
    let a = sample();
    let first = s.upsert_alerts(&a).unwrap();
    assert_eq!((first.inserted, first.updated, first.unchanged), (4, 0, 0));
    assert!(first.items.iter().all(|i| i.outcome == Outcome::Inserted));
    let before = s.list(&AlertFilter::default()).unwrap();
    let again = s.upsert_alerts(&a).unwrap();
    assert_eq!((again.inserted, again.updated, again.unchanged), (0, 0, 4));
    assert_eq!(s.count().unwrap(), 4);
    // Nothing was rewritten: not even `updated_at`.
    assert_eq!(s.list(&AlertFilter::default()).unwrap(), before);
    // Duplicates inside one batch are one alert.
    let twice = [a[0].clone(), a[0].clone()];
    let r = s.upsert_alerts(&twice).unwrap();
    assert_eq!(r.unchanged, 2);
    assert_eq!(s.count().unwrap(), 4);
}

#[test]
fn changed_evidence_is_updated_and_status_kept() {
    let mut s = SqliteStore::open_in_memory().unwrap();
    let mut a = sample();
    s.upsert_alerts(&a).unwrap();
    s.set_status(&a[1].id, Status::Closed, "alice", Some("benign"))
        .unwrap();
    let closed = s.get(&a[1].id).unwrap().unwrap();
    // The same hour now has two denied calls: evidence changes, status does not.
    a[1].count = 2;
    a[1].event_ids.push("e-extra".to_owned());
    let r = s.upsert_alerts(&a).unwrap();
    assert_eq!((r.inserted, r.updated, r.unchanged), (0, 1, 3));
    assert_eq!(r.items[1].outcome, Outcome::Updated);
    assert_eq!(r.items[1].status, Status::Closed);
    let now = s.get(&a[1].id).unwrap().unwrap();
    assert_eq!(now.alert.count, 2);
    assert_eq!(now.status, Status::Closed);
    assert_eq!(now.status_by.as_deref(), Some("alice"));
    assert_eq!(now.status_reason.as_deref(), Some("benign"));
    assert_eq!(now.status_at, closed.status_at);
    assert_eq!(now.created_at, closed.created_at);
    assert!(now.updated_at >= closed.updated_at);
}

#[test]
fn lifecycle_ack_then_close_with_audit_trail() {
    let mut s = SqliteStore::open_in_memory().unwrap();
    let a = sample();
    s.upsert_alerts(&a).unwrap();
    let id = &a[0].id;
    let fresh = s.get(id).unwrap().unwrap();
    assert_eq!(fresh.status, Status::Open);
    assert_eq!(
        (&fresh.status_by, fresh.status_at, &fresh.status_reason),
        (&None, None, &None)
    );

    let t0 = trailhound_model::parse_rfc3339("2020-01-01T00:00:00Z").unwrap();
    let acked = s
        .set_status(id, Status::Acknowledged, "alice", Some("looking"))
        .unwrap();
    assert_eq!(acked.status, Status::Acknowledged);
    assert_eq!(acked.status_by.as_deref(), Some("alice"));
    assert_eq!(acked.status_reason.as_deref(), Some("looking"));
    let acked_at = acked.status_at.unwrap();
    assert!(acked_at > t0);
    assert_eq!(acked.updated_at, acked_at);

    let closed = s
        .set_status(id, Status::Closed, "bob", Some("rotated the key"))
        .unwrap();
    assert_eq!(closed.status, Status::Closed);
    assert_eq!(closed.status_by.as_deref(), Some("bob"));
    assert_eq!(closed.status_reason.as_deref(), Some("rotated the key"));
    assert!(closed.status_at.unwrap() >= acked_at);

    let h = s.history(id).unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!((h[0].from, h[0].to), (Status::Open, Status::Acknowledged));
    assert_eq!(
        (h[0].by.as_str(), h[0].reason.as_deref()),
        ("alice", Some("looking"))
    );
    assert_eq!((h[1].from, h[1].to), (Status::Acknowledged, Status::Closed));
    assert_eq!(h[1].by, "bob");
    assert!(h[1].at >= h[0].at);
    assert!(s.history(&a[1].id).unwrap().is_empty());

    // Refused: closing twice, acknowledging a closed alert, no actor, unknown id.
    assert!(matches!(
        s.set_status(id, Status::Closed, "bob", None),
        Err(StoreError::Transition {
            from: Status::Closed,
            to: Status::Closed,
            ..
        })
    ));
    assert!(matches!(
        s.set_status(id, Status::Acknowledged, "bob", None),
        Err(StoreError::Transition { .. })
    ));
    assert!(matches!(
        s.set_status(&a[1].id, Status::Closed, "  ", None),
        Err(StoreError::NoActor)
    ));
    assert!(matches!(
        s.set_status("nope", Status::Closed, "bob", None),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(s.history(id).unwrap().len(), 2);

    // A deliberate reopen is recorded like any change; no reason is stored as NULL.
    let reopened = s.set_status(id, Status::Open, "carol", Some(" ")).unwrap();
    assert_eq!(reopened.status, Status::Open);
    assert_eq!(reopened.status_reason, None);
    assert_eq!(s.history(id).unwrap().len(), 3);
}

#[test]
fn closed_and_acknowledged_stay_so_on_re_run() {
    let mut s = SqliteStore::open_in_memory().unwrap();
    let a = sample();
    s.upsert_alerts(&a).unwrap();
    s.set_status(&a[0].id, Status::Closed, "alice", Some("fp"))
        .unwrap();
    s.set_status(&a[2].id, Status::Acknowledged, "bob", None)
        .unwrap();
    let r = s.upsert_alerts(&a).unwrap();
    let statuses: Vec<Status> = r.items.iter().map(|i| i.status).collect();
    assert_eq!(
        statuses,
        [
            Status::Closed,
            Status::Open,
            Status::Acknowledged,
            Status::Open
        ]
    );
    assert_eq!(s.get(&a[0].id).unwrap().unwrap().status, Status::Closed);
    let open: Vec<String> = s.open_alerts().unwrap().into_iter().map(|a| a.id).collect();
    assert_eq!(open, [a[1].id.clone(), a[3].id.clone()]);
}

#[test]
fn filters_limit_offset_and_order() {
    let mut s = SqliteStore::open_in_memory().unwrap();
    let a = sample();
    s.upsert_alerts(&a).unwrap();
    s.set_status(&a[2].id, Status::Closed, "x", None).unwrap();
    // The positions in `a` of the listed alerts.
    let f = |f: AlertFilter| -> Vec<usize> {
        ids(&s.list(&f).unwrap())
            .iter()
            .map(|id| a.iter().position(|x| x.id == *id).unwrap())
            .collect()
    };
    // Ordered by time, then rule id: d2 and d4 share hour 0.
    assert_eq!(f(AlertFilter::default()), [0, 1, 2, 3]);
    assert_eq!(
        f(AlertFilter {
            rule_id: Some("d4".into()),
            ..Default::default()
        }),
        [1, 2]
    );
    assert_eq!(
        f(AlertFilter {
            severity: Some(Severity::High),
            ..Default::default()
        }),
        [1, 2]
    );
    assert_eq!(
        f(AlertFilter {
            status: Some(Status::Closed),
            ..Default::default()
        }),
        [2]
    );
    assert_eq!(
        f(AlertFilter {
            access_key_id: Some("AKIA2".into()),
            ..Default::default()
        }),
        [2, 3]
    );
    let t = |h: i64| parse_rfc3339(T0).unwrap() + h * HOUR;
    assert_eq!(
        f(AlertFilter {
            since: Some(t(5)),
            until: Some(t(30)),
            ..Default::default()
        }),
        [2]
    );
    assert_eq!(
        f(AlertFilter {
            since: Some(t(5)),
            ..Default::default()
        }),
        [2, 3]
    );
    assert_eq!(
        f(AlertFilter {
            limit: Some(2),
            offset: 1,
            ..Default::default()
        }),
        [1, 2]
    );
    assert_eq!(
        f(AlertFilter {
            rule_id: Some("d4".into()),
            status: Some(Status::Open),
            ..Default::default()
        }),
        [1]
    );
    assert!(
        f(AlertFilter {
            rule_id: Some("zz".into()),
            ..Default::default()
        })
        .is_empty()
    );
}

#[test]
fn ids_resolve_from_unique_prefixes() {
    let mut s = SqliteStore::open_in_memory().unwrap();
    let a = sample();
    s.upsert_alerts(&a).unwrap();
    for x in &a {
        assert_eq!(s.resolve_id(&x.id).unwrap(), x.id);
        assert_eq!(s.resolve_id(&x.id[..12]).unwrap(), x.id);
    }
    assert!(matches!(s.resolve_id("zzzz"), Err(StoreError::NotFound(_))));
    assert!(matches!(s.resolve_id(""), Err(StoreError::NotFound(_))));
    // 4 hex ids: some one-digit prefix is shared by two of them, or all 4 differ at digit 1.
    let firsts: std::collections::BTreeSet<char> =
        a.iter().map(|x| x.id.chars().next().unwrap()).collect();
    if firsts.len() < a.len() {
        let shared = a
            .iter()
            .map(|x| &x.id[..1])
            .find(|p| a.iter().filter(|x| x.id.starts_with(p)).count() > 1)
            .unwrap();
        assert!(matches!(
            s.resolve_id(shared),
            Err(StoreError::Ambiguous { .. })
        ));
    }
}

#[test]
fn stored_alert_json_has_status_and_audit_fields() {
    let mut s = SqliteStore::open_in_memory().unwrap();
    let a = sample();
    s.upsert_alerts(&a).unwrap();
    let v = serde_json::to_value(s.get(&a[0].id).unwrap().unwrap()).unwrap();
    assert_eq!(v["id"], a[0].id.as_str());
    assert_eq!(v["status"], "open");
    assert!(v["status_by"].is_null() && v["status_at"].is_null());
    assert_eq!(v["time"], "2026-01-12T10:00:00Z");
    let closed = s
        .set_status(&a[0].id, Status::Closed, "alice", Some("fp"))
        .unwrap();
    let v = serde_json::to_value(closed).unwrap();
    assert_eq!(v["status"], "closed");
    assert_eq!(v["status_by"], "alice");
    assert_eq!(v["status_reason"], "fp");
    assert!(v["status_at"].as_str().unwrap().ends_with('Z'));
    assert!(v["created_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn empty_file_is_migrated_and_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/alerts.db");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"").unwrap();
    let a = sample();
    {
        let mut s = SqliteStore::open(&path).unwrap();
        assert_eq!(
            s.schema_version().unwrap(),
            trailhound_store::sqlite::MIGRATIONS.len() as i64
        );
        s.upsert_alerts(&a).unwrap();
        s.set_status(&a[1].id, Status::Acknowledged, "alice", Some("on it"))
            .unwrap();
    }
    let mut s = SqliteStore::open_existing(&path).unwrap();
    assert_eq!(s.count().unwrap(), 4);
    let got = s.get(&a[1].id).unwrap().unwrap();
    assert_eq!(got.alert, a[1]);
    assert_eq!(got.status, Status::Acknowledged);
    assert_eq!(s.history(&a[1].id).unwrap().len(), 1);
    let r = s.upsert_alerts(&a).unwrap();
    assert_eq!(r.unchanged, 4);
}

#[test]
fn missing_folder_is_created_and_open_existing_refuses_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/alerts.db");
    assert!(matches!(
        SqliteStore::open_existing(&path),
        Err(StoreError::Missing(_))
    ));
    SqliteStore::open(&path).unwrap();
    assert!(path.exists());
}

#[test]
fn other_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Some other SQLite database: refused and left alone.
    let other = dir.path().join("other.db");
    let c = rusqlite::Connection::open(&other).unwrap();
    c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
        .unwrap();
    drop(c);
    let before = std::fs::read(&other).unwrap();
    assert!(matches!(
        SqliteStore::open(&other),
        Err(StoreError::NotAStore(_))
    ));
    assert!(
        std::fs::read(&other).unwrap() == before,
        "the file was altered"
    );
    // Not a database at all.
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "hello, this is not SQLite but some text long enough to have a header",
    )
    .unwrap();
    assert!(SqliteStore::open(&text).is_err());
}

#[test]
fn ten_thousand_alerts_upsert_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = SqliteStore::open(&dir.path().join("alerts.db")).unwrap();
    let many: Vec<Alert> = (0..10_000)
        .map(|i| alert("d4", Severity::High, &format!("AKIA{i:016}"), i % 500))
        .collect();
    let t = Instant::now();
    let r = s.upsert_alerts(&many).unwrap();
    let first = t.elapsed();
    assert_eq!(r.inserted, 10_000);
    let t = Instant::now();
    let r = s.upsert_alerts(&many).unwrap();
    let second = t.elapsed();
    assert_eq!(r.unchanged, 10_000);
    eprintln!("10k upserts: insert {first:?}, re-upsert {second:?}");
    // Generous bound for unoptimised test builds; release builds take a fraction of this.
    assert!(first.as_secs_f64() < 5.0 && second.as_secs_f64() < 5.0);
}
