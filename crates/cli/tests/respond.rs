//! Response and findings on AWS, against moto's server on 127.0.0.1: `respond` deactivates the
//! key and attaches the session-revoking policy through the IAM API (`--dry-run` changes
//! nothing), both recorded on the alert; `alerts export --securityhub` imports each alert once.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[path = "support/s3.rs"]
mod s3;

#[path = "support/cli.rs"]
mod cli;
use cli::bin;

/// A request to moto's query API (IAM) with the service named in the signature, as moto
/// dispatches by it.
fn iam(server: &s3::S3Server, form: &[(&str, &str)]) -> String {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    form.push(("Version", "2010-05-08"));
    ureq::post(&server.endpoint)
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .send_form(form)
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

fn between<'a>(xml: &'a str, open: &str, close: &str) -> &'a str {
    let s = xml.find(open).unwrap() + open.len();
    let e = xml[s..].find(close).unwrap() + s;
    &xml[s..e]
}

/// Creates the IAM user `alice` with one access key in moto; returns the key id.
fn alice_with_a_key(server: &s3::S3Server) -> String {
    iam(server, &[("Action", "CreateUser"), ("UserName", "alice")]);
    let xml = iam(
        server,
        &[("Action", "CreateAccessKey"), ("UserName", "alice")],
    );
    between(&xml, "<AccessKeyId>", "</AccessKeyId>").to_owned()
}

/// The status (`Active`, `Inactive`) of alice's access key in moto.
fn key_status(server: &s3::S3Server) -> String {
    let xml = iam(
        server,
        &[("Action", "ListAccessKeys"), ("UserName", "alice")],
    );
    between(&xml, "<Status>", "</Status>").to_owned()
}

/// The environment that points the AWS SDK at moto with test credentials.
fn aws_env(cmd: &mut Command, endpoint: &str) {
    for k in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true");
}

/// One CloudTrail file: `key` of IAM user `alice` refused `iam:ListUsers` from an outside
/// address (an unauthorized API call by a long-term key: a high-severity alert).
fn trail(dir: &Path, key: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let record = serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEALICE0001",
            "arn": "arn:aws:iam::123456789012:user/alice",
            "accountId": "123456789012",
            "accessKeyId": key,
            "userName": "alice"
        },
        "eventTime": "2026-12-01T10:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "ListUsers",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0",
        "errorCode": "AccessDenied",
        "errorMessage": "User is not authorized to perform: iam:ListUsers",
        "requestID": "11111111-2222-3333-4444-555555555555",
        "eventID": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012"
    });
    std::fs::write(
        dir.join("123456789012_CloudTrail_us-east-1_20261201T1005Z_test.json"),
        serde_json::json!({ "Records": [record] }).to_string(),
    )
    .unwrap();
}

/// Hunts `dir` into `store`; returns the stored alerts.
fn hunt(dir: &Path, store: &Path) -> Vec<Value> {
    cli::run_ok(
        Command::new(bin())
            .args(["hunt", "--no-progress", "--no-sigma", "--store"])
            .arg(store)
            .arg(dir),
    );
    let out = cli::run_ok(
        Command::new(bin())
            .args(["alerts", "list", "--format", "jsonl", "--store"])
            .arg(store),
    );
    cli::jsonl(&out.stdout)
}

fn show(store: &Path, id: &str) -> Value {
    let out = cli::run_ok(
        Command::new(bin())
            .args(["alerts", "show", id, "--format", "jsonl", "--store"])
            .arg(store),
    );
    cli::jsonl(&out.stdout).remove(0)
}

