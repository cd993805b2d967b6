//! The PostgreSQL alert store.
//!
//! Same tables, columns and semantics as the SQLite store, in one schema of a PostgreSQL database
//! (`--store postgres://USER@HOST:PORT/DB?schema=NAME`; without `schema`, the first existing
//! schema of the role's `search_path`, usually `public`). The connection's `search_path` is pinned
//! to that schema, so several stores can share a database.
//!
//! * **Versions.** [`MIGRATIONS`] is an ordered list of SQL scripts; the table
//!   `trailhound_migrations` holds one row per script applied. Opening a store applies, in one
//!   transaction, every script past the highest version there; a schema from a newer Trailhound
//!   (a version past the list) is refused ([`StoreError::NewerSchema`]), and so is a schema that
//!   has tables named like the store's but no `trailhound_migrations`
//!   ([`StoreError::ForeignSchema`]), untouched.
//! * **Concurrency.** Migrations and batch upserts take a transaction-scoped advisory lock of the
//!   schema, so writers of batches run one at a time (as SQLite's `BEGIN IMMEDIATE` makes them);
//!   an upsert locks the known rows it reads and a status change locks its row (`FOR NO KEY
//!   UPDATE`), so two people changing the same alert at once are serialised and the second one
//!   sees, and is checked against, the first one's status. Lock waits give up after 10 s
//!   (`lock_timeout`, unless the connection sets its own), like SQLite's busy timeout.
//! * **Text order.** Ids, rule ids and keys are `COLLATE "C"`: byte order, as in SQLite, whatever
//!   the database's locale, so lists are ordered the same on both backends.
//!
//! The connection is plain TCP or a Unix socket (`NoTls`): `sslmode=require` is refused.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use postgres::config::Host;
use postgres::types::ToSql;
use postgres::{Client, Config, GenericClient, NoTls, Row};
use trailhound_detect::Alert;
use trailhound_detect::BlindPeriod;
use trailhound_detect::incident::Summary;
use trailhound_detect::suppression::{Member, Totals};

use crate::access::SqlValue;
use crate::incidents::{IncidentFilter, StoredIncident, pg, sql, stored_incident, where_clause};

use crate::{
    AlertFilter, AlertStore, Checkpoints, Outcome, Status, StatusChange, StoreError, StoredAlert,
    UpsertSummary, Upserted, WatchedFile, check_transition, now, status_change_actor,
};

/// The schema migrations, in order: `trailhound_migrations` lists the versions applied.
///
/// Version 5 adds the delivery outbox and response actions ([`crate::outbox::MIGRATION_5`]);
/// version 4 users, tokens, the audit log and runs ([`crate::access::MIGRATION_4`]).
///
/// Version 3 adds incidents and the members of suppressed alerts, with the same text as SQLite's
/// version 3 ([`crate::sqlite::MIGRATION_3`]).
///
/// Version 2 adds `watched_files`, the checkpoint of `trailhound watch`, as SQLite's version 2.
///
/// Version 1 is SQLite's version 1 in PostgreSQL types (see [`crate::sqlite::MIGRATIONS`]):
/// `alerts` (the alert as JSON text in `body`, filter and order columns, the status and its audit
/// fields; times are `BIGINT` nanoseconds since the Unix epoch, UTC) and the append-only
/// `alert_status_history`. `body` is text, not `jsonb`, so that an alert reads back byte for byte
/// and "unchanged evidence" is an exact comparison (`body::jsonb` serves ad-hoc queries).
pub const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE alerts (
    id             TEXT COLLATE "C" PRIMARY KEY,
    rule_id        TEXT COLLATE "C" NOT NULL,
    rule_name      TEXT NOT NULL,
    severity       TEXT NOT NULL,
    risk_score     INTEGER NOT NULL,
    access_key_id  TEXT COLLATE "C" NOT NULL,
    user_arn       TEXT NOT NULL,
    time           BIGINT NOT NULL,
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
CREATE INDEX alerts_time ON alerts (time);
CREATE INDEX alerts_status_time ON alerts (status, time);
CREATE INDEX alerts_rule_time ON alerts (rule_id, time);
CREATE INDEX alerts_key_time ON alerts (access_key_id, time);
CREATE TABLE alert_status_history (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id     TEXT COLLATE "C" NOT NULL REFERENCES alerts (id),
    from_status  TEXT NOT NULL,
    to_status    TEXT NOT NULL,
    changed_by   TEXT NOT NULL,
    changed_at   BIGINT NOT NULL,
    reason       TEXT
);
CREATE INDEX alert_status_history_alert ON alert_status_history (alert_id, seq);
"#,
    r#"
CREATE TABLE watched_files (
    source         TEXT COLLATE "C" NOT NULL,
    key            TEXT COLLATE "C" NOT NULL,
    size           BIGINT NOT NULL,
    delivery_time  BIGINT,
    read_at        BIGINT NOT NULL,
    PRIMARY KEY (source, key)
);
"#,
    crate::sqlite::MIGRATION_3,
    crate::access::MIGRATION_4,
    crate::outbox::MIGRATION_5,
];

