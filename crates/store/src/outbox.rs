//! The outbox: alerts waiting to reach a target (a webhook URL, AWS Security Hub), and what was
//! done about the alerts (response actions). Both live in the alert store, so delivery survives
//! a crash or a restart and every store backend shares one implementation (written over
//! [`AlertStore::write_rows`] and [`AlertStore::read_rows`]).
//!
//! **At least once.** A target receives every alert first stored after it was registered
//! ([`register_target`]): the sender queues them from the alerts table itself ([`enqueue_new`]),
//! so no crash between storing an alert and queueing it can lose one. Before each
//! request the row is marked as in flight ([`begin`]); the outcome clears the mark. A row still
//! marked when a sender starts ([`recover`]) belonged to a process that stopped mid-request: its
//! outcome is unknown, it is counted as `unconfirmed` and sent again (the receiver may then see it
//! twice, with the same idempotency key). Every 2xx answer is counted in `delivered`, so the
//! receiver sees each alert as many times as the store says it was delivered, plus at most
//! `unconfirmed`.
//!
//! **Never silently dropped.** A failed request is retried with a doubling wait until the row is
//! older than the configured maximum age; then it is marked `expired` ([`expire`]) and counted in
//! [`summary`] (watch's summary, `--stats`, the web UI).

use serde::Serialize;
use trailhound_model::Timestamp;

use crate::access::SqlValue;
use crate::{AlertStore, StoreError, now};

/// Schema version 5: the delivery outbox and the response actions taken on alerts (the same
/// text on SQLite and PostgreSQL).
pub const MIGRATION_5: &str = r#"
CREATE TABLE deliveries (
    alert_id       TEXT NOT NULL,
    target         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    attempts       BIGINT NOT NULL DEFAULT 0,
    next_at        BIGINT NOT NULL,
    sending_since  BIGINT,
    delivered      BIGINT NOT NULL DEFAULT 0,
    delivered_at   BIGINT,
    unconfirmed    BIGINT NOT NULL DEFAULT 0,
    expired_at     BIGINT,
    last_error     TEXT,
    PRIMARY KEY (alert_id, target)
);
CREATE INDEX deliveries_due ON deliveries (target, next_at);
CREATE TABLE delivery_targets (
    target  TEXT PRIMARY KEY NOT NULL,
    since   BIGINT NOT NULL
);
CREATE INDEX alerts_created ON alerts (created_at);
CREATE TABLE responses (
    alert_id  TEXT NOT NULL,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    dry_run   BIGINT NOT NULL,
    outcome   TEXT NOT NULL,
    detail    TEXT
);
CREATE INDEX responses_alert ON responses (alert_id, at);
"#;

/// A delivery to make now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The alert.
    pub alert_id: String,
    /// Where to: a webhook URL, or `aws-securityhub:REGION`.
    pub target: String,
    /// Requests made so far.
    pub attempts: i64,
}

/// Registers `target` (a first registration records `at` as the time from which the target
/// receives new alerts) and returns that time.
pub fn register_target(
    store: &mut dyn AlertStore,
    target: &str,
    at: Timestamp,
) -> Result<Timestamp, StoreError> {
    store.write_rows(&[(
        "INSERT INTO delivery_targets (target, since) VALUES (?1, ?2) \
         ON CONFLICT (target) DO NOTHING",
        vec![target.into(), at.into()],
    )])?;
    let rows = store.read_rows(
        "SELECT since FROM delivery_targets WHERE target = ?1",
        &[target.into()],
    )?;
    Ok(rows.first().and_then(|r| r[0].int()).unwrap_or(at))
}

