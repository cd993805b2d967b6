//! Incidents in the store: the open alerts of one root key (or principal), kept as one thing to
//! triage, with their own lifecycle (see [`trailhound_detect::incident`] for what opens one and
//! how it is scored).
//!
//! This module is the logic both backends share: [`update_incidents`] files the open alerts into
//! incidents after every run, [`set_incident_status`] moves an incident and its alerts together.
//! The backends only keep rows ([`AlertStore::put_incident`], [`AlertStore::incidents`],
//! [`AlertStore::set_incident_row_status`]); [`sql`] is the SQL text they share.

use std::collections::BTreeMap;

use serde::Serialize;
use trailhound_detect::Alert;
use trailhound_detect::incident::{self, Params, Summary};
use trailhound_model::Timestamp;

use crate::{AlertFilter, AlertStore, Outcome, Status, StoreError, StoredAlert};

/// An incident as stored: its summary plus its lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredIncident {
    /// Deterministic id ([`incident::incident_id`]).
    pub id: String,
    /// What its alerts say.
    #[serde(flatten)]
    pub summary: Summary,
    /// Current status.
    pub status: Status,
    /// Who made the last status change.
    pub status_by: Option<String>,
    /// When the last status change was made.
    #[serde(with = "crate::opt_rfc3339")]
    pub status_at: Option<Timestamp>,
    /// Why.
    pub status_reason: Option<String>,
    /// When the store opened it.
    #[serde(with = "trailhound_detect::rfc3339")]
    pub created_at: Timestamp,
    /// When its summary or status last changed.
    #[serde(with = "trailhound_detect::rfc3339")]
    pub updated_at: Timestamp,
}

/// Which incidents [`AlertStore::incidents`] returns (default: all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Only these statuses (empty: any).
    pub statuses: Vec<Status>,
    /// Only this subject (root key or principal).
    pub subject: Option<String>,
    /// Only ids starting with this.
    pub id_prefix: Option<String>,
    /// At most this many.
    pub limit: Option<u64>,
    /// Skip this many first.
    pub offset: u64,
}

/// What [`update_incidents`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IncidentCounts {
    /// Incidents opened.
    pub opened: u64,
    /// Incidents whose summary changed.
    pub updated: u64,
    /// Incidents open or acknowledged after the update.
    pub active: u64,
}

/// The SQL both backends run, with `?N` placeholders (PostgreSQL's are `$N`: see [`pg`]).
pub mod sql {
    /// Records one member; a member seen again keeps its largest count and widest times (a
    /// member raised again with more events, such as a Sigma hour that got late events, counts
    /// them; the same member again changes nothing).
    pub const ADD_MEMBER: &str = "INSERT INTO alert_members (alert_id, member_id, count, first_seen, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (alert_id, member_id) DO UPDATE SET
         count = CASE WHEN excluded.count > alert_members.count THEN excluded.count ELSE alert_members.count END,
         first_seen = CASE WHEN excluded.first_seen < alert_members.first_seen THEN excluded.first_seen ELSE alert_members.first_seen END,
         last_seen = CASE WHEN excluded.last_seen > alert_members.last_seen THEN excluded.last_seen ELSE alert_members.last_seen END";
    /// The totals of one suppressed alert's members.
    pub const MEMBER_TOTALS: &str = "SELECT count(*), CAST(coalesce(sum(count), 0) AS BIGINT),
         coalesce(min(first_seen), 0), coalesce(max(last_seen), 0)
         FROM alert_members WHERE alert_id = ?1";
    /// An incident's summary and status.
    pub const INCIDENT_BODY: &str = "SELECT body, status FROM incidents WHERE id = ?1";
    /// A new incident.
    pub const INSERT_INCIDENT: &str =
        "INSERT INTO incidents (id, subject, severity, risk_score, first_seen, last_seen,
         body, status, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'open', ?8, ?8)";
    /// A changed summary.
    pub const UPDATE_INCIDENT: &str =
        "UPDATE incidents SET subject = ?2, severity = ?3, risk_score = ?4, first_seen = ?5,
         last_seen = ?6, body = ?7, updated_at = ?8 WHERE id = ?1";
    /// Files an alert under an incident.
    pub const FILE_ALERT: &str =
        "UPDATE alerts SET incident_id = ?1 WHERE id = ?2 AND incident_id IS DISTINCT FROM ?1";
    /// Columns of a [`super::StoredIncident`], in order.
    pub const COLUMNS: &str =
        "id, body, status, status_by, status_at, status_reason, created_at, updated_at";
    /// Order of incident lists.
    pub const ORDER: &str = " ORDER BY risk_score DESC, last_seen DESC, id";
    /// An incident's status, for a change.
    pub const STATUS: &str = "SELECT status FROM incidents WHERE id = ?1";
    /// The change.
    pub const SET_STATUS: &str =
        "UPDATE incidents SET status = ?2, status_by = ?3, status_at = ?4, status_reason = ?5,
         updated_at = ?4 WHERE id = ?1";
    /// A rule's blind period (replaced when a later hunt sees it again from the same start).
    pub const PUT_BLIND: &str = "INSERT INTO blind_periods (rule_id, from_time, until_time, body) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (rule_id, from_time) DO UPDATE SET until_time = excluded.until_time, body = excluded.body";
    /// The blind periods, by rule and time.
    pub const BLIND: &str = "SELECT body FROM blind_periods ORDER BY from_time, rule_id";
    /// Its audit trail.
    pub const HISTORY: &str = "INSERT INTO incident_status_history
         (incident_id, from_status, to_status, changed_by, changed_at, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
}

