//! The HTML pages: the alert list (`/`), an alert (`/alerts/{id}`) and an access key
//! (`/keys/{key}`), and their static assets (`/static/`).
//!
//! Pages are built on the server from `trailhound-report`'s pieces (charts, evidence, badges,
//! style sheet) and contain no inline script or style: the Content-Security-Policy allows only
//! the server's own `/static/` files. Every string that came from a log goes through
//! [`Esc`]; every URL built from one is percent-encoded first.

use std::collections::HashSet;
use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use trailhound_detect::{Alert, Severity};
use trailhound_model::DAY;
use trailhound_report::parts::{self, KeyCharts, Links};
use trailhound_report::{Esc, activity_from_alerts};
use trailhound_store::{AlertFilter, AlertStore, Status, StatusChange, StoredAlert};

use crate::Shared;
use crate::api::{self, ApiError, DEFAULT_LIMIT, ListQuery, MAX_KEY_ALERTS, key_summary};

/// The pages' own style sheet (on top of the report's).
const WEB_CSS: &str = include_str!("assets/web.css");
/// The pages' script: status changes, the remembered name, copy buttons.
const WEB_JS: &str = include_str!("assets/web.js");

/// Characters left as they are in a path segment or query value.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

/// Alerts of the key around an alert (either side) drawn on the alert page.
const ALERT_PAGE_SPAN: i64 = 30 * DAY;
/// Rows of the alerts table of a key page (the most recent).
const KEY_PAGE_ROWS: usize = 500;
/// Alert ids found in a D5 alert's details that its page reads to list them.
const MAX_SIBLINGS: usize = 100;

/// What the charts of the pages are drawn from (shown under the first chart).
const CHART_NOTE: &str = "Drawn from the alert store: unauthorized calls per hour are the counts of the key's D4 alerts (every hour with an unauthorized call has one), and the countries and addresses are those of its alerts' evidence, in the hour each alert's evidence starts.";

/// The link of an alert page.
pub(crate) fn alert_href(id: &str) -> String {
    format!("/alerts/{}", utf8_percent_encode(id, COMPONENT))
}

/// The link of a key page.
pub(crate) fn key_href(key: &str) -> String {
    format!("/keys/{}", utf8_percent_encode(key, COMPONENT))
}

/// An error shown as a page.
pub(crate) struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = self.0.status.canonical_reason().unwrap_or("Error");
        let mut main = String::new();
        let _ = write!(
            main,
            r#"<section class="card" data-testid="error"><h2>{}</h2><p>{}</p><p><a href="/">Back to the incidents</a></p></section>"#,
            Esc(title),
            Esc(&self.0.message)
        );
        let html = document(
            &Page {
                title,
                token: None,
                kicker: "Trailhound",
                heading: &Esc(title).to_string(),
                sub: "",
            },
            &main,
        );
        (self.0.status, Html(html)).into_response()
    }
}

/// The frame of a page.
pub(crate) struct Page<'a> {
    /// The `<title>` (plain text).
    pub title: &'a str,
    /// The server's token, for pages that change state.
    pub token: Option<&'a str>,
    /// The small line above the heading (plain text).
    pub kicker: &'a str,
    /// The heading (HTML).
    pub heading: &'a str,
    /// The line under the heading (HTML).
    pub sub: &'a str,
}