/// Queues for `target` every alert first stored at or after `from` (and not before the target's
/// registration, `since`) that is not queued for it yet. The alerts table is the source: an
/// alert stored by any process (`watch`, `hunt`) reaches the target, and no crash between
/// storing and queueing can lose one. Returns the rows queued.
pub fn enqueue_new(
    store: &mut dyn AlertStore,
    target: &str,
    since: Timestamp,
    from: Timestamp,
) -> Result<u64, StoreError> {
    Ok(store.write_rows(&[(
        "INSERT INTO deliveries (alert_id, target, created_at, next_at) \
         SELECT a.id, CAST(?1 AS TEXT), a.created_at, a.created_at FROM alerts a \
         WHERE a.created_at >= ?2 AND NOT EXISTS \
         (SELECT 1 FROM deliveries d WHERE d.alert_id = a.id AND d.target = CAST(?1 AS TEXT)) \
         ON CONFLICT (alert_id, target) DO NOTHING",
        vec![target.into(), since.max(from).into()],
    )])?[0])
}

/// Queues again the alerts delivered to `target` that changed since (their status or their
/// evidence), for a target that keeps a copy up to date by alert id (Security Hub's finding).
/// Returns how many.
pub fn requeue_changed(store: &mut dyn AlertStore, target: &str) -> Result<u64, StoreError> {
    Ok(store.write_rows(&[(
        "UPDATE deliveries SET delivered_at = NULL, created_at = ?1, next_at = ?1, \
         last_error = NULL WHERE target = ?2 AND delivered_at IS NOT NULL AND EXISTS \
         (SELECT 1 FROM alerts a WHERE a.id = deliveries.alert_id \
          AND a.updated_at > deliveries.delivered_at)",
        vec![now().into(), target.into()],
    )])?[0])
}

/// Queues stored alerts for `targets` (an export of what is already stored); an alert already
/// queued for a target is left as it is. Returns the rows queued.
pub fn enqueue(
    store: &mut dyn AlertStore,
    alert_ids: &[&str],
    targets: &[String],
) -> Result<u64, StoreError> {
    if alert_ids.is_empty() || targets.is_empty() {
        return Ok(0);
    }
    let at = now();
    let sql = "INSERT INTO deliveries (alert_id, target, created_at, next_at) \
         SELECT CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS BIGINT), CAST(?3 AS BIGINT) \
         WHERE EXISTS (SELECT 1 FROM alerts WHERE id = CAST(?1 AS TEXT)) \
         ON CONFLICT (alert_id, target) DO NOTHING";
    let statements: Vec<(&str, Vec<SqlValue>)> = alert_ids
        .iter()
        .flat_map(|id| {
            targets
                .iter()
                .map(|t| (sql, vec![(*id).into(), t.as_str().into(), at.into()]))
        })
        .collect();
    Ok(store.write_rows(&statements)?.iter().sum())
}

/// Marks the deliveries a stopped process left in flight as unconfirmed, to be sent again.
/// Returns how many there were.
pub fn recover(store: &mut dyn AlertStore, targets: &[String]) -> Result<u64, StoreError> {
    let (list, values) = placeholders(targets, 1);
    let sql = format!(
        "UPDATE deliveries SET unconfirmed = unconfirmed + 1, sending_since = NULL \
         WHERE sending_since IS NOT NULL AND target IN ({list})"
    );
    Ok(store.write_rows(&[(sql.as_str(), values)])?[0])
}

/// Up to `limit` deliveries due at `at` for `targets`, oldest first; only stored alerts.
pub fn due(
    store: &dyn AlertStore,
    targets: &[String],
    at: Timestamp,
    limit: i64,
) -> Result<Vec<Due>, StoreError> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let (list, mut values) = placeholders(targets, 3);
    values.splice(0..0, [at.into(), limit.into()]);
    let sql = format!(
        "SELECT d.alert_id, d.target, d.attempts FROM deliveries d \
         WHERE d.delivered_at IS NULL AND d.expired_at IS NULL AND d.sending_since IS NULL \
         AND d.next_at <= ?1 AND d.target IN ({list}) \
         AND EXISTS (SELECT 1 FROM alerts a WHERE a.id = d.alert_id) \
         ORDER BY d.next_at, d.created_at, d.alert_id LIMIT ?2"
    );
    Ok(store
        .read_rows(&sql, &values)?
        .into_iter()
        .filter_map(|r| match (&r[0], &r[1], &r[2]) {
            (SqlValue::Text(a), SqlValue::Text(t), SqlValue::Int(n)) => Some(Due {
                alert_id: a.clone(),
                target: t.clone(),
                attempts: *n,
            }),
            _ => None,
        })
        .collect())
}

