//! The JSON API under `/api/` and its OpenAPI description ([`ApiDoc`], served at
//! `/api/openapi.json`).
//!
//! Times are RFC 3339 UTC strings. Errors are `{"error": "..."}` with 400 (bad parameter or
//! body), 403 (refused by the request guard), 404 (no such alert or key), 409 (a status change
//! the lifecycle does not allow), 415 (a body that is not JSON) or 500.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use trailhound_detect::{Severity, Span};
use trailhound_model::{Timestamp, format_rfc3339, parse_rfc3339};
use trailhound_store::{AlertFilter, AlertStore, Status, StatusChange, StoreError, StoredAlert};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::Shared;
use crate::auth::Caller;
use crate::guard::post_guarded;

/// Alerts a list returns when no `limit` is given.
pub const DEFAULT_LIMIT: u64 = 50;
/// Most alerts of one key that a key summary reads.
pub const MAX_KEY_ALERTS: u64 = 10_000;
/// Longest `by` of a status change, in characters.
pub const MAX_BY_CHARS: usize = 200;
/// Longest `reason` of a status change, in characters.
pub const MAX_REASON_CHARS: usize = 2000;

/// An error answer: its HTTP status and `{"error": message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong.
    pub message: String,
}

/// The body of an error answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 500 Internal Server Error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            StoreError::Transition { .. } => StatusCode::CONFLICT,
            StoreError::NoActor | StoreError::BadStatus(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::new(e.status(), e.body_text())
    }
}

/// Severity of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiSeverity {
    /// Risk score 21.
    Low,
    /// Risk score 47.
    Medium,
    /// Risk score 73.
    High,
    /// Risk score 99.
    Critical,
}

impl From<Severity> for ApiSeverity {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Low => ApiSeverity::Low,
            Severity::Medium => ApiSeverity::Medium,
            Severity::High => ApiSeverity::High,
            Severity::Critical => ApiSeverity::Critical,
        }
    }
}

/// Lifecycle status of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApiStatus {
    /// Nobody has looked at it yet.
    Open,
    /// Somebody is on it.
    Acknowledged,
    /// Done.
    Closed,
}

impl From<Status> for ApiStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Open => ApiStatus::Open,
            Status::Acknowledged => ApiStatus::Acknowledged,
            Status::Closed => ApiStatus::Closed,
        }
    }
}

/// An alert in a list: everything but its event ids, remediation and rule details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertSummary {
    /// The alert's deterministic id.
    pub id: String,
    /// The rule's stable id, e.g. `aws-akia-unauthorized-api-call`.
    pub rule_id: String,
    /// The rule's name.
    pub rule_name: String,
    /// Severity.
    pub severity: ApiSeverity,
    /// Risk score (21, 47, 73, 99).
    pub risk_score: u8,
    /// Current status.
    pub status: ApiStatus,
    /// The access key the alert is about.
    pub access_key_id: String,
    /// The key's user ARN.
    pub user_arn: String,
    /// The bin or event time the alert is about.
    #[schema(format = DateTime)]
    pub time: String,
    /// Time of the earliest evidence event.
    #[schema(format = DateTime)]
    pub first_seen: String,
    /// Time of the latest evidence event.
    #[schema(format = DateTime)]
    pub last_seen: String,
    /// Distinct source IP addresses of the evidence.
    pub source_ips: Vec<String>,
    /// Distinct countries (ISO 3166-1 alpha-2) of the evidence.
    pub countries: Vec<String>,
    /// Distinct user agents of the evidence.
    pub user_agents: Vec<String>,
    /// Distinct API names of the evidence.
    pub event_names: Vec<String>,
    /// Number of evidence events.
    pub count: u64,
    /// MITRE ATT&CK technique ids.
    pub mitre: Vec<String>,
    /// Why the rule fired.
    pub why: String,
    /// Who made the last status change.
    pub status_by: Option<String>,
    /// When the last status change was made.
    #[schema(format = DateTime)]
    pub status_at: Option<String>,
    /// Why the last status change was made.
    pub status_reason: Option<String>,
    /// When the store first saw the alert.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When the alert's evidence or status last changed.
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<StoredAlert> for AlertSummary {
    fn from(s: StoredAlert) -> Self {
        let a = s.alert;
        AlertSummary {
            id: a.id,
            rule_id: a.rule_id,
            rule_name: a.rule_name,
            severity: a.severity.into(),
            risk_score: a.risk_score,
            status: s.status.into(),
            access_key_id: a.access_key_id,
            user_arn: a.user_arn,
            time: format_rfc3339(a.time),
            first_seen: format_rfc3339(a.first_seen),
            last_seen: format_rfc3339(a.last_seen),
            source_ips: a.source_ips,
            countries: a.countries,
            user_agents: a.user_agents,
            event_names: a.event_names,
            count: a.count,
            mitre: a.mitre,
            why: a.why,
            status_by: s.status_by,
            status_at: s.status_at.map(format_rfc3339),
            status_reason: s.status_reason,
            created_at: format_rfc3339(s.created_at),
            updated_at: format_rfc3339(s.updated_at),
        }
    }
}