/// `?N` placeholders as PostgreSQL's `$N`.
pub fn pg(sql: &str) -> String {
    sql.replace('?', "$")
}

/// The `WHERE` clause of an incident filter, with `?N` placeholders and their values.
pub(crate) fn where_clause(f: &IncidentFilter) -> (String, Vec<String>) {
    let mut sql = String::from(" WHERE 1 = 1");
    let mut values = Vec::new();
    if !f.statuses.is_empty() {
        let mut list = Vec::new();
        for s in &f.statuses {
            values.push(s.as_str().to_owned());
            list.push(format!("?{}", values.len()));
        }
        sql.push_str(&format!(" AND status IN ({})", list.join(", ")));
    }
    if let Some(s) = &f.subject {
        values.push(s.clone());
        sql.push_str(&format!(" AND subject = ?{}", values.len()));
    }
    if let Some(p) = &f.id_prefix {
        values.push(p.clone());
        sql.push_str(&format!(
            " AND substr(id, 1, {}) = ?{}",
            p.chars().count(),
            values.len()
        ));
    }
    sql.push_str(sql::ORDER);
    let limit = f
        .limit
        .map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
    sql.push_str(&format!(
        " LIMIT {limit} OFFSET {}",
        i64::try_from(f.offset).unwrap_or(i64::MAX)
    ));
    (sql, values)
}

/// Every alert filed under the incident `id`, by time.
pub fn incident_alerts(store: &dyn AlertStore, id: &str) -> Result<Vec<StoredAlert>, StoreError> {
    store.list(&AlertFilter {
        incident_id: Some(id.to_owned()),
        ..AlertFilter::default()
    })
}

