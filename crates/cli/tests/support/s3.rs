//! A local S3-compatible server for tests: moto's server (`python3 -m moto.server`, from PyPI's
//! `moto[server]`), on 127.0.0.1.
//!
//! Tests that need it call [`S3Server::start`], which returns `None` (and the test passes after
//! printing why) when moto is not installed, unless `TRAILHOUND_REQUIRE_S3` is set, as `.ci/run`
//! does: there a missing server fails the test.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server; stopped when dropped.
pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

/// The local server dispatches a request by the service its signature names; it checks no
/// signature.
const SQS_AUTH: &str = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0";

impl S3Server {
    /// Starts a server on a free loopback port, or explains why not.
    pub fn start() -> Option<S3Server> {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let installed = Command::new("python3")
            .args(["-c", "import moto.server"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(
                std::env::var_os("TRAILHOUND_REQUIRE_S3").is_none(),
                "TRAILHOUND_REQUIRE_S3 is set but moto is not installed"
            );
            eprintln!("skipped: moto not installed; pip install 'moto[server]'");
            return None;
        }
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Creates a bucket.
    pub fn create_bucket(&self, bucket: &str) {
        ureq::put(&format!("{}/{bucket}", self.endpoint))
            .send_empty()
            .unwrap();
    }

    /// Uploads `file` as `key` (one PUT: the object appears whole, as S3 delivers).
    pub fn put(&self, bucket: &str, key: &str, file: &Path) {
        let body = std::fs::read(file).unwrap();
        ureq::put(&format!("{}/{bucket}/{key}", self.endpoint))
            .send(&body[..])
            .unwrap();
    }

    /// Creates an SQS queue whose messages come back `visibility` seconds after being received
    /// and not deleted; returns its URL.
    pub fn create_queue(&self, name: &str, visibility: u32) -> String {
        let xml = ureq::post(&self.endpoint)
            .header("Authorization", SQS_AUTH)
            .send_form([
                ("Action", "CreateQueue"),
                ("QueueName", name),
                ("Attribute.1.Name", "VisibilityTimeout"),
                ("Attribute.1.Value", &visibility.to_string()),
                ("Version", "2012-11-05"),
            ])
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let start = xml.find("<QueueUrl>").unwrap() + "<QueueUrl>".len();
        let end = xml[start..].find("</QueueUrl>").unwrap() + start;
        xml[start..end].to_owned()
    }

    /// Sends a message to a queue.
    pub fn send_message(&self, queue: &str, body: &str) {
        ureq::post(&self.endpoint)
            .header("Authorization", SQS_AUTH)
            .send_form([
                ("Action", "SendMessage"),
                ("QueueUrl", queue),
                ("MessageBody", body),
                ("Version", "2012-11-05"),
            ])
            .unwrap();
    }

    /// Messages in a queue, visible or in flight.
    pub fn queue_length(&self, queue: &str) -> u64 {
        let xml = ureq::post(&self.endpoint)
            .header("Authorization", SQS_AUTH)
            .send_form([
                ("Action", "GetQueueAttributes"),
                ("QueueUrl", queue),
                ("AttributeName.1", "All"),
                ("Version", "2012-11-05"),
            ])
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let count = |name: &str| -> u64 {
            let at = xml.find(&format!("<Name>{name}</Name>")).unwrap();
            let v = &xml[at..];
            let s = v.find("<Value>").unwrap() + "<Value>".len();
            let e = v[s..].find("</Value>").unwrap() + s;
            v[s..e].parse().unwrap()
        };
        count("ApproximateNumberOfMessages") + count("ApproximateNumberOfMessagesNotVisible")
    }

    /// The environment the `trailhound` binary needs to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            // SQS (and STS) through the AWS SDK.
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
