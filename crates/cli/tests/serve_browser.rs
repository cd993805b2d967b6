//! `trailhound serve` end to end: over plain HTTP on 127.0.0.1 (the API answers, the token is
//! needed to change a status), its refusals (a non-loopback address, a missing store), and the
//! web UI in headless Chromium (`tests/browser/serve.test.mjs`, playwright-core): list, filter,
//! open an alert, see its charts, close it with a reason; a crafted `<script>` user agent shows
//! as text; token-less and cross-site state changes are refused. The store is then checked with
//! the Rust API. Saves `target/browser/serve.png`.
//!
//! The browser test needs `/usr/bin/chromium` and Node.js (`npm ci` runs in `tests/browser` when
//! `node_modules` is missing); `TRAILHOUND_SKIP_BROWSER=1` skips it (only it).

#[path = "support/browser.rs"]
mod browser;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use assert_cmd::Command;
use assert_cmd::cargo::CommandCargoExt;
use serde_json::{Value, json};
use trailhound_detect::{Alert, Severity, alert_id, remediation};
use trailhound_store::{AlertStore, SqliteStore, Status};

/// The key of the crafted records.
const XSS_KEY: &str = "AKIAXSSXSSXSSXSSXSS1";

/// Denied AKIA calls from a new address with crafted user agents: they raise alerts (D4 and
/// others) whose evidence carries the strings into the store.
const CRAFTED: &str = r#"{"Records":[
{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAXSSXSSXSSXSSXSS","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","accessKeyId":"AKIAXSSXSSXSSXSSXSS1","userName":"mallory"},"eventTime":"2026-01-14T12:01:00Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","sourceIPAddress":"8.8.8.8","userAgent":"<script>window.__xss=1</script>","errorCode":"AccessDenied","errorMessage":"<b>denied</b>","eventID":"xss-1","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"111122223333"},
{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAXSSXSSXSSXSSXSS","arn":"arn:aws:iam::111122223333:user/mallory","accountId":"111122223333","accessKeyId":"AKIAXSSXSSXSSXSSXSS1","userName":"mallory"},"eventTime":"2026-01-14T13:02:00Z","eventSource":"iam.amazonaws.com","eventName":"ListRoles","awsRegion":"us-east-1","sourceIPAddress":"8.8.8.8","userAgent":"<script>window.__xss=1</script>","errorCode":"AccessDenied","eventID":"xss-2","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"111122223333"}
]}"#;

/// A running `trailhound serve`, killed when dropped.
struct Server {
    child: Child,
    url: String,
    token: String,
    log: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `serve` on 127.0.0.1 with a free port and waits for its address and token.
    fn start(store: &Path) -> Server {
        Server::start_with(store, &[])
    }

    /// As [`Server::start`], with more arguments.
    fn start_with(store: &Path, more: &[&std::ffi::OsStr]) -> Server {
        let mut child = Process::cargo_bin("trailhound")
            .unwrap()
            .args(["serve", "--listen", "127.0.0.1:0", "--store"])
            .arg(store)
            .args(more)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, log) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("serve: {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut url, mut token) = (None, None);
        while url.is_none() || token.is_none() {
            let line = log
                .recv_timeout(Duration::from_secs(60))
                .expect("serve printed its address and token");
            if let Some(i) = line.find("https://").or_else(|| line.find("http://")) {
                url = Some(line[i..].trim().to_owned());
            }
            if let Some((_, t)) = line.split_once("(X-Trailhound-Token): ") {
                token = Some(t.trim().to_owned());
            }
        }
        Server {
            child,
            url: url.unwrap(),
            token: token.unwrap(),
            log,
        }
    }

    fn addr(&self) -> String {
        self.url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned()
    }

