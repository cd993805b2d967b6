//! [`CloudTrailTable`]: the `cloudtrail` table, a DataFusion listing table over a [`Source`]
//! that remembers its source, so that a Ballista client can send it to the scheduler (see
//! [`crate::cluster`]) and the scheduler can list the same objects again.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use serde::{Deserialize, Serialize};

use crate::format::{CloudTrailFormat, ScanStats, plan_error};
use crate::schema::schema;

/// Where the events are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// CloudTrail objects (`.json.gz`, `.json`, JSON Lines) under these folders, files or
    /// `s3://` prefixes.
    Raw(Vec<String>),
    /// A Parquet lake written by [`crate::lake::convert`] (a folder or `s3://` prefix).
    Parquet(String),
}

/// The `cloudtrail` table of a [`Source`].
#[derive(Debug)]
pub struct CloudTrailTable {
    source: Source,
    inner: ListingTable,
}

impl CloudTrailTable {
    /// The table over `source`; raw objects count what they decode in `stats`.
    pub fn new(source: Source, stats: Arc<ScanStats>) -> Result<Self> {
        let inner = match &source {
            Source::Raw(paths) => {
                let urls = paths
                    .iter()
                    .map(|p| table_url(p))
                    .collect::<Result<Vec<_>>>()?;
                let options = ListingOptions::new(Arc::new(CloudTrailFormat::new(stats)))
                    .with_file_extension("");
                ListingTable::try_new(
                    ListingTableConfig::new_with_multi_paths(urls)
                        .with_listing_options(options)
                        .with_schema(schema()),
                )?
            }
            Source::Parquet(root) => {
                let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                    .with_file_extension(".parquet")
                    .with_table_partition_cols(vec![("date".to_owned(), DataType::Utf8)]);
                ListingTable::try_new(
                    ListingTableConfig::new(table_url(root)?)
                        .with_listing_options(options)
                        .with_schema(schema()),
                )?
            }
        };
        Ok(Self { source, inner })
    }

    /// The source.
    pub fn source(&self) -> &Source {
        &self.source
    }
}

#[async_trait]
impl TableProvider for CloudTrailTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.scan(state, projection, filters, limit).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }
}

/// A listing URL for a local path (made absolute; a folder gets its trailing slash) or an
/// `s3://` URL (a prefix gets its trailing slash unless its last segment looks like a file).
pub fn table_url(path: &str) -> Result<ListingTableUrl> {
    if path.contains("://") {
        let last = path.rsplit('/').next().unwrap_or(path);
        let url = if path.ends_with('/') || last.contains('.') {
            path.to_owned()
        } else {
            format!("{path}/")
        };
        return ListingTableUrl::parse(url);
    }
    let abs =
        std::fs::canonicalize(path).map_err(|e| plan_error(format!("cannot read {path}: {e}")))?;
    let mut s = abs.display().to_string();
    if abs.is_dir() && !s.ends_with('/') {
        s.push('/');
    }
    ListingTableUrl::parse(s)
}