pub(crate) fn document(p: &Page, main: &str) -> String {
    let mut out = String::with_capacity(main.len() + 2048);
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="Trailhound {}">
"#,
        env!("CARGO_PKG_VERSION")
    );
    if let Some(t) = p.token {
        let _ = writeln!(
            out,
            r#"<meta name="trailhound-token" content="{}">"#,
            Esc(t)
        );
    }
    let _ = write!(
        out,
        r#"<title>{} · Trailhound</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/report.css">
<link rel="stylesheet" href="/static/web.css">
<script src="/static/report.js" defer></script>
<script src="/static/web.js" defer></script>
</head>
<body><header class="page"><div class="wrap"><nav class="top"><a class="brand" href="/">Trailhound</a><a href="/">Incidents</a><a href="/alerts">Alerts</a><a href="/alerts?status=open">Open alerts</a><a href="/api/openapi.json">API</a></nav><div class="kicker">{}</div><h1>{}</h1><p class="sub">{}</p></div></header>
<main>{main}</main>
<footer class="page-foot"><div class="wrap"><p>Trailhound {} · a local web UI over the alert store. IP Geolocation by <a href="https://db-ip.com" rel="noopener noreferrer">DB-IP</a> (CC BY 4.0).</p></div></footer>
</body></html>
"#,
        Esc(p.title),
        Esc(p.kicker),
        p.heading,
        p.sub,
        env!("CARGO_PKG_VERSION")
    );
    out
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `text` cut to `n` characters, with an ellipsis when cut.
fn cut(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// The status form of an alert or incident page: who, why, and a button per allowed change,
/// each posting to `{base}/{action}` (see `assets/web.js`).
pub(crate) fn status_form(main: &mut String, base: &str, status: Status) {
    let _ = write!(
        main,
        r#"<form class="status-form" id="status-form" data-testid="status-form"><label>By<input id="status-by" name="by" maxlength="{}" autocomplete="name" placeholder="your name" required></label><label class="grow">Reason<textarea id="status-reason" name="reason" maxlength="{}" rows="2" placeholder="why (recorded in the audit trail)"></textarea></label><div class="buttons">"#,
        api::MAX_BY_CHARS,
        api::MAX_REASON_CHARS
    );
    for (to, action, label) in [
        (Status::Acknowledged, "ack", "Acknowledge"),
        (Status::Closed, "close", "Close"),
        (Status::Open, "reopen", "Reopen"),
    ] {
        if status.can_become(to) {
            let _ = write!(
                main,
                r#"<button type="button" data-action="{action}" data-url="{}/{action}">{label}</button>"#,
                Esc(base)
            );
        }
    }
    main.push_str(
        r#"</div><p class="form-error" id="status-error" role="alert" hidden></p></form>"#,
    );
}

/// The rows of an alerts table.
pub(crate) fn alert_rows(out: &mut String, alerts: &[&StoredAlert]) {
    out.push_str(
        r#"<div class="table-wrap"><table class="alerts-table list" data-testid="alert-list"><colgroup><col class="c-time"><col class="c-sev"><col class="c-status"><col><col class="c-key"><col class="c-count"><col class="c-from"></colgroup><thead><tr><th>Time (UTC)</th><th>Severity</th><th>Status</th><th>Rule and why</th><th>Access key</th><th class="num">Events</th><th>From</th></tr></thead><tbody>"#,
    );
    for s in alerts {
        let a = &s.alert;
        let href = alert_href(&a.id);
        let time = parts::format_time(a.time);
        let _ = write!(
            out,
            r#"<tr data-testid="alert-row" data-id="{}" data-status="{}"><td class="when"><a href="{}"><span class="date">{}</span> <span class="clock">{}</span></a></td><td>{}</td><td>{}</td><td><div class="rule">{}<a href="{}"><b>{}{}</b></a></div><div class="why">{}</div></td><td><a class="mono" href="{}">{}</a></td><td class="num">{}</td><td>"#,
            Esc(&a.id),
            s.status,
            Esc(&href),
            time.get(..10).unwrap_or(&time),
            time.get(11..).unwrap_or(""),
            parts::severity_badge(a.severity),
            parts::status_badge(s.status.as_str()),
            parts::rule_icon(&a.rule_id, a.severity),
            Esc(&href),
            match parts::rule_code(&a.rule_id) {
                "" => String::new(),
                code => format!("{code} · "),
            },
            Esc(&a.rule_name),
            Esc(&cut(&a.why, 220)),
            Esc(&key_href(&a.access_key_id)),
            Esc(if a.access_key_id.is_empty() {
                "(no key)"
            } else {
                &a.access_key_id
            }),
            a.count
        );
        for ip in a.source_ips.iter().take(3) {
            let _ = write!(out, r#"<div class="mono">{}</div>"#, Esc(ip));
        }
        if a.source_ips.len() > 3 {
            let _ = write!(
                out,
                r#"<div class="muted">+{} more</div>"#,
                a.source_ips.len() - 3
            );
        }
        if !a.countries.is_empty() {
            let _ = write!(
                out,
                r#"<div class="muted">{}</div>"#,
                Esc(&a.countries.join(" "))
            );
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table></div>");
}

/// The query string of a list page: the filters given, then `extra`.
fn list_query(q: &ListQuery, extra: &[(&str, String)]) -> String {
    let mut pairs: Vec<(&str, &str)> = [
        ("rule", &q.rule),
        ("severity", &q.severity),
        ("status", &q.status),
        ("key", &q.key),
        ("since", &q.since),
        ("until", &q.until),
        ("limit", &q.limit),
    ]
    .into_iter()
    .filter_map(|(k, v)| {
        v.as_deref()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (k, v))
    })
    .collect();
    pairs.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
    let mut s = String::from("/alerts?");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push('&');
        }
        let _ = write!(s, "{k}={}", utf8_percent_encode(v, COMPONENT));
    }
    s
}

fn select(out: &mut String, name: &str, label: &str, current: Option<&str>, options: &[&str]) {
    let current = current.unwrap_or("").trim().to_ascii_lowercase();
    let _ = write!(
        out,
        r#"<label>{label}<select name="{name}"><option value="">any</option>"#
    );
    for o in options {
        let _ = write!(
            out,
            r#"<option value="{o}"{}>{o}</option>"#,
            if current == *o { " selected" } else { "" }
        );
    }
    out.push_str("</select></label>");
}

fn text_input(out: &mut String, name: &str, label: &str, value: Option<&str>, hint: &str) {
    let _ = write!(
        out,
        r#"<label>{label}<input name="{name}" value="{}" placeholder="{}" autocomplete="off"{}></label>"#,
        Esc(value.unwrap_or("")),
        Esc(hint),
        if name == "rule" {
            r#" list="rule-ids""#
        } else {
            ""
        }
    );
}

fn filter_form(out: &mut String, q: &ListQuery) {
    out.push_str(r#"<form class="filters" method="get" action="/alerts" data-testid="filters">"#);
    text_input(out, "rule", "Rule", q.rule.as_deref(), "any rule id");
    out.push_str(r#"<datalist id="rule-ids">"#);
    let higher = trailhound_detect::correlation::RULE_ID;
    for id in trailhound_detect::rules()
        .iter()
        .map(|r| r.id)
        .chain(std::iter::once(higher))
    {
        let _ = write!(out, r#"<option value="{id}">"#);
    }
    out.push_str("</datalist>");
    select(
        out,
        "severity",
        "Severity",
        q.severity.as_deref(),
        &["critical", "high", "medium", "low"],
    );
    select(
        out,
        "status",
        "Status",
        q.status.as_deref(),
        &["open", "acknowledged", "closed"],
    );
    text_input(out, "key", "Access key", q.key.as_deref(), "AKIA…");
    text_input(
        out,
        "since",
        "Since",
        q.since.as_deref(),
        "2026-01-12 or 7d",
    );
    text_input(out, "until", "Until", q.until.as_deref(), "same forms");
    if let Some(l) = q.limit.as_deref().filter(|l| !l.trim().is_empty()) {
        let _ = write!(
            out,
            r#"<input type="hidden" name="limit" value="{}">"#,
            Esc(l)
        );
    }
    out.push_str(r#"<div class="buttons"><button type="submit">Filter</button><a href="/alerts">Clear</a></div></form>"#);
}

/// `/`: the alert list with its filters.
async fn list(State(state): State<Shared>, Query(q): Query<ListQuery>) -> Response {
    let mut main = String::from(r#"<section class="card">"#);
    filter_form(&mut main, &q);
    let filter = match q.filter() {
        Ok(f) => f,
        Err(e) => {
            let _ = write!(
                main,
                r#"<p class="form-error" role="alert" data-testid="filter-error">{}</p></section>"#,
                Esc(&e.message)
            );
            return (e.status, Html(list_document(&state, &main, ""))).into_response();
        }
    };
    let (limit, offset) = (filter.limit.unwrap_or(DEFAULT_LIMIT), filter.offset);
    let f = filter.clone();
    let page = state
        .with_store(move |s| api::list_page(s, &f).map_err(ApiError::from))
        .await;
    let (alerts, more) = match page {
        Ok(p) => p,
        Err(e) => return PageError(e).into_response(),
    };
    let sub = if alerts.is_empty() {
        "No alerts match.".to_owned()
    } else {
        format!(
            "Alerts {}–{}{}, oldest first.",
            offset + 1,
            offset + alerts.len() as u64,
            if more { "" } else { " (the last)" }
        )
    };
    let _ = write!(
        main,
        r#"<p class="muted" data-testid="list-range">{sub}</p>"#
    );
    if !alerts.is_empty() {
        let rows: Vec<&StoredAlert> = alerts.iter().collect();
        alert_rows(&mut main, &rows);
    }
    main.push_str(r#"<nav class="pager">"#);
    if offset > 0 {
        let prev = offset.saturating_sub(limit);
        let _ = write!(
            main,
            r#"<a href="{}" rel="prev">← Previous</a>"#,
            Esc(&list_query(&q, &[("offset", prev.to_string())]))
        );
    }
    if more {
        let _ = write!(
            main,
            r#"<a href="{}" rel="next" data-testid="next-page">Next →</a>"#,
            Esc(&list_query(
                &q,
                &[("offset", (offset + alerts.len() as u64).to_string())]
            ))
        );
    }
    main.push_str("</nav></section>");
    Html(list_document(&state, &main, &Esc(&sub).to_string())).into_response()
}

fn list_document(state: &Shared, main: &str, sub: &str) -> String {
    document(
        &Page {
            title: "Alerts",
            token: Some(&state.settings().token),
            kicker: "Alert store",
            heading: "Alerts",
            sub,
        },
        main,
    )
}

/// Strings of 32 hex digits found anywhere in `v` (alert ids listed in D5 details).
fn alert_ids_in(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s)
            if s.len() == 32
                && s.bytes().all(|b| b.is_ascii_hexdigit())
                && out.len() < MAX_SIBLINGS
                && !out.contains(s) =>
        {
            out.push(s.clone());
        }
        serde_json::Value::Array(xs) => xs.iter().for_each(|x| alert_ids_in(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| alert_ids_in(x, out)),
        _ => {}
    }
}

/// What the alert page shows: the alert, its history, and the alerts around it (the key's, and
/// those its details list).
struct AlertData {
    stored: StoredAlert,
    history: Vec<StatusChange>,
    related: Vec<(Alert, String)>,
    responses: Vec<trailhound_store::outbox::Response>,
}

fn read_alert(store: &mut dyn AlertStore, id: &str) -> Result<AlertData, ApiError> {
    let stored = store
        .get(id)?
        .ok_or_else(|| ApiError::not_found(format!("no alert with id {id:?}")))?;
    let history = store.history(id)?;
    let a = &stored.alert;
    let near = store.list(&AlertFilter {
        access_key_id: Some(a.access_key_id.clone()),
        since: Some(a.time.saturating_sub(ALERT_PAGE_SPAN)),
        until: Some(a.time.saturating_add(ALERT_PAGE_SPAN + 1)),
        limit: Some(MAX_KEY_ALERTS),
        ..AlertFilter::default()
    })?;
    let mut related: Vec<(Alert, String)> = near
        .into_iter()
        .map(|s| (s.alert, s.status.as_str().to_owned()))
        .collect();
    let mut known: HashSet<String> = related.iter().map(|(a, _)| a.id.clone()).collect();
    let mut ids = Vec::new();
    alert_ids_in(&a.details, &mut ids);
    for sid in ids {
        if known.insert(sid.clone())
            && let Some(s) = store.get(&sid)?
        {
            related.push((s.alert, s.status.as_str().to_owned()));
        }
    }
    let responses = trailhound_store::outbox::responses(&*store, &stored.alert.id)?;
    Ok(AlertData {
        stored,
        history,
        related,
        responses,
    })
}

fn link_alert(id: &str) -> String {
    alert_href(id)
}

/// `/alerts/{id}`: one alert, its status and the form to change it, its key's charts, its
/// evidence.
async fn alert_page(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let AlertData {
        stored,
        history,
        related,
        responses,
    } = state.with_store(move |s| read_alert(s, &id)).await?;
    let a = &stored.alert;
    let mut main = String::new();
    // Status.
    main.push_str(r#"<section class="card" data-testid="alert-status"><h2>Status</h2><p class="status-line">"#);
    main.push_str(&parts::status_badge(stored.status.as_str()));
    if let (Some(by), Some(at)) = (&stored.status_by, stored.status_at) {
        let _ = write!(
            main,
            r#" <span class="muted">by</span> <b>{}</b> <span class="muted">at {}</span>"#,
            Esc(by),
            parts::format_time(at)
        );
    }
    if let Some(r) = &stored.status_reason {
        let _ = write!(
            main,
            r#"<span class="reason" data-testid="status-reason">{}</span>"#,
            Esc(r)
        );
    }
    main.push_str("</p>");
    status_form(
        &mut main,
        &format!("/api/alerts/{}", utf8_percent_encode(&a.id, COMPONENT)),
        stored.status,
    );
    if !history.is_empty() {
        main.push_str(r#"<h3>History</h3><div class="table-wrap"><table class="sub" data-testid="status-history"><thead><tr><th>When (UTC)</th><th>Change</th><th>By</th><th>Reason</th></tr></thead><tbody>"#);
        for h in &history {
            let _ = write!(
                main,
                "<tr><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
                parts::format_time(h.at),
                h.from,
                h.to,
                Esc(&h.by),
                Esc(h.reason.as_deref().unwrap_or(""))
            );
        }
        main.push_str("</tbody></table></div>");
    }
    if !responses.is_empty() {
        main.push_str(r#"<h3>Response</h3><div class="table-wrap"><table class="sub" data-testid="responses"><thead><tr><th>When (UTC)</th><th>Action</th><th>On</th><th>Outcome</th><th>By</th></tr></thead><tbody>"#);
        for r in &responses {
            let _ = write!(
                main,
                r#"<tr data-testid="response" data-action="{}" data-outcome="{}"><td>{}</td><td>{}</td><td class="mono">{}</td><td>{}</td><td>{}</td></tr>"#,
                Esc(&r.action),
                Esc(&r.outcome),
                parts::format_time(r.at),
                Esc(&r.action),
                Esc(&r.target),
                if r.dry_run {
                    "dry run (commands printed, nothing changed)".to_owned()
                } else {
                    Esc(&r.outcome).to_string()
                },
                Esc(&r.actor)
            );
        }
        main.push_str("</tbody></table></div>");
    }
    main.push_str("</section>");
    // Why, remediation, MITRE.
    let _ = write!(
        main,
        r#"<section class="card" data-testid="why"><h2>Why</h2><p class="why-text">{}</p>"#,
        Esc(&a.why)
    );
    if !a.remediation.is_empty() {
        main.push_str(&parts::remediation("alert", &[a.remediation.as_str()]));
    }
    if !a.mitre.is_empty() {
        let _ = write!(
            main,
            r#"<div class="mitre-list"><span class="mini-label">MITRE ATT&amp;CK</span>{}</div>"#,
            parts::mitre_chips(&a.mitre)
        );
    }
    main.push_str("</section>");
    // Charts of the key.
    let of_key: Vec<&Alert> = related
        .iter()
        .map(|(x, _)| x)
        .filter(|x| x.access_key_id == a.access_key_id)
        .collect();
    let activity = activity_from_alerts(&a.access_key_id, of_key.iter().copied());
    let _ = write!(
        main,
        r#"<section class="card key sev-border-{}" data-testid="charts"><h2>The key's alerts around this one</h2><p class="muted">Alerts of <a class="mono" href="{}">{}</a> within 30 days either side; the shaded hours are this alert's.</p>"#,
        a.severity.as_str(),
        Esc(&key_href(&a.access_key_id)),
        Esc(&a.access_key_id)
    );
    main.push_str(&parts::key_charts(&KeyCharts {
        key: &a.access_key_id,
        alerts: &related,
        activity: activity.as_ref(),
        links: Links::Pages(&link_alert),
        focus_alert: Some(&a.id),
        note: Some(CHART_NOTE),
    }));
    main.push_str("</section>");
    // Evidence.
    main.push_str(r#"<section class="card" data-testid="evidence"><h2>Evidence</h2>"#);
    main.push_str(&parts::alert_evidence(
        a,
        &related,
        Links::Pages(&link_alert),
    ));
    main.push_str("</section>");
    let heading = format!(
        "{}{}",
        match parts::rule_code(&a.rule_id) {
            "" => String::new(),
            code => format!("{code} · "),
        },
        Esc(&a.rule_name)
    );
    let sub = format!(
        r#"{} · {} · key <a class="mono" href="{}">{}</a> · {} event{} · <span class="mono">{}</span>"#,
        parts::severity_badge(a.severity),
        parts::format_time(a.time),
        Esc(&key_href(&a.access_key_id)),
        Esc(&a.access_key_id),
        a.count,
        if a.count == 1 { "" } else { "s" },
        Esc(&a.id)
    );
    Ok(Html(document(
        &Page {
            title: &format!("{} ({})", a.rule_name, stored.status),
            token: Some(&state.settings().token),
            kicker: "Alert",
            heading: &heading,
            sub: &sub,
        },
        &main,
    ))
    .into_response())
}

fn seen_table(
    out: &mut String,
    testid: &str,
    title: &str,
    what: &str,
    rows: &[api::ValueSeen],
    country: bool,
) {
    let _ = write!(
        out,
        r#"<h3>{title} ({})</h3><div class="table-wrap"><table class="sub" data-testid="{testid}"><thead><tr><th>{what}</th>{}<th class="num">Alerts</th><th>First seen</th><th>Last seen</th></tr></thead><tbody>"#,
        rows.len(),
        if country { "<th>Country</th>" } else { "" }
    );
    if rows.is_empty() {
        let cols = if country { 5 } else { 4 };
        let _ = write!(
            out,
            r#"<tr><td colspan="{cols}" class="muted">none</td></tr>"#
        );
    }
    for r in rows {
        let _ = write!(
            out,
            r#"<tr><td><code class="item">{}</code></td>"#,
            Esc(&r.value)
        );
        if country {
            let _ = write!(out, "<td>{}</td>", Esc(r.country.as_deref().unwrap_or("")));
        }
        let _ = write!(
            out,
            r#"<td class="num">{}</td><td class="nowrap">{}</td><td class="nowrap">{}</td></tr>"#,
            r.alerts,
            Esc(&r.first_seen),
            Esc(&r.last_seen)
        );
    }
    out.push_str("</tbody></table></div>");
}

/// `/keys/{key}`: what the store knows about one access key.
async fn key_page(
    State(state): State<Shared>,
    Path(key): Path<String>,
) -> Result<Response, PageError> {
    let k = key.clone();
    let (alerts, truncated) = state
        .with_store(move |s| api::key_alerts(s, &k).map_err(ApiError::from))
        .await?;
    let summary = key_summary(&key, &alerts, truncated)
        .ok_or_else(|| ApiError::not_found(format!("no alert of access key {key:?}")))?;
    let worst = alerts
        .iter()
        .map(|s| s.alert.severity)
        .max()
        .unwrap_or(Severity::Low);
    let mut main = String::new();
    let _ = write!(
        main,
        r#"<section class="card key sev-border-{}" data-testid="key-facts"><dl class="facts">"#,
        worst.as_str()
    );
    let fact = |out: &mut String, k: &str, v: &str| {
        let _ = write!(out, "<div><dt>{}</dt><dd>{}</dd></div>", Esc(k), Esc(v));
    };
    fact(&mut main, "Alerts", &summary.alerts.to_string());
    fact(&mut main, "Open", &summary.by_status.open.to_string());
    fact(
        &mut main,
        "Acknowledged",
        &summary.by_status.acknowledged.to_string(),
    );
    fact(&mut main, "Closed", &summary.by_status.closed.to_string());
    fact(
        &mut main,
        "Alerts from",
        &format!("{} → {}", summary.first_alert, summary.last_alert),
    );
    fact(&mut main, "Countries", &summary.countries.len().to_string());
    fact(
        &mut main,
        "Source IPs",
        &summary.source_ips.len().to_string(),
    );
    fact(
        &mut main,
        "User agents",
        &summary.user_agents.len().to_string(),
    );
    main.push_str("</dl>");
    if truncated {
        let _ = write!(
            main,
            r#"<p class="warn">This key has more than {MAX_KEY_ALERTS} alerts: only the first {MAX_KEY_ALERTS} are summarised.</p>"#
        );
    }
    let mut remedies: Vec<&str> = alerts
        .iter()
        .map(|s| s.alert.remediation.as_str())
        .filter(|r| !r.is_empty())
        .collect();
    remedies.sort_unstable();
    remedies.dedup();
    if !remedies.is_empty() {
        main.push_str(&parts::remediation("key", &remedies));
    }
    let mut mitre: Vec<String> = alerts
        .iter()
        .flat_map(|s| s.alert.mitre.iter().cloned())
        .collect();
    mitre.sort();
    mitre.dedup();
    if !mitre.is_empty() {
        let _ = write!(
            main,
            r#"<div class="mitre-list"><span class="mini-label">MITRE ATT&amp;CK</span>{}</div>"#,
            parts::mitre_chips(&mitre)
        );
    }
    main.push_str("</section>");
    // Charts.
    let pairs: Vec<(Alert, String)> = alerts
        .iter()
        .map(|s| (s.alert.clone(), s.status.as_str().to_owned()))
        .collect();
    let activity = activity_from_alerts(&key, pairs.iter().map(|(a, _)| a));
    let _ = write!(
        main,
        r#"<section class="card key sev-border-{}" data-testid="charts"><h2>Timeline</h2>"#,
        worst.as_str()
    );
    main.push_str(&parts::key_charts(&KeyCharts {
        key: &key,
        alerts: &pairs,
        activity: activity.as_ref(),
        links: Links::Pages(&link_alert),
        focus_alert: None,
        note: Some(CHART_NOTE),
    }));
    main.push_str("</section>");
    // Countries, addresses, user agents.
    main.push_str(
        r#"<section class="card" data-testid="key-sources"><h2>Where it was used from</h2>"#,
    );
    seen_table(
        &mut main,
        "key-countries",
        "Countries",
        "Country",
        &summary.countries,
        false,
    );
    seen_table(
        &mut main,
        "key-ips",
        "Source IPs",
        "Address",
        &summary.source_ips,
        true,
    );
    seen_table(
        &mut main,
        "key-user-agents",
        "User agents",
        "User agent",
        &summary.user_agents,
        false,
    );
    main.push_str("</section>");
    // Alerts.
    let shown: Vec<&StoredAlert> = alerts.iter().rev().take(KEY_PAGE_ROWS).rev().collect();
    let _ = write!(
        main,
        r#"<section class="card"><h2>Alerts</h2><p class="muted">{}{}. <a href="{}">List them with filters</a>.</p>"#,
        plural(summary.alerts, "alert", "alerts"),
        if shown.len() < alerts.len() {
            format!(", the last {} shown", shown.len())
        } else {
            String::new()
        },
        Esc(&list_query(
            &ListQuery {
                key: Some(key.clone()),
                ..ListQuery::default()
            },
            &[]
        ))
    );
    alert_rows(&mut main, &shown);
    main.push_str("</section>");
    let sub = if summary.user_arns.is_empty() {
        "no user ARN".to_owned()
    } else {
        format!(
            r#"<span class="mono">{}</span>"#,
            Esc(&summary.user_arns.join(" · "))
        )
    };
    Ok(Html(document(
        &Page {
            title: &key,
            token: Some(&state.settings().token),
            kicker: "Access key",
            heading: &format!(r#"<span class="mono">{}</span>"#, Esc(&key)),
            sub: &sub,
        },
        &main,
    ))
    .into_response())
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Anything else: 404, as JSON under `/api/`, as a page elsewhere.
pub(crate) async fn not_found(uri: Uri) -> Response {
    let e = ApiError::not_found(format!("nothing at {}", uri.path()));
    if uri.path().starts_with("/api/") {
        e.into_response()
    } else {
        PageError(e).into_response()
    }
}

/// The pages' routes.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(crate::incidents::list_page))
        .route("/incidents/{id}", get(crate::incidents::incident_page))
        .route("/alerts", get(list))
        .route("/alerts/{id}", get(alert_page))
        .route("/keys/{key}", get(key_page))
        .route("/login", get(crate::auth::login_page))
        .route("/audit", get(crate::audit::audit_page))
        .route(
            "/static/report.css",
            get(|| async { asset("text/css; charset=utf-8", parts::STYLESHEET) }),
        )
        .route(
            "/static/web.css",
            get(|| async { asset("text/css; charset=utf-8", WEB_CSS) }),
        )
        .route(
            "/static/report.js",
            get(|| async { asset("text/javascript; charset=utf-8", parts::SCRIPT) }),
        )
        .route(
            "/static/web.js",
            get(|| async { asset("text/javascript; charset=utf-8", WEB_JS) }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_percent_encoded() {
        assert_eq!(alert_href("0123abcd"), "/alerts/0123abcd");
        assert_eq!(
            key_href("AKIA/../x?y=<1>"),
            "/keys/AKIA%2F%2E%2E%2Fx%3Fy%3D%3C1%3E"
        );
        let q = ListQuery {
            key: Some("A&B".into()),
            status: Some("open".into()),
            rule: Some(" ".into()),
            ..ListQuery::default()
        };
        assert_eq!(
            list_query(&q, &[("offset", "50".into())]),
            "/alerts?status=open&key=A%26B&offset=50"
        );
        assert_eq!(cut("abcdef", 3), "abc…");
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("éàü", 2), "éà…");
    }

    #[test]
    fn alert_ids_are_found_in_details() {
        let id = "0123456789abcdef0123456789abcdef";
        let v = serde_json::json!({"siblings": [{"id": id, "rule_id": "x"}], "n": 3, "s": "short", "first_seen_alerts": [{"id": id}]});
        let mut out = Vec::new();
        alert_ids_in(&v, &mut out);
        assert_eq!(out, [id]);
    }
}