/// The table that marks a schema as a Trailhound store and lists the migrations applied.
const VERSION_TABLE: &str = "trailhound_migrations";

/// The tables of [`MIGRATIONS`] (a schema holding one of them without [`VERSION_TABLE`] is
/// somebody else's).
const STORE_TABLES: [&str; 2] = ["alerts", "alert_status_history"];

/// First key of the advisory locks (`THND` in ASCII); the second is the schema name's hash.
const LOCK_KEY: i32 = 0x5448_4e44;

/// Alerts per statement of a batch upsert (the statements take arrays, one per column).
const CHUNK: usize = 2_000;

/// Columns read into a [`StoredAlert`], in the order [`stored_alert`] expects.
const STORED_COLUMNS: &str =
    "body, status, status_by, status_at, status_reason, created_at, updated_at, incident_id";

/// The PostgreSQL alert store: one connection, one schema.
pub struct PostgresStore {
    client: Mutex<Client>,
    schema: String,
    location: String,
    /// Drop the schema when the store is dropped ([`PostgresStore::open_temporary`]).
    temporary: bool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?OPTIONS]`, or a
    /// `key=value` connection string) and opens the store in `schema` (created if missing; else
    /// the URL's `schema` parameter, see [`split_schema`]; else the first existing schema of the
    /// `search_path`), creating or migrating the tables as needed.
    pub fn open(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        Self::connect(url, schema, true, MIGRATIONS)
    }

    /// Like [`PostgresStore::open`], for commands that only look at alerts or change their
    /// status: [`StoreError::Missing`] if the schema does not exist or holds no store.
    pub fn open_existing(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        Self::connect(url, schema, false, MIGRATIONS)
    }

    /// A store in a new schema of its own (`trailhound_tmp_…`), dropped with everything in it
    /// when the store is dropped (for tests). Other connections may open the same schema
    /// ([`PostgresStore::schema`]) while this store lives.
    pub fn open_temporary(url: &str) -> Result<Self, StoreError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let schema = format!(
            "trailhound_tmp_{}_{:x}_{}",
            std::process::id(),
            now(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut store = Self::open(url, Some(&schema))?;
        store.temporary = true;
        Ok(store)
    }

    fn connect(
        url: &str,
        schema: Option<&str>,
        create: bool,
        migrations: &[&str],
    ) -> Result<Self, StoreError> {
        let (url, url_schema) = split_schema(url)?;
        let schema = schema.or(url_schema.as_deref());
        let mut config = Config::from_str(&url)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("trailhound");
        }
        let mut client = config.connect(NoTls)?;
        let schema = match schema {
            Some("") => return Err(StoreError::BadUrl("empty schema name".into())),
            Some(s) => s.to_owned(),
            None => client
                .query_one("SELECT current_schema()::text", &[])?
                .try_get::<_, Option<String>>(0)?
                .ok_or_else(|| {
                    StoreError::BadUrl(format!(
                        "{}: no schema of the search_path exists; add ?schema=NAME",
                        describe(&config, None)
                    ))
                })?,
        };
        let location = describe(&config, Some(&schema));
        // Pin every unqualified name to the store's schema (it may not exist yet: the setting
        // takes effect once it does).
        client.execute(
            "SELECT set_config('search_path', quote_ident($1), false),
                    CASE WHEN current_setting('lock_timeout') = '0'
                         THEN set_config('lock_timeout', '10s', false) END",
            &[&schema],
        )?;
        migrate(&mut client, &schema, &location, create, migrations)?;
        Ok(Self {
            client: Mutex::new(client),
            schema,
            location,
            temporary: false,
        })
    }

    /// The schema the store lives in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The schema version of the store (the number of [`MIGRATIONS`] applied).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        version(&mut *self.client())
    }

    fn client(&self) -> MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if self.temporary {
            let sql = format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                quote_ident(&self.schema)
            );
            // Nothing to report to: a schema left behind by a lost connection is harmless.
            let _ = self.client().batch_execute(&sql);
        }
    }
}

/// Splits the `schema` parameter off a store URL: `postgres://h/db?sslmode=disable&schema=s`
/// gives `("postgres://h/db?sslmode=disable", Some("s"))`. The name is kept to letters, digits
/// and `_` (so that it needs no decoding); other parameters are left to the PostgreSQL client,
/// and so are `key=value` connection strings, whole.
pub fn split_schema(url: &str) -> Result<(String, Option<String>), StoreError> {
    let is_url = crate::is_postgres_url(url);
    let Some((base, query)) = url.split_once('?').filter(|_| is_url) else {
        return Ok((url.to_owned(), None));
    };
    let mut schema = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("schema", name)) => {
                let ok = !name.is_empty()
                    && name.len() <= 63
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && !name.as_bytes()[0].is_ascii_digit();
                if !ok {
                    return Err(StoreError::BadUrl(format!(
                        "schema {name:?}: expected a name of letters, digits and _ (at most 63, \
                         not starting with a digit)"
                    )));
                }
                schema = Some(name.to_owned());
            }
            _ => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, schema))
}

