//! The alert store on both backends: idempotence, lifecycle, audit trail, filters, concurrent
//! connections; then what is particular to each (SQLite files, PostgreSQL schemas).
//!
//! Every test listed in `on_both!` runs twice, as `sqlite::NAME` (a file in a temporary folder)
//! and as `postgres::NAME` (a schema of its own, dropped afterwards, on the server named by
//! `TRAILHOUND_TEST_POSTGRES`, e.g. `postgres://trailhound@127.0.0.1:54329/trailhound`; start one
//! with `eval "$(scripts/test-postgres.sh start)"`). Without that variable the PostgreSQL tests
//! pass after printing "skipped" on stderr; `.ci/run` always sets it, so CI runs them for real.
//! Each test body gets `open`, which opens a new connection to the same store at every call.

use std::sync::{Arc, Barrier, Once};
use std::time::Instant;

use serde_json::json;
use trailhound_detect::{Alert, Severity, alert_id};
use trailhound_model::{HOUR, parse_rfc3339};
use trailhound_store::{
    AlertFilter, AlertStore, Outcome, PostgresStore, SqliteStore, Status, StoreError, StoredAlert,
    open_existing_store, open_store,
};

/// Opens a new connection to the test's store.
type Open<'a> = &'a dyn Fn() -> Box<dyn AlertStore + Send>;

/// Where a test's store lives: a `--store` value, and what keeps the place alive (the temporary
/// folder of an SQLite file, or the store whose temporary schema is dropped with it).
struct Place {
    spec: String,
    _keep: Box<dyn std::any::Any>,
}

fn sqlite_place() -> Place {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("alerts.db").to_str().unwrap().to_owned();
    Place {
        spec,
        _keep: Box::new(dir),
    }
}

/// The server URL from `TRAILHOUND_TEST_POSTGRES` (without a `schema` parameter), or `None`
/// after saying once that the PostgreSQL tests are skipped.
fn postgres_url() -> Option<String> {
    match std::env::var("TRAILHOUND_TEST_POSTGRES") {
        Ok(url) if !url.trim().is_empty() => Some(
            trailhound_store::postgres::split_schema(url.trim())
                .unwrap()
                .0,
        ),
        _ => {
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                // Straight to stderr, past the test harness's capture, so that it shows.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "PostgreSQL store tests skipped: set TRAILHOUND_TEST_POSTGRES=postgres://USER@127.0.0.1:PORT/DB \
                     (eval \"$(scripts/test-postgres.sh start)\" starts a server and sets it)"
                );
            });
            None
        }
    }
}

/// `url` with `?schema=NAME` (or `&schema=NAME`).
fn with_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}schema={schema}")
}

fn postgres_place() -> Option<Place> {
    let url = postgres_url()?;
    let keep = PostgresStore::open_temporary(&url).unwrap();
    Some(Place {
        spec: with_schema(&url, keep.schema()),
        _keep: Box::new(keep),
    })
}

fn run(place: Place, test: fn(Open<'_>)) {
    let open = || open_store(&place.spec).unwrap();
    test(&open);
}

/// Runs each listed test on both backends: `sqlite::NAME` and `postgres::NAME`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::run(super::sqlite_place(), super::$name);
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                if let Some(place) = super::postgres_place() {
                    super::run(place, super::$name);
                }
            })*
        }
    };
}

on_both!(
    re_upsert_is_idempotent,
    changed_evidence_is_updated_and_status_kept,
    a_changed_copy_in_one_batch_is_an_update,
    lifecycle_ack_then_close_with_audit_trail,
    closed_and_acknowledged_stay_so_on_re_run,
    filters_limit_offset_and_order,
    text_orders_by_bytes,
    ids_resolve_from_unique_prefixes,
    an_exact_id_wins_and_an_ambiguous_prefix_lists_candidates,
    stored_alert_json_has_status_and_audit_fields,
    reopened_store_keeps_everything,
    two_connections_see_each_others_writes,
    concurrent_status_changes_keep_the_audit_trail_whole,
    ten_thousand_alerts_in_one_batch,
    incidents_group_open_alerts_by_subject_and_rank_by_risk,
    incident_status_moves_its_alerts,
    a_closed_incident_stays_closed_and_new_alerts_open_another,
    suppression_members_count_once,
    blind_periods_are_kept_per_rule_and_start,
    users_tokens_roles_and_the_audit_log,
    the_outbox_delivers_at_least_once_and_counts_what_it_gives_up,
);

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
        root_key: String::new(),
        principal: String::new(),
        suppressed_count: 0,
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

