//! The router over a real SQLite store, driven with tower's `oneshot` (no network): the API's
//! answers, status changes and their refusals (token, origin, content type, host), the pages'
//! escaping and security headers, the OpenAPI description.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use trailhound_detect::{Alert, Severity, alert_id, remediation};
use trailhound_model::{HOUR, Timestamp, parse_rfc3339};
use trailhound_store::{AlertStore, SqliteStore, Status};
use trailhound_web::api::{AlertDetail, AlertList, KeySummary};
use trailhound_web::{AuthSettings, CSP, DynStore, Settings, router};

const TOKEN: &str = "test-token-0123456789";
const HOST: &str = "127.0.0.1:8080";
const XSS: &str = "<script>window.__xss=1</script>";
const D1: &str = "aws-akia-failed-api-spike";
const D2: &str = "aws-akia-first-seen-source-ip";
const D3: &str = "aws-iam-user-agent-new-ip";
const D4: &str = "aws-akia-unauthorized-api-call";

fn t0() -> Timestamp {
    parse_rfc3339("2026-01-14T00:00:00Z").unwrap()
}

#[allow(clippy::too_many_arguments)]
fn alert(
    rule: &str,
    sev: Severity,
    key: &str,
    t: Timestamp,
    ip: &str,
    ua: &str,
    count: u64,
) -> Alert {
    let arn = format!("arn:aws:iam::111122223333:user/{}", key.to_lowercase());
    Alert {
        id: alert_id(rule, &[key, &t.to_string()]),
        rule_id: rule.to_owned(),
        rule_name: format!("Rule {rule}"),
        severity: sev,
        risk_score: sev.risk_score(),
        access_key_id: key.to_owned(),
        user_arn: arn.clone(),
        time: t,
        first_seen: t,
        last_seen: t + 60_000_000_000,
        source_ips: vec![ip.to_owned()],
        countries: vec!["US".to_owned()],
        user_agents: vec![ua.to_owned()],
        event_names: vec!["ListUsers".to_owned()],
        event_ids: (0..count).map(|i| format!("{rule}-{i}")).collect(),
        count,
        mitre: vec!["T1078".to_owned()],
        remediation: remediation(key, &arn),
        why: format!("because {ua}"),
        details: json!({}),
        root_key: String::new(),
        principal: String::new(),
        suppressed_count: 0,
    }
}

/// Five alerts on two keys, by time: a1 (D2, A), a2 (D4, A), a3 (D3, B, crafted user agent),
/// a4 (D1, A), a5 (D4, B).
fn alerts() -> Vec<Alert> {
    let t = t0();
    let mut d1 = alert(
        D1,
        Severity::High,
        "AKIAAAAA",
        t + 5 * HOUR,
        "198.51.100.7",
        "aws-cli/2.15",
        4,
    );
    d1.details = json!({"ZScore": 3.25, "TotalUnauthorizedEventsOutliers": "Infinity"});
    vec![
        alert(
            D2,
            Severity::Medium,
            "AKIAAAAA",
            t + HOUR,
            "203.0.113.5",
            "aws-cli/2.15",
            1,
        ),
        alert(
            D4,
            Severity::High,
            "AKIAAAAA",
            t + 2 * HOUR,
            "203.0.113.5",
            "aws-cli/2.15",
            3,
        ),
        alert(
            D3,
            Severity::Medium,
            "AKIABBBB",
            t + 3 * HOUR,
            "192.0.2.10",
            XSS,
            1,
        ),
        d1,
        alert(
            D4,
            Severity::High,
            "AKIABBBB",
            t + 26 * HOUR,
            "192.0.2.10",
            XSS,
            2,
        ),
    ]
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    app: Router,
    alerts: Vec<Alert>,
    app_is_shared: bool,
}

fn fixture(loopback_hosts_only: bool) -> Fixture {
    fixture_with(loopback_hosts_only, None)
}

fn fixture_with(loopback_hosts_only: bool, auth: Option<AuthSettings>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.db");
    let alerts = alerts();
    SqliteStore::open(&path)
        .unwrap()
        .upsert_alerts(&alerts)
        .unwrap();
    let stores: Vec<DynStore> = (0..2)
        .map(|_| Box::new(SqliteStore::open_existing(&path).unwrap()) as DynStore)
        .collect();
    let app_is_shared = auth.is_some();
    let app = router(
        stores,
        Settings {
            token: TOKEN.to_owned(),
            loopback_hosts_only,
            auth,
            https: false,
        },
    );
    Fixture {
        _dir: dir,
        path,
        app,
        alerts,
        app_is_shared,
    }
}

