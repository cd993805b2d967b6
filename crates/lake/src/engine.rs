//! [`Engine`]: a DataFusion session ready to run the rules over a `cloudtrail` table.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::BatchCoalescer;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::Result;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use trailhound_detect::Alert;
use trailhound_geo::GeoIp;

use crate::format::ScanStats;
use crate::stores::{ObjectStores, runtime};
use crate::table::{CloudTrailTable, Source};

/// The columns of the `cloudtrail` table that the rules read.
pub const RULE_COLUMNS: &str = "event_time, event_source, event_name, source_ip, user_agent, \
    error_code, event_id, user_arn, access_key_id, file, delivery_time, record";

/// A DataFusion session with Trailhound's functions and a `cloudtrail` table.
pub struct Engine {
    ctx: SessionContext,
    scans: Arc<ScanStats>,
}

/// The session configuration the engine uses: `partitions` target partitions (0: one per
/// core).
pub fn session_config(partitions: usize) -> SessionConfig {
    with_trailhound_options(SessionConfig::new(), partitions)
}

/// `config` with the options the `cloudtrail` table needs: listings descend into every folder
/// (CloudTrail's `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`, not Hive partitions), and
/// `partitions` target partitions (0: keep the default).
pub fn with_trailhound_options(mut config: SessionConfig, partitions: usize) -> SessionConfig {
    config
        .options_mut()
        .execution
        .listing_table_ignore_subdirectory = false;
    if partitions > 0 {
        config.with_target_partitions(partitions)
    } else {
        config
    }
}

impl Engine {
    /// An in-process session over `source`, with `geo` for `country()`.
    pub async fn new(source: &Source, geo: Arc<GeoIp>, partitions: usize) -> Result<Self> {
        let state = SessionStateBuilder::new()
            .with_config(session_config(partitions))
            .with_runtime_env(runtime(Arc::new(ObjectStores::default()), None)?)
            .with_default_features()
            .build();
        Self::on(SessionContext::new_with_state(state), source, geo)
    }

    /// Registers the functions and the `cloudtrail` table of `source` on an existing session
    /// (a Ballista client's, for instance). The session resolves `s3://` sources through its
    /// runtime's object store registry ([`ObjectStores`] in [`Engine::new`]).
    pub fn on(ctx: SessionContext, source: &Source, geo: Arc<GeoIp>) -> Result<Self> {
        for udf in crate::functions::udfs(geo) {
            ctx.register_udf(udf);
        }
        let scans = Arc::new(ScanStats::default());
        let table = CloudTrailTable::new(source.clone(), scans.clone())?;
        ctx.register_table("cloudtrail", Arc::new(table))?;
        Ok(Self { ctx, scans })
    }

    /// The session (to run other SQL over `cloudtrail`).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// What this process's scans read so far, with every decoding problem (raw sources; on a
    /// cluster the executors count theirs).
    pub fn scans(&self) -> &Arc<ScanStats> {
        &self.scans
    }

    /// Decodes the source once and keeps the columns the rules read in memory, as the
    /// `cloudtrail` table: each rule's plans scan the table several times, and a scan of raw
    /// CloudTrail costs a gunzip and a JSON parse per object. For in-process runs over raw
    /// objects; a Parquet lake is columnar and needs no cache.
    pub async fn cache_in_memory(&self) -> Result<()> {
        let df = self
            .ctx
            .sql(&format!("SELECT {RULE_COLUMNS} FROM cloudtrail"))
            .await?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batch_size = self.ctx.state().config().batch_size();
        // A scan yields a batch per object, often of a few dozen events (CloudTrail delivers
        // every five minutes per region): joined into full batches, the rules' operators run
        // over a few hundred batches instead of tens of thousands.
        let partitions = df
            .collect_partitioned()
            .await?
            .into_iter()
            .map(|batches| full_batches(&schema, batches, batch_size))
            .collect::<Result<Vec<_>>>()?;
        let table = datafusion::datasource::MemTable::try_new(schema, partitions)?;
        self.ctx.deregister_table("cloudtrail")?;
        self.ctx.register_table("cloudtrail", Arc::new(table))?;
        Ok(())
    }

    /// Runs D1–D4 with the parameters of `[rules.<id>]` (rule id → JSON object).
    pub async fn alerts(&self, params: &BTreeMap<String, serde_json::Value>) -> Result<Vec<Alert>> {
        crate::rules::run_all(&self.ctx, params).await
    }
}

/// `batches` as batches of `batch_size` rows (the last one shorter), in order. Each input batch
/// is copied out and dropped as it goes, so the partition is never held twice.
fn full_batches(
    schema: &SchemaRef,
    batches: Vec<RecordBatch>,
    batch_size: usize,
) -> Result<Vec<RecordBatch>> {
    let mut coalescer = BatchCoalescer::new(schema.clone(), batch_size.max(1));
    let mut out = Vec::new();
    for batch in batches {
        coalescer.push_batch(batch)?;
        out.extend(std::iter::from_fn(|| coalescer.next_completed_batch()));
    }
    coalescer.finish_buffered_batch()?;
    out.extend(std::iter::from_fn(|| coalescer.next_completed_batch()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};

    #[test]
    fn small_batches_become_full_batches_in_order() {
        let schema: SchemaRef =
            Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batch = |range: std::ops::Range<i64>| {
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Int64Array::from_iter_values(range))],
            )
            .unwrap()
        };
        let small = [batch(0..3), batch(3..7), batch(7..12)];
        let full = full_batches(&schema, small.to_vec(), 5).unwrap();
        let rows: Vec<Vec<i64>> = full
            .iter()
            .map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(
            rows,
            [vec![0, 1, 2, 3, 4], vec![5, 6, 7, 8, 9], vec![10, 11]]
        );
        assert!(full_batches(&schema, Vec::new(), 5).unwrap().is_empty());
    }
}