#[test]
fn respond_deactivates_the_key_and_revokes_its_sessions_on_iam() {
    let Some(server) = s3::S3Server::start() else {
        return;
    };
    let key = alice_with_a_key(&server);
    assert_eq!(key_status(&server), "Active");

    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("alerts.db");
    trail(&tmp.path().join("trail"), &key);
    let alerts = hunt(&tmp.path().join("trail"), &store);
    let alert = alerts
        .iter()
        .find(|a| a["access_key_id"] == key.as_str() && a["severity"] == "high")
        .unwrap_or_else(|| panic!("{alerts:#?}"));
    let id = alert["id"].as_str().unwrap();

    // A dry run prints the exact commands, changes nothing, and is recorded.
    let mut dry = Command::new(bin());
    dry.args([
        "respond",
        id,
        "--deactivate-key",
        "--revoke-sessions",
        "--dry-run",
    ])
    .args(["--by", "alice-oncall", "--store"])
    .arg(&store);
    aws_env(&mut dry, &server.endpoint);
    let out = cli::run_ok(&mut dry);
    let printed = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "aws iam update-access-key --user-name alice --access-key-id {key} --status Inactive"
        )
    );
    assert!(
        lines[1].starts_with(
            "aws iam put-user-policy --user-name alice --policy-name TrailhoundRevokeOlderSessions --policy-document '{\"Statement\":[{\"Action\":\"*\",\"Condition\":{\"DateLessThan\":{\"aws:TokenIssueTime\":\""
        ),
        "{printed}"
    );
    assert_eq!(lines.len(), 2);
    assert_eq!(key_status(&server), "Active");
    let xml = iam(
        &server,
        &[("Action", "ListUserPolicies"), ("UserName", "alice")],
    );
    assert!(!xml.contains("TrailhoundRevokeOlderSessions"), "{xml}");
    let recorded = show(&store, id)["responses"].clone();
    assert_eq!(recorded.as_array().unwrap().len(), 2, "{recorded}");
    assert!(
        recorded
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["dry_run"] == true
                && r["outcome"] == "planned"
                && r["actor"] == "alice-oncall")
    );

    // For real: the key is Inactive and the user has the deny policy.
    let mut real = Command::new(bin());
    real.args(["respond", id, "--deactivate-key", "--revoke-sessions"])
        .args(["--by", "alice-oncall", "--store"])
        .arg(&store);
    aws_env(&mut real, &server.endpoint);
    cli::run_ok(&mut real);
    assert_eq!(key_status(&server), "Inactive");
    let xml = iam(
        &server,
        &[
            ("Action", "GetUserPolicy"),
            ("UserName", "alice"),
            ("PolicyName", "TrailhoundRevokeOlderSessions"),
        ],
    );
    let doc = between(&xml, "<PolicyDocument>", "</PolicyDocument>");
    let doc: Value = serde_json::from_str(
        &doc.replace("&quot;", "\"")
            .replace("%22", "\"")
            .replace("%7B", "{")
            .replace("%7D", "}")
            .replace("%3A", ":")
            .replace("%2A", "*")
            .replace("%5B", "[")
            .replace("%5D", "]")
            .replace("%2C", ","),
    )
    .unwrap_or_else(|e| panic!("{e}: {doc}"));
    assert_eq!(doc["Statement"][0]["Effect"], "Deny");
    assert!(doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"].is_string());
    let recorded = show(&store, id)["responses"].clone();
    let done: Vec<&Value> = recorded
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["dry_run"] == false)
        .collect();
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|r| r["outcome"] == "done"));
    assert_eq!(done[0]["action"], "deactivate-key");
    assert_eq!(done[0]["target"], key.as_str());
    assert_eq!(done[1]["action"], "revoke-sessions");
    assert_eq!(done[1]["target"], "alice");
    // And in the audit log.
    let out = cli::run_ok(
        Command::new(bin())
            .args(["audit", "--format", "jsonl", "--store"])
            .arg(&store),
    );
    let audit = cli::jsonl(&out.stdout);
    let actions: Vec<&str> = audit.iter().filter_map(|e| e["action"].as_str()).collect();
    for a in [
        "response.deactivate-key",
        "response.revoke-sessions",
        "response.deactivate-key.dry-run",
        "response.revoke-sessions.dry-run",
    ] {
        assert!(actions.contains(&a), "{actions:?}");
    }
}

