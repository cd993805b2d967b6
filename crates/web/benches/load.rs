//! Load test of the API's alert list: `cargo bench -p trailhound-web --bench load`.
//!
//! Fills a temporary SQLite store with 10,000 generated alerts (five rules, 200 keys, six
//! weeks, a fifth acknowledged and a fifth closed), starts the server on 127.0.0.1 with its
//! default four store connections, and sends `GET /api/alerts?limit=50` (then the same with a
//! filter) from 32 concurrent HTTP/1.1 keep-alive connections (hyper clients) for 10 s each,
//! printing requests per second and the p50/p99 latencies. The client runs on the same machine
//! and the same cores as the server.
//!
//! Environment: `TRAILHOUND_LOAD_SECONDS` (10), `TRAILHOUND_LOAD_CONNECTIONS` (32),
//! `TRAILHOUND_LOAD_ALERTS` (10000), `TRAILHOUND_LOAD_STORE_CONNECTIONS` (4).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::json;
use trailhound_detect::{Alert, Severity, alert_id, remediation};
use trailhound_store::{AlertStore, SqliteStore, Status};
use trailhound_web::{DynStore, Settings, router, serve};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const RULES: [(&str, &str, Severity); 5] = [
    (
        "aws-akia-failed-api-spike",
        "Spike in failed API calls by a long-term access key",
        Severity::High,
    ),
    (
        "aws-akia-first-seen-source-ip",
        "Long-term access key first seen from a source IP",
        Severity::Medium,
    ),
    (
        "aws-iam-user-agent-new-ip",
        "IAM user agent from a new IP address",
        Severity::Medium,
    ),
    (
        "aws-akia-unauthorized-api-call",
        "Unauthorized API call with an IAM access key",
        Severity::High,
    ),
    (
        "aws-akia-correlated-elevated-alerts",
        "Long-term key correlated with elevated alerts",
        Severity::High,
    ),
];

/// `n` alerts shaped like the real rules' (evidence lists, D1's KQL columns as details).
fn alerts(n: u64) -> Vec<Alert> {
    let mut rng = Rng(42);
    let t0: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z
    let minute: i64 = 60_000_000_000;
    let agents = [
        "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0 exe/x86_64.ubuntu.22",
        "Boto3/1.34.11 md/Botocore#1.34.11 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.6",
        "aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64",
        "terraform-provider-aws/5.31.0 (+https://registry.terraform.io/providers/hashicorp/aws)",
    ];
    let apis = [
        "ListUsers",
        "GetCallerIdentity",
        "ListBuckets",
        "DescribeInstances",
        "GetSecretValue",
        "ListRoles",
        "CreateAccessKey",
    ];
    let countries = ["US", "DE", "IE", "RU", "BR", "NL", "SG"];
    (0..n)
        .map(|i| {
            let (rule_id, rule_name, severity) = RULES[rng.below(5) as usize];
            let key = format!("AKIA{:016}", rng.below(200));
            let arn = format!(
                "arn:aws:iam::123456789012:user/svc-{}",
                &key[key.len() - 4..]
            );
            let time = t0 + i as i64 * 6 * minute;
            let events = 1 + rng.below(40);
            let ips: Vec<String> = (0..1 + rng.below(3))
                .map(|_| format!("198.51.{}.{}", rng.below(256), rng.below(256)))
                .collect();
            let mut cs: Vec<String> = (0..1 + rng.below(2))
                .map(|_| countries[rng.below(7) as usize].to_owned())
                .collect();
            cs.sort();
            cs.dedup();
            let mut names: Vec<String> = (0..1 + rng.below(4))
                .map(|_| apis[rng.below(7) as usize].to_owned())
                .collect();
            names.sort();
            names.dedup();
            let details = match rule_id {
                "aws-akia-failed-api-spike" => json!({
                    "TimeGenerated": "2026-01-10T07:00:00Z",
                    "UserIdentityARNandKeyID": [arn, key],
                    "DistinctSuccessfulEventSet": ["GetCallerIdentity"],
                    "DistinctUnauthorizedEventSet": names,
                    "DistinctUnauthorizedEventSetCount": names.len(),
                    "DistinctSuccessfulEventSetCount": 1,
                    "TotalUnauthorizedEventsOutliers": "Infinity",
                    "AverageUnauthorized": 0.0119,
                    "StandardDeviationUnauthorized": 0.1543,
                    "VarianceUnauthorized": 0.0238,
                    "ZScore": 12.88,
                    "Rows": [{"TimeGenerated1": "2026-01-10T07:00:00Z", "UnauthorizedEventCount": events}],
                }),
                "aws-akia-unauthorized-api-call" => {
                    json!({"error_codes": {"AccessDenied": events}, "hour": "2026-01-10T07:00:00Z"})
                }
                _ => json!({"history_window": "10d"}),
            };
            Alert {
                id: alert_id(rule_id, &[&key, &time.to_string()]),
                rule_id: rule_id.to_owned(),
                rule_name: rule_name.to_owned(),
                severity,
                risk_score: severity.risk_score(),
                access_key_id: key.clone(),
                user_arn: arn.clone(),
                time,
                first_seen: time,
                last_seen: time + rng.below(60) as i64 * minute,
                source_ips: ips,
                countries: cs,
                user_agents: vec![agents[rng.below(4) as usize].to_owned()],
                event_names: names,
                event_ids: (0..events.min(20))
                    .map(|j| format!("{:08x}-{i:08x}-{j:04x}", rng.next() as u32))
                    .collect(),
                count: events,
                mitre: vec!["T1078".into(), "T1552".into()],
                remediation: remediation(&key, &arn),
                why: format!(
                    "Access key {key} made {events} API calls refused as unauthorized in the hour."
                ),
                details,
                root_key: String::new(),
                principal: String::new(),
                suppressed_count: 0,
            }
        })
        .collect()
}