/// One page of alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertList {
    /// The alerts, by time, then rule id, then id.
    pub alerts: Vec<AlertSummary>,
    /// The offset asked for.
    pub offset: u64,
    /// The limit applied.
    pub limit: u64,
    /// The offset of the next page, when there are more alerts.
    pub next_offset: Option<u64>,
}

/// One status change of an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    /// Status before.
    pub from: ApiStatus,
    /// Status after.
    pub to: ApiStatus,
    /// Who made it.
    pub by: String,
    /// When.
    #[schema(format = DateTime)]
    pub at: String,
    /// Why.
    pub reason: Option<String>,
}

impl From<StatusChange> for HistoryEntry {
    fn from(c: StatusChange) -> Self {
        HistoryEntry {
            from: c.from.into(),
            to: c.to.into(),
            by: c.by,
            at: format_rfc3339(c.at),
            reason: c.reason,
        }
    }
}

/// One alert with all its evidence and its status history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertDetail {
    /// The alert's fields as in a list.
    #[serde(flatten)]
    pub summary: AlertSummary,
    /// Event ids of the evidence (capped; `count` is exact).
    pub event_ids: Vec<String>,
    /// What to do: the command that deactivates the key.
    pub remediation: String,
    /// Rule-specific details (for D1 the KQL output columns, for D5 the sibling alerts).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// Every status change, oldest first.
    pub history: Vec<HistoryEntry>,
}

impl AlertDetail {
    /// The detail of a stored alert with its history.
    pub fn new(mut s: StoredAlert, history: Vec<StatusChange>) -> Self {
        let event_ids = std::mem::take(&mut s.alert.event_ids);
        let remediation = std::mem::take(&mut s.alert.remediation);
        let details = std::mem::take(&mut s.alert.details);
        AlertDetail {
            summary: s.into(),
            event_ids,
            remediation,
            details,
            history: history.into_iter().map(HistoryEntry::from).collect(),
        }
    }
}

/// A status change: who makes it and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    /// Who makes the change (at most 200 characters): required when the server has no
    /// authentication; with authentication the signed-in user is recorded instead.
    #[serde(default)]
    pub by: Option<String>,
    /// Why (at most 2000 characters).
    pub reason: Option<String>,
}

