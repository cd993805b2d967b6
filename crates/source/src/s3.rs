//! CloudTrail from S3 or an S3-compatible server, through the `object_store` crate.
//!
//! `s3://bucket/prefix` names the objects under a prefix. Credentials, region and endpoint come
//! from the usual `AWS_*` variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`;
//! `AWS_ENDPOINT` and `AWS_ALLOW_HTTP=true` for a local S3-compatible server).
//!
//! Listing follows CloudTrail's date layout (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`):
//! given a first day, it descends only into the day folders from that day on, so a watcher that
//! polls a trail does not re-list years of keys each time.

use std::sync::Arc;

use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use trailhound_model::Timestamp;

use crate::select::Selection;

/// One bucket and prefix, with the client and the runtime its requests run on.
pub struct S3Source {
    store: AmazonS3,
    bucket: String,
    prefix: String,
    runtime: tokio::runtime::Runtime,
    /// List requests sent (for `--stats` and the tests of pruning).
    lists: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for S3Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Source({})", self.url())
    }
}

/// An object found by a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    /// The key within the bucket.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// When the object was written (S3's `LastModified`).
    pub last_modified: std::time::SystemTime,
}

/// Splits `s3://bucket/prefix` into bucket and prefix (without leading or trailing `/`).
pub fn parse_s3_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_owned(), prefix.trim_matches('/').to_owned()))
}

impl S3Source {
    /// A client for `url` (`s3://bucket/prefix`), configured from the environment.
    pub fn open(url: &str) -> Result<Arc<Self>, String> {
        let (bucket, prefix) =
            parse_s3_url(url).ok_or_else(|| format!("{url:?} is not an s3://bucket/prefix URL"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("trailhound-s3")
            .enable_all()
            .build()
            .map_err(|e| format!("{url}: starting the S3 client: {e}"))?;
        // Credentials and region from the AWS CLI's chain; the endpoint and other options from
        // the environment (AWS_ENDPOINT, AWS_ALLOW_HTTP, ...), as before.
        // (The caller names the URL: the message is about the credentials.)
        let (credentials, region) = runtime.block_on(crate::aws_credentials::load())?;
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_credentials(credentials);
        if let Some(r) = region
            && std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            builder = builder.with_region(r);
        }
        let store = builder.build().map_err(|e| format!("{url}: {e}"))?;
        Ok(Arc::new(Self {
            store,
            bucket,
            prefix,
            runtime,
            lists: Default::default(),
        }))
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// `s3://bucket/key` of an object.
    pub fn object_url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// Every object under the prefix, skipping date folders (`YYYY/MM/DD`) of days before the
    /// UTC day of `from`.
    pub fn list(&self, from: Option<Timestamp>) -> Result<Vec<S3Object>, String> {
        self.list_selected(&Selection {
            since: from,
            ..Selection::default()
        })
    }

    /// The objects under the prefix that may hold selected files: "folders" (delimiter listings)
    /// that cannot (other accounts, regions, days; see [`Selection::enter`]) are never listed.
    /// Everything is one flat listing when all is selected.
    pub fn list_selected(&self, selection: &Selection) -> Result<Vec<S3Object>, String> {
        self.runtime.block_on(async {
            let mut out = Vec::new();
            let root = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
            if selection.is_all() {
                let mut listing = self.store.list(root.as_ref());
                self.lists
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                while let Some(meta) = listing.next().await {
                    let meta = meta.map_err(|e| format!("listing {}: {e}", self.url()))?;
                    out.push(S3Object {
                        key: meta.location.to_string(),
                        size: meta.size,
                        last_modified: meta.last_modified.into(),
                    });
                }
            } else {
                // Depth-first over "folders", pruning those the selection excludes.
                let mut stack = vec![(root, Vec::<u32>::new())];
                while let Some((dir, date)) = stack.pop() {
                    self.lists
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let listing = self
                        .store
                        .list_with_delimiter(dir.as_ref())
                        .await
                        .map_err(|e| format!("listing {}: {e}", self.url()))?;
                    for meta in listing.objects {
                        out.push(S3Object {
                            key: meta.location.to_string(),
                            size: meta.size,
                            last_modified: meta.last_modified.into(),
                        });
                    }
                    for sub in listing.common_prefixes {
                        let name = sub.filename().unwrap_or_default().to_owned();
                        if let Some(date) = selection.enter(&date, &name) {
                            stack.push((Some(sub), date));
                        }
                    }
                }
            }
            out.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(out)
        })
    }

    /// How many list requests this source has sent.
    pub fn list_requests(&self) -> u64 {
        self.lists.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The bytes of one object.
    pub fn get(&self, key: &str) -> std::io::Result<Vec<u8>> {
        self.runtime.block_on(async {
            let got = self
                .store
                .get(&ObjectPath::from(key))
                .await
                .map_err(std::io::Error::other)?;
            Ok(got.bytes().await.map_err(std::io::Error::other)?.to_vec())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_s3_url("s3://trail/AWSLogs/1/"),
            Some(("trail".into(), "AWSLogs/1".into()))
        );
        assert_eq!(
            parse_s3_url("s3://trail"),
            Some(("trail".into(), String::new()))
        );
        assert_eq!(parse_s3_url("s3:///x"), None);
        assert_eq!(parse_s3_url("/data"), None);
    }
}
