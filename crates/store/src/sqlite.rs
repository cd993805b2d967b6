//! The embedded SQLite alert store.
//!
//! One file, opened in WAL mode (readers do not block the writer) with a 10 s busy timeout (two
//! runs writing the same file wait for each other instead of failing). Batch upserts run in one
//! `BEGIN IMMEDIATE` transaction with prepared statements.
//!
//! The schema is versioned with `PRAGMA user_version`: [`MIGRATIONS`] is an ordered list of SQL
//! scripts, and opening a file applies, in one transaction, every script past the file's version.
//! `PRAGMA application_id` marks the file as a Trailhound store, so that `--store` pointed at some
//! other SQLite database is refused instead of altered; a file from a newer Trailhound (a version
//! past the list) is refused too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};
use trailhound_detect::Alert;
use trailhound_model::Timestamp;

use std::collections::BTreeMap;

use trailhound_detect::BlindPeriod;
use trailhound_detect::incident::Summary;
use trailhound_detect::suppression::{Member, Totals};

use crate::access::SqlValue;
use crate::incidents::{IncidentFilter, StoredIncident, sql, stored_incident, where_clause};
use crate::{
    AlertFilter, AlertStore, Checkpoints, Outcome, Status, StatusChange, StoreError, StoredAlert,
    UpsertSummary, Upserted, WatchedFile, check_transition, now, status_change_actor,
};

/// `PRAGMA application_id` of a Trailhound store: `THND` in ASCII.
pub const APPLICATION_ID: i64 = 0x5448_4e44;

/// The schema migrations, in order: the file's `user_version` is the number applied.
///
/// Version 1:
/// * `alerts`: one row per alert id. `body` is the whole alert as JSON (the evidence); the
///   columns next to it are copies of the alert's fields used for filtering and ordering (times
///   are nanoseconds since the Unix epoch, UTC), plus the lifecycle: `status` and the audit fields
///   of its last change (`status_by`, `status_at`, `status_reason`), `created_at` (first stored)
///   and `updated_at` (last change of evidence or status).
/// * `alert_status_history`: every status change, append-only.
///
/// Version 2:
/// * `watched_files`: the checkpoint of `trailhound watch`, one row per input object it has
///   fully processed (source root, object key, size, delivery time, when).
///
/// Version 3: incidents and suppression members ([`MIGRATION_3`]); version 4: users, tokens,
/// the audit log and runs ([`crate::access::MIGRATION_4`]); version 5: the delivery outbox and
/// response actions ([`crate::outbox::MIGRATION_5`]).
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE alerts (
    id             TEXT PRIMARY KEY NOT NULL,
    rule_id        TEXT NOT NULL,
    rule_name      TEXT NOT NULL,
    severity       TEXT NOT NULL,
    risk_score     INTEGER NOT NULL,
    access_key_id  TEXT NOT NULL,
    user_arn       TEXT NOT NULL,
    time           INTEGER NOT NULL,
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    body           TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open', 'acknowledged', 'closed')),
    status_by      TEXT,
    status_at      INTEGER,
    status_reason  TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX alerts_time ON alerts (time);
CREATE INDEX alerts_status_time ON alerts (status, time);
CREATE INDEX alerts_rule_time ON alerts (rule_id, time);
CREATE INDEX alerts_key_time ON alerts (access_key_id, time);
CREATE TABLE alert_status_history (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id     TEXT NOT NULL REFERENCES alerts (id),
    from_status  TEXT NOT NULL,
    to_status    TEXT NOT NULL,
    changed_by   TEXT NOT NULL,
    changed_at   INTEGER NOT NULL,
    reason       TEXT
);
CREATE INDEX alert_status_history_alert ON alert_status_history (alert_id, seq);
"#,
    r#"
CREATE TABLE watched_files (
    source         TEXT NOT NULL,
    key            TEXT NOT NULL,
    size           INTEGER NOT NULL,
    delivery_time  INTEGER,
    read_at        INTEGER NOT NULL,
    PRIMARY KEY (source, key)
);
"#,
    MIGRATION_3,
    crate::access::MIGRATION_4,
    crate::outbox::MIGRATION_5,
];