fn re_upsert_is_idempotent(open: Open<'_>) {
    let mut s = open();
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

fn changed_evidence_is_updated_and_status_kept(open: Open<'_>) {
    let mut s = open();
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

fn lifecycle_ack_then_close_with_audit_trail(open: Open<'_>) {
    let mut s = open();
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

fn closed_and_acknowledged_stay_so_on_re_run(open: Open<'_>) {
    let mut s = open();
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

fn filters_limit_offset_and_order(open: Open<'_>) {
    let mut s = open();
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

fn ids_resolve_from_unique_prefixes(open: Open<'_>) {
    let mut s = open();
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

fn stored_alert_json_has_status_and_audit_fields(open: Open<'_>) {
    let mut s = open();
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

fn ten_thousand_alerts_in_one_batch(open: Open<'_>) {
    let mut s = open();
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
    // Printed, not asserted: tests never assert timings.
    eprintln!("10k upserts: insert {first:?}, re-upsert {second:?}");
    assert_eq!(s.count().unwrap(), 10_000);
}

/// Two copies of one new alert in a batch, the second with more evidence: inserted, then
/// updated, and the store keeps the second (as if the batch were applied one alert at a time).
fn a_changed_copy_in_one_batch_is_an_update(open: Open<'_>) {
    let mut s = open();
    let a = sample();
    let mut more = a[1].clone();
    more.count = 3;
    let batch = [a[1].clone(), more.clone(), more.clone(), a[0].clone()];
    let r = s.upsert_alerts(&batch).unwrap();
    let outcomes: Vec<Outcome> = r.items.iter().map(|i| i.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Inserted,
            Outcome::Updated,
            Outcome::Unchanged,
            Outcome::Inserted
        ]
    );
    assert_eq!((r.inserted, r.updated, r.unchanged), (2, 1, 1));
    assert_eq!(s.count().unwrap(), 2);
    let got = s.get(&a[1].id).unwrap().unwrap();
    assert_eq!(got.alert, more);
    assert_eq!(got.created_at, got.updated_at);
    // A known alert changed twice in one batch ends with the last version.
    let mut last = more.clone();
    last.count = 4;
    let r = s
        .upsert_alerts(&[a[0].clone(), more, last.clone()])
        .unwrap();
    assert_eq!((r.inserted, r.updated, r.unchanged), (0, 1, 2));
    assert_eq!(s.get(&a[1].id).unwrap().unwrap().alert, last);
}

/// Ids, rule ids and keys sort by their bytes (upper case before lower case), whatever the
/// database's locale, and ties in time go by rule id, then id; open alerts come in that order.
fn text_orders_by_bytes(open: Open<'_>) {
    let mut s = open();
    let mut x = vec![
        alert("b-rule", Severity::Low, "AKIAB", 1),
        alert("B-rule", Severity::Low, "AKIAB", 1),
        alert("a-rule", Severity::Low, "AKIAA", 1),
        alert("a-rule", Severity::Low, "AKIAA", 0),
    ];
    x[0].id = "b".to_owned();
    x[1].id = "Z".to_owned();
    x[2].id = "a2".to_owned();
    x[3].id = "a1".to_owned();
    let mut same_time = alert("a-rule", Severity::Low, "AKIAA", 1);
    same_time.id = "A1".to_owned();
    x.push(same_time);
    s.upsert_alerts(&x).unwrap();
    let listed: Vec<String> = s
        .list(&AlertFilter::default())
        .unwrap()
        .into_iter()
        .map(|a| a.alert.id)
        .collect();
    assert_eq!(listed, ["a1", "Z", "A1", "a2", "b"]);
    let open_ids: Vec<String> = s.open_alerts().unwrap().into_iter().map(|a| a.id).collect();
    assert_eq!(open_ids, listed);
}

/// Resolution with made-up ids: an id that is also the prefix of longer ones resolves to itself,
/// and an ambiguous prefix names its candidates.
fn an_exact_id_wins_and_an_ambiguous_prefix_lists_candidates(open: Open<'_>) {
    let mut s = open();
    let mut a = sample();
    for (x, id) in a.iter_mut().zip(["abc", "abcd", "abce", "b"]) {
        x.id = id.to_owned();
    }
    s.upsert_alerts(&a).unwrap();
    assert_eq!(s.resolve_id("abc").unwrap(), "abc");
    assert_eq!(s.resolve_id("abcd").unwrap(), "abcd");
    assert_eq!(s.resolve_id("b").unwrap(), "b");
    match s.resolve_id("ab") {
        Err(StoreError::Ambiguous { prefix, examples }) => {
            assert_eq!(prefix, "ab");
            assert_eq!(examples, "abc, abcd, abce");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(s.resolve_id("abcz"), Err(StoreError::NotFound(_))));
    assert!(matches!(s.resolve_id("c"), Err(StoreError::NotFound(_))));
}

/// Everything is still there through a new connection (a new process, for a file).
fn reopened_store_keeps_everything(open: Open<'_>) {
    let a = sample();
    {
        let mut s = open();
        s.upsert_alerts(&a).unwrap();
        s.set_status(&a[1].id, Status::Acknowledged, "alice", Some("on it"))
            .unwrap();
    }
    let mut s = open();
    assert_eq!(s.count().unwrap(), 4);
    let got = s.get(&a[1].id).unwrap().unwrap();
    assert_eq!(got.alert, a[1]);
    assert_eq!(got.status, Status::Acknowledged);
    assert_eq!(s.history(&a[1].id).unwrap().len(), 1);
    let r = s.upsert_alerts(&a).unwrap();
    assert_eq!(r.unchanged, 4);
}

fn two_connections_see_each_others_writes(open: Open<'_>) {
    let a = sample();
    let mut one = open();
    let mut two = open();
    one.upsert_alerts(&a[..2]).unwrap();
    assert_eq!(two.count().unwrap(), 2);
    assert_eq!(two.get(&a[0].id).unwrap().unwrap().alert, a[0]);
    // A status change made through one is seen, and kept, by the other's upsert.
    two.set_status(&a[0].id, Status::Closed, "bob", Some("benign"))
        .unwrap();
    let seen = one.get(&a[0].id).unwrap().unwrap();
    assert_eq!(
        (seen.status, seen.status_by.as_deref()),
        (Status::Closed, Some("bob"))
    );
    assert_eq!(one.history(&a[0].id).unwrap().len(), 1);
    let r = one.upsert_alerts(&a).unwrap();
    assert_eq!((r.inserted, r.unchanged), (2, 2));
    assert_eq!(r.items[0].status, Status::Closed);
    // New evidence written by the second shows in the first's lists.
    let mut more = a[3].clone();
    more.count = 9;
    assert_eq!(two.upsert_alerts(&[more]).unwrap().updated, 1);
    let listed = one
        .list(&AlertFilter {
            access_key_id: Some("AKIA2".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(listed.last().unwrap().alert.count, 9);
    assert_eq!(one.open_alerts().unwrap().len(), 3);
    assert_eq!(two.resolve_id(&a[2].id[..10]).unwrap(), a[2].id);
}

/// Several connections change the status of one alert at the same time, over and over: each
/// change is checked against the status the previous one left, so the audit trail is one chain
/// (every entry starts where the previous one ended, every step allowed) with one entry per
/// successful change, and the alert's audit fields are those of the last entry.
fn concurrent_status_changes_keep_the_audit_trail_whole(open: Open<'_>) {
    const WORKERS: usize = 4;
    const ROUNDS: usize = 15;
    let a = sample();
    let id = a[0].id.clone();
    open().upsert_alerts(&a).unwrap();
    let stores: Vec<Box<dyn AlertStore + Send>> = (0..WORKERS).map(|_| open()).collect();
    let start = Arc::new(Barrier::new(WORKERS));
    let workers: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(w, mut s)| {
            let (id, start) = (id.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut done = 0;
                for round in 0..ROUNDS {
                    let to = [Status::Acknowledged, Status::Closed, Status::Open][(w + round) % 3];
                    match s.set_status(&id, to, &format!("worker{w}"), Some(&format!("r{round}"))) {
                        Ok(stored) => {
                            assert_eq!(stored.status, to);
                            done += 1;
                        }
                        Err(StoreError::Transition { .. }) => {}
                        Err(e) => panic!("worker {w}: {e}"),
                    }
                }
                done
            })
        })
        .collect();
    let done: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let s = open();
    let h = s.history(&id).unwrap();
    assert!(done > 0);
    assert_eq!(h.len(), done, "one audit entry per successful change");
    assert_eq!(h[0].from, Status::Open);
    for (i, c) in h.iter().enumerate() {
        assert!(c.from.can_become(c.to), "entry {i}: {} -> {}", c.from, c.to);
        if i > 0 {
            assert_eq!(
                c.from,
                h[i - 1].to,
                "entry {i} does not start where {} ended",
                i - 1
            );
            assert!(
                c.at >= h[i - 1].at,
                "entry {i} is older than the one before"
            );
        }
    }
    let last = h.last().unwrap();
    let now = s.get(&id).unwrap().unwrap();
    assert_eq!(now.status, last.to);
    assert_eq!(now.status_by.as_deref(), Some(last.by.as_str()));
    assert_eq!(now.status_at, Some(last.at));
    assert_eq!(now.status_reason, last.reason);
    // The other alerts were not touched.
    assert!(s.history(&a[1].id).unwrap().is_empty());
}

// PostgreSQL only: schemas, versions, locations.

/// A raw client on the test server, and a schema name of the test's own (`None`: skipped).
fn raw_postgres(tag: &str) -> Option<(String, ::postgres::Client, String)> {
    let url = postgres_url()?;
    let client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    let schema = format!("trailhound_test_{tag}_{}", std::process::id());
    Some((url, client, schema))
}

/// Drops the schema when the test ends, even when it fails.
struct DropSchema<'a>(&'a mut ::postgres::Client, &'a str);

impl Drop for DropSchema<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.1));
    }
}

#[test]
fn postgres_foreign_tables_are_refused_untouched() {
    let Some((url, mut client, schema)) = raw_postgres("foreign") else {
        return;
    };
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};
             CREATE TABLE {schema}.alerts (x INTEGER); INSERT INTO {schema}.alerts VALUES (1);"
        ))
        .unwrap();
    let guard = DropSchema(&mut client, &schema);
    let spec = with_schema(&url, &schema);
    for e in [
        open_store(&spec).err().unwrap(),
        open_existing_store(&spec).err().unwrap(),
    ] {
        assert!(matches!(e, StoreError::ForeignSchema(_)), "{e}");
        assert!(e.to_string().contains(&format!("schema={schema}")), "{e}");
    }
    let tables: i64 = guard
        .0
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = $1",
            &[&schema],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 1, "the schema was altered");
}

