//! Incidents in the web UI and the API: the ranked list (the UI's first page, `/`), an incident
//! page (`/incidents/{id}`: story, containment, alerts, status form) and `/api/incidents…`.
//!
//! Acknowledging or closing an incident does the same to its alerts
//! (`trailhound_store::incidents::set_incident_status`).

use std::fmt::Write as _;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use trailhound_detect::incident::containment;
use trailhound_report::{Esc, parts};
use trailhound_store::incidents::{self, IncidentFilter};
use trailhound_store::{Status, StoredAlert, StoredIncident};
use utoipa::{IntoParams, ToSchema};

use crate::Shared;
use crate::api::{ApiError, ErrorBody, StatusRequest};
use crate::auth::Caller;
use crate::pages::{Page, PageError, alert_rows, document, status_form};

/// Incidents a list returns when no `limit` is given.
pub const DEFAULT_INCIDENTS: u64 = 100;

/// Filters of the incident list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// Only this status (`open`, `acknowledged`, `closed`, or `all`); default: open and
    /// acknowledged.
    #[param(pattern = "^(|open|acknowledged|ack|closed|all)$")]
    pub status: Option<String>,
    /// At most this many (0 to 500, default 100).
    #[param(pattern = "^(|500|[1-4][0-9]{2}|[1-9][0-9]|[0-9])$")]
    pub limit: Option<String>,
    /// Skip this many first.
    #[param(pattern = "^(|0|[1-9][0-9]{0,14})$")]
    pub offset: Option<String>,
}

impl IncidentQuery {
    fn filter(&self) -> Result<IncidentFilter, ApiError> {
        use crate::params::{self, checked};
        let status = checked(
            "status",
            &self.status,
            params::INCIDENT_STATUS,
            "open, acknowledged, closed or all",
        )?;
        let statuses = match status {
            None => vec![Status::Open, Status::Acknowledged],
            Some("all") => Vec::new(),
            Some(s) => vec![
                s.parse::<Status>()
                    .map_err(|e| ApiError::bad_request(e.to_string()))?,
            ],
        };
        let limit = params::limit(&self.limit, DEFAULT_INCIDENTS)?;
        Ok(IncidentFilter {
            statuses,
            limit: Some(limit),
            offset: params::offset(&self.offset)?,
            ..IncidentFilter::default()
        })
    }
}

/// One incident as the API gives it: its summary and lifecycle (see
/// `trailhound_store::StoredIncident`), flattened.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentJson {
    /// The incident, as stored.
    #[schema(value_type = Object)]
    #[serde(flatten)]
    pub incident: StoredIncident,
    /// Its rank in the list (1: highest risk), when listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<u64>,
}

/// A page of incidents, highest risk first.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentList {
    /// The incidents.
    pub incidents: Vec<IncidentJson>,
    /// The offset of this page.
    pub offset: u64,
}

/// One incident with its alerts.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentDetail {
    /// The incident.
    #[schema(value_type = Object)]
    #[serde(flatten)]
    pub incident: StoredIncident,
    /// Its alerts, by time.
    #[schema(value_type = Vec<Object>)]
    pub alerts: Vec<StoredAlert>,
    /// The AWS CLI commands that contain it.
    pub containment: Vec<String>,
}

fn detail(s: &mut dyn trailhound_store::AlertStore, id: &str) -> Result<IncidentDetail, ApiError> {
    let incident = incidents::get_incident(s, id)?;
    let alerts = incidents::incident_alerts(s, &incident.id)?;
    let containment = containment(
        &incident.summary.root_key,
        &incident.summary.principal,
        alerts.iter().map(|a| &a.alert),
    );
    Ok(IncidentDetail {
        incident,
        alerts,
        containment,
    })
}

/// Lists incidents, highest risk first.
#[utoipa::path(
    get,
    path = "/api/incidents",
    tag = "incidents",
    params(IncidentQuery),
    responses(
        (status = 200, description = "Incidents, highest risk first", body = IncidentList),
        (status = 400, description = "A bad filter", body = ErrorBody),
    )
)]
pub(crate) async fn list_incidents(
    State(state): State<Shared>,
    crate::params::ApiQuery(q): crate::params::ApiQuery<IncidentQuery>,
) -> Result<Json<IncidentList>, ApiError> {
    let filter = q.filter()?;
    let offset = filter.offset;
    let list = state
        .with_store(move |s| s.incidents(&filter).map_err(ApiError::from))
        .await?;
    Ok(Json(IncidentList {
        incidents: list
            .into_iter()
            .enumerate()
            .map(|(i, incident)| IncidentJson {
                incident,
                rank: Some(offset + i as u64 + 1),
            })
            .collect(),
        offset,
    }))
}