/// A store URL for messages: `postgres://USER@HOST:PORT/DB?schema=NAME`, never the password nor
/// the other options. `None` if `url` is not a valid connection string.
pub fn describe_url(url: &str) -> Option<String> {
    let (url, schema) = split_schema(url).ok()?;
    let config = Config::from_str(&url).ok()?;
    Some(describe(&config, schema.as_deref()))
}

fn describe(config: &Config, schema: Option<&str>) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            match ports.get(i).or(ports.first()) {
                Some(p) => format!("{host}:{p}"),
                None => host,
            }
        })
        .collect();
    let mut s = String::from("postgres://");
    if let Some(user) = config.get_user() {
        s.push_str(user);
        s.push('@');
    }
    s.push_str(&hosts.join(","));
    if let Some(db) = config.get_dbname() {
        s.push('/');
        s.push_str(db);
    }
    if let Some(schema) = schema {
        s.push_str("?schema=");
        s.push_str(schema);
    }
    s
}

/// `name` as a quoted SQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Takes the schema's transaction-scoped advisory lock.
fn lock(tx: &mut impl GenericClient, schema: &str) -> Result<(), StoreError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&LOCK_KEY, &schema],
    )?;
    Ok(())
}

fn version(c: &mut impl GenericClient) -> Result<i64, StoreError> {
    let sql = format!("SELECT coalesce(max(version), 0)::bigint FROM {VERSION_TABLE}");
    Ok(c.query_one(&sql, &[])?.try_get(0)?)
}

/// Creates the schema if `create` (else refuses a missing one), checks that it is a store (or
/// nothing yet) and applies the migrations past its version, in one transaction.
fn migrate(
    client: &mut Client,
    schema: &str,
    location: &str,
    create: bool,
    migrations: &[&str],
) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    lock(&mut tx, schema)?;
    let missing = || StoreError::Missing(location.to_owned());
    let exists: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
            &[&schema],
        )?
        .try_get(0)?;
    if !exists {
        if !create {
            return Err(missing());
        }
        tx.batch_execute(&format!("CREATE SCHEMA {}", quote_ident(schema)))?;
    }
    let names: Vec<&str> = STORE_TABLES
        .iter()
        .copied()
        .chain([VERSION_TABLE])
        .collect();
    let tables: Vec<String> = tx
        .query(
            "SELECT c.relname::text FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname::text = ANY($2::text[])",
            &[&schema, &names],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if !tables.iter().any(|t| t == VERSION_TABLE) {
        if !tables.is_empty() {
            return Err(StoreError::ForeignSchema(location.to_owned()));
        }
        if !create {
            return Err(missing());
        }
        tx.batch_execute(&format!(
            "CREATE TABLE {VERSION_TABLE} (
                 version     INTEGER PRIMARY KEY,
                 applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
             )"
        ))?;
    }
    let found = version(&mut tx)?;
    let supported = migrations.len() as i64;
    if found > supported {
        return Err(StoreError::NewerSchema { found, supported });
    }
    let insert = format!("INSERT INTO {VERSION_TABLE} (version) VALUES ($1)");
    for (i, sql) in migrations.iter().enumerate().skip(found as usize) {
        tx.batch_execute(sql)?;
        tx.execute(&insert, &[&(i as i32 + 1)])?;
    }
    tx.commit()?;
    Ok(())
}

fn status_of(s: &str) -> Result<Status, StoreError> {
    s.parse()
}

/// Reads a row of [`STORED_COLUMNS`].
fn stored_alert(r: &Row) -> Result<StoredAlert, StoreError> {
    Ok(StoredAlert {
        alert: serde_json::from_str(r.try_get(0)?)?,
        status: status_of(r.try_get(1)?)?,
        status_by: r.try_get(2)?,
        status_at: r.try_get(3)?,
        status_reason: r.try_get(4)?,
        created_at: r.try_get(5)?,
        updated_at: r.try_get(6)?,
        incident_id: r.try_get(7)?,
    })
}