/// The earliest time a pending delivery for `targets` is due, if any.
pub fn next_due(
    store: &dyn AlertStore,
    targets: &[String],
) -> Result<Option<Timestamp>, StoreError> {
    if targets.is_empty() {
        return Ok(None);
    }
    let (list, values) = placeholders(targets, 1);
    let sql = format!(
        "SELECT min(next_at) FROM deliveries WHERE delivered_at IS NULL AND expired_at IS NULL \
         AND target IN ({list})"
    );
    Ok(store
        .read_rows(&sql, &values)?
        .first()
        .and_then(|r| r[0].int()))
}

/// Marks `items` as in flight (one more attempt each), in one transaction.
pub fn begin(store: &mut dyn AlertStore, items: &[Due]) -> Result<(), StoreError> {
    let at = now();
    let statements: Vec<(&str, Vec<SqlValue>)> = items
        .iter()
        .map(|d| {
            (
                "UPDATE deliveries SET sending_since = ?1, attempts = attempts + 1 \
                 WHERE alert_id = ?2 AND target = ?3",
                vec![
                    at.into(),
                    d.alert_id.as_str().into(),
                    d.target.as_str().into(),
                ],
            )
        })
        .collect();
    store.write_rows(&statements)?;
    Ok(())
}

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The target took it (a 2xx answer, or a finding Security Hub accepted).
    Delivered,
    /// It failed; try again at the time given.
    Retry {
        /// Why it failed, as shown to people.
        error: String,
        /// When to try again.
        at: Timestamp,
    },
}

/// Records the outcomes of requests [`begin`] marked, in one transaction.
pub fn finish(store: &mut dyn AlertStore, results: &[(Due, Outcome)]) -> Result<(), StoreError> {
    let at = now();
    let statements: Vec<(&str, Vec<SqlValue>)> = results
        .iter()
        .map(|(d, outcome)| match outcome {
            Outcome::Delivered => (
                "UPDATE deliveries SET sending_since = NULL, delivered = delivered + 1, \
                 delivered_at = ?1, last_error = NULL WHERE alert_id = ?2 AND target = ?3",
                vec![
                    at.into(),
                    d.alert_id.as_str().into(),
                    d.target.as_str().into(),
                ],
            ),
            Outcome::Retry { error, at: next } => (
                "UPDATE deliveries SET sending_since = NULL, next_at = ?1, last_error = ?2 \
                 WHERE alert_id = ?3 AND target = ?4",
                vec![
                    (*next).into(),
                    error.as_str().into(),
                    d.alert_id.as_str().into(),
                    d.target.as_str().into(),
                ],
            ),
        })
        .collect();
    store.write_rows(&statements)?;
    Ok(())
}

/// Gives up on the pending deliveries to `targets` queued before `before`: they are marked
/// expired (and counted by [`summary`]). Returns how many.
pub fn expire(
    store: &mut dyn AlertStore,
    targets: &[String],
    before: Timestamp,
) -> Result<u64, StoreError> {
    let (list, mut values) = placeholders(targets, 3);
    values.splice(0..0, [now().into(), before.into()]);
    let sql = format!(
        "UPDATE deliveries SET expired_at = ?1 WHERE delivered_at IS NULL AND expired_at IS NULL \
         AND sending_since IS NULL AND created_at < ?2 AND target IN ({list})"
    );
    Ok(store.write_rows(&[(sql.as_str(), values)])?[0])
}