/// One incident, with its alerts and containment commands.
#[utoipa::path(
    get,
    path = "/api/incidents/{id}",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident id (or a unique prefix)")),
    responses(
        (status = 200, description = "The incident", body = IncidentDetail),
        (status = 404, description = "No such incident", body = ErrorBody),
    )
)]
pub(crate) async fn get_incident(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<IncidentDetail>, ApiError> {
    Ok(Json(state.with_store(move |s| detail(s, &id)).await?))
}

async fn change(
    state: Shared,
    caller: Caller,
    id: String,
    to: Status,
    body: Result<Json<StatusRequest>, JsonRejection>,
) -> Result<Json<IncidentDetail>, ApiError> {
    let (by, reason) = crate::api::actor_and_reason(&caller, body)?;
    let detail = state
        .with_store(move |s| {
            let inc = incidents::set_incident_status(s, &id, to, &by, reason.as_deref())?;
            detail(s, &inc.id)
        })
        .await?;
    Ok(Json(detail))
}

/// Acknowledges an incident and its open alerts.
#[utoipa::path(
    post,
    path = "/api/incidents/{id}/ack",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident id")),
    request_body = StatusRequest,
    security(("bearer" = []), ("session" = [], "token" = [])),
    responses(
        (status = 200, description = "The incident after the change", body = IncidentDetail),
        (status = 400, description = "No `by`, or a bad body", body = ErrorBody),
        (status = 401, description = "Not signed in (a server with authentication)", body = ErrorBody),
        (status = 403, description = "Refused: no or wrong token, a cross-site request, or a role below triage", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident cannot become acknowledged", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The body is JSON but not a StatusRequest", body = ErrorBody),
    )
)]
pub(crate) async fn ack_incident(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<StatusRequest>, JsonRejection>,
) -> Result<Json<IncidentDetail>, ApiError> {
    change(state, caller, id, Status::Acknowledged, body).await
}

/// Closes an incident and every alert of it not yet closed.
#[utoipa::path(
    post,
    path = "/api/incidents/{id}/close",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident id")),
    request_body = StatusRequest,
    security(("bearer" = []), ("session" = [], "token" = [])),
    responses(
        (status = 200, description = "The incident after the change", body = IncidentDetail),
        (status = 400, description = "No `by`, or a bad body", body = ErrorBody),
        (status = 401, description = "Not signed in (a server with authentication)", body = ErrorBody),
        (status = 403, description = "Refused: no or wrong token, a cross-site request, or a role below triage", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident is already closed", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The body is JSON but not a StatusRequest", body = ErrorBody),
    )
)]
pub(crate) async fn close_incident(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<StatusRequest>, JsonRejection>,
) -> Result<Json<IncidentDetail>, ApiError> {
    change(state, caller, id, Status::Closed, body).await
}

/// Reopens an acknowledged or closed incident (its alerts keep their statuses).
#[utoipa::path(
    post,
    path = "/api/incidents/{id}/reopen",
    tag = "incidents",
    params(("id" = String, Path, description = "The incident id")),
    request_body = StatusRequest,
    security(("bearer" = []), ("session" = [], "token" = [])),
    responses(
        (status = 200, description = "The incident after the change", body = IncidentDetail),
        (status = 400, description = "No `by`, or a bad body", body = ErrorBody),
        (status = 401, description = "Not signed in (a server with authentication)", body = ErrorBody),
        (status = 403, description = "Refused: no or wrong token, a cross-site request, or a role below triage", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The incident is already open", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The body is JSON but not a StatusRequest", body = ErrorBody),
    )
)]
pub(crate) async fn reopen_incident(
    State(state): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Result<Json<StatusRequest>, JsonRejection>,
) -> Result<Json<IncidentDetail>, ApiError> {
    change(state, caller, id, Status::Open, body).await
}