/// Reads a row of [`sql::COLUMNS`].
fn incident_row(r: &Row) -> Result<StoredIncident, StoreError> {
    stored_incident(
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        r.try_get(6)?,
        r.try_get(7)?,
    )
}

/// What a batch upsert writes for one id: nothing, an insert or an update (of the alert at this
/// index, the id's last version in the batch).
#[derive(Clone, Copy)]
enum Pending {
    Nothing,
    Insert(usize),
    Update(usize),
}

/// One id during a batch upsert: its evidence as it will be stored, status, and what to write.
struct Slot<'a> {
    body: &'a str,
    status: Status,
    write: Pending,
}

/// The columns of some alerts, as arrays for `unnest` (one statement per chunk, not per alert).
#[derive(Default)]
struct Columns<'a> {
    id: Vec<&'a str>,
    rule_id: Vec<&'a str>,
    rule_name: Vec<&'a str>,
    severity: Vec<&'static str>,
    risk_score: Vec<i32>,
    access_key_id: Vec<&'a str>,
    user_arn: Vec<&'a str>,
    time: Vec<i64>,
    first_seen: Vec<i64>,
    last_seen: Vec<i64>,
    body: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    fn of(alerts: &'a [Alert], bodies: &'a [String], which: &[usize]) -> Self {
        let mut c = Columns::default();
        for &i in which {
            let a = &alerts[i];
            c.id.push(&a.id);
            c.rule_id.push(&a.rule_id);
            c.rule_name.push(&a.rule_name);
            c.severity.push(a.severity.as_str());
            c.risk_score.push(i32::from(a.risk_score));
            c.access_key_id.push(&a.access_key_id);
            c.user_arn.push(&a.user_arn);
            c.time.push(a.time);
            c.first_seen.push(a.first_seen);
            c.last_seen.push(a.last_seen);
            c.body.push(&bodies[i]);
        }
        c
    }
}

/// `unnest` of the [`Columns`] parameters `$1`…`$11`, as a row source named `v`.
const UNNEST: &str = "unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[],
        $6::text[], $7::text[], $8::int8[], $9::int8[], $10::int8[], $11::text[])
    AS v (id, rule_id, rule_name, severity, risk_score, access_key_id, user_arn, time,
        first_seen, last_seen, body)";

/// Runs `sql` (with [`UNNEST`] and `$12` = now) over the alerts at `which`, in chunks.
fn write_rows(
    tx: &mut postgres::Transaction<'_>,
    sql: &str,
    alerts: &[Alert],
    bodies: &[String],
    which: &[usize],
    now: i64,
) -> Result<(), StoreError> {
    for chunk in which.chunks(CHUNK) {
        let c = Columns::of(alerts, bodies, chunk);
        tx.execute(
            sql,
            &[
                &c.id,
                &c.rule_id,
                &c.rule_name,
                &c.severity,
                &c.risk_score,
                &c.access_key_id,
                &c.user_arn,
                &c.time,
                &c.first_seen,
                &c.last_seen,
                &c.body,
                &now,
            ],
        )?;
    }
    Ok(())
}

