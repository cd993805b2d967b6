//! The audit log in the web UI (`/audit`) and the API (`/api/audit`): who changed which alert,
//! incident, user or token, and when (admin role; see [`trailhound_store::access::audit`]).

use std::fmt::Write as _;

use axum::Json;
use axum::extract::{Query, State};
use axum::response::Html;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use trailhound_model::format_rfc3339;
use trailhound_report::Esc;
use trailhound_store::access::{self, AuditEntry};
use utoipa::{IntoParams, ToSchema};

use crate::Shared;
use crate::api::{ApiError, ErrorBody};
use crate::pages::{Page, PageError, document};

/// Lines a page of the log shows when no `limit` is given.
pub const DEFAULT_AUDIT: u64 = 200;

/// Paging of the audit log.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// At most this many lines (0 to 500; default 200).
    #[param(pattern = "^(|500|[1-4][0-9]{2}|[1-9][0-9]|[0-9])$")]
    pub limit: Option<String>,
    /// Skip this many lines first.
    #[param(pattern = "^(|0|[1-9][0-9]{0,14})$")]
    pub offset: Option<String>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditLine {
    /// When (RFC 3339 UTC).
    pub at: String,
    /// Who: a user, `cli:NAME` for the command line, `trailhound watch` for superseded alerts.
    pub actor: String,
    /// What: `alert.closed`, `incident.acknowledged`, `user.added`, `token.revoked`, ...
    pub action: String,
    /// On what: an alert or incident id, a user name, a token id.
    pub target: String,
    /// Why, or what changed.
    pub detail: Option<String>,
}

impl From<AuditEntry> for AuditLine {
    fn from(e: AuditEntry) -> Self {
        AuditLine {
            at: format_rfc3339(e.at),
            actor: e.actor,
            action: e.action,
            target: e.target,
            detail: e.detail,
        }
    }
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// The lines.
    pub entries: Vec<AuditLine>,
}

async fn read(state: &Shared, q: AuditQuery) -> Result<Vec<AuditEntry>, ApiError> {
    let limit = crate::params::limit(&q.limit, DEFAULT_AUDIT)?;
    let offset = crate::params::offset(&q.offset)?;
    state
        .with_store(move |s| Ok::<_, ApiError>(access::audit(s, limit, offset)?))
        .await
}

/// The audit log, newest first: status changes of alerts and incidents, and changes to users
/// and tokens.
#[utoipa::path(
    get,
    path = "/api/audit",
    tag = "audit",
    params(AuditQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The log", body = AuditPage),
        (status = 400, description = "A bad limit", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "A role below admin", body = ErrorBody),
    )
)]
pub(crate) async fn audit_json(
    State(state): State<Shared>,
    crate::params::ApiQuery(q): crate::params::ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    Ok(Json(AuditPage {
        entries: read(&state, q)
            .await?
            .into_iter()
            .map(AuditLine::from)
            .collect(),
    }))
}

/// The audit log page.
pub(crate) async fn audit_page(
    State(state): State<Shared>,
    Query(q): Query<AuditQuery>,
) -> Result<Html<String>, PageError> {
    let entries = read(&state, q).await.map_err(PageError::from)?;
    let mut main = String::from(
        r#"<section class="wrap"><table class="alerts" data-testid="audit"><thead><tr><th>When</th><th>Who</th><th>What</th><th>On</th><th>Detail</th></tr></thead><tbody>"#,
    );
    for e in &entries {
        // Alerts and incidents link to their pages.
        let page = match e.action.split_once('.') {
            Some(("alert", _)) => Some("alerts"),
            Some(("incident", _)) => Some("incidents"),
            _ => None,
        };
        let on = match page {
            Some(p) => format!(
                r#"<a href="/{p}/{}">{}</a>"#,
                utf8_percent_encode(&e.target, NON_ALPHANUMERIC),
                Esc(&e.target)
            ),
            None => Esc(&e.target).to_string(),
        };
        let _ = write!(
            main,
            r#"<tr data-testid="audit-row"><td class="mono">{}</td><td>{}</td><td>{}</td><td class="mono">{on}</td><td>{}</td></tr>"#,
            Esc(&format_rfc3339(e.at)[..19]),
            Esc(&e.actor),
            Esc(&e.action),
            Esc(e.detail.as_deref().unwrap_or(""))
        );
    }
    main.push_str("</tbody></table></section>");
    let sub = format!("{} most recent changes", entries.len());
    Ok(Html(document(
        &Page {
            title: "Audit log",
            token: None,
            kicker: "Who changed what",
            heading: "Audit log",
            sub: &sub,
        },
        &main,
    )))
}