    /// One HTTP/1.1 request; the status and the body.
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let addr = self.addr();
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let (head, rest) = raw.split_once("\r\n\r\n").unwrap();
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(rest)
        } else {
            rest.to_owned()
        };
        (status, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        while self.log.try_recv().is_ok() {}
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    loop {
        let Some((size, rest)) = s.split_once("\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
}

fn stored_alert(key: &str, ua: &str) -> Alert {
    let t = 1_768_392_000_000_000_000; // 2026-01-14T12:00:00Z
    let arn = "arn:aws:iam::111122223333:user/mallory";
    Alert {
        id: alert_id("aws-akia-unauthorized-api-call", &[key, "t"]),
        rule_id: "aws-akia-unauthorized-api-call".into(),
        rule_name: "Unauthorized API call with an IAM access key".into(),
        severity: Severity::High,
        risk_score: 73,
        access_key_id: key.into(),
        user_arn: arn.into(),
        time: t,
        first_seen: t,
        last_seen: t,
        source_ips: vec!["8.8.8.8".into()],
        countries: vec!["US".into()],
        user_agents: vec![ua.into()],
        event_names: vec!["ListUsers".into()],
        event_ids: vec!["e1".into()],
        count: 1,
        mitre: vec!["T1078".into()],
        remediation: remediation(key, arn),
        why: "denied".into(),
        details: json!({}),
        root_key: String::new(),
        principal: String::new(),
        suppressed_count: 0,
    }
}

#[test]
fn serve_answers_over_http_and_needs_the_token_to_change_a_status() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("alerts.db");
    let a = stored_alert(XSS_KEY, "<script>window.__xss=1</script>");
    SqliteStore::open(&db)
        .unwrap()
        .upsert_alerts(std::slice::from_ref(&a))
        .unwrap();
    let server = Server::start(&db);
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
    assert_eq!(server.token.len(), 64);
    let (status, body) = server.request("GET", "/api/alerts?key=AKIAXSSXSSXSSXSSXSS1", &[], "");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["alerts"][0]["id"], a.id);
    assert_eq!(
        v["alerts"][0]["user_agents"],
        json!(["<script>window.__xss=1</script>"])
    );
    let (status, html) = server.request("GET", "/alerts", &[], "");
    assert_eq!(status, 200);
    assert!(html.contains("because") || html.contains("denied"));
    assert!(!html.contains("<script>window"));
    // The first page is the incident list: this store's alerts were not filed by a hunt, so it
    // has none yet.
    let (status, html) = server.request("GET", "/", &[], "");
    assert_eq!(status, 200);
    assert!(html.contains(r#"data-testid="no-incidents""#), "{html}");
    let close = format!("/api/alerts/{}/close", a.id);
    let body = r#"{"by":"tester","reason":"checked over HTTP"}"#;
    let json = ("Content-Type", "application/json");
    let (status, out) = server.request("POST", &close, &[json], body);
    assert_eq!(status, 403, "{out}");
    assert_eq!(
        SqliteStore::open_existing(&db)
            .unwrap()
            .get(&a.id)
            .unwrap()
            .unwrap()
            .status,
        Status::Open
    );
    let (status, out) = server.request(
        "POST",
        &close,
        &[json, ("X-Trailhound-Token", &server.token)],
        body,
    );
    assert_eq!(status, 200, "{out}");
    let stored = SqliteStore::open_existing(&db)
        .unwrap()
        .get(&a.id)
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, Status::Closed);
    assert_eq!(stored.status_by.as_deref(), Some("tester"));
    assert_eq!(stored.status_reason.as_deref(), Some("checked over HTTP"));
    // A Host that is not loopback (DNS rebinding) gets nothing.
    let addr = server.addr();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /api/alerts HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 403"), "{raw}");
}

#[test]
fn serve_refuses_a_non_loopback_address_without_authentication() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("alerts.db");
    SqliteStore::open(&db).unwrap();
    let out = Command::cargo_bin("trailhound")
        .unwrap()
        .args(["serve", "--listen", "0.0.0.0:0", "--store"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0 without authentication"),
        "{err}"
    );
}

#[test]
fn serve_refuses_a_missing_store() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("none.db");
    let out = Command::cargo_bin("trailhound")
        .unwrap()
        .args(["serve", "--listen", "127.0.0.1:0", "--store"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no alert store at"), "{err}");
    assert!(!missing.exists(), "serve must not create a store");
}

#[test]
fn web_ui_in_chromium_closes_an_alert_and_runs_nothing_from_the_logs() {
    let Some(root) = browser::ready() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let generated = Command::cargo_bin("trailhound")
        .unwrap()
        .arg("generate")
        .arg(&data)
        .args(["--events", "20000"])
        .output()
        .unwrap();
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let crafted = data.join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/14/111122223333_CloudTrail_us-east-1_20260114T1305Z_xss.json");
    std::fs::create_dir_all(crafted.parent().unwrap()).unwrap();
    std::fs::write(&crafted, CRAFTED).unwrap();
    let db = tmp.path().join("alerts.db");
    let hunt = Command::cargo_bin("trailhound")
        .unwrap()
        .args(["hunt", "--no-progress", "--format", "jsonl", "--store"])
        .arg(&db)
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        hunt.status.success(),
        "{}",
        String::from_utf8_lossy(&hunt.stderr)
    );
    {
        let store = SqliteStore::open_existing(&db).unwrap();
        let xss = store
            .list(&trailhound_store::AlertFilter {
                access_key_id: Some(XSS_KEY.to_owned()),
                ..Default::default()
            })
            .unwrap();
        assert!(
            xss.iter().any(|s| s
                .alert
                .user_agents
                .iter()
                .any(|u| u == "<script>window.__xss=1</script>")),
            "the crafted records raised no alert carrying the user agent"
        );
    }

    let manifest: Value =
        serde_json::from_slice(&std::fs::read(data.join("manifest.json")).unwrap()).unwrap();
    let planted: Vec<&str> = manifest["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["access_key_id"].as_str().unwrap())
        .collect();
    let server = Server::start(&db);
    let out_dir = root.join("target/browser");
    std::fs::create_dir_all(&out_dir).unwrap();
    let result_file = tmp.path().join("result.json");
    let _ = std::fs::remove_file(out_dir.join("serve.png"));
    let status = Process::new("node")
        .args(["--test", "tests/browser/serve.test.mjs"])
        .current_dir(&root)
        .env("SERVE_URL", &server.url)
        .env("SERVE_OUT", &out_dir)
        .env("SERVE_RESULT", &result_file)
        .env("XSS_KEY", XSS_KEY)
        .env("EXPECT_TOP", planted.join(","))
        .env("EXPECT_MAX_RANK", (planted.len() + 3).to_string())
        .status()
        .expect("node");
    assert!(
        status.success(),
        "the browser test failed (see its output above)"
    );
    assert!(out_dir.join("serve.png").exists());

    // What the browser did, checked in the store through the Rust API.
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(&result_file).unwrap()).unwrap();
    eprintln!("browser result: {result}");
    let store = SqliteStore::open_existing(&db).unwrap();
    let closed = result["closed"].as_str().unwrap();
    let s = store.get(closed).unwrap().unwrap();
    assert_eq!(s.status, Status::Closed);
    assert_eq!(s.status_by.as_deref(), result["by"].as_str());
    assert_eq!(s.status_reason.as_deref(), result["reason"].as_str());
    assert_eq!(
        s.status_reason.as_deref(),
        Some(r#"Benign: the CI runner's <b>new</b> address & "proxy""#)
    );
    let history = store.history(closed).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].from, history[0].to),
        (Status::Open, Status::Closed)
    );
    assert_eq!(history[0].by, "browser-test");
    let untouched = result["untouched"].as_str().unwrap();
    assert_eq!(store.get(untouched).unwrap().unwrap().status, Status::Open);
    assert!(store.history(untouched).unwrap().is_empty());
    drop(server);
}