/// What the last hunt read: files, events, and the input it could not read, by kind (empty
/// files, symlink loops, permission errors, vanished files, truncated gzip, …), so that nobody
/// takes the incidents for the whole story when input was missing.
fn last_run(run: Option<&(trailhound_model::Timestamp, serde_json::Value)>) -> String {
    let Some((at, summary)) = run else {
        return String::new();
    };
    let n = |k: &str| summary[k].as_u64().unwrap_or(0);
    let mut out = format!(
        r#"<section class="card last-run" data-testid="last-run"><p>Last hunt {}: {} files, {} events."#,
        Esc(&trailhound_model::format_rfc3339(*at)[..16].replace('T', " ")),
        n("files"),
        n("events")
    );
    match summary["issues_by_kind"]
        .as_object()
        .filter(|m| !m.is_empty())
    {
        None => out.push_str(" All input was read.</p>"),
        Some(kinds) => {
            out.push_str(r#" <b class="bad-input">Bad input</b>: "#);
            let list: Vec<String> = kinds
                .iter()
                .map(|(k, v)| {
                    format!(
                        r#"<span data-testid="bad-input-kind" data-kind="{0}">{0}: {1}</span>"#,
                        Esc(k),
                        v.as_u64().unwrap_or(0)
                    )
                })
                .collect();
            out.push_str(&list.join(", "));
            out.push_str(
                ". Run <code>trailhound hunt --stats FILE</code> for the files and records.</p>",
            );
        }
    }
    out.push_str("</section>");
    out
}

/// Where alert delivery stands, when a target has alerts it could not deliver yet or at all:
/// an undelivered alert is an alert nobody was told about.
fn deliveries(targets: &[trailhound_store::outbox::TargetSummary]) -> String {
    let stuck: Vec<_> = targets
        .iter()
        .filter(|t| t.expired > 0 || t.pending > 0)
        .collect();
    if stuck.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        r#"<section class="card last-run" data-testid="deliveries"><p><b class="bad-input">Alert delivery</b>: "#,
    );
    let list: Vec<String> = stuck
        .iter()
        .map(|t| {
            format!(
                r#"<span data-testid="delivery-target" data-target="{0}" data-undeliverable="{1}" data-pending="{2}">{0}: {1} undeliverable, {2} pending{3}</span>"#,
                Esc(&t.target),
                t.expired,
                t.pending,
                t.last_error
                    .as_deref()
                    .map(|e| format!(" (last error: {})", Esc(e)))
                    .unwrap_or_default()
            )
        })
        .collect();
    out.push_str(&list.join("; "));
    out.push_str(
        ". See <code>trailhound alerts deliveries</code>; undeliverable alerts are in this store but reached nobody.</p></section>",
    );
    out
}

/// The link of an incident page.
pub(crate) fn incident_href(id: &str) -> String {
    format!("/incidents/{}", utf8_percent_encode(id, NON_ALPHANUMERIC))
}