impl Fixture {
    fn store(&self) -> SqliteStore {
        SqliteStore::open_existing(&self.path).unwrap()
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    async fn get_json(&self, uri: &str) -> (StatusCode, Value) {
        let (status, _, body) = self.send(get(uri)).await;
        (status, serde_json::from_slice(&body).unwrap())
    }

    async fn get_html(&self, uri: &str) -> (StatusCode, HeaderMap, String) {
        let (status, headers, body) = self.send(get(uri)).await;
        (status, headers, String::from_utf8(body).unwrap())
    }
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::HOST, HOST)
        .body(Body::empty())
        .unwrap()
}

/// A POST as the web UI sends it: token, JSON, same origin.
fn post(uri: &str) -> axum::http::request::Builder {
    Request::post(uri)
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-trailhound-token", TOKEN)
        .header(header::ORIGIN, format!("http://{HOST}"))
        .header("sec-fetch-site", "same-origin")
}

fn json_body(v: &Value) -> Body {
    Body::from(serde_json::to_vec(v).unwrap())
}

fn ids(list: &AlertList) -> Vec<&str> {
    list.alerts.iter().map(|a| a.id.as_str()).collect()
}

#[tokio::test]
async fn list_filters_and_pages() {
    let f = fixture(true);
    let id = |i: usize| f.alerts[i].id.as_str();
    let list = |v: Value| serde_json::from_value::<AlertList>(v).unwrap();
    let (s, v) = f.get_json("/api/alerts").await;
    assert_eq!(s, StatusCode::OK);
    let all = list(v);
    assert_eq!(ids(&all), [id(0), id(1), id(2), id(3), id(4)]);
    assert_eq!((all.offset, all.limit, all.next_offset), (0, 50, None));
    let a = &all.alerts[0];
    assert_eq!(a.rule_id, D2);
    assert_eq!(a.time, "2026-01-14T01:00:00Z");
    assert_eq!(a.status, trailhound_web::api::ApiStatus::Open);
    assert_eq!(a.source_ips, ["203.0.113.5"]);
    // Paging.
    let page = list(f.get_json("/api/alerts?limit=2").await.1);
    assert_eq!(
        (ids(&page), page.next_offset),
        (vec![id(0), id(1)], Some(2))
    );
    let page = list(f.get_json("/api/alerts?limit=2&offset=4").await.1);
    assert_eq!((ids(&page), page.next_offset), (vec![id(4)], None));
    // Filters, alone and together; empty values (as a form sends them) are ignored.
    for (q, want) in [
        ("rule=aws-akia-unauthorized-api-call", vec![id(1), id(4)]),
        ("severity=high", vec![id(1), id(3), id(4)]),
        ("key=AKIABBBB", vec![id(2), id(4)]),
        ("key=AKIAAAAA&severity=high", vec![id(1), id(3)]),
        ("since=2026-01-14T03:00:00Z", vec![id(2), id(3), id(4)]),
        ("until=2026-01-14T03:00:00Z", vec![id(0), id(1)]),
        ("since=2026-01-15", vec![id(4)]),
        (
            "rule=&severity=&status=&key=&since=&until=&limit=&offset=",
            vec![id(0), id(1), id(2), id(3), id(4)],
        ),
        ("status=closed", vec![]),
        // A page of none: nothing, and where the next page starts.
        ("limit=0", vec![]),
    ] {
        let (s, v) = f.get_json(&format!("/api/alerts?{q}")).await;
        assert_eq!(s, StatusCode::OK, "{q}");
        assert_eq!(ids(&list(v)), want, "{q}");
    }
    // Bad parameters: 400 with a JSON error.
    for (q, msg) in [
        (
            "severity=urgent",
            "severity \"urgent\" is not low, medium, high or critical",
        ),
        (
            "severity=HIGH",
            "severity \"HIGH\" is not low, medium, high or critical",
        ),
        (
            "status=done",
            "status \"done\" is not open, acknowledged or closed",
        ),
        ("limit=501", "limit \"501\" is not 0 to 500"),
        ("limit=050", "limit \"050\" is not 0 to 500"),
        (
            "offset=-1",
            "offset \"-1\" is not a whole number below 10^15",
        ),
        (
            "limit=1&limit=2",
            "Failed to deserialize query string: duplicate field `limit`",
        ),
    ] {
        let (s, v) = f.get_json(&format!("/api/alerts?{q}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(v, json!({"error": msg}), "{q}");
    }
    let (s, v) = f.get_json("/api/alerts?since=yesterday").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("since: \"yesterday\" is not a time")
    );
}

#[tokio::test]
async fn one_alert_with_its_evidence() {
    let f = fixture(true);
    let a = &f.alerts[3];
    let (s, v) = f.get_json(&format!("/api/alerts/{}", a.id)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["details"],
        json!({"ZScore": 3.25, "TotalUnauthorizedEventsOutliers": "Infinity"})
    );
    assert_eq!(v["remediation"], a.remediation);
    assert_eq!(v["history"], json!([]));
    assert_eq!(v["status_by"], Value::Null);
    let d: AlertDetail = serde_json::from_value(v).unwrap();
    assert_eq!(d.summary.id, a.id);
    assert_eq!(d.event_ids, a.event_ids);
    assert_eq!(d.summary.count, 4);
    let (s, v) = f.get_json("/api/alerts/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v, json!({"error": "no alert with id \"nope\""}));
}