/// The UI a team shares: over TLS (a test certificate), with authentication. In Chromium: a
/// request without a token gets 401 and the sign-in page; a read-only user signs in and cannot
/// close an alert; a triage user closes it; the admin's audit log shows who closed it. The store
/// then says the same. Saves `target/browser/audit.png`.
#[test]
fn shared_ui_over_tls_signs_in_and_enforces_roles() {
    let Some(root) = browser::ready() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("alerts.db");
    let hunt = Command::cargo_bin("trailhound")
        .unwrap()
        .args(["hunt", "--no-progress", "--format", "jsonl", "--store"])
        .arg(&db)
        .arg(root.join("sample"))
        .output()
        .unwrap();
    assert!(
        hunt.status.success(),
        "{}",
        String::from_utf8_lossy(&hunt.stderr)
    );
    let token = |name: &str, role: &str| -> String {
        let out = Command::cargo_bin("trailhound")
            .unwrap()
            .args(["users", "add", name, "--role", role, "--store"])
            .arg(&db)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_owned()
    };
    let (read, triage, admin) = (
        token("rita", "read"),
        token("tom", "triage"),
        token("ada", "admin"),
    );
    let alert = SqliteStore::open_existing(&db)
        .unwrap()
        .list(&trailhound_store::AlertFilter {
            status: Some(Status::Open),
            ..Default::default()
        })
        .unwrap()[0]
        .alert
        .id
        .clone();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert_pem, key_pem) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.signing_key.serialize_pem()).unwrap();
    let server = Server::start_with(
        &db,
        &[
            "--auth".as_ref(),
            "--tls-cert".as_ref(),
            cert_pem.as_os_str(),
            "--tls-key".as_ref(),
            key_pem.as_os_str(),
        ],
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let out_dir = root.join("target/browser");
    std::fs::create_dir_all(&out_dir).unwrap();
    let _ = std::fs::remove_file(out_dir.join("audit.png"));
    let status = Process::new("node")
        .args(["--test", "tests/browser/auth.test.mjs"])
        .current_dir(&root)
        .env("SERVE_URL", &server.url)
        .env("SERVE_OUT", &out_dir)
        .env("READ_TOKEN", &read)
        .env("TRIAGE_TOKEN", &triage)
        .env("ADMIN_TOKEN", &admin)
        .env("ALERT_ID", &alert)
        .status()
        .expect("node");
    assert!(
        status.success(),
        "the browser test failed (see its output above)"
    );
    assert!(out_dir.join("audit.png").exists());
    let store = SqliteStore::open_existing(&db).unwrap();
    let s = store.get(&alert).unwrap().unwrap();
    assert_eq!(s.status, Status::Closed);
    assert_eq!(s.status_by.as_deref(), Some("tom"));
    let history = store.history(&alert).unwrap();
    assert_eq!(history.len(), 1, "the read-only attempt changed nothing");
    let log = trailhound_store::access::audit(&store, 10, 0).unwrap();
    assert_eq!(
        (
            log[0].actor.as_str(),
            log[0].action.as_str(),
            log[0].target.as_str()
        ),
        ("tom", "alert.closed", alert.as_str())
    );
    drop(server);
}
