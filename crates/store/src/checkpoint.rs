//! The checkpoint of `trailhound watch`: which input objects have been fully processed.
//!
//! A file is marked only after its alerts are stored, so a watcher killed at any moment re-reads
//! at most the batch it was working on; alerts are idempotent (deterministic ids), so re-reading
//! never duplicates one.

use trailhound_model::Timestamp;

use crate::StoreError;

/// One processed input object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedFile {
    /// The object's key: its path (folders) or its `s3://bucket/key` URL.
    pub key: String,
    /// Size in bytes when it was read.
    pub size: u64,
    /// The delivery time in its name, if any.
    pub delivery_time: Option<Timestamp>,
    /// How many of its records were processed (records are numbered by position). A local file
    /// that grows is read again from there, so its first records are never counted twice;
    /// 0 when unknown (a checkpoint written before version 3): then the whole file counts.
    pub records: u64,
}

/// Stores which objects a watcher has processed, per source (the folder or prefix watched).
pub trait Checkpoints {
    /// Every object of `source` already processed.
    fn watched_files(&self, source: &str) -> Result<Vec<WatchedFile>, StoreError>;

    /// Marks `files` of `source` processed, in one transaction (re-marking is harmless).
    fn mark_watched(&mut self, source: &str, files: &[WatchedFile]) -> Result<(), StoreError>;
}