/// Filters and paging of the alert list. Empty values are ignored (as an HTML form sends
/// them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this rule id.
    pub rule: Option<String>,
    /// Only this severity: `low`, `medium`, `high` or `critical`.
    #[param(pattern = "^(|low|medium|high|critical)$")]
    pub severity: Option<String>,
    /// Only this status: `open`, `acknowledged` (or `ack`) or `closed`.
    #[param(pattern = "^(|open|acknowledged|ack|closed)$")]
    pub status: Option<String>,
    /// Only this access key id.
    pub key: Option<String>,
    /// Only alerts at or after this time: RFC 3339, a date (`2026-01-12`, midnight UTC) or a
    /// duration before now (`7d`, `12h`).
    #[param(
        pattern = "^(|(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z)?|([1-9][0-9]{0,3}(d|h|m|s|ms|us|ns)){1,3})$"
    )]
    pub since: Option<String>,
    /// Only alerts before this time (same forms as `since`).
    #[param(
        pattern = "^(|(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z)?|([1-9][0-9]{0,3}(d|h|m|s|ms|us|ns)){1,3})$"
    )]
    pub until: Option<String>,
    /// Only the alerts of this incident (its full id).
    pub incident: Option<String>,
    /// At most this many alerts (0 to 500, default 50).
    #[param(pattern = "^(|500|[1-4][0-9]{2}|[1-9][0-9]|[0-9])$")]
    pub limit: Option<String>,
    /// Skip this many alerts first (default 0).
    #[param(pattern = "^(|0|[1-9][0-9]{0,14})$")]
    pub offset: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Parses a severity name (any case).
pub fn parse_severity(s: &str) -> Result<Severity, ApiError> {
    serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase())).map_err(|_| {
        ApiError::bad_request(format!(
            "severity {s:?} is not low, medium, high or critical"
        ))
    })
}

/// Parses a time: RFC 3339, a date (midnight UTC) or a duration before `now`.
pub fn parse_time(s: &str, now: Timestamp) -> Result<Timestamp, ApiError> {
    if let Ok(t) = parse_rfc3339(s) {
        return Ok(t);
    }
    if let Ok(t) = parse_rfc3339(&format!("{s}T00:00:00Z")) {
        return Ok(t);
    }
    if let Ok(span) = s.parse::<Span>() {
        return Ok(now.saturating_sub(span.nanos()));
    }
    Err(ApiError::bad_request(format!(
        "{s:?} is not a time (RFC 3339 such as 2026-01-12T10:00:00Z, a date such as 2026-01-12, or a duration ago such as 7d)"
    )))
}

/// The current time.
pub(crate) fn now() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl ListQuery {
    /// The store filter of the query (with `limit` as given, default 50, at most
    /// [`MAX_LIMIT`]), or why a parameter is wrong.
    pub fn filter(&self) -> Result<AlertFilter, ApiError> {
        use crate::params::{self, checked};
        let limit = params::limit(&self.limit, DEFAULT_LIMIT)?;
        let now = now();
        let time = |name: &str, v: &Option<String>| -> Result<Option<Timestamp>, ApiError> {
            // Every RFC 3339 time, date and duration is read (the pattern shows the usual forms).
            given(v)
                .map(|s| parse_time(s, now))
                .transpose()
                .map_err(|e| ApiError::bad_request(format!("{name}: {}", e.message)))
        };
        Ok(AlertFilter {
            rule_id: given(&self.rule).map(str::to_owned),
            severity: checked(
                "severity",
                &self.severity,
                params::SEVERITY,
                "low, medium, high or critical",
            )?
            .map(parse_severity)
            .transpose()?,
            status: checked(
                "status",
                &self.status,
                params::STATUS,
                "open, acknowledged or closed",
            )?
            .map(|s| s.parse::<Status>())
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
            access_key_id: given(&self.key).map(str::to_owned),
            since: time("since", &self.since)?,
            until: time("until", &self.until)?,
            incident_id: given(&self.incident).map(str::to_owned),
            limit: Some(limit),
            offset: params::offset(&self.offset)?,
        })
    }
}

/// Reads one page of alerts: `filter.limit` alerts and whether more follow.
pub(crate) fn list_page(
    store: &mut dyn AlertStore,
    filter: &AlertFilter,
) -> Result<(Vec<StoredAlert>, bool), StoreError> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT);
    let mut one_more = filter.clone();
    one_more.limit = Some(limit + 1);
    // A lower time bound that every alert passes. Without any indexed condition, SQLite (3.54)
    // plans `ORDER BY time, rule_id, id LIMIT n` as a scan and sort of every row, bodies
    // included (60 times slower at 10,000 alerts); with it, the `time` index is walked.
    one_more.since.get_or_insert(Timestamp::MIN);
    let mut alerts = store.list(&one_more)?;
    let more = alerts.len() as u64 > limit;
    alerts.truncate(limit as usize);
    Ok((alerts, more))
}