/// Version 3: incidents and suppression.
/// * `alerts.incident_id`: the incident an alert is filed under (`NULL`: none).
/// * `watched_files.records`: how many records of a watched file were processed (a file that
///   grows is read again from there).
/// * `alert_members`: the alerts folded into each suppressed alert (its own id, count and times),
///   so that a re-run or a later batch counts each member once.
/// * `blind_periods`: when a rule could not raise alerts (its history was building), as the last
///   hunt saw it, for the web UI.
/// * `incidents`: one row per incident (its summary as JSON in `body`, filter and order
///   columns, the status and its audit fields) and the append-only `incident_status_history`.
///
/// The same text runs on PostgreSQL (see [`crate::postgres::MIGRATIONS`]).
pub const MIGRATION_3: &str = r#"
ALTER TABLE alerts ADD COLUMN incident_id TEXT;
ALTER TABLE watched_files ADD COLUMN records BIGINT NOT NULL DEFAULT 0;
CREATE INDEX alerts_incident ON alerts (incident_id);
CREATE TABLE alert_members (
    alert_id    TEXT NOT NULL,
    member_id   TEXT NOT NULL,
    count       BIGINT NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    PRIMARY KEY (alert_id, member_id)
);
CREATE TABLE incidents (
    id             TEXT PRIMARY KEY NOT NULL,
    subject        TEXT NOT NULL,
    severity       TEXT NOT NULL,
    risk_score     BIGINT NOT NULL,
    first_seen     BIGINT NOT NULL,
    last_seen      BIGINT NOT NULL,
    body           TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'open'
                   CHECK (status IN ('open', 'acknowledged', 'closed')),
    status_by      TEXT,
    status_at      BIGINT,
    status_reason  TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX incidents_rank ON incidents (status, risk_score, last_seen);
CREATE INDEX incidents_subject ON incidents (subject, status);
CREATE TABLE incident_status_history (
    incident_id  TEXT NOT NULL REFERENCES incidents (id),
    from_status  TEXT NOT NULL,
    to_status    TEXT NOT NULL,
    changed_by   TEXT NOT NULL,
    changed_at   BIGINT NOT NULL,
    reason       TEXT
);
CREATE INDEX incident_status_history_incident ON incident_status_history (incident_id, changed_at);
CREATE TABLE blind_periods (
    rule_id     TEXT NOT NULL,
    from_time   BIGINT NOT NULL,
    until_time  BIGINT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (rule_id, from_time)
);
"#;

/// Columns read into a [`StoredAlert`], in the order [`stored_alert`] expects.
const STORED_COLUMNS: &str =
    "body, status, status_by, status_at, status_reason, created_at, updated_at, incident_id";

/// The SQLite alert store.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens the store at `path`, creating the file (and its folder) if needed and bringing its
    /// schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path)?;
        Self::init(conn, path.to_owned(), MIGRATIONS)
    }

    /// Opens an existing store (for commands that only look at alerts or change their status):
    /// [`StoreError::Missing`] if the file does not exist.
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing(path.display().to_string()));
        }
        Self::open(path)
    }

    /// A store in memory, gone when dropped (for tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()?;
        Self::init(conn, PathBuf::from(":memory:"), MIGRATIONS)
    }

    /// The file the store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open file (the number of [`MIGRATIONS`] applied).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn init(mut conn: Connection, path: PathBuf, migrations: &[&str]) -> Result<Self, StoreError> {
        conn.busy_timeout(Duration::from_secs(10))?;
        // Refuse a foreign database before anything (even the journal mode) writes to it; the
        // migration re-checks inside its transaction.
        check_identity(&conn, &path)?;
        // Returns the mode; in memory it stays "memory", which is fine. Switching a new file to
        // WAL needs it to itself, and SQLite does not wait for that with the busy timeout: a
        // second process opening the store while the first creates it (a watcher and a reader)
        // retries here for as long.
        let started = std::time::Instant::now();
        loop {
            match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
                Ok(_) => break,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && started.elapsed() < Duration::from_secs(10) =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e.into()),
            }
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        migrate(&mut conn, migrations, &path)?;
        Ok(Self { conn, path })
    }
}