impl AlertStore for PostgresStore {
    fn upsert_alerts(&mut self, alerts: &[Alert]) -> Result<UpsertSummary, StoreError> {
        let now = now();
        let bodies: Vec<String> = alerts
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<_, _>>()?;
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let mut tx = client.transaction()?;
        lock(&mut tx, &self.schema)?;
        // The known alerts among the batch, locked against status changes until the commit (so
        // the statuses reported are the ones in the store), in id order (no deadlock).
        let mut ids: Vec<&str> = alerts.iter().map(|a| a.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut known: Vec<(String, String, Status)> = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            for r in tx.query(
                "SELECT id, body, status FROM alerts WHERE id = ANY($1::text[])
                 ORDER BY id FOR NO KEY UPDATE",
                &[&chunk],
            )? {
                known.push((r.try_get(0)?, r.try_get(1)?, status_of(r.try_get(2)?)?));
            }
        }
        let mut slots: HashMap<&str, Slot<'_>> = known
            .iter()
            .map(|(id, body, status)| {
                let slot = Slot {
                    body,
                    status: *status,
                    write: Pending::Nothing,
                };
                (id.as_str(), slot)
            })
            .collect();
        // The batch in order, as the SQLite store applies it: a later copy of an id in the same
        // batch meets the earlier one.
        let mut summary = UpsertSummary {
            items: Vec::with_capacity(alerts.len()),
            ..UpsertSummary::default()
        };
        for (i, (a, body)) in alerts.iter().zip(&bodies).enumerate() {
            let body = body.as_str();
            let item = match slots.get_mut(a.id.as_str()) {
                None => {
                    slots.insert(
                        a.id.as_str(),
                        Slot {
                            body,
                            status: Status::Open,
                            write: Pending::Insert(i),
                        },
                    );
                    summary.inserted += 1;
                    Upserted {
                        outcome: Outcome::Inserted,
                        status: Status::Open,
                    }
                }
                Some(slot) => {
                    let outcome = if slot.body == body {
                        summary.unchanged += 1;
                        Outcome::Unchanged
                    } else {
                        slot.body = body;
                        slot.write = match slot.write {
                            Pending::Insert(_) => Pending::Insert(i),
                            _ => Pending::Update(i),
                        };
                        summary.updated += 1;
                        Outcome::Updated
                    };
                    Upserted {
                        outcome,
                        status: slot.status,
                    }
                }
            };
            summary.items.push(item);
        }
        let (mut inserts, mut updates) = (Vec::new(), Vec::new());
        for slot in slots.values() {
            match slot.write {
                Pending::Nothing => {}
                Pending::Insert(i) => inserts.push(i),
                Pending::Update(i) => updates.push(i),
            }
        }
        inserts.sort_unstable_by(|&x, &y| alerts[x].id.cmp(&alerts[y].id));
        updates.sort_unstable_by(|&x, &y| alerts[x].id.cmp(&alerts[y].id));
        let insert = format!(
            "INSERT INTO alerts (id, rule_id, rule_name, severity, risk_score, access_key_id,
                 user_arn, time, first_seen, last_seen, body, status, created_at, updated_at)
             SELECT v.id, v.rule_id, v.rule_name, v.severity, v.risk_score, v.access_key_id,
                 v.user_arn, v.time, v.first_seen, v.last_seen, v.body, 'open', $12, $12
             FROM {UNNEST}"
        );
        write_rows(&mut tx, &insert, alerts, &bodies, &inserts, now)?;
        let update = format!(
            "UPDATE alerts AS a SET rule_id = v.rule_id, rule_name = v.rule_name,
                 severity = v.severity, risk_score = v.risk_score,
                 access_key_id = v.access_key_id, user_arn = v.user_arn, time = v.time,
                 first_seen = v.first_seen, last_seen = v.last_seen, body = v.body,
                 updated_at = $12
             FROM {UNNEST}
             WHERE a.id = v.id"
        );
        write_rows(&mut tx, &update, alerts, &bodies, &updates, now)?;
        tx.commit()?;
        Ok(summary)
    }

    fn get(&self, id: &str) -> Result<Option<StoredAlert>, StoreError> {
        let sql = format!("SELECT {STORED_COLUMNS} FROM alerts WHERE id = $1");
        self.client()
            .query_opt(&sql, &[&id])?
            .as_ref()
            .map(stored_alert)
            .transpose()
    }

    fn resolve_id(&self, prefix: &str) -> Result<String, StoreError> {
        if prefix.is_empty() {
            return Err(StoreError::NotFound(String::new()));
        }
        // Ids are in byte order (COLLATE "C"): those starting with `prefix` come first among
        // the ids at or after it, so the primary key index answers.
        let ids: Vec<String> = self
            .client()
            .query(
                "SELECT id FROM alerts WHERE id >= $1 ORDER BY id LIMIT 3",
                &[&prefix],
            )?
            .iter()
            .map(|r| r.try_get::<_, String>(0))
            .collect::<Result<Vec<_>, _>>()?;
        crate::unique_prefix(ids, prefix)
    }

    fn list(&self, filter: &AlertFilter) -> Result<Vec<StoredAlert>, StoreError> {
        let mut sql = format!("SELECT {STORED_COLUMNS} FROM alerts WHERE true");
        let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        let mut cond = |clause: &str, v: Box<dyn ToSql + Sync>| {
            values.push(v);
            sql.push_str(&format!(" {clause} ${}", values.len()));
        };
        if let Some(r) = &filter.rule_id {
            cond("AND rule_id =", Box::new(r.clone()));
        }
        if let Some(s) = filter.severity {
            cond("AND severity =", Box::new(s.as_str()));
        }
        if let Some(s) = filter.status {
            cond("AND status =", Box::new(s.as_str()));
        }
        if let Some(k) = &filter.access_key_id {
            cond("AND access_key_id =", Box::new(k.clone()));
        }
        if let Some(t) = filter.since {
            cond("AND time >=", Box::new(t));
        }
        if let Some(t) = filter.until {
            cond("AND time <", Box::new(t));
        }
        if let Some(i) = &filter.incident_id {
            cond("AND incident_id =", Box::new(i.clone()));
        }
        cond(
            "ORDER BY time, rule_id, id OFFSET",
            Box::new(clamp(filter.offset)),
        );
        if let Some(l) = filter.limit {
            cond("LIMIT", Box::new(clamp(l)));
        }
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        self.client()
            .query(&sql, &params)?
            .iter()
            .map(stored_alert)
            .collect()
    }

    fn set_status(
        &mut self,
        id: &str,
        status: Status,
        by: &str,
        reason: Option<&str>,
    ) -> Result<StoredAlert, StoreError> {
        let (by, reason) = status_change_actor(by, reason)?;
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let mut tx = client.transaction()?;
        // The row lock serialises concurrent changes of this alert: a second one waits here and
        // then reads the first one's status.
        let current = tx.query_opt(
            "SELECT status FROM alerts WHERE id = $1 FOR NO KEY UPDATE",
            &[&id],
        )?;
        let from = match &current {
            Some(r) => status_of(r.try_get(0)?)?,
            None => return Err(StoreError::NotFound(id.to_owned())),
        };
        check_transition(id, from, status)?;
        // Taken under the lock, so the audit trail's times follow its order.
        let at = now();
        let row = tx.query_one(
            &format!(
                "UPDATE alerts SET status = $2, status_by = $3, status_at = $4,
                     status_reason = $5, updated_at = $4
                 WHERE id = $1
                 RETURNING {STORED_COLUMNS}"
            ),
            &[&id, &status.as_str(), &by, &at, &reason],
        )?;
        tx.execute(
            "INSERT INTO alert_status_history
                 (alert_id, from_status, to_status, changed_by, changed_at, reason)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[&id, &from.as_str(), &status.as_str(), &by, &at, &reason],
        )?;
        let stored = stored_alert(&row)?;
        tx.commit()?;
        Ok(stored)
    }

    fn history(&self, id: &str) -> Result<Vec<StatusChange>, StoreError> {
        self.client()
            .query(
                "SELECT from_status, to_status, changed_by, changed_at, reason
                 FROM alert_status_history WHERE alert_id = $1 ORDER BY seq",
                &[&id],
            )?
            .iter()
            .map(|r| {
                Ok(StatusChange {
                    alert_id: id.to_owned(),
                    from: status_of(r.try_get(0)?)?,
                    to: status_of(r.try_get(1)?)?,
                    by: r.try_get(2)?,
                    at: r.try_get(3)?,
                    reason: r.try_get(4)?,
                })
            })
            .collect()
    }

    fn count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .client()
            .query_one("SELECT count(*) FROM alerts", &[])?
            .try_get(0)?;
        Ok(n as u64)
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn add_members(&mut self, members: &[Member]) -> Result<BTreeMap<String, Totals>, StoreError> {
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let mut tx = client.transaction()?;
        let add = tx.prepare(&pg(sql::ADD_MEMBER))?;
        for m in members {
            tx.execute(
                &add,
                &[
                    &m.alert_id,
                    &m.member_id,
                    &clamp(m.count),
                    &m.first_seen,
                    &m.last_seen,
                ],
            )?;
        }
        let totals = tx.prepare(&pg(sql::MEMBER_TOTALS))?;
        let mut out = BTreeMap::new();
        for m in members {
            if out.contains_key(&m.alert_id) {
                continue;
            }
            let r = tx.query_one(&totals, &[&m.alert_id])?;
            let t = Totals {
                members: r.try_get::<_, i64>(0)? as u64,
                count: r.try_get::<_, i64>(1)? as u64,
                first_seen: r.try_get(2)?,
                last_seen: r.try_get(3)?,
            };
            out.insert(m.alert_id.clone(), t);
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
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let mut tx = client.transaction()?;
        lock(&mut tx, &self.schema)?;
        let known: Option<String> = tx
            .query_opt(&pg(sql::INCIDENT_BODY), &[&id])?
            .map(|r| r.try_get(0))
            .transpose()?;
        let risk = i64::from(summary.risk_score);
        let values: [&(dyn ToSql + Sync); 8] = [
            &id,
            &summary.subject,
            &summary.severity.as_str(),
            &risk,
            &summary.first_seen,
            &summary.last_seen,
            &body,
            &now,
        ];
        let outcome = match known {
            None => {
                tx.execute(&pg(sql::INSERT_INCIDENT), &values)?;
                Outcome::Inserted
            }
            Some(old) if old == body => Outcome::Unchanged,
            Some(_) => {
                tx.execute(&pg(sql::UPDATE_INCIDENT), &values)?;
                Outcome::Updated
            }
        };
        let file = tx.prepare(&pg(sql::FILE_ALERT))?;
        for a in alert_ids {
            tx.execute(&file, &[&id, a])?;
        }
        tx.commit()?;
        Ok(outcome)
    }

    fn record_blind_periods(&mut self, periods: &[BlindPeriod]) -> Result<(), StoreError> {
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let mut tx = client.transaction()?;
        let put = tx.prepare(&pg(sql::PUT_BLIND))?;
        for p in periods {
            let body = serde_json::to_string(p)?;
            tx.execute(&put, &[&p.rule_id, &p.from, &p.until, &body])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn blind_periods(&self) -> Result<Vec<BlindPeriod>, StoreError> {
        self.client()
            .query(sql::BLIND, &[])?
            .iter()
            .map(|r| Ok(serde_json::from_str(r.try_get::<_, &str>(0)?)?))
            .collect()
    }

    fn write_rows(&mut self, statements: &[(&str, Vec<SqlValue>)]) -> Result<Vec<u64>, StoreError> {
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let mut tx = client.transaction()?;
        lock(&mut tx, &self.schema)?;
        let mut changed = Vec::with_capacity(statements.len());
        for (sql, values) in statements {
            let params = to_postgres(values);
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| &**p).collect();
            changed.push(tx.execute(&pg(sql), &refs)?);
        }
        tx.commit()?;
        Ok(changed)
    }

    fn read_rows(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        let params = to_postgres(params);
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| &**p).collect();
        self.client()
            .query(&pg(sql), &refs)?
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        let ty = row.columns()[i].type_();
                        Ok(if *ty == postgres::types::Type::TEXT {
                            row.try_get::<_, Option<String>>(i)?
                                .map_or(SqlValue::Null, SqlValue::Text)
                        } else {
                            row.try_get::<_, Option<i64>>(i)?
                                .map_or(SqlValue::Null, SqlValue::Int)
                        })
                    })
                    .collect()
            })
            .collect()
    }

    fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<StoredIncident>, StoreError> {
        let (clause, values) = where_clause(filter);
        let params: Vec<&(dyn ToSql + Sync)> =
            values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        self.client()
            .query(
                &pg(&format!("SELECT {} FROM incidents{clause}", sql::COLUMNS)),
                &params,
            )?
            .iter()
            .map(incident_row)
            .collect()
    }

    fn set_incident_row_status(
        &mut self,
        id: &str,
        status: Status,
        by: &str,
        reason: Option<&str>,
    ) -> Result<StoredIncident, StoreError> {
        let (by, reason) = status_change_actor(by, reason)?;
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let mut tx = client.transaction()?;
        let current = tx.query_opt(&format!("{} FOR NO KEY UPDATE", pg(sql::STATUS)), &[&id])?;
        let from = match &current {
            Some(r) => status_of(r.try_get(0)?)?,
            None => return Err(StoreError::NotFound(id.to_owned())),
        };
        check_transition(id, from, status)?;
        let at = now();
        tx.execute(
            &pg(sql::SET_STATUS),
            &[&id, &status.as_str(), &by, &at, &reason],
        )?;
        tx.execute(
            &pg(sql::HISTORY),
            &[&id, &from.as_str(), &status.as_str(), &by, &at, &reason],
        )?;
        let row = tx.query_one(
            &format!("SELECT {} FROM incidents WHERE id = $1", sql::COLUMNS),
            &[&id],
        )?;
        let stored = incident_row(&row)?;
        tx.commit()?;
        Ok(stored)
    }
}