/// A loopback TCP proxy to `upstream` that counts the `BatchImportFindings` requests
/// (`POST /findings/import`) passing through it.
fn counting_proxy(upstream: &str) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_owned();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let shared = std::sync::Arc::clone(&count);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let mut server = std::net::TcpStream::connect(&upstream).unwrap();
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let count = std::sync::Arc::clone(&shared);
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                loop {
                    let n = match client.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let text = String::from_utf8_lossy(&buf[..n]);
                    count.fetch_add(
                        text.matches("POST /findings/import").count(),
                        Ordering::SeqCst,
                    );
                    if server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = server.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (url, count)
}

/// The findings moto's Security Hub holds.
fn findings(server: &s3::S3Server) -> Vec<Value> {
    let body = ureq::post(&format!("{}/findings", server.endpoint))
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/securityhub/aws4_request, SignedHeaders=host, Signature=0",
        )
        .header("Content-Type", "application/json")
        .send(r#"{"MaxResults": 100}"#)
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    v["Findings"].as_array().cloned().unwrap_or_default()
}

#[test]
fn security_hub_export_sends_each_alert_once() {
    use std::sync::atomic::Ordering;
    let Some(server) = s3::S3Server::start() else {
        return;
    };
    let (proxy, imports) = counting_proxy(&server.endpoint);
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    cli::generate(&src, &["--events", "3000", "--keys", "6"]);
    let store = tmp.path().join("alerts.db");
    let alerts = hunt(&src, &store);
    assert!(alerts.len() >= 5);
    let export = |high_only: bool| {
        let mut c = Command::new(bin());
        c.args(["alerts", "export", "--securityhub", "--store"])
            .arg(&store);
        if high_only {
            c.args(["--severity", "high"]);
        }
        aws_env(&mut c, &proxy);
        String::from_utf8(cli::run_ok(&mut c).stdout).unwrap()
    };
    let high = alerts.iter().filter(|a| a["severity"] == "high").count();
    assert!(high >= 1 && high < alerts.len());
    // The high ones first, then all: the second run sends only the others.
    let out = export(true);
    assert!(
        out.contains(&format!(
            "{high} alerts selected, {high} newly queued, 0 changed since their export, {high} imported now"
        )),
        "{out}"
    );
    let out = export(false);
    let rest = alerts.len() - high;
    assert!(
        out.contains(&format!(
            "{} alerts selected, {rest} newly queued, 0 changed since their export, {rest} imported now",
            alerts.len()
        )),
        "{out}"
    );
    let sent = imports.load(Ordering::SeqCst);
    assert_eq!(sent, 2, "one BatchImportFindings request per run");
    // A re-run sends nothing.
    let out = export(false);
    assert!(
        out.contains(&format!(
            "{} alerts selected, 0 newly queued, 0 changed since their export, 0 imported now",
            alerts.len()
        )),
        "{out}"
    );
    assert_eq!(imports.load(Ordering::SeqCst), sent);

    // Security Hub holds one finding per alert, under the alert's id, in ASFF.
    let found = findings(&server);
    let mut ids: Vec<&str> = found.iter().map(|f| f["Id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    let mut expected: Vec<&str> = alerts.iter().map(|a| a["id"].as_str().unwrap()).collect();
    expected.sort_unstable();
    assert_eq!(ids, expected);
    for f in &found {
        let a = alerts.iter().find(|a| a["id"] == f["Id"]).unwrap();
        assert_eq!(f["SchemaVersion"], "2018-10-08");
        assert_eq!(
            f["ProductArn"],
            "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
        );
        assert_eq!(
            f["GeneratorId"],
            format!("trailhound/{}", a["rule_id"].as_str().unwrap())
        );
        assert_eq!(
            f["Severity"]["Label"],
            a["severity"].as_str().unwrap().to_ascii_uppercase()
        );
        assert_eq!(f["Resources"][0]["Type"], "AwsIamAccessKey");
        assert_eq!(f["Resources"][0]["Id"], a["access_key_id"]);
        assert_eq!(f["Title"], a["rule_name"]);
        assert_eq!(f["FirstObservedAt"], a["first_seen"]);
        assert_eq!(f["Workflow"]["Status"], "NEW");
    }

    // Closing an alert in Trailhound resolves its finding on the next export (the same id,
    // imported again); nothing else is sent, and a further run sends nothing.
    let closed = alerts[0]["id"].as_str().unwrap();
    cli::run_ok(
        Command::new(bin())
            .args(["alerts", "close", closed, "--reason", "a test", "--store"])
            .arg(&store),
    );
    let out = export(false);
    assert!(
        out.contains(&format!(
            "{} alerts selected, 0 newly queued, 1 changed since their export, 1 imported now",
            alerts.len()
        )),
        "{out}"
    );
    assert_eq!(imports.load(Ordering::SeqCst), sent + 1);
    let found = findings(&server);
    assert_eq!(found.len(), alerts.len());
    for f in &found {
        let want = if f["Id"] == closed { "RESOLVED" } else { "NEW" };
        assert_eq!(f["Workflow"]["Status"], want, "{}", f["Id"]);
    }
    let out = export(false);
    assert!(
        out.contains("0 newly queued, 0 changed since their export, 0 imported now"),
        "{out}"
    );
    assert_eq!(imports.load(Ordering::SeqCst), sent + 1);
}

#[test]
fn watch_responds_per_its_response_section_dry_run_by_default_and_once_per_key() {
    let Some(server) = s3::S3Server::start() else {
        return;
    };
    let key = alice_with_a_key(&server);
    let tmp = tempfile::tempdir().unwrap();
    let trail_dir = tmp.path().join("trail");
    trail(&trail_dir, &key);
    let watch = |config: &str, store: &Path| {
        let path = tmp.path().join("trailhound.toml");
        std::fs::write(&path, config).unwrap();
        let mut c = Command::new(bin());
        c.args(["watch", "--once", "--no-sigma", "--config"])
            .arg(&path)
            .arg("--store")
            .arg(store)
            .arg(&trail_dir);
        aws_env(&mut c, &server.endpoint);
        let out = cli::run_ok(&mut c);
        String::from_utf8(out.stderr).unwrap()
    };
    let responses = |store: &Path| -> Vec<Value> {
        let out = cli::run_ok(
            Command::new(bin())
                .args(["alerts", "list", "--format", "jsonl", "--store"])
                .arg(store),
        );
        cli::jsonl(&out.stdout)
            .iter()
            .flat_map(|a| {
                show(store, a["id"].as_str().unwrap())["responses"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    };

    // Enabled without `act`: the commands are printed and recorded, nothing changes.
    let store = tmp.path().join("dry.db");
    let log = watch("[response]\nenabled = true\n", &store);
    assert!(
        log.contains(&format!(
            "response (dry run): aws iam update-access-key --user-name alice --access-key-id {key} --status Inactive"
        )),
        "{log}"
    );
    assert_eq!(key_status(&server), "Active");
    let r = responses(&store);
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(
        r.iter()
            .all(|x| x["dry_run"] == true && x["actor"] == "trailhound watch")
    );

    // With `act`, on another store: the key is deactivated, once.
    let store = tmp.path().join("act.db");
    let config = "[response]\nenabled = true\nact = true\nrevoke_sessions = false\n";
    let log = watch(config, &store);
    assert!(
        log.contains(&format!("response: done: deactivate-key {key}")),
        "{log}"
    );
    assert_eq!(key_status(&server), "Inactive");
    let r = responses(&store);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0]["outcome"], "done");
    // A restart over the same files raises no new alert, so nothing is done again.
    let log = watch(config, &store);
    assert!(!log.contains("response"), "{log}");
    assert_eq!(responses(&store).len(), 1);

    // Below `min_severity`, nothing happens.
    let store = tmp.path().join("critical.db");
    let log = watch(
        "[response]\nenabled = true\nmin_severity = \"critical\"\n",
        &store,
    );
    assert!(!log.contains("response"), "{log}");
    assert!(responses(&store).is_empty());
}
