//! `CloudTrailFormat`: CloudTrail objects as a DataFusion file format.
//!
//! A [`ListingTable`](datafusion::datasource::listing::ListingTable) with this format lists
//! local folders and S3 prefixes itself, spreads the objects over partitions and projects the
//! columns a query needs; each object is decoded whole by Trailhound's own decoder
//! ([`trailhound_decode::Decoder`]: `{"Records":[…]}` or JSON Lines, gzipped or not) into
//! [`schema()`](crate::schema::schema). Bad input never fails the query: every problem is
//! counted per file in the format's [`ScanStats`], and the rest of the input is still read.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::{GetExt, Statistics};
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::physical_plan::{
    FileOpenFuture, FileOpener, FileScanConfig, FileSource,
};
use datafusion::datasource::projection::{ProjectionOpener, SplitProjection};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::{DataFusionError, Result};
use datafusion::physical_expr::projection::ProjectionExprs;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::StreamExt;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use trailhound_decode::{Decoder, IssueKind};

use crate::schema::{events_to_batch, schema};

/// What the scans of a session read: files, bytes, events, and every decoding problem per file
/// (what `trailhound hunt` reports as bad input).
#[derive(Debug, Default)]
pub struct ScanStats {
    files: AtomicU64,
    bytes: AtomicU64,
    decompressed_bytes: AtomicU64,
    events: AtomicU64,
    by_file: Mutex<BTreeMap<String, FileIssues>>,
}

/// The problems of one file: counts indexed like [`IssueKind::ALL`] and the first located ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileIssues {
    /// Count per issue kind, indexed like [`IssueKind::ALL`].
    pub counts: Vec<u64>,
    /// The first issues, with their record index and explanation.
    pub located: Vec<trailhound_decode::Issue>,
}

/// A copy of the counters of a [`ScanStats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanSummary {
    /// Objects decoded.
    pub files: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Bytes after decompression.
    pub decompressed_bytes: u64,
    /// Events decoded.
    pub events: u64,
    /// Problems by file path.
    pub issues: BTreeMap<String, FileIssues>,
}

impl ScanStats {
    fn record(&self, file: &str, bytes: u64, decoded: &trailhound_decode::Decoded) {
        self.files.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.decompressed_bytes
            .fetch_add(decoded.decompressed_bytes, Ordering::Relaxed);
        self.events
            .fetch_add(decoded.events.len() as u64, Ordering::Relaxed);
        if decoded.issue_count() == 0 {
            return;
        }
        let mut map = self.by_file.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map.entry(file.to_owned()).or_default();
        entry.counts.resize(IssueKind::ALL.len(), 0);
        for (total, n) in entry.counts.iter_mut().zip(decoded.issue_counts) {
            *total += n;
        }
        entry.located.extend(decoded.issues.iter().cloned());
    }

