//! Trailhound's alert store: alerts with a lifecycle, kept across runs.
//!
//! * [`AlertStore`] is the small interface every backend implements: batch upserts, look-ups,
//!   filtered lists, status changes with an audit trail, and the open alerts that the
//!   higher-order rule (D5) correlates.
//! * [`SqliteStore`] keeps everything in one embedded SQLite file (WAL mode, versioned
//!   migrations, see [`sqlite::MIGRATIONS`]).
//! * [`PostgresStore`] keeps the same tables in a schema of a PostgreSQL database, for several
//!   machines or people sharing one store (see [`postgres::MIGRATIONS`]).
//! * [`open_store`] opens either from a `--store` value: a `postgres://` URL or a file path.
//!
//! Alerts are idempotent: their ids are deterministic (rule id + key + window, see
//! [`trailhound_detect::alert_id`]), so re-running a hunt over the same or overlapping data finds
//! the alerts it already stored. An upsert of a known id never changes its status or audit fields
//! (a closed alert stays closed); it rewrites the evidence only if it changed.
//!
//! Where the store lives when no path is given: [`default_path`].
//!
//! The `postgres` module is this crate's PostgreSQL backend; the PostgreSQL client crate is
//! `::postgres`.

#![warn(missing_docs)]

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use trailhound_detect::incident::Summary;
use trailhound_detect::suppression::{Member, Totals};
use trailhound_detect::{Alert, BlindPeriod, Severity};
use trailhound_model::Timestamp;

pub mod access;
pub mod checkpoint;
pub mod incidents;
pub mod outbox;
pub mod postgres;
pub mod runs;
pub mod sqlite;

pub use checkpoint::{Checkpoints, WatchedFile};
pub use incidents::{IncidentFilter, StoredIncident, update_incidents};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// The lifecycle status of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// New, nobody has looked at it yet. Only open alerts count for correlation (D5).
    Open,
    /// Somebody is on it.
    Acknowledged,
    /// Done: resolved, benign or a false positive (the reason says which).
    Closed,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 3] = [Status::Open, Status::Acknowledged, Status::Closed];

    /// The lowercase name used in the store, in JSON and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Acknowledged => "acknowledged",
            Status::Closed => "closed",
        }
    }

    /// Whether a person may move an alert from `self` to `to`: open → acknowledged, open →
    /// closed, acknowledged → closed, and back to open from acknowledged or closed (a deliberate
    /// reopen). Staying in the same status, and closed → acknowledged, are refused.
    pub const fn can_become(self, to: Status) -> bool {
        matches!(
            (self, to),
            (Status::Open, Status::Acknowledged)
                | (Status::Open, Status::Closed)
                | (Status::Acknowledged, Status::Closed)
                | (Status::Acknowledged, Status::Open)
                | (Status::Closed, Status::Open)
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = StoreError;

    /// Parses `open`, `acknowledged` (or `ack`) and `closed`.
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "open" => Ok(Status::Open),
            "acknowledged" | "ack" => Ok(Status::Acknowledged),
            "closed" => Ok(Status::Closed),
            other => Err(StoreError::BadStatus(other.to_owned())),
        }
    }
}

/// An alert as stored: the alert itself plus its lifecycle.
///
/// In JSON the alert's fields come first (flattened), then `status`, `status_by`, `status_at`,
/// `status_reason`, `created_at` and `updated_at` (times in RFC 3339 UTC; the audit fields are
/// `null` until somebody changes the status).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredAlert {
    /// The alert, with its latest evidence.
    #[serde(flatten)]
    pub alert: Alert,
    /// Current status.
    pub status: Status,
    /// Who made the last status change.
    pub status_by: Option<String>,
    /// When the last status change was made.
    #[serde(with = "opt_rfc3339")]
    pub status_at: Option<Timestamp>,
    /// Why the last status change was made.
    pub status_reason: Option<String>,
    /// When the store first saw the alert.
    #[serde(with = "trailhound_detect::rfc3339")]
    pub created_at: Timestamp,
    /// When the alert's evidence or status last changed.
    #[serde(with = "trailhound_detect::rfc3339")]
    pub updated_at: Timestamp,
    /// The incident the alert belongs to, if any ([`incidents`]).
    pub incident_id: Option<String>,
}