/// Lists alerts, filtered and paged.
#[utoipa::path(
    get,
    path = "/api/alerts",
    tag = "alerts",
    params(ListQuery),
    responses(
        (status = 200, description = "One page of alerts", body = AlertList),
        (status = 400, description = "A bad filter", body = ErrorBody),
    )
)]
pub(crate) async fn list_alerts(
    State(state): State<Shared>,
    crate::params::ApiQuery(q): crate::params::ApiQuery<ListQuery>,
) -> Result<Json<AlertList>, ApiError> {
    let filter = q.filter()?;
    let (limit, offset) = (filter.limit.unwrap_or(DEFAULT_LIMIT), filter.offset);
    let (alerts, more) = state
        .with_store(move |s| list_page(s, &filter).map_err(ApiError::from))
        .await?;
    Ok(Json(AlertList {
        next_offset: more.then(|| offset + alerts.len() as u64),
        alerts: alerts.into_iter().map(AlertSummary::from).collect(),
        offset,
        limit,
    }))
}

/// An alert with its status history, read from the store.
pub(crate) fn read_detail(store: &mut dyn AlertStore, id: &str) -> Result<AlertDetail, ApiError> {
    let alert = store
        .get(id)?
        .ok_or_else(|| ApiError::not_found(format!("no alert with id {id:?}")))?;
    let history = store.history(id)?;
    Ok(AlertDetail::new(alert, history))
}

/// One alert with all its evidence and its status history.
#[utoipa::path(
    get,
    path = "/api/alerts/{id}",
    tag = "alerts",
    params(("id" = String, Path, description = "The alert id")),
    responses(
        (status = 200, description = "The alert", body = AlertDetail),
        (status = 404, description = "No such alert", body = ErrorBody),
    )
)]
pub(crate) async fn get_alert(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<AlertDetail>, ApiError> {
    let detail = state.with_store(move |s| read_detail(s, &id)).await?;
    Ok(Json(detail))
}

/// Checks a status change's body; returns who it is recorded as and why.
pub(crate) fn actor_and_reason(
    caller: &Caller,
    body: Result<Json<StatusRequest>, JsonRejection>,
) -> Result<(String, Option<String>), ApiError> {
    let Json(req) = body?;
    if req.by.as_deref().unwrap_or("").chars().count() > MAX_BY_CHARS {
        return Err(ApiError::bad_request(format!(
            "`by` is longer than {MAX_BY_CHARS} characters"
        )));
    }
    if req.reason.as_deref().unwrap_or("").chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::bad_request(format!(
            "`reason` is longer than {MAX_REASON_CHARS} characters"
        )));
    }
    Ok((caller.actor(req.by.as_deref())?, req.reason))
}

async fn change(
    state: Shared,
    caller: Caller,
    id: String,
    to: Status,
    body: Result<Json<StatusRequest>, JsonRejection>,
) -> Result<Json<AlertDetail>, ApiError> {
    let (by, reason) = actor_and_reason(&caller, body)?;
    let detail = state
        .with_store(move |s| {
            s.set_status(&id, to, &by, reason.as_deref())?;
            read_detail(s, &id)
        })
        .await?;
    Ok(Json(detail))
}

/// Acknowledges an alert: somebody is on it (it no longer counts for correlation, D5).
#[utoipa::path(
    post,
    path = "/api/alerts/{id}/ack",
    tag = "alerts",
    params(("id" = String, Path, description = "The alert id")),
    request_body = StatusRequest,
    security(("bearer" = []), ("session" = [], "token" = [])),
    responses(
        (status = 200, description = "The alert after the change", body = AlertDetail),
        (status = 400, description = "No `by`, or a bad body", body = ErrorBody),
        (status = 401, description = "Not signed in (a server with authentication)", body = ErrorBody),
        (status = 403, description = "Refused: no or wrong token, a cross-site request, or a role below triage", body = ErrorBody),
        (status = 404, description = "No such alert", body = ErrorBody),
        (status = 409, description = "The alert cannot become acknowledged", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The body is JSON but not a StatusRequest", body = ErrorBody),
    )
)]
pub(crate) async fn ack_alert(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<StatusRequest>, JsonRejection>,
) -> Result<Json<AlertDetail>, ApiError> {
    change(state, caller, id, Status::Acknowledged, body).await
}