/// A count as PostgreSQL's `BIGINT`.
fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Checkpoints for PostgresStore {
    fn watched_files(&self, source: &str) -> Result<Vec<WatchedFile>, StoreError> {
        self.client()
            .query(
                "SELECT key, size, delivery_time, records FROM watched_files WHERE source = $1",
                &[&source],
            )?
            .iter()
            .map(|r| {
                Ok(WatchedFile {
                    key: r.try_get(0)?,
                    size: r.try_get::<_, i64>(1)? as u64,
                    delivery_time: r.try_get(2)?,
                    records: r.try_get::<_, i64>(3)? as u64,
                })
            })
            .collect()
    }

    fn mark_watched(&mut self, source: &str, files: &[WatchedFile]) -> Result<(), StoreError> {
        let keys: Vec<&str> = files.iter().map(|f| f.key.as_str()).collect();
        let sizes: Vec<i64> = files.iter().map(|f| f.size as i64).collect();
        let times: Vec<Option<i64>> = files.iter().map(|f| f.delivery_time).collect();
        let records: Vec<i64> = files.iter().map(|f| clamp(f.records)).collect();
        self.client().execute(
            "INSERT INTO watched_files (source, key, size, delivery_time, read_at, records)
             SELECT $1, k, s, t, $5, r
             FROM UNNEST($2::TEXT[], $3::BIGINT[], $4::BIGINT[], $6::BIGINT[]) AS v (k, s, t, r)
             ON CONFLICT (source, key) DO UPDATE SET size = EXCLUDED.size,
                 delivery_time = EXCLUDED.delivery_time, read_at = EXCLUDED.read_at,
                 records = EXCLUDED.records",
            &[&source, &keys, &sizes, &times, &now(), &records],
        )?;
        Ok(())
    }
}