#[tokio::test]
async fn status_changes_with_the_token_reach_the_store() {
    let f = fixture(true);
    let id = f.alerts[2].id.clone();
    let body = json!({"by": "alice", "reason": "benign: the <b>CI</b> runner"});
    let (s, _, out) = f
        .send(
            post(&format!("/api/alerts/{id}/close"))
                .body(json_body(&body))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&out));
    let d: AlertDetail = serde_json::from_slice(&out).unwrap();
    assert_eq!(d.summary.status, trailhound_web::api::ApiStatus::Closed);
    assert_eq!(d.summary.status_by.as_deref(), Some("alice"));
    assert_eq!(
        d.summary.status_reason.as_deref(),
        Some("benign: the <b>CI</b> runner")
    );
    assert_eq!(d.history.len(), 1);
    // The store changed.
    let stored = f.store().get(&id).unwrap().unwrap();
    assert_eq!(stored.status, Status::Closed);
    assert_eq!(stored.status_by.as_deref(), Some("alice"));
    assert_eq!(
        stored.status_reason.as_deref(),
        Some("benign: the <b>CI</b> runner")
    );
    let history = f.store().history(&id).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].from, history[0].to),
        (Status::Open, Status::Closed)
    );
    // The list filter sees it.
    let (_, v) = f.get_json("/api/alerts?status=closed").await;
    assert_eq!(v["alerts"][0]["id"], id);
    // Closing again conflicts; reopening works; a reason is optional; `by` is not.
    let again = json!({"by": "alice"});
    let (s, _, out) = f
        .send(
            post(&format!("/api/alerts/{id}/close"))
                .body(json_body(&again))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        serde_json::from_slice::<Value>(&out).unwrap(),
        json!({"error": format!("alert {id} is already closed")})
    );
    let (s, _, _) = f
        .send(
            post(&format!("/api/alerts/{id}/reopen"))
                .body(json_body(&again))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, out) = f
        .send(
            post(&format!("/api/alerts/{id}/ack"))
                .body(json_body(&again))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let d: AlertDetail = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        d.summary.status,
        trailhound_web::api::ApiStatus::Acknowledged
    );
    assert_eq!(d.history.len(), 3);
    assert_eq!(d.summary.status_reason, None);
    let nobody = json!({"by": "  "});
    let (s, _, out) = f
        .send(
            post(&format!("/api/alerts/{id}/close"))
                .body(json_body(&nobody))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        serde_json::from_slice::<Value>(&out).unwrap(),
        json!({"error": "a status change needs a non-empty `by` (who made it)"})
    );
    // Unknown fields, wrong types and unknown alerts.
    let extra = json!({"by": "a", "status": "open"});
    let (s, _, _) = f
        .send(
            post(&format!("/api/alerts/{id}/close"))
                .body(json_body(&extra))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, _) = f
        .send(
            post("/api/alerts/nope/close")
                .body(json_body(&again))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A non-browser client (no Origin, no Sec-Fetch-Site) with the token is accepted.
    let (s, _, _) = f
        .send(
            Request::post(format!("/api/alerts/{}/close", f.alerts[0].id))
                .header(header::HOST, HOST)
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-trailhound-token", TOKEN)
                .body(json_body(&again))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        f.store().get(&f.alerts[0].id).unwrap().unwrap().status,
        Status::Closed
    );
}