/// Closes an alert (re-running a hunt never reopens it).
#[utoipa::path(
    post,
    path = "/api/alerts/{id}/close",
    tag = "alerts",
    params(("id" = String, Path, description = "The alert id")),
    request_body = StatusRequest,
    security(("bearer" = []), ("session" = [], "token" = [])),
    responses(
        (status = 200, description = "The alert after the change", body = AlertDetail),
        (status = 400, description = "No `by`, or a bad body", body = ErrorBody),
        (status = 401, description = "Not signed in (a server with authentication)", body = ErrorBody),
        (status = 403, description = "Refused: no or wrong token, a cross-site request, or a role below triage", body = ErrorBody),
        (status = 404, description = "No such alert", body = ErrorBody),
        (status = 409, description = "The alert is already closed", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The body is JSON but not a StatusRequest", body = ErrorBody),
    )
)]
pub(crate) async fn close_alert(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<StatusRequest>, JsonRejection>,
) -> Result<Json<AlertDetail>, ApiError> {
    change(state, caller, id, Status::Closed, body).await
}

/// Reopens an acknowledged or closed alert.
#[utoipa::path(
    post,
    path = "/api/alerts/{id}/reopen",
    tag = "alerts",
    params(("id" = String, Path, description = "The alert id")),
    request_body = StatusRequest,
    security(("bearer" = []), ("session" = [], "token" = [])),
    responses(
        (status = 200, description = "The alert after the change", body = AlertDetail),
        (status = 400, description = "No `by`, or a bad body", body = ErrorBody),
        (status = 401, description = "Not signed in (a server with authentication)", body = ErrorBody),
        (status = 403, description = "Refused: no or wrong token, a cross-site request, or a role below triage", body = ErrorBody),
        (status = 404, description = "No such alert", body = ErrorBody),
        (status = 409, description = "The alert is already open", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The body is JSON but not a StatusRequest", body = ErrorBody),
    )
)]
pub(crate) async fn reopen_alert(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<StatusRequest>, JsonRejection>,
) -> Result<Json<AlertDetail>, ApiError> {
    change(state, caller, id, Status::Open, body).await
}

/// Alerts by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StatusCounts {
    /// Open alerts.
    pub open: u64,
    /// Acknowledged alerts.
    pub acknowledged: u64,
    /// Closed alerts.
    pub closed: u64,
}

/// Alerts of one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RuleCount {
    /// The rule id.
    pub rule_id: String,
    /// The rule's name.
    pub rule_name: String,
    /// Its alerts on the key.
    pub alerts: u64,
}

/// A value seen in a key's alerts (a country, an address, a user agent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ValueSeen {
    /// The value, as in the logs.
    pub value: String,
    /// For a source IP: the country an alert with this one address gave it.
    pub country: Option<String>,
    /// Alerts whose evidence lists it.
    pub alerts: u64,
    /// Earliest evidence time of those alerts.
    #[schema(format = DateTime)]
    pub first_seen: String,
    /// Latest evidence time of those alerts.
    #[schema(format = DateTime)]
    pub last_seen: String,
}

/// What the store knows about one access key: its alerts and what their evidence lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KeySummary {
    /// The access key id.
    pub access_key_id: String,
    /// The user ARNs of its alerts.
    pub user_arns: Vec<String>,
    /// Number of alerts read (at most 10,000).
    pub alerts: u64,
    /// True when the key has more alerts than were read.
    pub truncated: bool,
    /// Alerts by status.
    pub by_status: StatusCounts,
    /// Alerts by rule, most first.
    pub by_rule: Vec<RuleCount>,
    /// Time of the first alert.
    #[schema(format = DateTime)]
    pub first_alert: String,
    /// Time of the last alert.
    #[schema(format = DateTime)]
    pub last_alert: String,
    /// Countries of the evidence, most alerts first.
    pub countries: Vec<ValueSeen>,
    /// Source IP addresses of the evidence, most alerts first.
    pub source_ips: Vec<ValueSeen>,
    /// User agents of the evidence, most alerts first.
    pub user_agents: Vec<ValueSeen>,
    /// The key's alerts, by time.
    pub timeline: Vec<AlertSummary>,
}

