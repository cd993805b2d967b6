//! `--store postgres://…` end to end: `hunt` and `alerts` on a PostgreSQL store give what they
//! give on an SQLite file, and a status set with `alerts ack` survives a second hunt.
//!
//! Runs against the server named by `TRAILHOUND_TEST_POSTGRES` (see scripts/test-postgres.sh), in
//! a schema of its own that is dropped afterwards; without the variable it passes after printing
//! "skipped" (CI always sets it).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use trailhound_store::PostgresStore;

/// The bundled sample's generated part: planted attacks for every rule, D5 included.
fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample/scenarios")
}

/// `trailhound ARGS... --store STORE` (which must succeed): stdout as JSON Lines, and stderr.
fn run(store: &str, args: &[&str]) -> (Vec<Value>, String) {
    let home = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("trailhound")
        .unwrap()
        .env("TRAILHOUND_STORE", home.path().join("unused.db"))
        .args(args)
        .args(["--store", store, "--format", "jsonl"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, stderr)
}

/// Stored alerts without the times at which this store happened to write them.
fn without_store_times(mut v: Vec<Value>) -> Vec<Value> {
    for a in &mut v {
        let o = a.as_object_mut().unwrap();
        o.remove("created_at");
        o.remove("updated_at");
    }
    v
}

#[test]
fn hunt_and_alerts_on_postgres_match_sqlite() {
    let Ok(url) = std::env::var("TRAILHOUND_TEST_POSTGRES") else {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "PostgreSQL CLI test skipped: set TRAILHOUND_TEST_POSTGRES=postgres://USER@127.0.0.1:PORT/DB"
        );
        return;
    };
    let (url, _) = trailhound_store::postgres::split_schema(&url).unwrap();
    let schema = PostgresStore::open_temporary(&url).unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let pg = format!("{url}{sep}schema={}", schema.schema());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alerts.db");
    let file = file.to_str().unwrap();
    let sample = sample();
    let hunt = ["hunt", sample.to_str().unwrap(), "--no-progress"];

    let (on_pg, stderr) = run(&pg, &hunt);
    assert!(!on_pg.is_empty());
    assert!(
        stderr.contains(&format!(
            "store {}: {} new,",
            schema_location(&pg),
            on_pg.len()
        )),
        "{stderr}"
    );
    let (on_file, _) = run(file, &hunt);
    assert_eq!(on_pg, on_file, "hunt reports differ between the backends");
    let listed = without_store_times(run(&pg, &["alerts", "list"]).0);
    assert_eq!(listed.len(), on_pg.len());
    assert_eq!(
        listed,
        without_store_times(run(file, &["alerts", "list"]).0)
    );

    // Acknowledge by a prefix of the id; a second hunt keeps it so and adds nothing.
    let id = on_pg[0]["id"].as_str().unwrap();
    let (acked, _) = run(
        &pg,
        &[
            "alerts",
            "ack",
            &id[..12],
            "--by",
            "alice",
            "--reason",
            "on it",
        ],
    );
    assert_eq!(acked[0]["status"], "acknowledged");
    let (again, stderr) = run(&pg, &hunt);
    assert!(stderr.contains(": 0 new,"), "{stderr}");
    let same = again.iter().find(|a| a["id"] == id).unwrap();
    assert_eq!(same["status"], "acknowledged");
    let (shown, _) = run(&pg, &["alerts", "show", id]);
    assert_eq!(shown[0]["status_by"], "alice");
    assert_eq!(shown[0]["history"].as_array().unwrap().len(), 1);
}

/// How the store names itself in messages (the URL without password or other options).
fn schema_location(spec: &str) -> String {
    trailhound_store::describe_store(spec)
}