impl Checkpoints for SqliteStore {
    fn watched_files(&self, source: &str) -> Result<Vec<WatchedFile>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, size, delivery_time, records FROM watched_files WHERE source = ?1",
        )?;
        let rows = stmt.query_map([source], |r| {
            Ok(WatchedFile {
                key: r.get(0)?,
                size: r.get::<_, i64>(1)? as u64,
                delivery_time: r.get(2)?,
                records: r.get::<_, i64>(3)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn mark_watched(&mut self, source: &str, files: &[WatchedFile]) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO watched_files (source, key, size, delivery_time, read_at, records)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (source, key) DO UPDATE SET size = excluded.size,
                     delivery_time = excluded.delivery_time, read_at = excluded.read_at,
                     records = excluded.records",
            )?;
            let at = now();
            for f in files {
                stmt.execute(params![
                    source,
                    f.key,
                    f.size as i64,
                    f.delivery_time,
                    at,
                    f.records as i64
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// Reads the file's `(user_version, application_id)` and refuses an SQLite database that is not a
/// Trailhound store: another application id, or no id but tables or a version (an empty file, or
/// one holding nothing, is fine: it becomes a store).
fn check_identity(conn: &Connection, path: &Path) -> Result<(i64, i64), StoreError> {
    // One statement, so one snapshot: read apart, another connection's migration could commit
    // between them and make a store being created look like someone else's database.
    let (version, app, objects): (i64, i64, i64) = conn.query_row(
        "SELECT (SELECT user_version FROM pragma_user_version),
                (SELECT application_id FROM pragma_application_id),
                (SELECT count(*) FROM sqlite_master)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let not_a_store = || StoreError::NotAStore(path.display().to_string());
    if app != 0 && app != APPLICATION_ID {
        return Err(not_a_store());
    }
    if app == 0 && (objects > 0 || version != 0) {
        return Err(not_a_store());
    }
    Ok((version, app))
}

/// Applies the migrations past the file's `user_version`, in one transaction.
fn migrate(conn: &mut Connection, migrations: &[&str], path: &Path) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (version, app) = check_identity(&tx, path)?;
    let supported = migrations.len() as i64;
    if version > supported {
        return Err(StoreError::NewerSchema {
            found: version,
            supported,
        });
    }
    for (i, sql) in migrations.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    if app == 0 {
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    }
    tx.commit()?;
    Ok(())
}

fn status_of(s: &str) -> rusqlite::Result<Status> {
    s.parse().map_err(|e: StoreError| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Reads a row of [`STORED_COLUMNS`].
fn stored_alert(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredAlert> {
    let body: String = r.get(0)?;
    let alert: Alert = serde_json::from_str(&body).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(StoredAlert {
        alert,
        status: status_of(&r.get::<_, String>(1)?)?,
        status_by: r.get(2)?,
        status_at: r.get(3)?,
        status_reason: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        incident_id: r.get(7)?,
    })
}

/// Reads a row of [`sql::COLUMNS`].
fn incident_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<StoredIncident, StoreError>> {
    Ok(stored_incident(
        r.get(0)?,
        &r.get::<_, String>(1)?,
        &r.get::<_, String>(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

impl AlertStore for SqliteStore {
    fn upsert_alerts(&mut self, alerts: &[Alert]) -> Result<UpsertSummary, StoreError> {
        let now = now();
        let mut summary = UpsertSummary {
            items: Vec::with_capacity(alerts.len()),
            ..UpsertSummary::default()
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut select = tx.prepare_cached("SELECT body, status FROM alerts WHERE id = ?1")?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO alerts (id, rule_id, rule_name, severity, risk_score, access_key_id,
                     user_arn, time, first_seen, last_seen, body, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'open', ?12, ?12)",
            )?;
            let mut update = tx.prepare_cached(
                "UPDATE alerts SET rule_id = ?2, rule_name = ?3, severity = ?4, risk_score = ?5,
                     access_key_id = ?6, user_arn = ?7, time = ?8, first_seen = ?9,
                     last_seen = ?10, body = ?11, updated_at = ?12
                 WHERE id = ?1",
            )?;
            for a in alerts {
                let body = serde_json::to_string(a)?;
                let known: Option<(String, String)> = select
                    .query_row([&a.id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let values = params![
                    a.id,
                    a.rule_id,
                    a.rule_name,
                    a.severity.as_str(),
                    a.risk_score,
                    a.access_key_id,
                    a.user_arn,
                    a.time,
                    a.first_seen,
                    a.last_seen,
                    body,
                    now,
                ];
                let item = match known {
                    None => {
                        insert.execute(values)?;
                        summary.inserted += 1;
                        Upserted {
                            outcome: Outcome::Inserted,
                            status: Status::Open,
                        }
                    }
                    Some((old, status)) => {
                        let status = status_of(&status)?;
                        let outcome = if old == body {
                            summary.unchanged += 1;
                            Outcome::Unchanged
                        } else {
                            update.execute(values)?;
                            summary.updated += 1;
                            Outcome::Updated
                        };
                        Upserted { outcome, status }
                    }
                };
                summary.items.push(item);
            }
        }
        tx.commit()?;
        Ok(summary)
    }

    fn get(&self, id: &str) -> Result<Option<StoredAlert>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {STORED_COLUMNS} FROM alerts WHERE id = ?1"
        ))?;
        Ok(st.query_row([id], stored_alert).optional()?)
    }

    fn resolve_id(&self, prefix: &str) -> Result<String, StoreError> {
        if prefix.is_empty() {
            return Err(StoreError::NotFound(String::new()));
        }
        // Every id starting with `prefix` sorts in [prefix, prefix + U+10FFFF) (BINARY collation
        // compares UTF-8 bytes), so the primary key index answers.
        let upper = format!("{prefix}\u{10FFFF}");
        let mut st = self.conn.prepare_cached(
            "SELECT id FROM alerts WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 3",
        )?;
        let ids: Vec<String> = st
            .query_map([prefix, upper.as_str()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        crate::unique_prefix(ids, prefix)
    }

    fn list(&self, filter: &AlertFilter) -> Result<Vec<StoredAlert>, StoreError> {
        let mut sql = format!("SELECT {STORED_COLUMNS} FROM alerts WHERE 1 = 1");
        let mut values: Vec<Value> = Vec::new();
        let mut cond = |clause: &str, v: Value| {
            values.push(v);
            sql.push_str(&format!(" AND {clause} ?{}", values.len()));
        };
        if let Some(r) = &filter.rule_id {
            cond("rule_id =", Value::Text(r.clone()));
        }
        if let Some(s) = filter.severity {
            cond("severity =", Value::Text(s.as_str().to_owned()));
        }
        if let Some(s) = filter.status {
            cond("status =", Value::Text(s.as_str().to_owned()));
        }
        if let Some(k) = &filter.access_key_id {
            cond("access_key_id =", Value::Text(k.clone()));
        }
        if let Some(t) = filter.since {
            cond("time >=", Value::Integer(t));
        }
        if let Some(t) = filter.until {
            cond("time <", Value::Integer(t));
        }
        if let Some(i) = &filter.incident_id {
            cond("incident_id =", Value::Text(i.clone()));
        }
        sql.push_str(" ORDER BY time, rule_id, id");
        let limit = filter
            .limit
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let offset = i64::try_from(filter.offset).unwrap_or(i64::MAX);
        sql.push_str(&format!(" LIMIT {limit} OFFSET {offset}"));
        let mut st = self.conn.prepare(&sql)?;
        let rows = st
            .query_map(params_from_iter(values), stored_alert)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn set_status(
        &mut self,
        id: &str,
        status: Status,
        by: &str,
        reason: Option<&str>,
    ) -> Result<StoredAlert, StoreError> {
        let (by, reason) = status_change_actor(by, reason)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Taken once this is the only writer, so the audit trail's times follow its order.
        let at = now();
        let current: Option<String> = tx
            .query_row("SELECT status FROM alerts WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        let from = status_of(&current.ok_or_else(|| StoreError::NotFound(id.to_owned()))?)?;
        check_transition(id, from, status)?;
        tx.execute(
            "UPDATE alerts SET status = ?2, status_by = ?3, status_at = ?4, status_reason = ?5,
                 updated_at = ?4
             WHERE id = ?1",
            params![id, status.as_str(), by, at, reason],
        )?;
        tx.execute(
            "INSERT INTO alert_status_history
                 (alert_id, from_status, to_status, changed_by, changed_at, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, from.as_str(), status.as_str(), by, at, reason],
        )?;
        // Read back before the commit: once committed, another writer may change it again.
        let stored = tx.query_row(
            &format!("SELECT {STORED_COLUMNS} FROM alerts WHERE id = ?1"),
            [id],
            stored_alert,
        )?;
        tx.commit()?;
        Ok(stored)
    }

    fn history(&self, id: &str) -> Result<Vec<StatusChange>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT from_status, to_status, changed_by, changed_at, reason
             FROM alert_status_history WHERE alert_id = ?1 ORDER BY seq",
        )?;
        let rows = st
            .query_map([id], |r| {
                Ok(StatusChange {
                    alert_id: id.to_owned(),
                    from: status_of(&r.get::<_, String>(0)?)?,
                    to: status_of(&r.get::<_, String>(1)?)?,
                    by: r.get(2)?,
                    at: r.get::<_, Timestamp>(3)?,
                    reason: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM alerts", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn add_members(&mut self, members: &[Member]) -> Result<BTreeMap<String, Totals>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut out = BTreeMap::new();
        {
            let mut add = tx.prepare_cached(sql::ADD_MEMBER)?;
            for m in members {
                add.execute(params![
                    m.alert_id,
                    m.member_id,
                    m.count as i64,
                    m.first_seen,
                    m.last_seen
                ])?;
            }
            let mut totals = tx.prepare_cached(sql::MEMBER_TOTALS)?;
            for m in members {
                if out.contains_key(&m.alert_id) {
                    continue;
                }
                let t = totals.query_row([&m.alert_id], |r| {
                    Ok(Totals {
                        members: r.get::<_, i64>(0)? as u64,
                        count: r.get::<_, i64>(1)? as u64,
                        first_seen: r.get(2)?,
                        last_seen: r.get(3)?,
                    })
                })?;
                out.insert(m.alert_id.clone(), t);
            }
        }
        tx.commit()?;
        Ok(out)
    }

    fn put_incident(
        &mut self,
        id: &str,
        summary: &Summary,
        alert_ids: &[String],
    ) -> Result<Outcome, StoreError> {
        let body = serde_json::to_string(summary)?;
        let now = now();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let known: Option<String> = tx
            .query_row(sql::INCIDENT_BODY, [id], |r| r.get(0))
            .optional()?;
        let values = params![
            id,
            summary.subject,
            summary.severity.as_str(),
            i64::from(summary.risk_score),
            summary.first_seen,
            summary.last_seen,
            body,
            now
        ];
        let outcome = match known {
            None => {
                tx.execute(sql::INSERT_INCIDENT, values)?;
                Outcome::Inserted
            }
            Some(old) if old == body => Outcome::Unchanged,
            Some(_) => {
                tx.execute(sql::UPDATE_INCIDENT, values)?;
                Outcome::Updated
            }
        };
        {
            let mut file = tx.prepare_cached(sql::FILE_ALERT)?;
            for a in alert_ids {
                file.execute(params![id, a])?;
            }
        }
        tx.commit()?;
        Ok(outcome)
    }

    fn record_blind_periods(&mut self, periods: &[BlindPeriod]) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut put = tx.prepare_cached(sql::PUT_BLIND)?;
            for p in periods {
                put.execute(params![
                    p.rule_id,
                    p.from,
                    p.until,
                    serde_json::to_string(p)?
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn write_rows(&mut self, statements: &[(&str, Vec<SqlValue>)]) -> Result<Vec<u64>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut changed = Vec::with_capacity(statements.len());
        for (sql, values) in statements {
            let n = tx.execute(sql, params_from_iter(values.iter().map(to_sqlite)))?;
            changed.push(n as u64);
        }
        tx.commit()?;
        Ok(changed)
    }

    fn read_rows(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        let mut st = self.conn.prepare_cached(sql)?;
        let n = st.column_count();
        let rows = st
            .query_map(params_from_iter(params.iter().map(to_sqlite)), |r| {
                (0..n)
                    .map(|i| {
                        Ok(match r.get::<_, Value>(i)? {
                            Value::Integer(v) => SqlValue::Int(v),
                            Value::Text(t) => SqlValue::Text(t),
                            _ => SqlValue::Null,
                        })
                    })
                    .collect::<Result<Vec<_>, rusqlite::Error>>()
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn blind_periods(&self) -> Result<Vec<BlindPeriod>, StoreError> {
        let mut st = self.conn.prepare_cached(sql::BLIND)?;
        let bodies: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        bodies
            .iter()
            .map(|b| Ok(serde_json::from_str(b)?))
            .collect()
    }

    fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<StoredIncident>, StoreError> {
        let (clause, values) = where_clause(filter);
        let mut st = self
            .conn
            .prepare(&format!("SELECT {} FROM incidents{clause}", sql::COLUMNS))?;
        let rows: Vec<Result<StoredIncident, StoreError>> = st
            .query_map(params_from_iter(values), incident_row)?
            .collect::<Result<_, _>>()?;
        rows.into_iter().collect()
    }

    fn set_incident_row_status(
        &mut self,
        id: &str,
        status: Status,
        by: &str,
        reason: Option<&str>,
    ) -> Result<StoredIncident, StoreError> {
        let (by, reason) = status_change_actor(by, reason)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let at = now();
        let current: Option<String> = tx.query_row(sql::STATUS, [id], |r| r.get(0)).optional()?;
        let from = status_of(&current.ok_or_else(|| StoreError::NotFound(id.to_owned()))?)?;
        check_transition(id, from, status)?;
        tx.execute(
            sql::SET_STATUS,
            params![id, status.as_str(), by, at, reason],
        )?;
        tx.execute(
            sql::HISTORY,
            params![id, from.as_str(), status.as_str(), by, at, reason],
        )?;
        let stored = tx.query_row(
            &format!("SELECT {} FROM incidents WHERE id = ?1", sql::COLUMNS),
            [id],
            incident_row,
        )??;
        tx.commit()?;
        Ok(stored)
    }
}

/// An access-table value as SQLite's.
fn to_sqlite(v: &SqlValue) -> Value {
    match v {
        SqlValue::Null => Value::Null,
        SqlValue::Int(i) => Value::Integer(*i),
        SqlValue::Text(t) => Value::Text(t.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The migration mechanism with a made-up second version: a file at version 1 gets only the
    /// second script, a re-open applies nothing, and a file ahead of the list is refused.
    #[test]
    fn migrations_apply_in_order_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let v1 = &MIGRATIONS[..1];
        let v2: &[&str] = &[MIGRATIONS[0], "ALTER TABLE alerts ADD COLUMN note TEXT;"];
        let s = SqliteStore::init(Connection::open(&path).unwrap(), path.clone(), v1).unwrap();
        assert_eq!(s.schema_version().unwrap(), 1);
        drop(s);
        let s = SqliteStore::init(Connection::open(&path).unwrap(), path.clone(), v2).unwrap();
        assert_eq!(s.schema_version().unwrap(), 2);
        s.conn
            .execute_batch("SELECT note FROM alerts LIMIT 0")
            .unwrap();
        drop(s);
        // Re-opening at the same version applies nothing (the ALTER would fail if re-run).
        let s = SqliteStore::init(Connection::open(&path).unwrap(), path.clone(), v2).unwrap();
        assert_eq!(s.schema_version().unwrap(), 2);
        drop(s);
        // This build only knows version 1: the file is newer.
        let e = SqliteStore::init(Connection::open(&path).unwrap(), path.clone(), v1)
            .err()
            .unwrap();
        assert!(
            matches!(
                e,
                StoreError::NewerSchema {
                    found: 2,
                    supported: 1
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_version_1_store_gains_the_watch_checkpoint_and_keeps_its_alerts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let s = SqliteStore::init(
            Connection::open(&path).unwrap(),
            path.clone(),
            &MIGRATIONS[..1],
        )
        .unwrap();
        drop(s);
        let mut s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        assert!(s.watched_files("/logs").unwrap().is_empty());
        let f = |key: &str, size, t| WatchedFile {
            key: key.to_owned(),
            size,
            delivery_time: t,
            records: 0,
        };
        s.mark_watched(
            "/logs",
            &[
                f("/logs/a.json.gz", 10, Some(5)),
                f("/logs/b.json", 7, None),
            ],
        )
        .unwrap();
        s.mark_watched("/other", &[f("/other/c.json.gz", 1, None)])
            .unwrap();
        // Re-marking updates, never duplicates.
        s.mark_watched("/logs", &[f("/logs/a.json.gz", 11, Some(5))])
            .unwrap();
        drop(s);
        let s = SqliteStore::open(&path).unwrap();
        let mut got = s.watched_files("/logs").unwrap();
        got.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(
            got,
            vec![
                f("/logs/a.json.gz", 11, Some(5)),
                f("/logs/b.json", 7, None)
            ]
        );
        assert_eq!(s.watched_files("/other").unwrap().len(), 1);
    }
}