/// Requests of one run.
struct Run {
    latencies: Vec<Duration>,
    errors: u64,
    elapsed: Duration,
}

async fn client(
    addr: SocketAddr,
    path: &'static str,
    until: Instant,
) -> Result<(Vec<Duration>, u64), Box<dyn std::error::Error + Send + Sync>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let host = addr.to_string();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    while Instant::now() < until {
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, &host)
            .body(Empty::<Bytes>::new())?;
        let t = Instant::now();
        let resp = sender.send_request(req).await?;
        let ok = resp.status() == hyper::StatusCode::OK;
        let body = resp.into_body().collect().await?.to_bytes();
        latencies.push(t.elapsed());
        if !ok || body.len() < 1000 {
            errors += 1;
        }
    }
    Ok((latencies, errors))
}

async fn run(addr: SocketAddr, path: &'static str, connections: u64, seconds: u64) -> Run {
    let start = Instant::now();
    let until = start + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(client(addr, path, until)))
        .collect();
    let mut out = Run {
        latencies: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        match t.await {
            Ok(Ok((l, e))) => {
                out.latencies.extend(l);
                out.errors += e;
            }
            Ok(Err(e)) => panic!("client failed: {e}"),
            Err(e) => panic!("client task failed: {e}"),
        }
    }
    out.elapsed = start.elapsed();
    out.latencies.sort();
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted[i]
}

fn main() {
    let seconds = env_or("TRAILHOUND_LOAD_SECONDS", 10);
    let connections = env_or("TRAILHOUND_LOAD_CONNECTIONS", 32);
    let n = env_or("TRAILHOUND_LOAD_ALERTS", 10_000);
    let store_connections = env_or("TRAILHOUND_LOAD_STORE_CONNECTIONS", 4);
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("alerts.db");
    let t = Instant::now();
    let alerts = alerts(n);
    {
        let mut store = SqliteStore::open(&path).expect("store");
        store.upsert_alerts(&alerts).expect("upsert");
        for (i, a) in alerts.iter().enumerate() {
            let to = match i % 5 {
                0 => Status::Acknowledged,
                1 => Status::Closed,
                _ => continue,
            };
            store
                .set_status(&a.id, to, "load-test", Some("generated"))
                .expect("status");
        }
        assert_eq!(store.count().expect("count"), n);
    }
    println!(
        "store: {n} alerts in {} ({:.1} s to fill); {} store connections; {} client connections, {seconds} s per run; {} CPUs",
        path.display(),
        t.elapsed().as_secs_f64(),
        store_connections,
        connections,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let stores: Vec<DynStore> = (0..store_connections.max(1))
            .map(|_| Box::new(SqliteStore::open_existing(&path).expect("store")) as DynStore)
            .collect();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("listen");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, router(stores, Settings::new()), async {
            let _ = stopped.await;
        }));
        for (label, path) in [
            ("GET /api/alerts?limit=50", "/api/alerts?limit=50"),
            (
                "GET /api/alerts?limit=50&status=open&severity=high",
                "/api/alerts?limit=50&status=open&severity=high",
            ),
        ] {
            // Warm up (and check the answer) for one second.
            let warm = run(addr, path, 4, 1).await;
            assert_eq!(warm.errors, 0, "{label}: bad answers while warming up");
            let r = run(addr, path, connections, seconds).await;
            let requests = r.latencies.len();
            println!(
                "{label}: {requests} requests in {:.1} s = {:.0} requests/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; {} bad answers",
                r.elapsed.as_secs_f64(),
                requests as f64 / r.elapsed.as_secs_f64(),
                percentile(&r.latencies, 50.0).as_secs_f64() * 1e3,
                percentile(&r.latencies, 99.0).as_secs_f64() * 1e3,
                r.latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
                r.errors
            );
            assert_eq!(r.errors, 0, "{label}: bad answers");
        }
        let _ = stop.send(());
        server.await.expect("server task").expect("server");
    });
}