/// Files the store's open alerts into incidents: per subject (root key, else principal; AWS
/// services left out), the subject's open or acknowledged incident, else a new one if one of the
/// alerts may open it ([`incident::opens_incident`]). Every touched incident's summary is
/// recomputed over all its alerts. Idempotent: a second call with nothing new changes nothing.
pub fn update_incidents(
    store: &mut dyn AlertStore,
    params: &Params,
) -> Result<IncidentCounts, StoreError> {
    let open = store.list(&AlertFilter {
        status: Some(Status::Open),
        ..AlertFilter::default()
    })?;
    let mut by_subject: BTreeMap<String, Vec<StoredAlert>> = BTreeMap::new();
    for a in open {
        let subject = a.alert.subject().to_owned();
        if subject.is_empty() || incident::is_aws_service(&subject) {
            continue;
        }
        by_subject.entry(subject).or_default().push(a);
    }
    let active: BTreeMap<String, StoredIncident> = store
        .incidents(&IncidentFilter {
            statuses: vec![Status::Open, Status::Acknowledged],
            ..IncidentFilter::default()
        })?
        .into_iter()
        .map(|i| (i.summary.subject.clone(), i))
        .collect();
    let mut counts = IncidentCounts::default();
    for (subject, alerts) in &by_subject {
        let id = match active.get(subject) {
            Some(i) => i.id.clone(),
            None => {
                let Some(opener) = alerts
                    .iter()
                    .filter(|a| incident::opens_incident(params, &a.alert))
                    .min_by(|x, y| (x.alert.time, &x.alert.id).cmp(&(y.alert.time, &y.alert.id)))
                else {
                    continue;
                };
                incident::incident_id(subject, &opener.alert.id)
            }
        };
        let new: Vec<String> = alerts
            .iter()
            .filter(|a| a.incident_id.as_deref() != Some(id.as_str()))
            .map(|a| a.alert.id.clone())
            .collect();
        let mut members: BTreeMap<String, Alert> = incident_alerts(store, &id)?
            .into_iter()
            .map(|a| (a.alert.id.clone(), a.alert))
            .collect();
        for a in alerts {
            members.insert(a.alert.id.clone(), a.alert.clone());
        }
        let summary = incident::summarize(subject, members.values());
        match store.put_incident(&id, &summary, &new)? {
            Outcome::Inserted => counts.opened += 1,
            Outcome::Updated => counts.updated += 1,
            Outcome::Unchanged => {}
        }
    }
    // Nothing here closes an incident: the active ones are those found plus those opened.
    counts.active = active.len() as u64 + counts.opened;
    Ok(counts)
}

/// The one incident whose id starts with `prefix` (at least one character; a full id resolves
/// to itself).
pub fn get_incident(store: &dyn AlertStore, prefix: &str) -> Result<StoredIncident, StoreError> {
    if prefix.is_empty() {
        return Err(StoreError::NotFound(String::new()));
    }
    let mut found = store.incidents(&IncidentFilter {
        id_prefix: Some(prefix.to_owned()),
        limit: Some(3),
        ..IncidentFilter::default()
    })?;
    let id = crate::unique_prefix(found.iter().map(|i| i.id.clone()).collect(), prefix)?;
    found.retain(|i| i.id == id);
    found.pop().ok_or(StoreError::NotFound(id))
}

/// Moves an incident to `status` and its alerts with it: acknowledging acknowledges its open
/// alerts, closing closes every alert not yet closed (each with the same who, when and why in
/// its own audit trail); reopening reopens the incident only.
pub fn set_incident_status(
    store: &mut dyn AlertStore,
    id: &str,
    status: Status,
    by: &str,
    reason: Option<&str>,
) -> Result<StoredIncident, StoreError> {
    let id = get_incident(store, id)?.id;
    let inc = store.set_incident_row_status(&id, status, by, reason)?;
    if status != Status::Open {
        // The lifecycle allows exactly these: open → acknowledged; open or acknowledged → closed.
        for a in incident_alerts(store, &id)?
            .iter()
            .filter(|a| a.status.can_become(status))
        {
            store.set_status(&a.alert.id, status, by, reason)?;
        }
    }
    Ok(inc)
}

/// Reads an incident row's [`sql::COLUMNS`] values into a [`StoredIncident`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn stored_incident(
    id: String,
    body: &str,
    status: &str,
    status_by: Option<String>,
    status_at: Option<Timestamp>,
    status_reason: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
) -> Result<StoredIncident, StoreError> {
    Ok(StoredIncident {
        id,
        summary: serde_json::from_str(body)?,
        status: status.parse()?,
        status_by,
        status_at,
        status_reason,
        created_at,
        updated_at,
    })
}