/// Access-table values as PostgreSQL parameters (NULL is sent as a text NULL).
fn to_postgres(values: &[SqlValue]) -> Vec<Box<dyn ToSql + Sync>> {
    values
        .iter()
        .map(|v| -> Box<dyn ToSql + Sync> {
            match v {
                SqlValue::Null => Box::new(None::<String>),
                SqlValue::Int(i) => Box::new(*i),
                SqlValue::Text(t) => Box::new(t.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The migration mechanism with a made-up second version, as for SQLite: a store at version
    /// 1 gets only the second script, a re-open applies nothing, and a store ahead of the list is
    /// refused. Needs the server of `TRAILHOUND_TEST_POSTGRES` (skipped without it).
    #[test]
    fn migrations_apply_in_order_once() {
        let Some(url) = std::env::var("TRAILHOUND_TEST_POSTGRES")
            .ok()
            .filter(|u| !u.trim().is_empty())
        else {
            eprintln!("skipped: set TRAILHOUND_TEST_POSTGRES");
            return;
        };
        let (url, _) = split_schema(url.trim()).unwrap();
        let schema = format!("trailhound_test_migrations_{}", std::process::id());
        let v1 = &MIGRATIONS[..1];
        let v2: &[&str] = &[MIGRATIONS[0], "ALTER TABLE alerts ADD COLUMN note TEXT;"];
        let open = |m| PostgresStore::connect(&url, Some(&schema), true, m);
        // Drops the schema at the end, whatever happens.
        let mut first = open(v1).unwrap();
        first.temporary = true;
        assert_eq!(first.schema_version().unwrap(), 1);
        let s = open(v2).unwrap();
        assert_eq!(s.schema_version().unwrap(), 2);
        s.client()
            .batch_execute("SELECT note FROM alerts LIMIT 0")
            .unwrap();
        drop(s);
        // Re-opening at the same version applies nothing (the ALTER would fail if re-run).
        let s = open(v2).unwrap();
        assert_eq!(s.schema_version().unwrap(), 2);
        let rows: i64 = s
            .client()
            .query_one("SELECT count(*) FROM trailhound_migrations", &[])
            .unwrap()
            .get(0);
        assert_eq!(rows, 2);
        drop(s);
        // This build only knows version 1: the store is newer.
        let e = open(v1).err().unwrap();
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
    fn schema_is_split_off_the_url() {
        let s = |u: &str| split_schema(u).unwrap();
        assert_eq!(s("postgres://h/db"), ("postgres://h/db".into(), None));
        let kv = "host=h dbname=d password=a?schema=b";
        assert_eq!(s(kv), (kv.into(), None));
        assert_eq!(
            s("postgres://u@h:5/db?schema=th_1"),
            ("postgres://u@h:5/db".into(), Some("th_1".into()))
        );
        assert_eq!(
            s("postgresql://h/db?sslmode=disable&schema=x&connect_timeout=3"),
            (
                "postgresql://h/db?sslmode=disable&connect_timeout=3".into(),
                Some("x".into())
            )
        );
        for bad in ["a-b", "", "1x", "a\"b", "%41"] {
            assert!(
                matches!(
                    split_schema(&format!("postgres://h/db?schema={bad}")),
                    Err(StoreError::BadUrl(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn descriptions_never_show_the_password() {
        assert_eq!(
            describe_url("postgres://alice:s3cret@db.example:6543/alerts?schema=th").unwrap(),
            "postgres://alice@db.example:6543/alerts?schema=th"
        );
        assert_eq!(
            describe_url("postgresql://bob@127.0.0.1/x?password=s3cret").unwrap(),
            "postgres://bob@127.0.0.1:5432/x"
        );
        assert!(describe_url("postgres://h/db?bogus=1").is_none());
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