/// One status change, as kept in the audit trail ([`AlertStore::history`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusChange {
    /// The alert.
    pub alert_id: String,
    /// Status before the change.
    pub from: Status,
    /// Status after the change.
    pub to: Status,
    /// Who made it.
    pub by: String,
    /// When.
    #[serde(with = "trailhound_detect::rfc3339")]
    pub at: Timestamp,
    /// Why (may be absent).
    pub reason: Option<String>,
}

/// What a batch upsert did ([`AlertStore::upsert_alerts`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpsertSummary {
    /// Alerts the store did not know: stored as `open`.
    pub inserted: u64,
    /// Known alerts whose evidence changed: evidence rewritten, status and audit fields kept.
    pub updated: u64,
    /// Known alerts with the same evidence: nothing written.
    pub unchanged: u64,
    /// Per input alert, in input order: what happened and the alert's status in the store after
    /// the upsert (so that a caller can report real statuses without reading them back).
    pub items: Vec<Upserted>,
}

/// What happened to one alert of a batch upsert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upserted {
    /// Inserted, updated or unchanged.
    pub outcome: Outcome,
    /// The alert's status in the store after the upsert.
    pub status: Status,
}

/// The outcome of upserting one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// New to the store.
    Inserted,
    /// Known; its evidence changed and was rewritten.
    Updated,
    /// Known, same evidence.
    Unchanged,
}

/// Which alerts [`AlertStore::list`] returns. Every field narrows the result; the default
/// (everything `None`, offset 0) lists every alert. Results are ordered by alert time, then rule
/// id, then alert id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Only this rule id.
    pub rule_id: Option<String>,
    /// Only this severity.
    pub severity: Option<Severity>,
    /// Only this status.
    pub status: Option<Status>,
    /// Only this access key id.
    pub access_key_id: Option<String>,
    /// Only alerts whose `time` is at or after this.
    pub since: Option<Timestamp>,
    /// Only alerts whose `time` is before this.
    pub until: Option<Timestamp>,
    /// Only the alerts of this incident.
    pub incident_id: Option<String>,
    /// At most this many alerts.
    pub limit: Option<u64>,
    /// Skip this many alerts first.
    pub offset: u64,
}

/// Why the store refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The SQLite library reported an error.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored alert could not be encoded or decoded as JSON.
    #[error("alert JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A file-system error (creating the store's folder).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// No alert has this id (or id prefix).
    #[error("no alert with id {0:?}")]
    NotFound(String),
    /// An id prefix matches several alerts.
    #[error("id prefix {prefix:?} matches several alerts ({examples}); give more digits")]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// Some of the ids it matches, comma-separated.
        examples: String,
    },
    /// The status change is not allowed (see [`Status::can_become`]).
    #[error(
        "alert {id} is {}",
        if from == to { format!("already {to}") } else { format!("{from}; it cannot become {to}") }
    )]
    Transition {
        /// The alert id.
        id: String,
        /// Its current status.
        from: Status,
        /// The status asked for.
        to: Status,
    },
    /// Not a status name.
    #[error("unknown status {0:?} (expected open, acknowledged or closed)")]
    BadStatus(String),
    /// A status change without a name for who made it.
    #[error("a status change needs a non-empty `by` (who made it)")]
    NoActor,
    /// The file was written by a newer Trailhound with a schema this one does not know.
    #[error(
        "the alert store has schema version {found}, newer than this Trailhound's {supported}; upgrade Trailhound"
    )]
    NewerSchema {
        /// Version found in the file.
        found: i64,
        /// Latest version this build knows.
        supported: i64,
    },
    /// The file is an SQLite database of something else.
    #[error("{0} is an SQLite database, but not a Trailhound alert store")]
    NotAStore(String),
    /// The store file does not exist (for commands that only read an existing store).
    #[error("no alert store at {0} (run `trailhound hunt` first, or pass --store FILE.db)")]
    Missing(String),
    /// The PostgreSQL client or server reported an error (connecting, or a statement). The
    /// message includes the server's (and its SQLSTATE code).
    #[error("PostgreSQL: {}", postgres_message(.0))]
    Postgres(::postgres::Error),
    /// A PostgreSQL store location that cannot be used (a bad `schema` parameter, no schema).
    #[error("alert store URL: {0}")]
    BadUrl(String),
    /// The PostgreSQL schema has tables named like the store's but is not a Trailhound alert
    /// store (no `trailhound_migrations` table); it is left untouched.
    #[error(
        "{0} has tables named like a Trailhound alert store's (alerts, alert_status_history) but is not one; choose another schema with ?schema=NAME"
    )]
    ForeignSchema(String),
}

