//! S3 event notifications from an SQS queue, for `watch --sqs`: the estate-scale alternative to
//! listing. S3 sends an event per new object to the queue, directly or through SNS (the S3 → SNS
//! → SQS fan-out); each message names the objects to read. A message is deleted only after its
//! objects' alerts are stored and the objects checkpointed, so a crash at any point makes SQS
//! deliver it again, and the checkpoint makes the second delivery a no-op.

use std::time::Duration;

use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use serde_json::Value;

use crate::aws_credentials::error_chain;

/// An object an S3 event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3ObjectRef {
    /// The bucket.
    pub bucket: String,
    /// The object key (decoded from the event's URL encoding).
    pub key: String,
    /// Its size, as the event says.
    pub size: u64,
}

/// One received message: its receipt (to delete it) and the objects it names (none for S3's
/// test event or a message that is not an S3 event, which are deleted at once).
#[derive(Debug, Clone)]
pub struct Notice {
    /// The receipt handle.
    pub receipt: String,
    /// The objects created.
    pub objects: Vec<S3ObjectRef>,
    /// Why the message named no object, if it did not and was not S3's test event.
    pub not_an_s3_event: Option<String>,
}

/// The objects of an S3 event notification: the raw event (`{"Records":[{"s3":…}]}`), or one
/// wrapped by SNS (`{"Type":"Notification","Message":"<the event as a string>"}`). S3's
/// `s3:TestEvent` names none. Only object-created events count.
pub fn objects_of(body: &str) -> Result<Vec<S3ObjectRef>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let event = match v.get("Message").and_then(Value::as_str) {
        Some(inner) if v.get("Type").and_then(Value::as_str) == Some("Notification") => {
            serde_json::from_str(inner).map_err(|e| format!("SNS message is not JSON: {e}"))?
        }
        _ => v,
    };
    if event.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .ok_or("no Records: not an S3 event notification")?;
    let mut out = Vec::new();
    for r in records {
        let name = r.get("eventName").and_then(Value::as_str).unwrap_or("");
        if !name.starts_with("ObjectCreated") {
            continue;
        }
        let s3 = &r["s3"];
        let (Some(bucket), Some(key)) =
            (s3["bucket"]["name"].as_str(), s3["object"]["key"].as_str())
        else {
            return Err("an S3 event record without bucket or key".to_owned());
        };
        // Keys come URL-encoded, with `+` for spaces.
        let key = percent_encoding::percent_decode_str(&key.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        out.push(S3ObjectRef {
            bucket: bucket.to_owned(),
            key,
            size: s3["object"]["size"].as_u64().unwrap_or(0),
        });
    }
    Ok(out)
}

/// A queue of S3 event notifications.
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for SqsQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqsQueue({})", self.url)
    }
}

impl SqsQueue {
    /// A client for the queue at `url`, with the AWS CLI's credential chain.
    pub fn open(url: &str) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("trailhound-sqs")
            .enable_all()
            .build()
            .map_err(|e| format!("{url}: starting the SQS client: {e}"))?;
        let config = runtime.block_on(crate::aws_credentials::sdk_config());
        Ok(Self {
            client: aws_sdk_sqs::Client::new(&config),
            url: url.to_owned(),
            runtime,
        })
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Up to `max` messages: waits up to `wait` for the first (long polling), then takes what
    /// else is there.
    pub fn receive(&self, wait: Duration, max: usize) -> Result<Vec<Notice>, String> {
        self.runtime.block_on(async {
            let mut out = Vec::new();
            let mut wait_s = wait.as_secs().min(20) as i32;
            while out.len() < max {
                let got = self
                    .client
                    .receive_message()
                    .queue_url(&self.url)
                    .max_number_of_messages(10.min((max - out.len()) as i32))
                    .wait_time_seconds(wait_s)
                    .send()
                    .await
                    .map_err(|e| format!("receiving from {}: {}", self.url, error_chain(&e)))?;
                let messages = got.messages.unwrap_or_default();
                if messages.is_empty() {
                    break;
                }
                wait_s = 0;
                for m in messages {
                    let Some(receipt) = m.receipt_handle else {
                        continue;
                    };
                    let (objects, not_an_s3_event) =
                        match objects_of(m.body.as_deref().unwrap_or("")) {
                            Ok(o) => (o, None),
                            Err(e) => (Vec::new(), Some(e)),
                        };
                    out.push(Notice {
                        receipt,
                        objects,
                        not_an_s3_event,
                    });
                }
            }
            Ok(out)
        })
    }

    /// Deletes the messages of these receipts (in batches of 10, SQS's limit).
    pub fn delete(&self, receipts: &[String]) -> Result<(), String> {
        self.runtime.block_on(async {
            for chunk in receipts.chunks(10) {
                let entries = chunk
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        DeleteMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .receipt_handle(r)
                            .build()
                            .map_err(|e| e.to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let out = self
                    .client
                    .delete_message_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| format!("deleting from {}: {}", self.url, error_chain(&e)))?;
                if let Some(f) = out.failed.first() {
                    return Err(format!(
                        "deleting from {}: {}",
                        self.url,
                        f.message.as_deref().unwrap_or("failed")
                    ));
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_sns_wrapped_events() {
        let raw = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"trail"},"object":{"key":"AWSLogs/1/CloudTrail/us-east-1/2026/01/01/a+b%3Dc.json.gz","size":42}}},{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"trail"},"object":{"key":"x"}}}]}"#;
        let want = vec![S3ObjectRef {
            bucket: "trail".into(),
            key: "AWSLogs/1/CloudTrail/us-east-1/2026/01/01/a b=c.json.gz".into(),
            size: 42,
        }];
        assert_eq!(objects_of(raw).unwrap(), want);
        let sns = serde_json::json!({"Type": "Notification", "MessageId": "m", "Message": raw})
            .to_string();
        assert_eq!(objects_of(&sns).unwrap(), want);
        assert_eq!(
            objects_of(r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"trail"}"#)
                .unwrap(),
            vec![]
        );
        assert!(objects_of("hello").is_err());
        assert!(objects_of(r#"{"foo":1}"#).is_err());
    }
}