/// The state of the outbox for one target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TargetSummary {
    /// The target as shown to people: a URL's scheme and host (its path may hold a secret, as
    /// Slack's does), or `aws-securityhub:REGION`.
    pub target: String,
    /// Alerts delivered.
    pub delivered: u64,
    /// Alerts still to deliver (failed so far, or not tried yet).
    pub pending: u64,
    /// Alerts given up on after the maximum age.
    pub expired: u64,
    /// 2xx answers received, over all alerts (more than `delivered` only after an unconfirmed
    /// request was sent again).
    pub answers: u64,
    /// Requests whose outcome was lost because the process stopped during them.
    pub unconfirmed: u64,
    /// Requests made.
    pub attempts: u64,
    /// The last error of a pending delivery, if any.
    pub last_error: Option<String>,
}

/// Per target, what the outbox holds.
pub fn summary(store: &dyn AlertStore) -> Result<Vec<TargetSummary>, StoreError> {
    let rows = store.read_rows(
        "SELECT target, \
           CAST(sum(CASE WHEN delivered_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT), \
           CAST(sum(CASE WHEN delivered_at IS NULL AND expired_at IS NULL THEN 1 ELSE 0 END) AS BIGINT), \
           CAST(sum(CASE WHEN delivered_at IS NULL AND expired_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT), \
           CAST(sum(delivered) AS BIGINT), CAST(sum(unconfirmed) AS BIGINT), CAST(sum(attempts) AS BIGINT), \
           max(CASE WHEN delivered_at IS NULL THEN last_error END) \
         FROM deliveries GROUP BY target ORDER BY target",
        &[],
    )?;
    let n = |v: &SqlValue| v.int().unwrap_or(0).max(0) as u64;
    let mut out: Vec<TargetSummary> = Vec::new();
    for r in rows {
        let t = TargetSummary {
            target: display_target(&r[0].text()),
            delivered: n(&r[1]),
            pending: n(&r[2]),
            expired: n(&r[3]),
            answers: n(&r[4]),
            unconfirmed: n(&r[5]),
            attempts: n(&r[6]),
            last_error: match &r[7] {
                SqlValue::Text(s) => Some(s.clone()),
                _ => None,
            },
        };
        // Two URLs of one host show as one target.
        match out.iter_mut().find(|o| o.target == t.target) {
            Some(o) => {
                o.delivered += t.delivered;
                o.pending += t.pending;
                o.expired += t.expired;
                o.answers += t.answers;
                o.unconfirmed += t.unconfirmed;
                o.attempts += t.attempts;
                o.last_error = o.last_error.take().or(t.last_error);
            }
            None => out.push(t),
        }
    }
    Ok(out)
}

/// What the outbox recorded of one alert's deliveries to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The alert.
    pub alert_id: String,
    /// The target.
    pub target: String,
    /// 2xx answers received.
    pub delivered: u64,
    /// Requests whose outcome was lost (the process stopped during them).
    pub unconfirmed: u64,
}

/// Per alert and target, the deliveries recorded, for checks against a receiver's own count.
pub fn records(store: &dyn AlertStore) -> Result<Vec<DeliveryRecord>, StoreError> {
    let n = |v: &SqlValue| v.int().unwrap_or(0).max(0) as u64;
    Ok(store
        .read_rows(
            "SELECT alert_id, target, delivered, unconfirmed FROM deliveries \
             ORDER BY alert_id, target",
            &[],
        )?
        .into_iter()
        .map(|r| DeliveryRecord {
            alert_id: r[0].text(),
            target: r[1].text(),
            delivered: n(&r[2]),
            unconfirmed: n(&r[3]),
        })
        .collect())
}

/// A URL as shown to people: scheme and host only.
pub fn display_target(target: &str) -> String {
    match target.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}")
        }
        None => target.to_owned(),
    }
}