    /// The counters so far.
    pub fn summary(&self) -> ScanSummary {
        ScanSummary {
            files: self.files.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            decompressed_bytes: self.decompressed_bytes.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            issues: self
                .by_file
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

/// The CloudTrail file format: see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct CloudTrailFormat {
    stats: Arc<ScanStats>,
}

impl CloudTrailFormat {
    /// A format that counts what its scans read in `stats`.
    pub fn new(stats: Arc<ScanStats>) -> Self {
        Self { stats }
    }

    /// What the scans read.
    pub fn stats(&self) -> &Arc<ScanStats> {
        &self.stats
    }
}

/// The factory registered under the extension `cloudtrail` (`STORED AS CLOUDTRAIL` in SQL).
#[derive(Debug, Default)]
pub struct CloudTrailFormatFactory;

impl GetExt for CloudTrailFormatFactory {
    fn get_ext(&self) -> String {
        "cloudtrail".to_owned()
    }
}

impl FileFormatFactory for CloudTrailFormatFactory {
    fn create(
        &self,
        _state: &dyn Session,
        _options: &std::collections::HashMap<String, String>,
    ) -> Result<Arc<dyn FileFormat>> {
        Ok(Arc::new(CloudTrailFormat::default()))
    }

    fn default(&self) -> Arc<dyn FileFormat> {
        Arc::new(CloudTrailFormat::default())
    }
}

#[async_trait]
impl FileFormat for CloudTrailFormat {
    /// Empty: a listing keeps every object and the opener decides (CloudTrail names end in
    /// `.json.gz`, exports in `.json`, `.jsonl`, `.ndjson`...).
    fn get_ext(&self) -> String {
        String::new()
    }

    fn get_ext_with_compression(&self, _c: &FileCompressionType) -> Result<String> {
        Ok(String::new())
    }

    /// Compression is detected per object from its magic bytes, not declared.
    fn compression_type(&self) -> Option<FileCompressionType> {
        None
    }

    async fn infer_schema(
        &self,
        _state: &dyn Session,
        _store: &Arc<dyn ObjectStore>,
        _objects: &[ObjectMeta],
    ) -> Result<SchemaRef> {
        Ok(schema())
    }

    async fn infer_stats(
        &self,
        _state: &dyn Session,
        _store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        _object: &ObjectMeta,
    ) -> Result<Statistics> {
        Ok(Statistics::new_unknown(&table_schema))
    }

    async fn create_physical_plan(
        &self,
        _state: &dyn Session,
        conf: FileScanConfig,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(DataSourceExec::from_data_source(conf))
    }

    fn file_source(&self, table_schema: TableSchema) -> Arc<dyn FileSource> {
        Arc::new(CloudTrailSource::new(table_schema, self.stats.clone()))
    }
}

/// The [`FileSource`] of [`CloudTrailFormat`].
#[derive(Clone)]
pub struct CloudTrailSource {
    table_schema: TableSchema,
    projection: SplitProjection,
    batch_size: Option<usize>,
    metrics: ExecutionPlanMetricsSet,
    stats: Arc<ScanStats>,
}

impl CloudTrailSource {
    /// A source over `table_schema` (the CloudTrail schema plus any partition columns).
    pub fn new(table_schema: TableSchema, stats: Arc<ScanStats>) -> Self {
        Self {
            projection: SplitProjection::unprojected(&table_schema),
            table_schema,
            batch_size: None,
            metrics: ExecutionPlanMetricsSet::new(),
            stats,
        }
    }
}

impl FileSource for CloudTrailSource {
    fn create_file_opener(
        &self,
        object_store: Arc<dyn ObjectStore>,
        _base_config: &FileScanConfig,
        _partition: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        let opener = Arc::new(CloudTrailOpener {
            columns: self.projection.file_indices.clone(),
            store: object_store,
            batch_size: self.batch_size.unwrap_or(8192),
            stats: self.stats.clone(),
        });
        ProjectionOpener::try_new(
            self.projection.clone(),
            opener,
            self.table_schema.file_schema(),
        )
    }

    fn table_schema(&self) -> &TableSchema {
        &self.table_schema
    }

    fn with_batch_size(&self, batch_size: usize) -> Arc<dyn FileSource> {
        let mut s = self.clone();
        s.batch_size = Some(batch_size);
        Arc::new(s)
    }

    fn try_pushdown_projection(
        &self,
        projection: &ProjectionExprs,
    ) -> Result<Option<Arc<dyn FileSource>>> {
        let mut s = self.clone();
        let merged = self.projection.source.try_merge(projection)?;
        // Only plain columns: the scan must cross to Ballista executors as column indices.
        if column_indices(&merged).is_err() {
            return Ok(None);
        }
        s.projection = SplitProjection::new(self.table_schema.file_schema(), &merged);
        Ok(Some(Arc::new(s)))
    }

    fn projection(&self) -> Option<&ProjectionExprs> {
        Some(&self.projection.source)
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        &self.metrics
    }

    fn file_type(&self) -> &str {
        "cloudtrail"
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(
            &Arc<dyn datafusion::physical_plan::PhysicalExpr>,
        ) -> Result<datafusion::common::tree_node::TreeNodeRecursion>,
    ) -> Result<datafusion::common::tree_node::TreeNodeRecursion> {
        datafusion::physical_plan::apply_expression_roots(self.projection.source.iter(), f)
    }

    /// An object is one JSON document: it cannot be split by byte ranges.
    fn supports_repartitioning(&self) -> bool {
        false
    }
}

/// Reads and decodes one object into batches of the full CloudTrail schema.
struct CloudTrailOpener {
    /// The columns of the file schema the projection reads.
    columns: Vec<usize>,
    store: Arc<dyn ObjectStore>,
    batch_size: usize,
    stats: Arc<ScanStats>,
}

/// The decoder every scan shares (no extra fields: the SQL rules read only fixed ones).
fn decoder() -> &'static Decoder {
    static DECODER: std::sync::OnceLock<Decoder> = std::sync::OnceLock::new();
    DECODER.get_or_init(Decoder::default)
}

/// True for objects the embedded engine would read inside a folder: CloudTrail-looking names,
/// not digests.
fn is_event_object(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    trailhound_source::is_cloudtrail_name(name)
        && !trailhound_source::is_digest(std::path::Path::new(path))
}

impl FileOpener for CloudTrailOpener {
    fn open(
        &self,
        file: datafusion::datasource::listing::PartitionedFile,
    ) -> Result<FileOpenFuture> {
        let store = self.store.clone();
        let stats = self.stats.clone();
        let batch_size = self.batch_size.max(1);
        let columns = self.columns.clone();
        Ok(Box::pin(async move {
            let location = file.object_meta.location.clone();
            let path = location.to_string();
            if !is_event_object(&path) {
                return Ok(futures::stream::empty().boxed());
            }
            let bytes = match store.get(&location).await {
                Ok(got) => got.bytes().await,
                Err(e) => Err(e),
            };
            let size = bytes.as_ref().map_or(0, |b| b.len() as u64);
            let decoded = match bytes {
                Ok(bytes) => decoder().decode(&bytes, 0),
                Err(e) => {
                    let mut d = trailhound_decode::Decoded::default();
                    d.issue_counts[IssueKind::Io as usize] += 1;
                    d.issues.push(trailhound_decode::Issue {
                        kind: IssueKind::Io,
                        record: None,
                        detail: e.to_string(),
                    });
                    d
                }
            };
            stats.record(&path, size, &decoded);
            let name = path.rsplit('/').next().unwrap_or(&path);
            let delivery = trailhound_source::delivery_time(name);
            let batches: Vec<Result<_>> = decoded
                .events
                .chunks(batch_size)
                .map(|chunk| Ok(events_to_batch(chunk, &path, delivery)?.project(&columns)?))
                .collect();
            Ok(futures::stream::iter(batches).boxed())
        }))
    }
}

impl fmt::Debug for CloudTrailSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudTrailSource").finish_non_exhaustive()
    }
}

/// The column indices of a projection made only of plain, unrenamed columns (an error
/// otherwise).
pub(crate) fn column_indices(projection: &ProjectionExprs) -> Result<Vec<usize>> {
    projection
        .iter()
        .map(|p| {
            match p
                .expr
                .downcast_ref::<datafusion::physical_expr::expressions::Column>()
            {
                Some(c) if c.name() == p.alias => Ok(c.index()),
                _ => Err(plan_error(format!("not a plain column: {}", p.alias))),
            }
        })
        .collect()
}

/// Turns an error of this crate's own making into a DataFusion error.
pub(crate) fn plan_error(why: impl Into<String>) -> DataFusionError {
    DataFusionError::Plan(why.into())
}