#[tokio::test]
async fn state_changes_without_token_or_from_another_site_are_refused() {
    let f = fixture(true);
    let id = f.alerts[1].id.clone();
    let uri = format!("/api/alerts/{id}/close");
    let body = json!({"by": "mallory", "reason": "csrf"});
    let base = || Request::post(&uri).header(header::HOST, HOST);
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            base()
                .header(header::CONTENT_TYPE, "application/json")
                .body(json_body(&body))
                .unwrap(),
            StatusCode::FORBIDDEN,
            "refused: missing or wrong X-Trailhound-Token header",
        ),
        (
            base()
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-trailhound-token", "guess")
                .body(json_body(&body))
                .unwrap(),
            StatusCode::FORBIDDEN,
            "refused: missing or wrong X-Trailhound-Token header",
        ),
        (
            post(&uri)
                .header("sec-fetch-site", "cross-site")
                .body(json_body(&body))
                .unwrap(),
            StatusCode::FORBIDDEN,
            "refused: a cross-site request (Sec-Fetch-Site)",
        ),
        (
            post(&uri)
                .header(header::ORIGIN, "http://evil.test")
                .body(json_body(&body))
                .unwrap(),
            StatusCode::FORBIDDEN,
            "refused: the Origin header is not this server",
        ),
        (
            // A classic CSRF form post: cross-site, no token, not JSON.
            base()
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::ORIGIN, "http://evil.test")
                .header("sec-fetch-site", "cross-site")
                .body(Body::from("by=mallory"))
                .unwrap(),
            StatusCode::FORBIDDEN,
            "refused: a cross-site request (Sec-Fetch-Site)",
        ),
        (
            base()
                .header(header::CONTENT_TYPE, "text/plain")
                .header("x-trailhound-token", TOKEN)
                .body(json_body(&body))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "refused: the body must be JSON (Content-Type: application/json)",
        ),
    ];
    for (req, status, msg) in cases {
        let (s, headers, out) = f.send(req).await;
        assert_eq!(s, status, "{msg}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            serde_json::from_slice::<Value>(&out).unwrap(),
            json!({"error": msg})
        );
    }
    // GET cannot change anything.
    let (s, _, _) = f.send(get(&uri)).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    // Nothing changed.
    let stored = f.store().get(&id).unwrap().unwrap();
    assert_eq!(stored.status, Status::Open);
    assert!(f.store().history(&id).unwrap().is_empty());
}