#[test]
fn postgres_newer_schema_is_refused() {
    let Some(url) = postgres_url() else {
        return;
    };
    let store = PostgresStore::open_temporary(&url).unwrap();
    let latest = trailhound_store::postgres::MIGRATIONS.len() as i64;
    assert_eq!(store.schema_version().unwrap(), latest);
    let spec = with_schema(&url, store.schema());
    let mut client = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    client
        .execute(
            &format!(
                "INSERT INTO {}.trailhound_migrations (version) VALUES (99)",
                store.schema()
            ),
            &[],
        )
        .unwrap();
    let e = open_store(&spec).err().unwrap();
    assert!(
        matches!(e, StoreError::NewerSchema { found: 99, supported } if supported == latest),
        "{e}"
    );
}

#[test]
fn postgres_open_existing_refuses_a_missing_store_and_creates_nothing() {
    let Some((url, mut client, schema)) = raw_postgres("missing") else {
        return;
    };
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .unwrap();
    let guard = DropSchema(&mut client, &schema);
    let spec = with_schema(&url, &schema);
    assert!(matches!(
        open_existing_store(&spec).err().unwrap(),
        StoreError::Missing(_)
    ));
    let exists = |c: &mut ::postgres::Client| -> bool {
        c.query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema],
        )
        .unwrap()
        .get(0)
    };
    assert!(!exists(guard.0));
    // An empty schema is no store either, and stays empty.
    guard
        .0
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    assert!(matches!(
        open_existing_store(&spec).err().unwrap(),
        StoreError::Missing(_)
    ));
    // `hunt` creates it.
    let s = open_store(&spec).unwrap();
    assert_eq!(s.count().unwrap(), 0);
    assert!(s.location().ends_with(&format!("?schema={schema}")));
    drop(s);
    assert!(open_existing_store(&spec).is_ok());
}