/// The web UI's first page: incidents, highest risk first.
pub(crate) async fn list_page(
    State(state): State<Shared>,
    Query(q): Query<IncidentQuery>,
) -> Response {
    let filter = match q.filter() {
        Ok(f) => f,
        Err(e) => return PageError::from(e).into_response(),
    };
    let offset = filter.offset;
    let (list, blind, run, outbox) = match state
        .with_store(move |s| {
            Ok::<_, ApiError>((
                s.incidents(&filter)?,
                s.blind_periods()?,
                trailhound_store::runs::last(s, "hunt")?,
                trailhound_store::outbox::summary(s)?,
            ))
        })
        .await
    {
        Ok(l) => l,
        Err(e) => return PageError::from(e).into_response(),
    };
    let mut main = String::from(r#"<section class="card">"#);
    main.push_str(r#"<nav class="pager" data-testid="incident-filters"><a href="/">Open and acknowledged</a><a href="/?status=open">Open</a><a href="/?status=closed">Closed</a><a href="/?status=all">All</a></nav>"#);
    if list.is_empty() {
        main.push_str(r#"<p class="all-clear" data-testid="no-incidents">No incidents. Alerts of low severity alone open none; see <a href="/alerts">every alert</a>.</p>"#);
    } else {
        main.push_str(r#"<div class="table-wrap"><table class="keys incidents-table" data-testid="incident-list"><thead><tr><th class="num">#</th><th class="num">Risk</th><th>Severity</th><th>Status</th><th>Key or principal, and what happened</th><th class="num">Alerts</th></tr></thead><tbody>"#);
        for (n, i) in list.iter().enumerate() {
            let s = &i.summary;
            let rank = offset + n as u64 + 1;
            let _ = write!(
                main,
                r#"<tr data-testid="incident-row" data-rank="{rank}" data-subject="{}" data-risk="{}"><td class="num">{rank}</td><td class="num"><b>{}</b></td><td>{}</td><td>{}</td><td><a class="mono" href="{}">{}</a>{}</td><td class="num">{}</td></tr>"#,
                Esc(&s.subject),
                s.risk_score,
                s.risk_score,
                parts::severity_badge(s.severity),
                parts::status_badge(i.status.as_str()),
                Esc(&incident_href(&i.id)),
                Esc(&s.who()),
                parts::incident_story(s),
                parts::incident_alert_count(s),
            );
        }
        main.push_str("</tbody></table></div>");
    }
    main.push_str("</section>");
    main.push_str(&last_run(run.as_ref()));
    main.push_str(&deliveries(&outbox));
    main.push_str(&parts::blind_periods(&blind));
    let sub = format!(
        "{} incident{}, highest risk first. An incident is the alerts of one long-term key (with the sessions it minted) or one principal.",
        list.len(),
        if list.len() == 1 { "" } else { "s" }
    );
    Html(document(
        &Page {
            title: "Incidents",
            token: Some(&state.settings().token),
            kicker: "Alert store",
            heading: "Incidents",
            sub: &Esc(&sub).to_string(),
        },
        &main,
    ))
    .into_response()
}

/// An incident: its story and facts, containment, status form, alerts.
pub(crate) async fn incident_page(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let d = match state.with_store(move |s| detail(s, &id)).await {
        Ok(d) => d,
        Err(e) => return PageError::from(e).into_response(),
    };
    let i = &d.incident;
    let s = &i.summary;
    let mut main = String::new();
    let _ = write!(
        main,
        r#"<section class="card" data-testid="incident"><p class="story" data-testid="incident-story">{}</p><dl class="facts"><div><dt>Risk</dt><dd>{}</dd></div><div><dt>Severity</dt><dd>{}</dd></div><div><dt>Status</dt><dd>{}</dd></div><div><dt>Alerts</dt><dd>{}</dd></div><div><dt>Countries</dt><dd>{}</dd></div><div><dt>Keys</dt><dd class="mono">{}</dd></div></dl>"#,
        Esc(&s.story),
        s.risk_score,
        parts::severity_badge(s.severity),
        parts::status_badge(i.status.as_str()),
        s.alert_count,
        Esc(&s.countries.join(" ")),
        Esc(&s.access_key_ids.join(" ")),
    );
    if !d.containment.is_empty() {
        let commands: Vec<&str> = d.containment.iter().map(String::as_str).collect();
        main.push_str(&parts::remediation("incident", &commands));
    }
    let _ = write!(
        main,
        r#"<p class="small muted" data-testid="timeline-hint">Every event: <code>trailhound timeline PATH... {} {}</code>{}</p>"#,
        if s.root_key.is_empty() {
            "--principal"
        } else {
            "--key"
        },
        Esc(if s.root_key.is_empty() {
            &s.principal
        } else {
            &s.root_key
        }),
        if s.root_key.is_empty() {
            String::new()
        } else {
            format!(
                r#" · <a href="{}">key page with charts</a>"#,
                Esc(&crate::pages::key_href(&s.root_key))
            )
        }
    );
    status_form(
        &mut main,
        &format!(
            "/api/incidents/{}",
            utf8_percent_encode(&i.id, NON_ALPHANUMERIC)
        ),
        i.status,
    );
    main.push_str("</section><section class=\"card\"><h2>Alerts</h2>");
    let rows: Vec<&StoredAlert> = d.alerts.iter().collect();
    alert_rows(&mut main, &rows);
    main.push_str("</section>");
    let heading = Esc(&s.who()).to_string();
    Html(document(
        &Page {
            title: "Incident",
            token: Some(&state.settings().token),
            kicker: "Incident",
            heading: &heading,
            sub: &Esc(&format!("Incident {}", i.id)).to_string(),
        },
        &main,
    ))
    .into_response()
}