/// A response action taken (or planned, in a dry run) on an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Response {
    /// The alert it was taken for.
    pub alert_id: String,
    /// When.
    #[serde(with = "trailhound_detect::rfc3339")]
    pub at: Timestamp,
    /// Who.
    pub actor: String,
    /// What: `deactivate-key`, `revoke-sessions`.
    pub action: String,
    /// On what: the access key id, or the user's name.
    pub target: String,
    /// Nothing was changed: the command was printed only.
    pub dry_run: bool,
    /// `done`, `planned` or `failed`.
    pub outcome: String,
    /// The exact command, and the error when it failed.
    pub detail: Option<String>,
}

/// Records response actions, with one audit-log line each.
pub fn record_responses(store: &mut dyn AlertStore, list: &[Response]) -> Result<(), StoreError> {
    let mut statements: Vec<(&str, Vec<SqlValue>)> = Vec::new();
    for r in list {
        let detail = r.detail.as_deref().map_or(SqlValue::Null, SqlValue::from);
        statements.push((
            "INSERT INTO responses (alert_id, at, actor, action, target, dry_run, outcome, detail) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            vec![
                r.alert_id.as_str().into(),
                r.at.into(),
                r.actor.as_str().into(),
                r.action.as_str().into(),
                r.target.as_str().into(),
                i64::from(r.dry_run).into(),
                r.outcome.as_str().into(),
                detail,
            ],
        ));
        statements.push(crate::access::log_row(
            r.at,
            &r.actor,
            &format!(
                "response.{}{}",
                r.action,
                if r.dry_run { ".dry-run" } else { "" }
            ),
            &r.alert_id,
            &format!("{} {}: {}", r.action, r.target, r.outcome),
        ));
    }
    store.write_rows(&statements)?;
    Ok(())
}

/// The response actions recorded on an alert, oldest first.
pub fn responses(store: &dyn AlertStore, alert_id: &str) -> Result<Vec<Response>, StoreError> {
    Ok(store
        .read_rows(
            "SELECT alert_id, at, actor, action, target, dry_run, outcome, detail FROM responses \
             WHERE alert_id = ?1 ORDER BY at, action",
            &[alert_id.into()],
        )?
        .into_iter()
        .map(|r| Response {
            alert_id: r[0].text(),
            at: r[1].int().unwrap_or(0),
            actor: r[2].text(),
            action: r[3].text(),
            target: r[4].text(),
            dry_run: r[5].int() == Some(1),
            outcome: r[6].text(),
            detail: match &r[7] {
                SqlValue::Text(s) => Some(s.clone()),
                _ => None,
            },
        })
        .collect())
}

/// True when `action` was recorded on `target` (a key, a user) with one of `outcomes`.
pub fn responded(
    store: &dyn AlertStore,
    action: &str,
    target: &str,
    outcomes: &[&str],
) -> Result<bool, StoreError> {
    let list: Vec<String> = outcomes.iter().map(|o| (*o).to_owned()).collect();
    let (placeholders, mut values) = placeholders(&list, 3);
    values.splice(0..0, [action.into(), target.into()]);
    let sql = format!(
        "SELECT count(*) FROM responses WHERE action = ?1 AND target = ?2 AND outcome IN ({placeholders})"
    );
    Ok(store
        .read_rows(&sql, &values)?
        .first()
        .and_then(|r| r[0].int())
        .unwrap_or(0)
        > 0)
}

/// `?first, ?first+1, …` for `values`, and the values.
fn placeholders(values: &[String], first: usize) -> (String, Vec<SqlValue>) {
    let list = (0..values.len())
        .map(|i| format!("?{}", first + i))
        .collect::<Vec<_>>()
        .join(", ");
    (
        if list.is_empty() { "NULL".into() } else { list },
        values.iter().map(|v| v.as_str().into()).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_shown_without_their_secrets() {
        assert_eq!(
            display_target("https://hooks.slack.com/services/T0/B0/secret"),
            "https://hooks.slack.com"
        );
        assert_eq!(
            display_target("http://user:pw@127.0.0.1:9000/x?y"),
            "http://127.0.0.1:9000"
        );
        assert_eq!(
            display_target("aws-securityhub:eu-west-1"),
            "aws-securityhub:eu-west-1"
        );
    }
}