/// Without `?schema=`, the store lives in the first existing schema of the search path (here
/// set with the standard `options` parameter), and says so in its location.
#[test]
fn postgres_schema_defaults_to_the_search_path() {
    let Some((url, mut client, schema)) = raw_postgres("path") else {
        return;
    };
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .unwrap();
    let guard = DropSchema(&mut client, &schema);
    let sep = if url.contains('?') { '&' } else { '?' };
    let spec = format!("{url}{sep}options=-csearch_path%3Dnope%2C{schema}");
    let mut s = open_store(&spec).unwrap();
    assert!(
        s.location().ends_with(&format!("?schema={schema}")),
        "{}",
        s.location()
    );
    assert!(!s.location().contains("options"));
    s.upsert_alerts(&sample()).unwrap();
    let n: i64 = guard
        .0
        .query_one(&format!("SELECT count(*) FROM {schema}.alerts"), &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 4);
}

/// Needs no server: nothing listens on port 1.
#[test]
fn postgres_connection_errors_say_what_failed() {
    let e = open_store("postgres://nobody@127.0.0.1:1/none?connect_timeout=5")
        .err()
        .unwrap();
    assert!(matches!(e, StoreError::Postgres(_)), "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with("PostgreSQL: error connecting to server"),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
    let e = open_store("postgres://h/db?schema=no-dash").err().unwrap();
    assert!(matches!(e, StoreError::BadUrl(_)), "{e}");
    assert!(matches!(
        open_store("postgres://h/db?bogus=1").err().unwrap(),
        StoreError::Postgres(_)
    ));
}

#[test]
fn store_values_pick_the_backend() {
    assert!(trailhound_store::is_postgres_url("postgres://h/db"));
    assert!(trailhound_store::is_postgres_url("postgresql://h/db"));
    assert!(!trailhound_store::is_postgres_url("alerts.db"));
    assert!(!trailhound_store::is_postgres_url("./postgres/alerts.db"));
    assert_eq!(
        trailhound_store::describe_store("postgres://u:pw@h:1/db?schema=s"),
        "postgres://u@h:1/db?schema=s"
    );
    assert_eq!(trailhound_store::describe_store("a/b.db"), "a/b.db");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.db");
    assert!(matches!(
        open_existing_store(&path).err().unwrap(),
        StoreError::Missing(_)
    ));
    let s = open_store(&path).unwrap();
    assert_eq!(s.location(), path.display().to_string());
    assert!(path.exists());
}

/// No TLS client is built in: a URL that demands TLS is refused rather than sent in the clear.
#[test]
fn postgres_sslmode_require_is_refused() {
    let Some(url) = postgres_url() else {
        return;
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let e = open_store(format!("{url}{sep}sslmode=require"))
        .err()
        .unwrap();
    assert!(matches!(e, StoreError::Postgres(_)), "{e}");
}

/// The checkpoint of `trailhound watch`: marks per source, re-marking updates, and a new
/// connection sees them.
fn checkpoint_marks_are_kept_per_source(spec: &str) {
    use trailhound_store::{WatchedFile, open_watch_store};
    let f = |key: &str, size, t| WatchedFile {
        key: key.to_owned(),
        size,
        delivery_time: t,
        records: size / 10,
    };
    let mut s = open_watch_store(spec).unwrap();
    assert!(s.watched_files("file").unwrap().is_empty());
    s.mark_watched(
        "file",
        &[
            f("/logs/a.json.gz", 10, Some(5)),
            f("/logs/b.json", 7, None),
        ],
    )
    .unwrap();
    s.mark_watched("s3", &[f("s3://trail/AWSLogs/c.json.gz", 1, Some(9))])
        .unwrap();
    s.mark_watched("file", &[f("/logs/a.json.gz", 11, Some(5))])
        .unwrap();
    s.mark_watched("file", &[]).unwrap();
    drop(s);
    let s = open_watch_store(spec).unwrap();
    let mut got = s.watched_files("file").unwrap();
    got.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        got,
        vec![
            f("/logs/a.json.gz", 11, Some(5)),
            f("/logs/b.json", 7, None)
        ]
    );
    assert_eq!(
        s.watched_files("s3").unwrap(),
        vec![f("s3://trail/AWSLogs/c.json.gz", 1, Some(9))]
    );
    // The checkpoint lives beside the alerts: the alert side of the store still works.
    assert_eq!(s.count().unwrap(), 0);
}

#[test]
fn sqlite_checkpoint_marks_are_kept_per_source() {
    checkpoint_marks_are_kept_per_source(&sqlite_place().spec);
}

#[test]
fn postgres_checkpoint_marks_are_kept_per_source() {
    if let Some(place) = postgres_place() {
        checkpoint_marks_are_kept_per_source(&place.spec);
    }
}

/// Open alerts of one subject are one incident; a low alert alone opens none; ranking is by
/// risk; a second update changes nothing.
fn incidents_group_open_alerts_by_subject_and_rank_by_risk(open: Open<'_>) {
    use trailhound_store::{IncidentFilter, update_incidents};
    let mut s = open();
    let mut low = alert("d3", Severity::Low, "AKIA3", 40);
    low.root_key = "AKIA3".into();
    s.upsert_alerts(&[sample(), vec![low]].concat()).unwrap();
    let params = trailhound_detect::incident::Params::default();
    let c = update_incidents(&mut *s, &params).unwrap();
    assert_eq!((c.opened, c.updated, c.active), (2, 0, 2));
    let list = s.incidents(&IncidentFilter::default()).unwrap();
    let subjects: Vec<&str> = list.iter().map(|i| i.summary.subject.as_str()).collect();
    // AKIA1: high + medium, two rules (73 + 5); AKIA2: high + low over 25 h (73 + 5 + 5).
    assert_eq!(subjects, ["AKIA2", "AKIA1"]);
    assert_eq!(list[0].summary.risk_score, 83);
    assert_eq!(list[1].summary.risk_score, 78);
    assert_eq!(list[0].summary.alert_count, 2);
    assert!(list.iter().all(|i| i.status == Status::Open));
    let filed = s
        .list(&AlertFilter {
            incident_id: Some(list[1].id.clone()),
            ..AlertFilter::default()
        })
        .unwrap();
    assert_eq!(filed.len(), 2);
    assert!(filed.iter().all(|a| a.alert.access_key_id == "AKIA1"));
    // Idempotent.
    let again = update_incidents(&mut *s, &params).unwrap();
    assert_eq!((again.opened, again.updated, again.active), (0, 0, 2));
    // Another connection sees the same.
    let other = open();
    assert_eq!(other.incidents(&IncidentFilter::default()).unwrap(), list);
}

/// Acknowledging an incident acknowledges its open alerts; closing closes them all; both with
/// the audit trail of each alert.
fn incident_status_moves_its_alerts(open: Open<'_>) {
    use trailhound_store::incidents::set_incident_status;
    use trailhound_store::{IncidentFilter, update_incidents};
    let mut s = open();
    s.upsert_alerts(&sample()).unwrap();
    update_incidents(&mut *s, &Default::default()).unwrap();
    let inc = s.incidents(&IncidentFilter::default()).unwrap()[1].clone();
    assert_eq!(inc.summary.subject, "AKIA1");
    let acked = set_incident_status(
        &mut *s,
        &inc.id[..10],
        Status::Acknowledged,
        "bob",
        Some("on it"),
    )
    .unwrap();
    assert_eq!(acked.status, Status::Acknowledged);
    assert_eq!(acked.status_by.as_deref(), Some("bob"));
    let alerts = s
        .list(&AlertFilter {
            incident_id: Some(inc.id.clone()),
            ..AlertFilter::default()
        })
        .unwrap();
    assert!(
        alerts.iter().all(
            |a| a.status == Status::Acknowledged && a.status_reason.as_deref() == Some("on it")
        )
    );
    let closed =
        set_incident_status(&mut *s, &inc.id, Status::Closed, "bob", Some("rotated")).unwrap();
    assert_eq!(closed.status, Status::Closed);
    for a in s
        .list(&AlertFilter {
            incident_id: Some(inc.id.clone()),
            ..AlertFilter::default()
        })
        .unwrap()
    {
        assert_eq!(a.status, Status::Closed);
        let h = s.history(&a.alert.id).unwrap();
        assert_eq!(
            h.iter().map(|c| c.to).collect::<Vec<_>>(),
            [Status::Acknowledged, Status::Closed]
        );
    }
    // The other incident is untouched; a refused transition is an error.
    assert!(
        s.list(&AlertFilter {
            access_key_id: Some("AKIA2".into()),
            ..AlertFilter::default()
        })
        .unwrap()
        .iter()
        .all(|a| a.status == Status::Open)
    );
    assert!(matches!(
        set_incident_status(&mut *s, &inc.id, Status::Closed, "bob", None),
        Err(StoreError::Transition { .. })
    ));
    assert!(matches!(
        set_incident_status(&mut *s, "ffff", Status::Closed, "bob", None),
        Err(StoreError::NotFound(_))
    ));
}

/// A closed incident stays closed; a new open alert of its subject opens a new incident.
fn a_closed_incident_stays_closed_and_new_alerts_open_another(open: Open<'_>) {
    use trailhound_store::incidents::set_incident_status;
    use trailhound_store::{IncidentFilter, update_incidents};
    let mut s = open();
    s.upsert_alerts(&sample()).unwrap();
    update_incidents(&mut *s, &Default::default()).unwrap();
    let first = s
        .incidents(&IncidentFilter {
            subject: Some("AKIA1".into()),
            ..IncidentFilter::default()
        })
        .unwrap();
    set_incident_status(&mut *s, &first[0].id, Status::Closed, "bob", None).unwrap();
    // A re-run of the same alerts changes nothing.
    s.upsert_alerts(&sample()).unwrap();
    let c = update_incidents(&mut *s, &Default::default()).unwrap();
    assert_eq!((c.opened, c.active), (0, 1));
    // A new alert opens a new incident.
    s.upsert_alerts(&[alert("d4", Severity::High, "AKIA1", 50)])
        .unwrap();
    let c = update_incidents(&mut *s, &Default::default()).unwrap();
    assert_eq!((c.opened, c.active), (1, 2));
    let all = s
        .incidents(&IncidentFilter {
            subject: Some("AKIA1".into()),
            ..IncidentFilter::default()
        })
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_ne!(all[0].id, all[1].id);
    let open_one = all.iter().find(|i| i.status == Status::Open).unwrap();
    assert_eq!(open_one.summary.alert_count, 1);
}

/// Members of suppressed alerts are counted once however often they are added.
fn suppression_members_count_once(open: Open<'_>) {
    use trailhound_detect::suppression::{Member, Totals};
    let mut s = open();
    let m = |id: &str, count: u64, t: i64| Member {
        alert_id: "sup".into(),
        member_id: id.into(),
        count,
        first_seen: t,
        last_seen: t + 5,
    };
    let t = s.add_members(&[m("a", 3, 10), m("b", 2, 20)]).unwrap();
    assert_eq!(
        t["sup"],
        Totals {
            members: 2,
            count: 5,
            first_seen: 10,
            last_seen: 25
        }
    );
    let t = s.add_members(&[m("a", 3, 10), m("c", 1, 5)]).unwrap();
    assert_eq!(
        t["sup"],
        Totals {
            members: 3,
            count: 6,
            first_seen: 5,
            last_seen: 25
        }
    );
    let t = s.add_members(&[m("c", 1, 5)]).unwrap();
    assert_eq!(t["sup"].members, 3);
    // A member raised again with more events counts them; a smaller copy changes nothing.
    let t = s.add_members(&[m("a", 7, 10), m("b", 1, 20)]).unwrap();
    assert_eq!(
        t["sup"],
        Totals {
            members: 3,
            count: 10,
            first_seen: 5,
            last_seen: 25
        }
    );
}

#[test]
fn a_version_2_store_is_migrated_to_incidents_and_keeps_its_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(
            None,
            "application_id",
            trailhound_store::sqlite::APPLICATION_ID,
        )
        .unwrap();
        for (i, sql) in trailhound_store::sqlite::MIGRATIONS[..2].iter().enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", i as i64 + 1)
                .unwrap();
        }
        // An alert as version 2 wrote it: no root key, principal or suppressed count in its body.
        let old = alert("d4", Severity::High, "AKIA9", 0);
        let mut body = serde_json::to_value(&old).unwrap();
        for k in ["root_key", "principal", "suppressed_count"] {
            body.as_object_mut().unwrap().remove(k);
        }
        conn.execute(
            "INSERT INTO alerts (id, rule_id, rule_name, severity, risk_score, access_key_id, user_arn, time, first_seen, last_seen, body, status, created_at, updated_at)
             VALUES (?1, 'd4', 'rule d4', 'high', 73, 'AKIA9', 'arn', 0, 0, 0, ?2, 'open', 0, 0)",
            [old.id.clone(), body.to_string()],
        )
        .unwrap();
    }
    let mut s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), 5);
    let id = alert("d4", Severity::High, "AKIA9", 0).id;
    let old = s.get(&id).unwrap().unwrap();
    assert_eq!(old.alert.root_key, "");
    assert_eq!(old.alert.subject(), "AKIA9");
    assert_eq!(old.incident_id, None);
    let c = trailhound_store::update_incidents(&mut s, &Default::default()).unwrap();
    assert_eq!(c.opened, 1);
    assert!(s.get(&id).unwrap().unwrap().incident_id.is_some());
}