#[tokio::test]
async fn hosts_other_than_loopback_are_refused() {
    let f = fixture(true);
    for uri in ["/api/alerts", "/", "/static/web.js"] {
        let (s, _, out) = f
            .send(
                Request::get(uri)
                    .header(header::HOST, "evil.test:8080")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{uri}");
        assert_eq!(
            serde_json::from_slice::<Value>(&out).unwrap(),
            json!({"error": "refused: the Host header is not a loopback name"})
        );
    }
    let (s, _, _) = f
        .send(
            Request::get("/api/alerts")
                .header(header::HOST, "localhost:8080")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // With --allow-remote the Host is not checked.
    let open = fixture(false);
    let (s, _, _) = open
        .send(
            Request::get("/api/alerts")
                .header(header::HOST, "alerts.example.org")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn key_summary() {
    let f = fixture(true);
    let (s, v) = f.get_json("/api/keys/AKIAAAAA").await;
    assert_eq!(s, StatusCode::OK);
    let k: KeySummary = serde_json::from_value(v).unwrap();
    assert_eq!(k.access_key_id, "AKIAAAAA");
    assert_eq!(k.user_arns, ["arn:aws:iam::111122223333:user/akiaaaaa"]);
    assert_eq!((k.alerts, k.truncated), (3, false));
    assert_eq!(
        (
            k.by_status.open,
            k.by_status.acknowledged,
            k.by_status.closed
        ),
        (3, 0, 0)
    );
    let rules: Vec<(&str, u64)> = k
        .by_rule
        .iter()
        .map(|r| (r.rule_id.as_str(), r.alerts))
        .collect();
    assert_eq!(rules, [(D1, 1), (D2, 1), (D4, 1)]);
    assert_eq!(
        (k.first_alert.as_str(), k.last_alert.as_str()),
        ("2026-01-14T01:00:00Z", "2026-01-14T05:00:00Z")
    );
    let ips: Vec<(&str, Option<&str>, u64)> = k
        .source_ips
        .iter()
        .map(|s| (s.value.as_str(), s.country.as_deref(), s.alerts))
        .collect();
    assert_eq!(
        ips,
        [
            ("203.0.113.5", Some("US"), 2),
            ("198.51.100.7", Some("US"), 1)
        ]
    );
    assert_eq!(k.source_ips[0].first_seen, "2026-01-14T01:00:00Z");
    assert_eq!(k.source_ips[0].last_seen, "2026-01-14T02:01:00Z");
    assert_eq!(k.user_agents.len(), 1);
    assert_eq!(
        (k.user_agents[0].value.as_str(), k.user_agents[0].alerts),
        ("aws-cli/2.15", 3)
    );
    assert_eq!(k.countries[0].value, "US");
    let timeline: Vec<&str> = k.timeline.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        timeline,
        [
            f.alerts[0].id.as_str(),
            f.alerts[1].id.as_str(),
            f.alerts[3].id.as_str()
        ]
    );
    let (s, v) = f.get_json("/api/keys/AKIANONE").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v, json!({"error": "no alert of access key \"AKIANONE\""}));
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let f = fixture(true);
    let (s, v) = f.get_json("/api/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["openapi"], "3.1.0");
    assert_eq!(v["info"]["title"], "Trailhound");
    let mut paths: Vec<&str> = v["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort_unstable();
    assert_eq!(
        paths,
        [
            "/api/alerts",
            "/api/alerts/{id}",
            "/api/alerts/{id}/ack",
            "/api/alerts/{id}/close",
            "/api/alerts/{id}/reopen",
            "/api/audit",
            "/api/incidents",
            "/api/incidents/{id}",
            "/api/incidents/{id}/ack",
            "/api/incidents/{id}/close",
            "/api/incidents/{id}/reopen",
            "/api/keys/{key}",
            "/api/login",
            "/api/logout",
            "/api/openapi.json",
            "/api/whoami"
        ]
    );
    let close = &v["paths"]["/api/alerts/{id}/close"]["post"];
    assert_eq!(
        close["security"],
        json!([{"bearer": []}, {"session": [], "token": []}])
    );
    assert_eq!(
        close["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/StatusRequest"
    );
    let params: Vec<&str> = v["paths"]["/api/alerts"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        params,
        [
            "rule", "severity", "status", "key", "since", "until", "incident", "limit", "offset"
        ]
    );
    let schemas = v["components"]["schemas"].as_object().unwrap();
    for s in [
        "AlertSummary",
        "AlertList",
        "AlertDetail",
        "StatusRequest",
        "KeySummary",
        "ErrorBody",
        "ApiSeverity",
        "ApiStatus",
    ] {
        assert!(schemas.contains_key(s), "{s}");
    }
    assert_eq!(
        schemas["ApiStatus"]["enum"],
        json!(["open", "acknowledged", "closed"])
    );
    assert_eq!(
        v["components"]["securitySchemes"]["token"],
        json!({"type": "apiKey", "in": "header", "name": "X-Trailhound-Token", "description": v["components"]["securitySchemes"]["token"]["description"]})
    );
}

/// No element or attribute from the logs: only the pages' own external scripts, no inline
/// script or style, the crafted user agent escaped.
fn assert_safe_page(html: &str) {
    assert_eq!(
        html.matches("<script").count(),
        2,
        "only the two external scripts"
    );
    assert!(html.contains(r#"<script src="/static/report.js" defer></script>"#));
    assert!(html.contains(r#"<script src="/static/web.js" defer></script>"#));
    assert!(!html.contains("<script>"));
    assert!(!html.contains("style="));
    assert!(!html.contains("<style"));
    // No event handler attribute (` onload=`, ` onerror=`…).
    for (i, _) in html.match_indices(" on") {
        let rest = &html[i + 3..];
        let name_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        assert!(
            !(name_len > 0 && rest[name_len..].starts_with('=')),
            "event handler attribute at {}",
            &html[i..(i + 40).min(html.len())]
        );
    }
}

#[tokio::test]
async fn pages_escape_log_strings_under_a_strict_csp() {
    let f = fixture(true);
    // The list, filtered to the key with the crafted user agent in its alerts' why.
    let (s, headers, html) = f.get_html("/alerts?key=AKIABBBB&severity=").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(headers[header::CONTENT_SECURITY_POLICY], CSP);
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(html.matches(r#"data-testid="alert-row""#).count(), 2);
    assert!(html.contains("because &lt;script&gt;window.__xss=1&lt;/script&gt;"));
    assert!(html.contains(&format!(
        r#"<meta name="trailhound-token" content="{TOKEN}">"#
    )));
    assert!(html.contains(r#"<input name="key" value="AKIABBBB""#));
    assert_safe_page(&html);
    // A bad filter: 400, with the form and the message.
    let (s, _, html) = f.get_html("/alerts?severity=urgent").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(html.contains(r#"data-testid="filter-error">severity &quot;urgent&quot; is not low, medium, high or critical</p>"#));
    // The alert page: status form, charts, evidence with the crafted user agent as text.
    let a = &f.alerts[2];
    let (s, _, html) = f.get_html(&format!("/alerts/{}", a.id)).await;
    assert_eq!(s, StatusCode::OK);
    assert_safe_page(&html);
    for id in [
        "status-form",
        "chart-unauthorized",
        "chart-geo",
        "chart-alerts",
        "evidence",
    ] {
        assert!(html.contains(&format!(r#"data-testid="{id}""#)), "{id}");
    }
    assert!(html.contains(&format!(
        r#"<button type="button" data-action="close" data-url="/api/alerts/{}/close">Close</button>"#,
        a.id
    )));
    assert!(!html.contains(r#"data-action="reopen""#));
    assert!(
        html.contains(r#"<code class="item">&lt;script&gt;window.__xss=1&lt;/script&gt;</code>"#)
    );
    // Its key's two alerts are in the timeline, linked to their pages, this one highlighted.
    assert_eq!(html.matches(r#"<a href="/alerts/"#).count(), 2);
    assert_eq!(html.matches("marker sev-medium current").count(), 1);
    // The key page: facts, charts and the tables of values, escaped.
    let (s, _, html) = f.get_html("/keys/AKIABBBB").await;
    assert_eq!(s, StatusCode::OK);
    assert_safe_page(&html);
    assert!(html.contains(r#"<table class="sub" data-testid="key-user-agents">"#));
    assert!(html.contains(r#"<tr><td><code class="item">&lt;script&gt;window.__xss=1&lt;/script&gt;</code></td><td class="num">2</td>"#));
    // Two hours with unauthorized calls? No: one D4 alert, so one bar.
    assert_eq!(html.matches(r#"<rect class="bar"#).count(), 1);
    // Unknown pages and alerts.
    let (s, _, html) = f.get_html("/alerts/nope").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(html.contains("no alert with id &quot;nope&quot;"));
    let (s, _, html) = f.get_html("/keys/%3Cb%3E").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(html.contains("no alert of access key &quot;&lt;b&gt;&quot;"));
    let (s, _, html) = f.get_html("/nothing").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(html.contains("nothing at /nothing"));
    let (s, v) = f.get_json("/api/nothing").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v, json!({"error": "nothing at /api/nothing"}));
}

#[tokio::test]
async fn static_assets_are_served_from_the_binary() {
    let f = fixture(true);
    for (uri, ctype, needle) in [
        ("/static/report.css", "text/css; charset=utf-8", "svg.chart"),
        ("/static/web.css", "text/css; charset=utf-8", "form.filters"),
        (
            "/static/report.js",
            "text/javascript; charset=utf-8",
            "data-copy",
        ),
        (
            "/static/web.js",
            "text/javascript; charset=utf-8",
            "X-Trailhound-Token",
        ),
    ] {
        let (s, headers, body) = f.get_html(uri).await;
        assert_eq!(s, StatusCode::OK, "{uri}");
        assert_eq!(headers[header::CONTENT_TYPE], ctype, "{uri}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{uri}");
        assert!(body.contains(needle), "{uri}");
    }
}

/// The incidents of the fixture's alerts: one per key, ranked; the first page lists them, an
/// incident page shows its alerts, and acknowledging one through the API moves its alerts.
#[tokio::test]
async fn incidents_are_ranked_listed_and_move_their_alerts() {
    let f = fixture(true);
    {
        let mut s = f.store();
        trailhound_store::update_incidents(&mut s, &Default::default()).unwrap();
    }
    let (s, v) = f.get_json("/api/incidents").await;
    assert_eq!(s, StatusCode::OK);
    let list = v["incidents"].as_array().unwrap();
    let subjects: Vec<&str> = list
        .iter()
        .map(|i| i["subject"].as_str().unwrap())
        .collect();
    // AKIAAAAA: D1, D2, D4 over 4 h (high, three rules, D1-D4, span: 73 + 10 + 10 + 5);
    // AKIABBBB: D3, D4 over 23 h (73 + 5 + 10 + 5).
    assert_eq!(subjects, ["AKIAAAAA", "AKIABBBB"]);
    assert_eq!(list[0]["risk_score"], 98);
    assert_eq!(list[1]["risk_score"], 93);
    assert_eq!(list[0]["rank"], 1);
    let id = list[1]["id"].as_str().unwrap();
    // The first page of the UI.
    let (s, _, html) = f.get_html("/").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(html.matches(r#"data-testid="incident-row""#).count(), 2);
    assert!(html.contains(&format!(r#"href="/incidents/{id}""#)));
    assert_safe_page(&html);
    // An incident page: its alerts, the XSS user agent escaped.
    let (s, _, html) = f.get_html(&format!("/incidents/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(html.matches(r#"data-testid="alert-row""#).count(), 2);
    assert!(!html.contains("<script>window"));
    assert_safe_page(&html);
    // Acknowledge it: the incident and both its alerts.
    let (s, _, body) = f
        .send(
            post(&format!("/api/incidents/{id}/ack"))
                .body(json_body(&json!({"by": "carol", "reason": "looking"})))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["status"], "acknowledged");
    assert_eq!(v["status_by"], "carol");
    let alerts = v["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    assert!(alerts.iter().all(|a| a["status"] == "acknowledged"));
    // Without the token: refused.
    let (s, _, _) = f
        .send(
            Request::post(format!("/api/incidents/{id}/close"))
                .header(header::HOST, HOST)
                .header(header::CONTENT_TYPE, "application/json")
                .body(json_body(&json!({"by": "mallory"})))
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = f.get_json("/api/incidents?status=acknowledged").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["incidents"].as_array().unwrap().len(), 1);
    let (s, _) = f.get_json("/api/incidents/ffff").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A shared server: users with roles and tokens; a trusted proxy at 10.0.0.2.
struct Team {
    f: Fixture,
    read: String,
    triage: String,
    admin: String,
}

fn team() -> Team {
    use trailhound_store::access::{Role, create_token, put_user};
    let f = fixture_with(
        false,
        Some(AuthSettings {
            trusted_proxies: vec!["10.0.0.2".parse().unwrap()],
            ..AuthSettings::default()
        }),
    );
    let mut s = f.store();
    let mut token = |name: &str, role| {
        put_user(&mut s, name, role, "cli:test").unwrap();
        create_token(&mut s, name, "cli:test").unwrap().1
    };
    let read = token("rita", Role::Read);
    let triage = token("tom", Role::Triage);
    let admin = token("ada", Role::Admin);
    Team {
        f,
        read,
        triage,
        admin,
    }
}

fn from(mut req: Request<Body>, ip: &str) -> Request<Body> {
    let addr: std::net::SocketAddr = format!("{ip}:40000").parse().unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    req
}

fn bearer(mut req: Request<Body>, token: &str) -> Request<Body> {
    req.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    req
}

#[tokio::test]
async fn a_shared_server_needs_a_token_and_the_right_role() {
    let t = team();
    let f = &t.f;
    let id = f.alerts[0].id.clone();
    // Nothing without credentials: the API says 401 as JSON, a page shows the sign-in form.
    let (s, h, body) = f.send(get("/api/alerts")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(h[header::WWW_AUTHENTICATE], "Bearer realm=\"trailhound\"");
    assert!(String::from_utf8(body).unwrap().contains("unauthorized"));
    let (s, _, html) = f.get_html("/").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(html.contains(r#"data-testid="login-form""#), "{html}");
    assert!(!html.contains(&id));
    // The sign-in page, the assets and the API description are public.
    for public in ["/login", "/static/web.js", "/api/openapi.json"] {
        assert_eq!(f.send(get(public)).await.0, StatusCode::OK, "{public}");
    }
    // A wrong token is refused like none.
    let (s, _, _) = f.send(bearer(get("/api/alerts"), "thk_nope")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Read sees, but cannot close.
    let (s, _, _) = f.send(bearer(get("/api/alerts"), &t.read)).await;
    assert_eq!(s, StatusCode::OK);
    let close = |token: &str| {
        let req = Request::post(format!("/api/alerts/{id}/close"))
            .header(header::HOST, "alerts.example.org")
            .header(header::CONTENT_TYPE, "application/json")
            .body(json_body(
                &json!({"by": "someone else", "reason": "benign"}),
            ))
            .unwrap();
        bearer(req, token)
    };
    let (s, _, body) = f.send(close(&t.read)).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(f.store().get(&id).unwrap().unwrap().status, Status::Open);
    // Triage can, with a bearer token and no anti-forgery token; the signed-in user is recorded,
    // whatever `by` says.
    let (s, _, body) = f.send(close(&t.triage)).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let stored = f.store().get(&id).unwrap().unwrap();
    assert_eq!(stored.status, Status::Closed);
    assert_eq!(stored.status_by.as_deref(), Some("tom"));
    // The audit log is the admin's.
    let (s, _, _) = f.send(bearer(get("/api/audit"), &t.triage)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, body) = f.send(bearer(get("/api/audit"), &t.admin)).await;
    assert_eq!(s, StatusCode::OK);
    let log: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(log["entries"][0]["actor"], "tom");
    assert_eq!(log["entries"][0]["action"], "alert.closed");
    assert_eq!(log["entries"][0]["target"], id.as_str());
    let (s, _, html) = f.send(bearer(get("/audit"), &t.admin)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8(html).unwrap().contains("alert.closed"));
}

#[tokio::test]
async fn sign_in_sets_a_session_that_still_needs_the_anti_forgery_token() {
    let t = team();
    let f = &t.f;
    let login = |token: &str| {
        post("/api/login")
            .header(header::ORIGIN, format!("http://{HOST}"))
            .body(json_body(&json!({ "token": token })))
            .unwrap()
    };
    let (s, _, _) = f.send(login("thk_wrong")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, h, body) = f.send(login(&t.triage)).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let cookie = h[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let with_cookie = |mut req: Request<Body>| {
        req.headers_mut()
            .insert(header::COOKIE, session.parse().unwrap());
        req
    };
    let (s, _, body) = f.send(with_cookie(get("/api/whoami"))).await;
    assert_eq!(s, StatusCode::OK);
    let me: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        me,
        json!({"user": "tom", "role": "triage", "authentication": true})
    );
    // A session's state change still needs the page's token (a cookie is sent cross-site).
    let id = f.alerts[1].id.clone();
    let forged = Request::post(format!("/api/alerts/{id}/ack"))
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/json")
        .body(json_body(&json!({"reason": "x"})))
        .unwrap();
    assert_eq!(f.send(with_cookie(forged)).await.0, StatusCode::FORBIDDEN);
    let real = post(&format!("/api/alerts/{id}/ack"))
        .body(json_body(&json!({"reason": "on it"})))
        .unwrap();
    assert_eq!(f.send(with_cookie(real)).await.0, StatusCode::OK);
    assert_eq!(
        f.store().get(&id).unwrap().unwrap().status_by.as_deref(),
        Some("tom")
    );
    // Signed out, the cookie is worth nothing.
    let out = post("/api/logout").body(json_body(&json!({}))).unwrap();
    assert_eq!(f.send(with_cookie(out)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        f.send(with_cookie(get("/api/alerts"))).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_proxy_user_header_counts_only_from_the_trusted_proxy() {
    let t = team();
    let f = &t.f;
    let as_user = |ip: &str, user: &str| {
        let mut req = get("/api/whoami");
        req.headers_mut()
            .insert("x-forwarded-user", user.parse().unwrap());
        from(req, ip)
    };
    let (s, _, body) = f.send(as_user("10.0.0.2", "ada")).await;
    assert_eq!(s, StatusCode::OK);
    let me: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (me["user"].as_str(), me["role"].as_str()),
        (Some("ada"), Some("admin"))
    );
    // The same header from anywhere else is ignored.
    let (s, _, _) = f.send(as_user("10.0.0.3", "ada")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A name the store does not know is nobody.
    let (s, _, _) = f.send(as_user("10.0.0.2", "mallory")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// Only GET and POST routes exist: any other method is a 405 from the router (with `Allow`),
/// before any token or body check, on loopback and on a shared server.
#[tokio::test]
async fn other_methods_are_405() {
    for f in [fixture(true), team().f] {
        for (method, uri) in [
            ("TRACE", "/api/alerts"),
            ("PUT", "/api/alerts"),
            ("DELETE", "/api/openapi.json"),
            ("POST", "/api/openapi.json"),
            ("POST", "/api/alerts"),
            ("PATCH", "/api/incidents"),
        ] {
            let req = Request::builder()
                .method(method)
                .uri(uri)
                .header(header::HOST, HOST)
                .body(Body::empty())
                .unwrap();
            let (s, h, _) = f.send(req).await;
            // A shared server asks who first (401), except for the public document.
            let public = uri == "/api/openapi.json";
            if f.app_is_shared && !public {
                assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {uri}");
            } else {
                assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
                assert!(h.contains_key(header::ALLOW), "{method} {uri}");
            }
        }
    }
}

/// The patterns the OpenAPI document gives the query parameters are the ones the server checks.
#[tokio::test]
async fn documented_patterns_are_the_checked_ones() {
    use trailhound_web::params;
    let f = fixture(true);
    let (_, v) = f.get_json("/api/openapi.json").await;
    let pattern = |path: &str, name: &str| -> String {
        v["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} {name}"))["schema"]["pattern"]
            .as_str()
            .unwrap_or_else(|| panic!("{path} {name} has no pattern"))
            .to_owned()
    };
    for path in ["/api/alerts", "/api/incidents", "/api/audit"] {
        assert_eq!(pattern(path, "limit"), params::LIMIT, "{path}");
        assert_eq!(pattern(path, "offset"), params::OFFSET, "{path}");
    }
    assert_eq!(pattern("/api/alerts", "severity"), params::SEVERITY);
    assert_eq!(pattern("/api/alerts", "status"), params::STATUS);
    assert_eq!(pattern("/api/alerts", "since"), params::TIME);
    assert_eq!(pattern("/api/alerts", "until"), params::TIME);
    assert_eq!(pattern("/api/incidents", "status"), params::INCIDENT_STATUS);
}

/// The first page says what the last hunt could not read, by kind.
#[tokio::test]
async fn the_incident_list_shows_the_last_runs_bad_input() {
    let f = fixture(true);
    let (_, _, html) = f.get_html("/").await;
    assert!(!html.contains(r#"data-testid="last-run""#));
    trailhound_store::runs::record(
        &mut f.store(),
        "hunt",
        &json!({"files": 3, "events": 120, "issues_by_kind": {"empty_file": 1, "symlink_loop": 2}}),
    )
    .unwrap();
    let (s, _, html) = f.get_html("/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("3 files, 120 events."), "{html}");
    assert!(
        html.contains(r#"data-kind="empty_file">empty_file: 1</span>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"data-kind="symlink_loop">symlink_loop: 2</span>"#),
        "{html}"
    );
}