/// The alert store interface: small on purpose, so that other backends (PostgreSQL) can follow.
pub trait AlertStore {
    /// Inserts new alerts as `open` and refreshes the evidence of known ones (by id), in one
    /// transaction. A known alert keeps its status and audit fields: re-running a hunt never
    /// reopens what a person acknowledged or closed, and unchanged evidence is not rewritten.
    fn upsert_alerts(&mut self, alerts: &[Alert]) -> Result<UpsertSummary, StoreError>;

    /// The alert with this id, if stored.
    fn get(&self, id: &str) -> Result<Option<StoredAlert>, StoreError>;

    /// The full id of the one alert whose id starts with `prefix` (at least one character; a
    /// full id resolves to itself).
    fn resolve_id(&self, prefix: &str) -> Result<String, StoreError>;

    /// Alerts matching the filter, ordered by time, rule id, id.
    fn list(&self, filter: &AlertFilter) -> Result<Vec<StoredAlert>, StoreError>;

    /// Moves an alert to `status`, recording who, when (now) and why, and appends the change to
    /// the audit trail. Refuses transitions [`Status::can_become`] does not allow.
    fn set_status(
        &mut self,
        id: &str,
        status: Status,
        by: &str,
        reason: Option<&str>,
    ) -> Result<StoredAlert, StoreError>;

    /// Every open alert, ordered by time: the input of the higher-order rule (D5).
    fn open_alerts(&self) -> Result<Vec<Alert>, StoreError> {
        let filter = AlertFilter {
            status: Some(Status::Open),
            ..AlertFilter::default()
        };
        Ok(self.list(&filter)?.into_iter().map(|s| s.alert).collect())
    }

    /// The status changes of an alert, oldest first.
    fn history(&self, id: &str) -> Result<Vec<StatusChange>, StoreError>;

    /// Number of stored alerts.
    fn count(&self) -> Result<u64, StoreError>;

    /// Where the store lives, for messages: the file's path, or the PostgreSQL URL with its
    /// schema but without password or options.
    fn location(&self) -> String;

    /// Records the members of suppressed alerts (a member already recorded is left as it is) and
    /// returns, per suppressed alert of `members`, the totals over every member recorded.
    fn add_members(&mut self, members: &[Member]) -> Result<BTreeMap<String, Totals>, StoreError>;

    /// Writes an incident's summary (inserted as `open`, or updated keeping its status and audit
    /// fields) and files `alert_ids` under it. Returns what was done to the incident.
    fn put_incident(
        &mut self,
        id: &str,
        summary: &Summary,
        alert_ids: &[String],
    ) -> Result<Outcome, StoreError>;

    /// Records the periods in which rules could not raise alerts (as a hunt saw them); a period
    /// already recorded (same rule and start) is replaced.
    fn record_blind_periods(&mut self, periods: &[BlindPeriod]) -> Result<(), StoreError>;

    /// Every recorded blind period, by time.
    fn blind_periods(&self) -> Result<Vec<BlindPeriod>, StoreError>;

    /// Incidents matching the filter, highest risk first (then latest activity, then id).
    fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<StoredIncident>, StoreError>;

    /// Runs `statements` (SQL with `?N` placeholders, and their values) in one transaction;
    /// returns the rows each changed. The row-level access [`access`] is written over.
    fn write_rows(
        &mut self,
        statements: &[(&str, Vec<access::SqlValue>)],
    ) -> Result<Vec<u64>, StoreError>;

    /// The rows of one query (SQL with `?N` placeholders).
    fn read_rows(
        &self,
        sql: &str,
        params: &[access::SqlValue],
    ) -> Result<Vec<Vec<access::SqlValue>>, StoreError>;