/// Blind periods: recorded, replaced when seen again from the same start, listed by time.
fn blind_periods_are_kept_per_rule_and_start(open: Open<'_>) {
    use trailhound_detect::BlindPeriod;
    let mut s = open();
    let p = |rule: &str, from: i64, until: i64| BlindPeriod {
        rule_id: rule.into(),
        rule_name: format!("rule {rule}"),
        from,
        until,
        reason: "warm-up".into(),
        option: "warm_up".into(),
    };
    s.record_blind_periods(&[p("d2", 10, 20), p("d3", 10, 20)])
        .unwrap();
    s.record_blind_periods(&[p("d2", 10, 30), p("d2", 5, 6)])
        .unwrap();
    let got = open().blind_periods().unwrap();
    assert_eq!(got, [p("d2", 5, 6), p("d2", 10, 30), p("d3", 10, 20)]);
}

/// Users and tokens: only hashes stored, revoked tokens and removed users refused; the audit log
/// lists status changes with account changes, newest first.
fn users_tokens_roles_and_the_audit_log(open: Open<'_>) {
    use trailhound_store::access::*;
    let mut s = open();
    let st: &mut dyn AlertStore = &mut *s;
    assert!(!any_active_token(st).unwrap());
    put_user(st, "alice", Role::Triage, "cli:root").unwrap();
    put_user(st, "bob", Role::Read, "cli:root").unwrap();
    assert!(put_user(st, "bad name", Role::Read, "cli:root").is_err());
    let (id, secret) = create_token(st, "alice", "cli:root").unwrap();
    assert!(secret.starts_with("thk_") && secret.len() == 68);
    assert!(create_token(st, "carol", "cli:root").is_err());
    assert!(any_active_token(st).unwrap());
    let who = authenticate(st, &secret).unwrap().unwrap();
    assert_eq!((who.user.as_str(), who.role), ("alice", Role::Triage));
    assert_eq!(authenticate(st, "thk_wrong").unwrap(), None);
    // Only the hash is stored.
    let stored = st.read_rows("SELECT hash FROM api_tokens", &[]).unwrap();
    assert_eq!(stored, vec![vec![SqlValue::Text(token_hash(&secret))]]);
    assert!(tokens(st).unwrap()[0].last_used_at.is_some());
    revoke_token(st, &id, "cli:root").unwrap();
    assert_eq!(authenticate(st, &secret).unwrap(), None);
    assert!(revoke_token(st, &id, "cli:root").is_err());
    // A removed user's tokens stop working.
    let (_, bobs) = create_token(st, "bob", "cli:root").unwrap();
    assert!(authenticate(st, &bobs).unwrap().is_some());
    remove_user(st, "bob", "cli:root").unwrap();
    assert_eq!(authenticate(st, &bobs).unwrap(), None);
    assert_eq!(role_of(st, "bob").unwrap(), None);
    assert_eq!(role_of(st, "alice").unwrap(), Some(Role::Triage));
    assert_eq!(users(st).unwrap().len(), 1);
    assert!(Role::Admin.allows(Role::Triage) && !Role::Read.allows(Role::Triage));

    // Status changes are in the log with the account changes, newest first.
    let a = alert("r", Severity::High, "AKIAAUDIT", 0);
    st.upsert_alerts(std::slice::from_ref(&a)).unwrap();
    st.set_status(&a.id, Status::Closed, "alice", Some("benign"))
        .unwrap();
    let log = audit(st, 100, 0).unwrap();
    let actions: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(actions[0], ("alice", "alert.closed", a.id.as_str()));
    assert_eq!(log[0].detail.as_deref(), Some("benign"));
    assert!(actions.contains(&("cli:root", "token.revoked", id.as_str())));
    assert!(actions.contains(&("cli:root", "user.removed", "bob")));
    assert!(actions.contains(&("cli:root", "user.added", "alice")));
    assert_eq!(actions.len(), 7);
    assert_eq!(audit(st, 1, 1).unwrap().len(), 1);

    // Run summaries: the last one of a command, the oldest dropped past the limit.
    use trailhound_store::runs;
    assert_eq!(runs::last(st, "hunt").unwrap(), None);
    for i in 0..(runs::KEPT + 3) {
        runs::record(
            st,
            "hunt",
            &json!({"files": i, "input_problems": {"empty_file": 1}}),
        )
        .unwrap();
    }
    let (_, last) = runs::last(st, "hunt").unwrap().unwrap();
    assert_eq!(last["files"], runs::KEPT + 2);
    let kept = st.read_rows("SELECT count(*) FROM runs", &[]).unwrap();
    assert!(
        matches!(kept[0][0], SqlValue::Int(n) if n <= runs::KEPT),
        "{kept:?}"
    );
}