#[derive(Default)]
struct Seen {
    country: Option<String>,
    alerts: u64,
    first: Timestamp,
    last: Timestamp,
}

fn tally<'a>(
    map: &mut BTreeMap<&'a str, Seen>,
    values: &'a [String],
    first: Timestamp,
    last: Timestamp,
) {
    for v in values {
        let s = map.entry(v.as_str()).or_insert(Seen {
            first,
            last,
            ..Seen::default()
        });
        s.alerts += 1;
        s.first = s.first.min(first);
        s.last = s.last.max(last);
    }
}

fn ranked(map: BTreeMap<&str, Seen>) -> Vec<ValueSeen> {
    let mut v: Vec<ValueSeen> = map
        .into_iter()
        .map(|(value, s)| ValueSeen {
            value: value.to_owned(),
            country: s.country,
            alerts: s.alerts,
            first_seen: format_rfc3339(s.first),
            last_seen: format_rfc3339(s.last),
        })
        .collect();
    v.sort_by(|a, b| b.alerts.cmp(&a.alerts).then_with(|| a.value.cmp(&b.value)));
    v
}

/// The summary of a key from its alerts (as the store lists them, by time); `None` when there
/// are none.
pub fn key_summary(key: &str, alerts: &[StoredAlert], truncated: bool) -> Option<KeySummary> {
    let first = alerts.first()?;
    let mut arns: Vec<String> = Vec::new();
    let mut by_status = StatusCounts::default();
    let mut rules: BTreeMap<&str, RuleCount> = BTreeMap::new();
    let (mut countries, mut ips, mut agents) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for s in alerts {
        let a = &s.alert;
        if !a.user_arn.is_empty() && !arns.contains(&a.user_arn) {
            arns.push(a.user_arn.clone());
        }
        match s.status {
            Status::Open => by_status.open += 1,
            Status::Acknowledged => by_status.acknowledged += 1,
            Status::Closed => by_status.closed += 1,
        }
        rules
            .entry(a.rule_id.as_str())
            .or_insert_with(|| RuleCount {
                rule_id: a.rule_id.clone(),
                rule_name: a.rule_name.clone(),
                alerts: 0,
            })
            .alerts += 1;
        tally(&mut countries, &a.countries, a.first_seen, a.last_seen);
        tally(&mut ips, &a.source_ips, a.first_seen, a.last_seen);
        tally(&mut agents, &a.user_agents, a.first_seen, a.last_seen);
        if let ([ip], [country]) = (a.source_ips.as_slice(), a.countries.as_slice())
            && let Some(seen) = ips.get_mut(ip.as_str())
        {
            seen.country.get_or_insert_with(|| country.clone());
        }
    }
    let mut by_rule: Vec<RuleCount> = rules.into_values().collect();
    by_rule.sort_by(|a, b| {
        b.alerts
            .cmp(&a.alerts)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
    });
    Some(KeySummary {
        access_key_id: key.to_owned(),
        user_arns: arns,
        alerts: alerts.len() as u64,
        truncated,
        by_status,
        by_rule,
        first_alert: format_rfc3339(first.alert.time),
        last_alert: format_rfc3339(alerts.iter().map(|s| s.alert.time).max().unwrap_or(0)),
        countries: ranked(countries),
        source_ips: ranked(ips),
        user_agents: ranked(agents),
        timeline: alerts.iter().cloned().map(AlertSummary::from).collect(),
    })
}