    /// Moves an incident to `status` (audit fields and trail as for alerts), without touching
    /// its alerts: [`incidents::set_incident_status`] propagates.
    fn set_incident_row_status(
        &mut self,
        id: &str,
        status: Status,
        by: &str,
        reason: Option<&str>,
    ) -> Result<StoredIncident, StoreError>;
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        StoreError::Postgres(e)
    }
}

/// A PostgreSQL error with its cause: the server's message, detail, hint and SQLSTATE, or the
/// client's error and the I/O error behind it (`postgres::Error` displays only its kind).
fn postgres_message(e: &::postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{} ({})", db.message(), db.code().code());
        if let Some(d) = db.detail() {
            s.push_str(&format!("; {d}"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!("; hint: {h}"));
        }
        return s;
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// True when a `--store` value is a PostgreSQL URL (`postgres://…` or `postgresql://…`) rather
/// than a file path.
pub fn is_postgres_url(spec: impl AsRef<OsStr>) -> bool {
    spec.as_ref()
        .to_str()
        .is_some_and(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

/// Opens the store named by a `--store` value, creating it if needed: a PostgreSQL URL
/// (`postgres://USER@HOST:PORT/DB`, optionally `?schema=NAME`; see [`PostgresStore::open`]), or
/// else the path of an SQLite file ([`SqliteStore::open`]).
pub fn open_store(spec: impl AsRef<OsStr>) -> Result<Box<dyn AlertStore + Send>, StoreError> {
    open_spec(spec.as_ref(), true)
}

/// [`open_store`] for commands that only look at alerts or change their status: an SQLite file
/// or a PostgreSQL schema that holds no store is [`StoreError::Missing`], not created.
pub fn open_existing_store(
    spec: impl AsRef<OsStr>,
) -> Result<Box<dyn AlertStore + Send>, StoreError> {
    open_spec(spec.as_ref(), false)
}

/// What `trailhound watch` needs of a store: alerts and the checkpoint of processed files.
pub trait WatchStore: AlertStore + Checkpoints + Send {}

impl<T: AlertStore + Checkpoints + Send> WatchStore for T {}

/// [`open_store`] for `trailhound watch`, with the checkpoint.
pub fn open_watch_store(spec: impl AsRef<OsStr>) -> Result<Box<dyn WatchStore>, StoreError> {
    let spec = spec.as_ref();
    if let Some(url) = spec.to_str().filter(|_| is_postgres_url(spec)) {
        return Ok(Box::new(PostgresStore::open(url, None)?));
    }
    Ok(Box::new(SqliteStore::open(std::path::Path::new(spec))?))
}

fn open_spec(spec: &OsStr, create: bool) -> Result<Box<dyn AlertStore + Send>, StoreError> {
    if let Some(url) = spec.to_str().filter(|_| is_postgres_url(spec)) {
        let store = if create {
            PostgresStore::open(url, None)?
        } else {
            PostgresStore::open_existing(url, None)?
        };
        return Ok(Box::new(store));
    }
    let path = std::path::Path::new(spec);
    let store = if create {
        SqliteStore::open(path)?
    } else {
        SqliteStore::open_existing(path)?
    };
    Ok(Box::new(store))
}

/// A `--store` value for messages: the file path, or the PostgreSQL URL without its password
/// and options (see [`postgres::describe_url`]).
pub fn describe_store(spec: impl AsRef<OsStr>) -> String {
    let spec = spec.as_ref();
    match spec.to_str().filter(|_| is_postgres_url(spec)) {
        Some(url) => {
            postgres::describe_url(url).unwrap_or_else(|| "an invalid PostgreSQL URL".to_owned())
        }
        None => std::path::Path::new(spec).display().to_string(),
    }
}

/// The store file used when none is given on the command line:
///
/// 1. `$TRAILHOUND_STORE`, if set and not empty;
/// 2. else `$XDG_DATA_HOME/trailhound/alerts.db`, if `XDG_DATA_HOME` is an absolute path;
/// 3. else `$HOME/.local/share/trailhound/alerts.db`;
/// 4. else (Windows without `HOME`) `%APPDATA%\trailhound\alerts.db`.
///
/// `None` when none of these variables is set.
pub fn default_path() -> Option<PathBuf> {
    default_path_from(|k| std::env::var_os(k))
}

/// [`default_path`] with the environment given as a function (for tests).
pub fn default_path_from(env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let var = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(p) = var("TRAILHOUND_STORE") {
        return Some(p);
    }
    if let Some(p) = var("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
        return Some(p.join("trailhound").join("alerts.db"));
    }
    if let Some(h) = var("HOME") {
        return Some(h.join(".local/share/trailhound/alerts.db"));
    }
    var("APPDATA").map(|p| p.join("trailhound").join("alerts.db"))
}

/// The checks every backend's `set_status` makes before touching the store: `by` trimmed and
/// not empty, an empty `reason` taken as none.
pub(crate) fn status_change_actor<'a>(
    by: &'a str,
    reason: Option<&'a str>,
) -> Result<(&'a str, Option<&'a str>), StoreError> {
    let by = by.trim();
    if by.is_empty() {
        return Err(StoreError::NoActor);
    }
    Ok((by, reason.map(str::trim).filter(|r| !r.is_empty())))
}

/// The one id among `candidates` (ids at or after `prefix`, in order, at least the first three)
/// that starts with `prefix`: an exact match wins; none is [`StoreError::NotFound`], several
/// [`StoreError::Ambiguous`].
pub(crate) fn unique_prefix(candidates: Vec<String>, prefix: &str) -> Result<String, StoreError> {
    let ids: Vec<String> = candidates
        .into_iter()
        .filter(|id| id.starts_with(prefix))
        .take(3)
        .collect();
    match ids.as_slice() {
        [] => Err(StoreError::NotFound(prefix.to_owned())),
        [one] => Ok(one.clone()),
        _ if ids.iter().any(|i| i == prefix) => Ok(prefix.to_owned()),
        _ => Err(StoreError::Ambiguous {
            prefix: prefix.to_owned(),
            examples: ids.join(", "),
        }),
    }
}

/// Refuses a transition [`Status::can_become`] does not allow.
pub(crate) fn check_transition(id: &str, from: Status, to: Status) -> Result<(), StoreError> {
    if from.can_become(to) {
        Ok(())
    } else {
        Err(StoreError::Transition {
            id: id.to_owned(),
            from,
            to,
        })
    }
}

/// The current time as a [`Timestamp`].
pub(crate) fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Serde helper: an optional [`Timestamp`] as an RFC 3339 UTC string or `null`.
mod opt_rfc3339 {
    use serde::Serializer;
    use trailhound_model::{Timestamp, format_rfc3339};

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format_rfc3339(*t)),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| OsString::from(*v))
            }
        };
        assert_eq!(
            default_path_from(env(&[
                ("TRAILHOUND_STORE", "/x/a.db"),
                ("XDG_DATA_HOME", "/d"),
                ("HOME", "/h")
            ])),
            Some(PathBuf::from("/x/a.db"))
        );
        assert_eq!(
            default_path_from(env(&[
                ("TRAILHOUND_STORE", ""),
                ("XDG_DATA_HOME", "/d"),
                ("HOME", "/h")
            ])),
            Some(PathBuf::from("/d/trailhound/alerts.db"))
        );
        // A relative XDG_DATA_HOME is invalid per the XDG spec and ignored.
        assert_eq!(
            default_path_from(env(&[("XDG_DATA_HOME", "rel"), ("HOME", "/h")])),
            Some(PathBuf::from("/h/.local/share/trailhound/alerts.db"))
        );
        assert_eq!(default_path_from(env(&[])), None);
    }

    #[test]
    fn statuses_parse_print_and_transition() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
            assert!(!s.can_become(s), "{s} -> {s}");
        }
        assert_eq!("ack".parse::<Status>().unwrap(), Status::Acknowledged);
        assert!("done".parse::<Status>().is_err());
        assert!(Status::Open.can_become(Status::Acknowledged));
        assert!(Status::Acknowledged.can_become(Status::Closed));
        assert!(!Status::Closed.can_become(Status::Acknowledged));
        assert!(Status::Closed.can_become(Status::Open));
        assert_eq!(
            serde_json::to_string(&Status::Acknowledged).unwrap(),
            "\"acknowledged\""
        );
    }
}