/// Two processes opening a new store at once (a watcher creating it, a reader polling it) both
/// get it: neither fails with "database is locked" while the other switches it to WAL and
/// migrates it.
#[test]
fn opening_a_new_store_from_many_connections_at_once_never_fails() {
    for round in 0..100 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.db");
        let barrier = Arc::new(Barrier::new(4));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (path, barrier) = (path.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    SqliteStore::open(&path).map(|_| ())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
        }
    }
}

/// The delivery outbox: a target gets the alerts stored after its registration, each due once;
/// outcomes, retries, a request left in flight by a stopped process, expiry, and the summary.
fn the_outbox_delivers_at_least_once_and_counts_what_it_gives_up(open: Open<'_>) {
    use trailhound_store::outbox::{self, Outcome as Sent};
    let mut s = open();
    let hook = "http://127.0.0.1:9/hook/secret".to_owned();
    let targets = std::slice::from_ref(&hook);
    // Alerts stored before the target exists are not sent to it.
    s.upsert_alerts(&sample()[..1]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let since = outbox::register_target(
        &mut *s,
        &hook,
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64,
    )
    .unwrap();
    assert_eq!(
        outbox::register_target(&mut *s, &hook, since + 1_000).unwrap(),
        since,
        "a second registration keeps the first time"
    );
    std::thread::sleep(std::time::Duration::from_millis(2));
    s.upsert_alerts(&sample()).unwrap();
    assert_eq!(
        outbox::enqueue_new(&mut *s, &hook, since, since).unwrap(),
        3
    );
    assert_eq!(
        outbox::enqueue_new(&mut *s, &hook, since, since).unwrap(),
        0
    );
    let far = i64::MAX / 2;
    let due = outbox::due(&*s, targets, far, 10).unwrap();
    assert_eq!(due.len(), 3);
    assert!(due.iter().all(|d| d.attempts == 0));

    // One delivered, one failed (retried later), one left in flight by a "crash".
    outbox::begin(&mut *s, &due).unwrap();
    assert!(
        outbox::due(&*s, targets, far, 10).unwrap().is_empty(),
        "in flight is not due"
    );
    outbox::finish(
        &mut *s,
        &[
            (due[0].clone(), Sent::Delivered),
            (
                due[1].clone(),
                Sent::Retry {
                    error: "HTTP 500".into(),
                    at: far - 1,
                },
            ),
        ],
    )
    .unwrap();
    let mut other = open();
    assert_eq!(outbox::recover(&mut *other, targets).unwrap(), 1);
    let mut again: Vec<(String, i64)> = outbox::due(&*other, targets, far, 10)
        .unwrap()
        .into_iter()
        .map(|d| (d.alert_id, d.attempts))
        .collect();
    again.sort();
    let mut expected = vec![(due[1].alert_id.clone(), 1), (due[2].alert_id.clone(), 1)];
    expected.sort();
    assert_eq!(again, expected);
    assert!(outbox::next_due(&*other, targets).unwrap().is_some());
    let summary = outbox::summary(&*other).unwrap();
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0].target, "http://127.0.0.1:9");
    assert_eq!(
        (summary[0].delivered, summary[0].pending, summary[0].expired),
        (1, 2, 0)
    );
    assert_eq!((summary[0].unconfirmed, summary[0].attempts), (1, 3));
    let summary_before_requeue = summary.clone();
    assert_eq!(summary[0].last_error.as_deref(), Some("HTTP 500"));

    // A delivered alert that changes (here: acknowledged) is queued again for a target that
    // keeps copies; an unchanged one is not.
    assert_eq!(outbox::requeue_changed(&mut *other, &hook).unwrap(), 0);
    std::thread::sleep(std::time::Duration::from_millis(2));
    other
        .set_status(&due[0].alert_id, Status::Acknowledged, "t", None)
        .unwrap();
    assert_eq!(outbox::requeue_changed(&mut *other, &hook).unwrap(), 1);
    assert!(
        outbox::due(&*other, targets, far, 10)
            .unwrap()
            .iter()
            .any(|d| d.alert_id == due[0].alert_id)
    );
    outbox::begin(&mut *other, std::slice::from_ref(&due[0])).unwrap();
    outbox::finish(&mut *other, &[(due[0].clone(), Sent::Delivered)]).unwrap();
    assert_eq!(outbox::requeue_changed(&mut *other, &hook).unwrap(), 0);

    // Expiry gives up on what is pending, never on what was delivered.
    assert_eq!(outbox::expire(&mut *other, targets, far).unwrap(), 2);
    let summary = outbox::summary(&*other).unwrap();
    assert_eq!(
        (summary[0].delivered, summary[0].pending, summary[0].expired),
        (1, 0, 2)
    );
    assert!(outbox::due(&*other, targets, far, 10).unwrap().is_empty());
    let records = outbox::records(&*other).unwrap();
    assert_eq!(summary_before_requeue[0].answers, 1);
    assert_eq!(records.iter().map(|r| r.delivered).sum::<u64>(), 2);
    assert_eq!(records.iter().map(|r| r.unconfirmed).sum::<u64>(), 1);

    // An export queues stored alerts explicitly, once.
    let ids: Vec<String> = sample().iter().map(|a| a.id.clone()).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let hub = vec!["aws-securityhub:us-east-1".to_owned()];
    assert_eq!(outbox::enqueue(&mut *other, &refs, &hub).unwrap(), 4);
    assert_eq!(outbox::enqueue(&mut *other, &refs, &hub).unwrap(), 0);
    assert_eq!(
        outbox::enqueue(&mut *other, &["no-such-alert"], &hub).unwrap(),
        0
    );

    // Responses are recorded on the alert and in the audit log.
    let r = outbox::Response {
        alert_id: ids[1].clone(),
        at: 5,
        actor: "oncall".into(),
        action: "deactivate-key".into(),
        target: "AKIA1".into(),
        dry_run: true,
        outcome: "planned".into(),
        detail: Some("aws iam update-access-key ...".into()),
    };
    outbox::record_responses(&mut *other, std::slice::from_ref(&r)).unwrap();
    assert_eq!(outbox::responses(&*s, &ids[1]).unwrap(), vec![r]);
    let audit = trailhound_store::access::audit(&*s, 10, 0).unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "response.deactivate-key.dry-run" && e.target == ids[1])
    );
}