/// Every alert of a key (at most [`MAX_KEY_ALERTS`], by time) and whether there were more.
pub(crate) fn key_alerts(
    store: &mut dyn AlertStore,
    key: &str,
) -> Result<(Vec<StoredAlert>, bool), StoreError> {
    list_page(
        store,
        &AlertFilter {
            access_key_id: Some(key.to_owned()),
            limit: Some(MAX_KEY_ALERTS),
            ..AlertFilter::default()
        },
    )
}

/// What the store knows about one access key.
#[utoipa::path(
    get,
    path = "/api/keys/{key}",
    tag = "keys",
    params(("key" = String, Path, description = "The access key id")),
    responses(
        (status = 200, description = "The key's alerts and what their evidence lists", body = KeySummary),
        (status = 404, description = "No alert of this key", body = ErrorBody),
    )
)]
pub(crate) async fn get_key(
    State(state): State<Shared>,
    Path(key): Path<String>,
) -> Result<Json<KeySummary>, ApiError> {
    let k = key.clone();
    let (alerts, truncated) = state
        .with_store(move |s| key_alerts(s, &k).map_err(ApiError::from))
        .await?;
    key_summary(&key, &alerts, truncated)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no alert of access key {key:?}")))
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI description", content_type = "application/json"))
)]
pub(crate) async fn openapi_json() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    });
    ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response()
}

/// Adds the security schemes: `token` (the server's anti-forgery token header), `bearer` (an API
/// token) and `session` (the login page's cookie).
struct TokenScheme;

impl utoipa::Modify for TokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "The session cookie set by POST /api/login.",
            ))),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Trailhound-Token",
                "The server's anti-forgery token, printed by `trailhound serve` and carried by its \
                 pages: needed by state-changing requests that are not authenticated with a \
                 bearer token. State-changing requests also need `Content-Type: application/json` \
                 and are refused when `Origin` or `Sec-Fetch-Site` say they come from another \
                 origin.",
            ))),
        );
    }
}

/// The OpenAPI description of the API, generated from the handlers and their types.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Trailhound",
        description = "Incidents and alerts of compromised AWS access keys found in CloudTrail, and their lifecycle. Times are RFC 3339 UTC."
    ),
    paths(
        crate::incidents::list_incidents,
        crate::incidents::get_incident,
        crate::incidents::ack_incident,
        crate::incidents::close_incident,
        crate::incidents::reopen_incident,
        list_alerts,
        get_alert,
        ack_alert,
        close_alert,
        reopen_alert,
        get_key,
        crate::audit::audit_json,
        crate::auth::login,
        crate::auth::logout,
        crate::auth::whoami,
        openapi_json
    ),
    modifiers(&TokenScheme),
    tags(
        (name = "incidents", description = "Incidents: the alerts of one root key or principal, ranked by risk"),
        (name = "alerts", description = "Alerts and their status"),
        (name = "keys", description = "Access keys"),
        (name = "audit", description = "Who changed what, and when (admin)"),
        (name = "session", description = "Signing in and out (servers with authentication)"),
        (name = "meta", description = "This description")
    )
)]
pub struct ApiDoc;

/// The API's routes.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/alerts", get(list_alerts))
        .route("/api/alerts/{id}", get(get_alert))
        .route("/api/alerts/{id}/ack", post_guarded(ack_alert))
        .route("/api/alerts/{id}/close", post_guarded(close_alert))
        .route("/api/alerts/{id}/reopen", post_guarded(reopen_alert))
        .route("/api/keys/{key}", get(get_key))
        .route("/api/incidents", get(crate::incidents::list_incidents))
        .route("/api/incidents/{id}", get(crate::incidents::get_incident))
        .route(
            "/api/incidents/{id}/ack",
            post_guarded(crate::incidents::ack_incident),
        )
        .route(
            "/api/incidents/{id}/close",
            post_guarded(crate::incidents::close_incident),
        )
        .route(
            "/api/incidents/{id}/reopen",
            post_guarded(crate::incidents::reopen_incident),
        )
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/audit", get(crate::audit::audit_json))
        .route("/api/login", post_guarded(crate::auth::login))
        .route("/api/logout", post_guarded(crate::auth::logout))
        .route("/api/whoami", get(crate::auth::whoami))
}
